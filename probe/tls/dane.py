"""Transport security: DANE for SMTP (RFC 7672 / RFC 6698), matching TLSA records against the leaf (DANE-EE)
and the chain the server sent (DANE-TA). No sockets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from probe.dns.resolve import lookup_tlsa
from probe.model import Finding, Severity
from probe.tls.certificates import issued_by, names_host

if TYPE_CHECKING:  # cryptography is imported when a certificate is judged (start-up)
    pass

USAGE_NAMES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
NOT_VALIDATING = "the resolver does not validate DNSSEC (no AD bit), DANE cannot be judged"
_CHAIN_UNAVAILABLE = "usage {usage} needs the server's chain, not available on this Python"
_PKIX_UNUSABLE = "RFC 7672 §3.1.3: SMTP senders treat PKIX usages (0, 1) as unusable"


def _record_fields(record: Any) -> tuple[int, int, int, bytes] | None:
    """(usage, selector, matching type, data) from a dnspython TLSA rdata or a (usage, selector, mtype, bytes) tuple."""
    try:
        if isinstance(record, tuple) and len(record) == 4:
            return int(record[0]), int(record[1]), int(record[2]), bytes(record[3])
        return int(record.usage), int(record.selector), int(record.mtype), bytes(record.cert)
    except (ValueError, TypeError, AttributeError):
        return None


def _selected(der: bytes, selector: int) -> bytes | None:
    """Selector 0: the whole certificate; 1: its SubjectPublicKeyInfo (RFC 6698 §2.1.2)."""
    if selector == 0:
        return der
    if selector == 1:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert = x509.load_der_x509_certificate(der)
        return cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return None


def _digest(data: bytes, mtype: int) -> bytes | None:
    """Matching type 0: exact; 1: SHA-256; 2: SHA-512 (RFC 6698 §2.1.3)."""
    if mtype == 0:
        return data
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return None


def leaf_matches(der: bytes, selector: int, mtype: int, data: bytes) -> bool | None:
    """Whether the leaf certificate matches one TLSA association; None for an unknown selector or matching type."""
    try:
        selected = _selected(der, selector)
    except ValueError:
        return False  # an unreadable certificate matches nothing
    digest = _digest(selected, mtype) if selected is not None else None
    return None if digest is None else digest == data


def judge_trust_anchor(chain: list[bytes], selector: int, mtype: int, data: bytes,
                       mx_host: str | None) -> tuple[bool, str | None]:
    """DANE-TA (usage 2, RFC 7671 §5.2): a certificate the server sent above the leaf matches, every link
    from the leaf up to it is a valid signature, and the leaf names the MX host. -> (match, note)."""
    from cryptography import x509

    try:
        certs = [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError:
        return False, "the server's chain could not be read"
    for index in range(1, len(chain)):
        if not leaf_matches(chain[index], selector, mtype, data):
            continue
        if not all(issued_by(certs[i], certs[i + 1]) for i in range(index)):
            return False, "the trust anchor is in the chain but the chain does not link up to the leaf"
        if mx_host is not None and not names_host(certs[0], mx_host):
            return False, f"the chain leads to the trust anchor but the certificate does not name {mx_host}"
        return True, None
    return False, f"none of the {len(chain) - 1} certificate(s) above the leaf matches"


def judge_record(record: Any, der: bytes | None, *, trusted: bool | None, chain: list[bytes] | None = None,
                 mx_host: str | None = None) -> dict[str, Any]:
    """One TLSA record -> {"usage", "selector", "mtype", "data", "match", "usable", "note"}.

    `chain`: the certificates the server sent, leaf first (None: not known on this Python)."""
    fields = _record_fields(record)
    if fields is None:
        return {"usage": None, "selector": None, "mtype": None, "data": str(record)[:80], "match": None,
                "usable": False, "note": "malformed TLSA record"}
    usage, selector, mtype, data = fields
    detail: dict[str, Any] = {"usage": usage, "selector": selector, "mtype": mtype, "data": data.hex(),
                              "match": None, "usable": usage in (2, 3) and selector in (0, 1) and mtype in (0, 1, 2),
                              "note": None}
    if usage not in USAGE_NAMES:
        detail["note"] = f"unknown usage {usage}"
    elif selector not in (0, 1) or mtype not in (0, 1, 2):
        detail["note"] = f"unsupported selector {selector} or matching type {mtype}"
    elif der is None:
        detail["note"] = "no certificate to compare (STARTTLS not completed)"
    elif usage == 2 and chain:
        detail["match"], detail["note"] = judge_trust_anchor(chain, selector, mtype, data, mx_host)
    elif usage in (0, 2):
        detail["note"] = _CHAIN_UNAVAILABLE.format(usage=usage)
    else:
        matched = leaf_matches(der, selector, mtype, data)
        if usage == 1 and matched:
            detail["match"] = trusted  # PKIX-EE also needs a chain trusted by the system store (None: not known)
            detail["note"] = (_PKIX_UNUSABLE if trusted
                              else "the leaf matches but is not PKIX-trusted; " + _PKIX_UNUSABLE)
        else:
            detail["match"] = matched
            detail["note"] = _PKIX_UNUSABLE if usage == 1 else None
    return detail


def evaluate_dane(
    records: Iterable[Any], *, authenticated: bool, der: bytes | None, trusted: bool | None = None,
    chain: list[bytes] | None = None, mx_host: str | None = None,
) -> dict[str, Any]:
    """Pure: the SPEC.md `dane` object from TLSA records, the AD bit, the leaf certificate and (for DANE-TA)
    the chain the server sent."""
    details = [judge_record(record, der, trusted=trusted, chain=chain, mx_host=mx_host) for record in records]
    # DANE-EE and DANE-TA (when the chain is known) decide; PKIX usages are unusable for SMTP (RFC 7672 §3.1.3)
    judged = [d["match"] for d in details if d["match"] is not None and d["usage"] in (2, 3)]
    overall: bool | None = (any(judged) if judged else None) if authenticated else None
    usable = authenticated and any(d["usable"] for d in details)
    error = None
    if details and not authenticated:
        error = NOT_VALIDATING
    elif details and authenticated and not usable:
        error = "no usable TLSA record (RFC 7672 §3.1.3: only DANE-TA(2) and DANE-EE(3) count for SMTP)"
    return {"records": len(details), "dnssec": authenticated, "match": overall, "usable": usable, "error": error,
            "details": details}


async def check_dane(
    mx_host: str, resolver: Any, der: bytes | None, *, port: int = 25, trusted: bool | None = None,
    chain: list[bytes] | None = None,
) -> dict[str, Any]:
    """Look up `_<port>._tcp.<mx_host>` TLSA and judge the presented leaf. Never raises.

    {"records": N, "dnssec": bool (AD bit), "match": bool | None, "usable": bool, "error", "details": [...]}
    """
    name = f"_{port}._tcp.{mx_host.strip().rstrip('.').lower()}"
    lookup = await lookup_tlsa(name, resolver)
    authenticated = bool(getattr(lookup, "authenticated", False))
    if lookup.status == "error":
        return {"records": 0, "dnssec": authenticated, "match": None, "usable": False,
                "error": f"the TLSA lookup for {name} failed: {lookup.error}", "details": []}
    if lookup.status in ("nxdomain", "nodata"):
        return {"records": 0, "dnssec": authenticated, "match": None, "usable": False, "error": None, "details": []}
    return evaluate_dane(lookup.records or [], authenticated=authenticated, der=der, trusted=trusted, chain=chain,
                         mx_host=mx_host)


def dane_findings(dane: dict[str, Any] | None, *, mx_host: str, tls: bool = True) -> list[Finding]:
    """CRITICAL dane-mismatch when authenticated records do not match, CRITICAL dane-no-tls when they exist
    and STARTTLS was missing or failed (`tls` False); INFO when DANE cannot be judged."""
    if not dane:
        return []
    records, dnssec, match, error = dane.get("records", 0), dane.get("dnssec"), dane.get("match"), dane.get("error")
    if records and dnssec and not tls:
        return [Finding("dane-no-tls", Severity.CRITICAL,
                        f"{mx_host} publishes {records} DNSSEC-signed TLSA record(s) but no TLS session could be "
                        "made with it (STARTTLS missing, refused or failed): a DANE sender will not deliver to this "
                        "host (RFC 7672 §2.2).", mx_host)]
    if records == 0 and error:
        return [Finding("dane-lookup-failed", Severity.WARNING,
                        f"{error}; a DANE sender defers mail to {mx_host} while its TLSA lookup fails "
                        "(RFC 7672 §2.2).", mx_host)]
    if records == 0:
        return []
    if not dnssec:
        return [Finding("dane-unvalidated", Severity.INFO,
                        f"{mx_host} publishes {records} TLSA record(s) but {NOT_VALIDATING}; use a validating "
                        "resolver (e.g. --resolver 127.0.0.1 with unbound) to check it.", mx_host)]
    if match is False:
        return [Finding("dane-mismatch", Severity.CRITICAL,
                        f"The certificate of {mx_host} matches none of its DNSSEC-signed TLSA records; senders using "
                        "DANE will refuse to deliver to it (RFC 7672 §2.2). Update the TLSA records or the "
                        "certificate.", mx_host)]
    if match is None and dane.get("usable"):
        notes = sorted({d["note"] for d in dane.get("details", []) if d.get("note")})
        return [Finding("dane-not-checked", Severity.INFO,
                        f"The TLSA records of {mx_host} could not be compared: {'; '.join(notes)}.", mx_host)]
    if not dane.get("usable"):
        return [Finding("dane-unusable", Severity.WARNING,
                        f"{error}: DANE senders insist on TLS with {mx_host} but cannot authenticate it.", mx_host)]
    return []
