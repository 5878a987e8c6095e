"""A host that demands STARTTLS (Postfix's smtpd_tls_security_level = encrypt: "530 5.7.0 Must issue a STARTTLS
command first" to MAIL, each RCPT and RSET, smtpd.c) met by a session in plain text: whether the session was plain,
why (STARTTLS not offered, not used, refused, or its handshake failed) and what to do about it."""

from __future__ import annotations

from probe.smtp.exchanges import SessionRecord
from probe.tls.certificates import SERVER_SIDE_TLS, server_side_tls_failure
from probe.tls.checks import handshake_error, starttls_declined


def why_plain(record: SessionRecord) -> tuple[str, str]:
    """(how, words): how a session without TLS (model.tls_negotiated) came to be in plain text ("failed",
    "refused", "not-offered", "not-used") and the words that say it: 'takes mail only over STARTTLS, which this
    run did not use (--starttls never)'. A failed handshake is followed by plain text on a new connection."""
    head = "takes mail only over STARTTLS"
    error = handshake_error(record)
    if error is not None:
        why = error.split("; continuing in plain text", 1)[0].removeprefix("TLS handshake failed: ")
        return "failed", (f"{head}, and the probe's TLS handshake with it failed ({why}), so the probe asked in "
                          "plain text")
    refused = starttls_declined(record)
    if refused is not None:
        return "refused", f"{head}, and it refused the probe's STARTTLS ({refused.headline})"
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
    if how == "failed" and server_side_tls_failure(handshake_error(record)):
        return (f"{host} {why}: {SERVER_SIDE_TLS}, and it takes no mail without TLS: no sender can deliver to it "
                "while that lasts. Its admin must fix the server's TLS (its log says why) or stop requiring it.")
    if how == "not-offered":
        return (f"{host} {why}: no sender can deliver to it. Its admin must enable TLS on the server "
                "(certificate and key) or stop requiring it.")
    return (f"{host} {why}: only senders whose STARTTLS with it succeeds can deliver. Its admin must make its "
            "TLS work for clients of TLS 1.2 or newer (RFC 8996 deprecates TLS 1.0 and 1.1): protocol versions, "
            "ciphers, certificate.")
