"""Transport security: TLS contexts, certificate description and certificate findings. Sends nothing itself."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import ssl
from typing import TYPE_CHECKING, Any

from probe.model import Finding, Severity, exim_generated, tls_negotiated

if TYPE_CHECKING:  # cryptography is imported when there is a certificate to read (start-up)
    from cryptography import x509

DEFAULT_CERT_WARNING_DAYS = 21
DEFAULT_CERT_CRITICAL_DAYS = 7

_ENFORCING_SENDERS = (
    "a sender enforcing MTA-STS would refuse to deliver to this host; opportunistic senders still deliver"
)


def client_context(*, verify: bool, cafile: str | None = None) -> ssl.SSLContext:
    """A client context for STARTTLS: TLS 1.2 or newer; we check host names ourselves (check_hostname False).

    verify=True: CERT_REQUIRED against `cafile`, else the system store (SSL_CERT_FILE / SSL_CERT_DIR honoured).
    verify=False: CERT_NONE, to collect the certificate of a server that fails verification.
    """
    if verify:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def verify_failure(exc: BaseException) -> str:
    """OpenSSL's reason for a failed handshake, as one line ("self-signed certificate", "certificate has expired")."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def handshake_facts(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> tuple[str | None, str | None, bytes | None]:
    """(version, cipher name, leaf certificate DER) of an established TLS connection; Nones when unknown."""
    if ssl_object is None:
        return None, None, None
    cipher = ssl_object.cipher()
    return ssl_object.version(), cipher[0] if cipher else None, ssl_object.getpeercert(binary_form=True)


def chain_readable() -> bool:
    """Whether this Python can give the certificates a peer sent (see unverified_chain)."""
    private = getattr(getattr(ssl, "_ssl", None), "_SSLSocket", None)
    return hasattr(ssl.SSLObject, "get_unverified_chain") or hasattr(private, "get_unverified_chain")


