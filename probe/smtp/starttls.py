"""STARTTLS in one session (probe.smtp.session's dialogue): the upgrade, the server's chain judged against the
trust store after ONE unverified handshake (or, where Python cannot read the chain, a verifying handshake and
a new connection to collect an untrusted certificate), and what --starttls require stops on.
It must not classify replies."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from probe.inputs import is_ip_literal
from probe.model import Context
from probe.smtp.exchanges import Exchange
from probe.smtp.wire import WireError, WireTLSFailed
from probe.tls.certificates import chain_readable, names_host
from probe.tls.trust import TrustStore, context_store, system_store

if TYPE_CHECKING:
    from probe.smtp.session import Dialogue


def default_tls_context(verify: bool) -> ssl.SSLContext:
    from probe.tls.certificates import client_context  # one place builds TLS contexts

    return client_context(verify=verify)


async def secure(d: Dialogue, *, verify: bool, judge_after: bool = True, untrusted: Exchange | None = None) -> None:
    """STARTTLS; on failure record why and, where allowed, go on over a new connection.

    verify with `judge_after` on a Python that reads the server's chain: ONE handshake without
    verification, then the chain judged against the trust store (probe.tls.trust). Otherwise a verifying
    handshake and, after an untrusted certificate, a new connection without verification to collect it;
    `untrusted`: under --starttls require, the tls-untrusted event of the verifying attempt (this
    unverified attempt only collects the certificate and then stops the session).
    """
    require = d.options.starttls == "require"
    ex = await d._ask("STARTTLS", Context.STARTTLS)
    assert ex.reply is not None and d.wire is not None
    if ex.reply.code != 220:
        if require:
            d._stop("tls_failed", ex)
        return  # the server declined; this connection goes on in plain text
    since = d.loop.time()
    judge_after = verify and judge_after and chain_readable()
    try:
        await d.wire.starttls(d.factory(verify and not judge_after), d.record.host,
                                 d._budget(Context.TLS, "STARTTLS"))
    except WireTLSFailed as exc:
        if exc.untrusted:
            d.verify_error = exc.verify_message
            why = exc.verify_message or str(exc)
            detail = f"STARTTLS required: certificate untrusted ({why})" if require else why
            ev = d._event("tls-untrusted", Context.TLS, detail, since)
            await d._reopen(str(exc))
            if "STARTTLS" in d.record.extensions:
                await secure(d, verify=False, untrusted=ev if require else None)
            elif require:
                d._stop("tls_failed", ev)
            return
        tail = "; stopping (--starttls require)" if require else "; continuing in plain text on a new connection"
        ev = d._event("tls-handshake-failed", Context.TLS, f"{exc}{tail}", since)
        if require:
            d._stop("tls_failed", ev)
        await d._reopen(str(exc))
        return
    except WireError as exc:
        d._fail(exc, Context.TLS, "STARTTLS", since)
    d.nonmail.after_tls()
    info = d.wire.tls_info() or {}
    if judge_after and not info.get("chain"):  # the chain could not be read after all: verify in a handshake
        await d._reopen("the server's certificate chain could not be read")
        if "STARTTLS" in d.record.extensions:
            await secure(d, verify=True, judge_after=False)
        return
    if judge_after:
        failure = _trust_store(d).judge(info["chain"])
        d.record.tls = {**info, "verified": failure is None, "verify_error": failure}
        if failure is not None:
            up = f"TLS session up ({info.get('version') or 'TLS'}); certificate untrusted: {failure}"
            detail = f"STARTTLS required: certificate untrusted ({failure})" if require else up
            event = d._event("tls-untrusted", Context.TLS, detail, since)
            untrusted = event if require else None
    else:
        d.record.tls = {**info, "verified": verify, "verify_error": None if verify else d.verify_error}
    if require and untrusted is None and d.record.tls.get("verified") and not _names_host(info, d.record.host):
        # a trusted chain for another name: no MTA-STS or DANE sender (RFC 8461 §4.2, RFC 7672) accepts it
        untrusted = d._event("tls-untrusted", Context.TLS,
                             f"STARTTLS required: certificate untrusted (it does not name {d.record.host})", since)
    if untrusted is not None:  # require: the certificate is collected, the dialogue goes no further
        d.record.tls["error"] = untrusted.detail
        d._stop("tls_failed", untrusted)
    await d._greet()


def _names_host(info: dict[str, object], host: str) -> bool:
    """The leaf certificate names the MX host (True when there is none to read, or the host is an IP address
    given with --mx: there is no MX name to check)."""
    der = info.get("der")
    if not isinstance(der, bytes) or not host or is_ip_literal(host):
        return True
    from cryptography import x509

    try:
        return names_host(x509.load_der_x509_certificate(der), host)
    except ValueError:
        return True  # unreadable: the certificate checks say so


def _trust_store(d: Dialogue) -> TrustStore:
    """The anchors the factory's verifying context would use: the system store for the default one."""
    if d.factory is default_tls_context:
        return system_store()
    return context_store(d.factory(True))
