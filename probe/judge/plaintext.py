"""A host that demands STARTTLS (Postfix's smtpd_tls_security_level = encrypt: "530 5.7.0 Must issue a STARTTLS
command first" to MAIL, each RCPT and RSET, smtpd.c) met by a session in plain text: whether the session was plain,
why (STARTTLS not offered, not used, refused, or its handshake failed) and what to do about it."""

from __future__ import annotations

from probe.model import Context
from probe.smtp.exchanges import SessionRecord


def in_plain_text(record: SessionRecord) -> bool:
    """The session asked MAIL/RCPT without TLS: STARTTLS not offered, not used (--starttls never), refused, or
    its handshake failed (the probe then goes on in plain text over a new connection)."""
    return not record.tls or bool(record.tls.get("error"))


def why_plain(record: SessionRecord) -> tuple[str, str]:
    """(how, words): how the session came to be in plain text ("failed", "refused", "not-offered", "not-used")
    and the words that say it: 'takes mail only over STARTTLS, which this run did not use
    (--starttls never)'."""
    handshake = next((e for e in record.exchanges if e.event == "tls-handshake-failed"), None)
    refused = next((e for e in record.exchanges if e.context is Context.STARTTLS and e.reply is not None
                    and e.reply.code != 220), None)
    head = "takes mail only over STARTTLS"
    if handshake is not None:
        why = handshake.detail.split("; continuing in plain text", 1)[0].removeprefix("TLS handshake failed: ")
        return "failed", (f"{head}, and the probe's TLS handshake with it failed ({why}), so the probe asked in "
                          "plain text")
    if refused is not None and refused.reply is not None:
        return "refused", f"{head}, and it refused the probe's STARTTLS ({refused.reply.headline})"
    if "STARTTLS" not in record.extensions:
        return "not-offered", f"{head}, and it does not offer STARTTLS (not in its EHLO reply)"
    return "not-used", f"{head}, which this run did not use (--starttls never)"


def tls_required_advice(record: SessionRecord) -> str:
    """What to do about a demand for STARTTLS that the probe met in plain text: it depends on why it was plain."""
    how, why = why_plain(record)
    host = record.host
    if how == "not-used":
        return (f"{host} {why}: probe again without --starttls never to ask about the address. Senders that use "
                "STARTTLS are not refused for this.")
    if how == "not-offered":
        return (f"{host} {why}: no sender can deliver to it. Its admin must enable TLS on the server "
                "(certificate and key) or stop requiring it.")
    return (f"{host} {why}: only senders whose STARTTLS with it succeeds can deliver. Its admin must make its "
            "TLS work for clients of TLS 1.2 or newer (RFC 8996 deprecates TLS 1.0 and 1.1): protocol versions, "
            "ciphers, certificate.")