def unverified_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> list[bytes] | None:
    """The certificates the peer sent, leaf first, as DER; None when this Python cannot tell.

    Python 3.13 has SSLObject.get_unverified_chain(); 3.10-3.12 have it on the private _sslobj only.
    Feature-detected: any surprise gives None, never an exception.
    """
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        return None
    try:
        chain = getter() or []
        encoding = getattr(ssl, "ENCODING_DER", None) or getattr(getattr(ssl, "_ssl", None), "ENCODING_DER", 2)
        return [c if isinstance(c, bytes) else bytes(c.public_bytes(encoding)) for c in chain]
    except Exception:  # a private API: whatever it does, the chain is just unknown
        return None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _normalise_host(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def name_matches(pattern: str, host: str) -> bool:
    """RFC 6125 §6.4: exact match, or a leftmost "*" label standing for exactly one label (never a bare "*.tld")."""
    pattern, host = _normalise_host(pattern), _normalise_host(host)
    if not pattern or not host:
        return False
    if not pattern.startswith("*."):
        return pattern == host
    suffix = pattern[2:]
    if "*" in suffix or suffix.count(".") < 1:
        return False
    head, _, rest = host.partition(".")
    return bool(head) and rest == suffix


def _dns_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(SAN DNS names, SAN IP addresses); both empty when the extension is absent."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def _common_names(cert: x509.Certificate) -> list[str]:
    from cryptography.x509.oid import NameOID

    return [str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer` signed `cert` (its signature verifies with the issuer's key)."""
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):  # other issuer, unsupported key type, bad signature
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and issued_by(cert, cert)


def _hostname_match(mx_host: str, dns_names: list[str], ip_names: list[str], common_names: list[str]) -> bool:
    try:
        literal = ipaddress.ip_address(mx_host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        return str(literal) in ip_names
    candidates = dns_names if dns_names else common_names  # RFC 6125 §6.4.4: CN only without SAN DNS names
    return any(name_matches(name, mx_host) for name in candidates)


def names_host(cert: x509.Certificate, mx_host: str) -> bool:
    """The certificate names `mx_host` (SAN DNS names or IP addresses; the CN only without SAN DNS names)."""
    dns_names, ip_names = _dns_names(cert)
    return _hostname_match(mx_host, dns_names, ip_names, _common_names(cert))


def describe_certificate(
    der: bytes | None,
    *,
    mx_host: str,
    trusted: bool | None,
    verify_error: str | None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The SPEC.md certificate object for a peer's leaf certificate. Never raises: garbage gives {"error": ...}."""
    described: dict[str, Any] = {"trusted": trusted, "verify_error": verify_error}
    if not der:
        described["error"] = "the server presented no certificate"
        return described
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        dns_names, ip_names = _dns_names(cert)
        common_names = _common_names(cert)
        key_type, key_bits = _key_description(cert)
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    except Exception as exc:  # cryptography raises ValueError and friends on malformed input
        described["error"] = f"unreadable certificate: {str(exc) or type(exc).__name__}"
        described["sha256"] = hashlib.sha256(der).hexdigest()
        return described
    moment = now or dt.datetime.now(dt.UTC)
    described.update(
        subject=subject,
        issuer=issuer,
        names=(dns_names + ip_names) or common_names,
        not_before=_iso(not_before),
        not_after=_iso(not_after),
        days_left=(not_after - moment).days,
        hostname_match=_hostname_match(mx_host, dns_names, ip_names, common_names),
        self_signed=is_self_signed(cert),
        sha256=hashlib.sha256(der).hexdigest(),
        key_type=key_type,
        key_bits=key_bits,
        error=None,
    )
    return described


def tls_object(
    version: str | None, cipher: str | tuple[Any, ...] | None, cert: dict[str, Any] | None, *, error: str | None = None
) -> dict[str, Any]:
    """The session `tls` object of SPEC.md. `error`: why STARTTLS failed, when it did."""
    cipher_name = cipher[0] if isinstance(cipher, tuple) and cipher else cipher
    return {"version": version, "cipher": cipher_name, "certificate": cert, "error": error}


def tls_from_session(
    raw: dict[str, Any] | None, *, mx_host: str, error: str | None = None, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    """session.py's raw TLS facts {"version", "cipher", "der", "verified", "verify_error"} -> the SPEC.md `tls` object.

    raw None and no error: STARTTLS did not happen (None). raw None with an error: STARTTLS was refused or the
    handshake failed. With an error, version and cipher are always None (no SMTP went over TLS); the
    certificate is kept when one was seen (e.g. --starttls require stopping at an untrusted certificate).
    """
    if raw is None:
        return tls_object(None, None, None, error=error) if error else None
    cert = describe_certificate(raw.get("der"), mx_host=mx_host, trusted=bool(raw.get("verified")),
                                verify_error=raw.get("verify_error"), now=now)
    if error:
        return tls_object(None, None, cert, error=error)
    return tls_object(raw.get("version"), raw.get("cipher"), cert, error=None)


def _expired_by_verification(cert: dict[str, Any]) -> bool:
    return "expired" in (cert.get("verify_error") or "")


def certificate_findings(
    mx_host: str,
    cert: dict[str, Any] | None,
    *,
    warning_days: int = DEFAULT_CERT_WARNING_DAYS,
    critical_days: int | None = None,
    consequence: str = _ENFORCING_SENDERS,
) -> list[Finding]:
    """Findings about one MX host's certificate (a describe_certificate object). None: nothing to say.

    `consequence`: what a bad certificate costs this domain (probe.judge.advice.tls_consequence), once known.
    Every problem is a WARNING here; expiring within (or expired beyond) `critical_days`, when given
    (--cert-critical, --starttls require), is CRITICAL. probe.tls.checks.grade_certificate_findings makes
    the problems CRITICAL where MTA-STS enforce or DANE covers the MX (the one rule, health.py).
    """
    if cert is None:
        return []
    if cert.get("error"):
        return [Finding("cert-unreadable", Severity.WARNING,
                        f"The certificate of {mx_host} could not be read ({cert['error']}); {consequence}.",
                        mx_host)]
    findings: list[Finding] = []
    days_left = cert.get("days_left")
    by_days = Severity.CRITICAL if (critical_days is not None and isinstance(days_left, int)
                                    and days_left <= critical_days) else Severity.WARNING
    if isinstance(days_left, int) and days_left < 0:
        findings.append(Finding(
            "cert-expired", by_days,
            f"The certificate of {mx_host} expired {-days_left} day(s) ago ({cert.get('not_after')}); "
            f"{consequence}. DANE-EE senders ignore the dates.", mx_host))
    elif isinstance(days_left, int) and days_left <= warning_days and not exim_generated(cert):
        # (Exim's own certificate lives an hour or two by design: nobody renews it, the fix is one configured)
        findings.append(Finding(
            "cert-expiring", by_days,
            f"The certificate of {mx_host} expires in {days_left} day(s) ({cert.get('not_after')}); renew it before "
            f"then: once it expires, {consequence}.", mx_host))
    if exim_generated(cert):
        findings.append(Finding(
            "cert-self-signed", Severity.WARNING,
            f"{mx_host} presents the self-signed certificate Exim makes for itself when no certificate is "
            "configured (O=Exim Developers, C=UK, valid an hour or two from when it was made: Exim's "
            f"tls_install_selfsign); {consequence}. Configure a certificate for it: tls_certificate and "
            "tls_privatekey (Debian's exim4-config: MAIN_TLS_ENABLE = yes, with the certificate and key in "
            "/etc/exim4/exim.crt and exim.key).", mx_host))
    elif cert.get("self_signed"):
        findings.append(Finding(
            "cert-self-signed", Severity.WARNING,
            f"{mx_host} presents a self-signed certificate; {consequence}. "
            "Use a certificate from a public CA, or publish a DANE-EE TLSA record for it.", mx_host))
    elif cert.get("trusted") is False and not _expired_by_verification(cert):
        reason = cert.get("verify_error") or "verification failed"
        findings.append(Finding(
            "cert-untrusted", Severity.WARNING,
            f"The certificate of {mx_host} is not trusted ({reason}); {consequence}. "
            "Serve the full chain up to a public CA.", mx_host))
    if cert.get("hostname_match") is False:
        names = ", ".join(cert.get("names") or []) or "no names"
        findings.append(Finding(
            "cert-name-mismatch", Severity.WARNING,
            f"The certificate of {mx_host} does not name it (it names {names}); {consequence}.", mx_host))
    return findings


# OpenSSL's words for a TLS alert 80 received from the server: "internal_error: An internal error unrelated to the
# peer or the correctness of the protocol ... makes it impossible to continue" (RFC 8446 §6.2, RFC 5246 §7.2.2)
_SERVER_INTERNAL_ERROR = "alert internal error"
SERVER_SIDE_TLS = ("its internal_error alert is a fault on the server's own side (RFC 8446 §6.2), so every sender's "
                   "STARTTLS likely fails there too (the probe saw one handshake; so it is with Debian 12's OpenSMTPD "
                   "6.8 on OpenSSL 3: OpenSMTPD issue #1171)")


def server_side_tls_failure(error: str | None) -> bool:
    """Whether a failed handshake's error is the server's internal_error alert (SERVER_SIDE_TLS)."""
    return error is not None and _SERVER_INTERNAL_ERROR in error.lower()


def starttls_findings(mx_host: str, session_tls: dict[str, Any] | None, *, offered: bool, mode: str,
                      refused: str | None = None, consequence: str | None = None,
                      plain_refused: str | None = None) -> list[Finding]:
    """STARTTLS missing, refused (a 454) or failed: CRITICAL under --starttls require; in auto mode advice
    (INFO: the exit code does not change, the transport line says "no STARTTLS"); nothing under "never".
    `refused`: the server's reply to STARTTLS when it was not 220. `consequence`: what that costs this
    domain (probe.judge.advice.tls_consequence), once known. `plain_refused`: the server's demand for TLS
    to the session that went on in plain text ("530 5.7.0 Must issue a STARTTLS command first", Postfix's
    smtpd_tls_security_level = encrypt): then no sender falls back to clear text there, and a WARNING says
    so (CRITICAL when it does not even offer STARTTLS: no sender can deliver)."""
    if mode == "never" or tls_negotiated(session_tls):
        return []
    severity = Severity.CRITICAL if mode == "require" else Severity.WARNING if plain_refused else Severity.INFO
    fallback = (f"it refuses mail in clear text ({plain_refused}), so senders whose STARTTLS fails the "
                "same way cannot deliver" if plain_refused else
                "senders that insist on TLS will not deliver, others fall back to clear text")
    if not offered:
        if plain_refused:
            return [Finding("starttls-missing", Severity.CRITICAL,
                            f"{mx_host} does not offer STARTTLS, yet refuses mail in clear text ({plain_refused}): "
                            "no sender can deliver to it.", mx_host)]
        return [Finding("starttls-missing", severity,
                        f"{mx_host} does not offer STARTTLS: mail to it travels in clear text; "
                        f"{consequence or 'senders enforcing MTA-STS or DANE will not deliver to it'}.", mx_host)]
    if refused:
        return [Finding("starttls-refused", severity,
                        f"{mx_host} offers STARTTLS but refused it (STARTTLS refused ({refused})); {fallback}.",
                        mx_host)]
    reason = (session_tls or {}).get("error") or "the handshake failed"
    if mode == "require" and (session_tls or {}).get("certificate"):
        return [Finding("starttls-failed", severity,
                        f"The probe stopped at {mx_host} before MAIL: --starttls require asks for a certificate "
                        "that verifies, and this one does not (the certificate finding says why and what it "
                        "costs).", mx_host)]
    if server_side_tls_failure(reason):
        if plain_refused:  # no sender gets TLS there, and none may send in clear text: no one can deliver
            return [Finding("starttls-failed", Severity.CRITICAL, (
                f"STARTTLS with {mx_host} failed ({reason}): {SERVER_SIDE_TLS}; and it refuses mail in clear text "
                f"({plain_refused}): no sender can deliver to it while that lasts."), mx_host)]
        return [Finding("starttls-failed", severity, (
            f"STARTTLS with {mx_host} failed ({reason}): {SERVER_SIDE_TLS}; senders that insist on TLS will not "
            "deliver, others fall back to clear text."), mx_host)]
    return [Finding("starttls-failed", severity, f"STARTTLS with {mx_host} failed ({reason}); {fallback}.", mx_host)]


def _tls_phrase(session_tls: dict[str, Any] | None, offered: bool = False) -> str:
    if session_tls is None:
        return "STARTTLS offered (not used)" if offered else "no STARTTLS"
    if session_tls.get("error"):
        return f"STARTTLS failed ({session_tls['error']})"
    return f"STARTTLS ok ({session_tls.get('version') or 'TLS'})"


def _cert_phrase(cert: dict[str, Any] | None) -> str | None:
    if cert is None:
        return None
    if cert.get("error"):
        return f"certificate unreadable ({cert['error']})"
    problems = []
    days_left = cert.get("days_left")
    if isinstance(days_left, int) and days_left < 0:
        problems.append(f"expired {-days_left} days ago")
    if cert.get("self_signed"):
        problems.append("self-signed")
    elif cert.get("trusted") is False and not _expired_by_verification(cert):
        problems.append(f"untrusted ({cert.get('verify_error') or 'verification failed'})")
    if cert.get("hostname_match") is False:
        problems.append("name mismatch")
    if problems:
        return "certificate " + ", ".join(problems)
    lifetime = f" {days_left} days" if isinstance(days_left, int) else ""
    return f"certificate valid{lifetime}" if cert.get("trusted") else f"certificate{lifetime} left (trust not checked)"


def _mta_sts_phrase(mta_sts: dict[str, Any] | None, hosts: list[str]) -> str:
    if mta_sts is None:
        return "MTA-STS not checked"
    status = mta_sts.get("status")
    if status == "absent" or (status is None and not mta_sts.get("record")):
        return "MTA-STS absent"
    if status not in ("ok", None):
        return f"MTA-STS broken ({mta_sts.get('error')})"
    mode = mta_sts.get("mode")
    if mode == "none":
        return "MTA-STS mode none"
    covered = [h for h in hosts if (mta_sts.get("covers") or {}).get(h)]
    if len(hosts) == 1:
        return f"MTA-STS {mode} {'covers' if covered else 'does NOT cover'} this MX"
    if len(covered) == len(hosts):
        return f"MTA-STS {mode} covers {'both' if len(hosts) == 2 else 'all'} MX"
    return f"MTA-STS {mode} covers {len(covered)} of {len(hosts)} MX"


def _dane_phrase(dane: dict[str, Any] | None) -> str:
    if dane is None:
        return "DANE not checked"
    if not dane.get("records"):
        return f"DANE lookup failed ({dane['error']})" if dane.get("error") else "DANE absent"
    if not dane.get("dnssec"):
        return "DANE records unvalidated (resolver does not validate DNSSEC)"
    match = dane.get("match")
    if match is True:
        return "DANE matches"
    if match is False:
        return "DANE MISMATCH"
    return "DANE not judged" + (f" ({dane['error']})" if dane.get("error") else "")


def _tls_rpt_phrase(tls_rpt: dict[str, Any] | None) -> str:
    if tls_rpt is None:
        return "TLS-RPT not checked"
    if tls_rpt.get("valid"):
        return "TLS-RPT present"
    return "TLS-RPT invalid" if tls_rpt.get("record") or tls_rpt.get("error") else "TLS-RPT absent"


def transport_summary(
    session_tls: dict[str, Any] | None,
    mta_sts: dict[str, Any] | None,
    dane: dict[str, Any] | None,
    tls_rpt: dict[str, Any] | None,
    *,
    mx_host: str,
    policies_apply: bool = True,
    offered: bool = False,
) -> str:
    """One line for one MX: "STARTTLS ok (TLSv1.3), certificate valid 83 days, MTA-STS enforce covers this MX, ...".

    `policies_apply` False: the MX is an IP address, to which MTA-STS and DANE do not apply (said once).
    `offered`: the host offered STARTTLS (said when it was not used: --starttls never).
    """
    parts = [_tls_phrase(session_tls, offered)]
    cert_phrase = _cert_phrase((session_tls or {}).get("certificate"))
    if cert_phrase:
        parts.append(cert_phrase)
    if policies_apply:
        parts += [_mta_sts_phrase(mta_sts, [mx_host]), _dane_phrase(dane)]
    else:
        parts.append(NOT_APPLICABLE_TO_IP)
    parts.append(_tls_rpt_phrase(tls_rpt))
    return ", ".join(parts)


NOT_APPLICABLE_TO_IP = "MTA-STS and DANE not applicable (an IP address, not an MX host name)"


def domain_transport_summary(
    tls_by_host: dict[str, dict[str, Any] | None],
    mta_sts: dict[str, Any] | None,
    dane_by_host: dict[str, dict[str, Any] | None],
    tls_rpt: dict[str, Any] | None,
    *,
    mx_hosts: list[str] | None = None,
    offered: frozenset[str] = frozenset(),
) -> str:
    """One line for the domain: STARTTLS and certificates over all probed MX, then the domain policies.

    MTA-STS coverage is judged over `mx_hosts` (every MX of the domain, probed or not; default: the probed ones).
    """
    hosts = list(tls_by_host)
    with_tls = [h for h in hosts if tls_negotiated(tls_by_host[h])]
    unused = [h for h in hosts if h in offered and tls_by_host[h] is None]
    of = f"of {len(hosts)} MX" + (" reached" if len(hosts) < len(set(mx_hosts or ()) | set(hosts)) else "")
    if not hosts:
        parts = ["no MX probed"]
    elif unused and not with_tls:
        parts = [f"STARTTLS offered by {len(unused)} {of} (not used)"]
    else:
        parts = [f"STARTTLS on {len(with_tls)} {of}"]
    certs = [(h, (tls_by_host[h] or {}).get("certificate")) for h in with_tls]
    bad = [h for h, c in certs if _cert_phrase(c) and not str(_cert_phrase(c)).startswith("certificate valid")]
    days = [c["days_left"] for _, c in certs if c and isinstance(c.get("days_left"), int)]
    if bad:
        parts.append(f"certificate problems on {', '.join(bad)}")
    elif days:
        parts.append(f"certificates valid (the soonest expires in {min(days)} days)")
    if mx_hosts is None or mx_hosts:  # [] : only IP addresses, whose own lines say the policies do not apply
        parts.append(_mta_sts_phrase(mta_sts, mx_hosts or hosts))
        parts.append(_domain_dane_phrase(dane_by_host))
    parts.append(_tls_rpt_phrase(tls_rpt))
    return ", ".join(parts)


def _domain_dane_phrase(dane_by_host: dict[str, dict[str, Any] | None]) -> str:
    """"DANE absent" only when every lookup made said so; hosts never looked up make it "not checked"."""
    looked_up = [d for d in dane_by_host.values() if d is not None]
    present = [d for d in looked_up if d.get("records")]
    if present:
        phrases = ", ".join(sorted({_dane_phrase(d) for d in present}))
        return f"{phrases} on {len(present)} of {len(dane_by_host)} MX"
    failed = [d for d in looked_up if d.get("error")]
    if failed:
        return f"DANE lookup failed on {len(failed)} of {len(dane_by_host)} MX"
    if not looked_up or len(looked_up) < len(dane_by_host):
        return "DANE not checked" if not looked_up else f"DANE absent on {len(looked_up)} of {len(dane_by_host)} MX"
    return "DANE absent"
