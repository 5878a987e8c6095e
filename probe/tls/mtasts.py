"""Transport security: MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) lookups and policy checks; returns plain dicts."""

from __future__ import annotations

import asyncio
import http.client
import re
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from probe.dns.resolve import lookup_addresses, lookup_txt
from probe.model import Finding, Severity

POLICY_PATH = "/.well-known/mta-sts.txt"
HTTPS_PORT = 443  # RFC 8461 §3.3: the policy is served over HTTPS on the default port
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 §3.3: senders may limit the policy size; 64 KiB is the common cap
MAX_AGE_LIMIT = 31_557_600  # RFC 8461 §3.2: max_age is at most one year
_STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_MODES = ("enforce", "testing", "none")


def _txt_strings(records: list[Any]) -> list[str]:
    """TXT records as text (resolve.lookup_txt already joins each record's character-strings)."""
    return [r.decode("utf-8", "replace") if isinstance(r, bytes) else str(r) for r in records]


def _fields(record: str) -> dict[str, str]:
    """'v=STSv1; id=abc;' -> {"v": "STSv1", "id": "abc"}; the first occurrence of a key wins."""
    fields: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def parse_sts_record(records: list[str]) -> tuple[str | None, str | None, str | None]:
    """The `_mta-sts` TXT records -> (record, id, error). No v=STSv1 record: (None, None, None)."""
    sts = [r for r in records if r.startswith("v=STSv1")]
    if not sts:
        return None, None, None
    if len(sts) > 1:
        return sts[0], None, (f"{len(sts)} v=STSv1 TXT records; "
                              "RFC 8461 §3.1 requires exactly one (senders ignore them all)")
    record = sts[0]
    fields = _fields(record)
    sts_id = fields.get("id")
    if fields.get("v") != "STSv1":
        return record, None, "the record does not start with v=STSv1;"
    if not sts_id or not _STS_ID.match(sts_id):
        return record, sts_id, "the id field is missing or not 1-32 letters and digits (RFC 8461 §3.1)"
    return record, sts_id, None


def parse_policy(text: str) -> tuple[dict[str, Any], str | None]:
    """The policy file -> ({"version", "mode", "max_age", "mx_patterns"}, error or None). RFC 8461 §3.2."""
    single: dict[str, str] = {}
    patterns: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "mx":
            patterns.append(value.lower().rstrip("."))
        elif key not in single:
            single[key] = value
    policy: dict[str, Any] = {"version": single.get("version"), "mode": single.get("mode"), "max_age": None,
                              "mx_patterns": patterns}
    age = single.get("max_age", "")
    if age.isdigit() and len(age) <= 10:
        policy["max_age"] = int(age)
    problems: list[str] = []
    if policy["version"] != "STSv1":
        problems.append("version is not STSv1")
    if policy["mode"] not in _MODES:
        problems.append(f"mode {policy['mode']!r} is not enforce, testing or none")
    if policy["max_age"] is None or policy["max_age"] > MAX_AGE_LIMIT:
        problems.append(f"max_age {age!r} is not a number of seconds up to {MAX_AGE_LIMIT}")
    if policy["mode"] in ("enforce", "testing") and not patterns:
        problems.append("no mx patterns")
    return policy, ("policy invalid: " + "; ".join(problems)) if problems else None


def covers(mx_host: str, patterns: list[str]) -> bool:
    """RFC 8461 §4.1: an exact name, or "*.example.com" matching exactly one extra leftmost label."""
    host = mx_host.strip().rstrip(".").lower()
    for pattern in patterns:
        pattern = pattern.strip().rstrip(".").lower()
        if pattern.startswith("*."):
            head, _, rest = host.partition(".")
            if head and rest == pattern[2:]:
                return True
        elif pattern and pattern == host:
            return True
    return False


def _connect(host: str, addresses: list[str], port: int, timeout_s: float) -> tuple[socket.socket | None, str]:
    """A TCP connection to the first of `addresses` that accepts one, or (None, why none did)."""
    problems: list[str] = []
    for ip in addresses:
        try:
            return socket.create_connection((ip, port), timeout=timeout_s), ""
        except OSError as exc:
            problems.append(f"{ip} port {port}: {exc.strerror or exc}")
    return None, f"cannot connect to {host} ({'; '.join(problems) or 'no address'})"


def _fetch_policy_sync(
    domain: str, addresses: list[str], *, port: int, timeout_s: float, cafile: str | None
) -> tuple[str | None, str | None]:
    """GET https://mta-sts.<domain>/.well-known/mta-sts.txt from one of `addresses` -> (body, error).

    SNI, the certificate name and the Host header are mta-sts.<domain>, whatever address is used.
    Blocking: run it in a thread.
    """
    host = f"mta-sts.{domain}"
    context = ssl.create_default_context(cafile=cafile)  # check_hostname on: the name must be mta-sts.<domain>
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    raw, why = _connect(host, addresses, port, timeout_s)
    if raw is None:
        return None, why
    try:
        tls = context.wrap_socket(raw, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        return None, f"the certificate of {host} is not valid: {exc.verify_message}"
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        return None, f"TLS with {host} failed: {exc}"
    connection = http.client.HTTPConnection(host, timeout=timeout_s)
    connection.sock = tls
    try:  # Host: mta-sts.<domain>, never with a port
        connection.request("GET", POLICY_PATH, headers={"Host": host, "User-Agent": "smtp-probe",
                                                        "Accept": "text/plain"})
        response = connection.getresponse()
        if 300 <= response.status < 400:
            target = response.getheader("Location") or "nowhere"
            return None, f"HTTP {response.status} redirect to {target}; RFC 8461 §3.3 forbids following redirects"
        if response.status != 200:
            return None, f"HTTP {response.status} {response.reason} for https://{host}{POLICY_PATH}"
        media_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "text/plain":
            return None, f"Content-Type is {media_type or 'missing'!r}, not text/plain (RFC 8461 §3.2)"
        body = response.read(MAX_POLICY_BYTES + 1)
        if len(body) > MAX_POLICY_BYTES:
            return None, f"the policy is larger than {MAX_POLICY_BYTES // 1024} KiB"
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "the policy is not UTF-8 text"
    except (OSError, http.client.HTTPException) as exc:
        return None, f"fetching https://{host}{POLICY_PATH} failed: {exc or type(exc).__name__}"
    finally:
        connection.close()


async def policy_addresses(domain: str, resolver: Any) -> tuple[list[str], str | None]:
    """The addresses of mta-sts.<domain>, asked of the run's resolver (--resolver), not the system's."""
    host = f"mta-sts.{domain}"
    lookup = await lookup_addresses(host, resolver)
    if lookup.records:
        return [str(ip) for ip in lookup.records], None
    if lookup.status == "error":
        return [], f"cannot resolve {host}: {lookup.error}"
    if lookup.status == "nxdomain":
        return [], f"cannot resolve {host}: no such name (NXDOMAIN)"
    return [], f"cannot resolve {host}: it has no A or AAAA record"


async def fetch_policy(
    domain: str,
    resolver: Any,
    *,
    timeout_s: float,
    cafile: str | None = None,
    port: int | None = None,
) -> tuple[str | None, str | None]:
    """The policy text of `domain`, or an error. mta-sts.<domain> is resolved with `resolver`;
    `port` (default HTTPS_PORT, 443) is for loopback tests."""
    addresses, error = await policy_addresses(domain, resolver)
    if not addresses:
        return None, error
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_fetch_policy_sync, domain, addresses, port=HTTPS_PORT if port is None else port,
                              timeout_s=timeout_s, cafile=cafile),
            timeout=timeout_s * 4,
        )
    except TimeoutError:
        return None, f"fetching the policy of {domain} timed out"


def _empty_result(record: str | None = None) -> dict[str, Any]:
    return {"status": "absent", "record": record, "id": None, "mode": None, "mx_patterns": [], "max_age": None,
            "covers": {}, "error": None}


async def check_mta_sts(
    domain: str,
    resolver: Any,
    mx_hosts: list[str],
    *,
    timeout_s: float,
    cafile: str | None = None,
    port: int | None = None,
) -> dict[str, Any]:
    """The SPEC.md `mta_sts` object, plus "status": absent | ok | record_invalid | dns_error | policy_error
    | policy_invalid. Never raises."""
    domain = domain.strip().rstrip(".").lower()
    result = _empty_result()
    lookup = await lookup_txt(f"_mta-sts.{domain}", resolver)
    if lookup.status == "error":
        result.update(status="dns_error", error=f"the _mta-sts TXT lookup failed: {lookup.error}")
        return result
    record, sts_id, record_error = parse_sts_record(_txt_strings(lookup.records))
    result.update(record=record, id=sts_id)
    if record is None:
        return result
    if record_error:
        result.update(status="record_invalid", error=record_error)
        return result
    text, fetch_error = await fetch_policy(domain, resolver, timeout_s=timeout_s, cafile=cafile, port=port)
    if text is None:
        result.update(status="policy_error", error=fetch_error)
        return result
    policy, policy_error = parse_policy(text)
    result.update(mode=policy["mode"], mx_patterns=policy["mx_patterns"], max_age=policy["max_age"],
                  covers={host: covers(host, policy["mx_patterns"]) for host in mx_hosts})
    result["status"], result["error"] = ("policy_invalid", policy_error) if policy_error else ("ok", None)
    return result


def _cert_failure(cert: dict[str, Any] | None) -> str | None:
    """Why a sender validating under MTA-STS (RFC 8461 §4.2) would reject this certificate; None when it passes."""
    if cert is None:
        return "it offered no STARTTLS"
    if cert.get("error"):
        return str(cert["error"])
    problems = []
    if cert.get("trusted") is False:
        problems.append(f"untrusted ({cert.get('verify_error') or 'verification failed'})")
    if cert.get("hostname_match") is False:
        problems.append("its name does not match")
    if isinstance(cert.get("days_left"), int) and cert["days_left"] < 0:
        problems.append("expired")
    return ", ".join(problems) or None


def mta_sts_findings(result: dict[str, Any] | None, cert_by_host: Mapping[str, dict[str, Any] | None]) -> list[Finding]:
    """Findings from a check_mta_sts result. cert_by_host: MX host -> its certificate object; None = no STARTTLS.

    Hosts missing from cert_by_host were not probed and are judged on coverage only.
    """
    if not result or result.get("status") == "absent":
        return []
    status, error, mode = result.get("status"), result.get("error"), result.get("mode")
    if status == "dns_error":
        return [Finding("mta-sts-dns-error", Severity.WARNING,
                        f"{error}; senders without a cached policy deliver without MTA-STS until it resolves.")]
    if status == "record_invalid":
        return [Finding("mta-sts-record-invalid", Severity.WARNING,
                        f"The _mta-sts TXT record is unusable: {error}. Senders treat the domain as having no policy.")]
    if status in ("policy_error", "policy_invalid"):
        return [Finding(f"mta-sts-{status.replace('_', '-')}", Severity.WARNING,
                        f"The MTA-STS record exists but the policy is unusable ({error}). New senders deliver without "
                        "MTA-STS; senders holding a cached policy keep applying it until max_age runs out (RFC 8461 "
                        "§5.1), so a stale enforce policy can block mail.")]
    if mode not in ("enforce", "testing"):
        return []
    enforce = mode == "enforce"
    severity = Severity.CRITICAL if enforce else Severity.WARNING
    consequence = ("senders enforcing MTA-STS will refuse to deliver to it" if enforce
                   else "in enforce mode senders would refuse it; TLS-RPT reports it now")
    findings: list[Finding] = []
    for host, covered in (result.get("covers") or {}).items():
        if not covered:
            patterns = ", ".join(result.get("mx_patterns") or [])
            findings.append(Finding("mta-sts-mx-not-covered", severity,
                                    f"MX {host} matches no mx pattern of the MTA-STS {mode} policy ({patterns}); "
                                    f"{consequence}.", host))
        elif host in cert_by_host and (why := _cert_failure(cert_by_host[host])):
            findings.append(Finding("mta-sts-cert-fails", severity,
                                    f"MX {host} would fail MTA-STS validation: {why}; {consequence}.", host))
    return findings


async def check_tls_rpt(domain: str, resolver: Any) -> dict[str, Any]:
    """The `_smtp._tls.<domain>` TXT record (RFC 8460 §3): {"record", "valid", "rua", "error"}. Never raises."""
    domain = domain.strip().rstrip(".").lower()
    lookup = await lookup_txt(f"_smtp._tls.{domain}", resolver)
    if lookup.status == "error":
        return {"record": None, "valid": False, "rua": [], "error": f"the _smtp._tls TXT lookup failed: {lookup.error}"}
    return parse_tls_rpt(_txt_strings(lookup.records))


def parse_tls_rpt(records: list[str]) -> dict[str, Any]:
    """RFC 8460 §3: exactly one record starting "v=TLSRPTv1;", with rua = mailto: or https: URIs."""
    rpt = [r for r in records if r.replace(" ", "").startswith("v=TLSRPTv1;") or r.strip() == "v=TLSRPTv1"]
    if not rpt:
        return {"record": None, "valid": False, "rua": [], "error": None}
    if len(rpt) > 1:
        return {"record": rpt[0], "valid": False, "rua": [],
                "error": f"{len(rpt)} v=TLSRPTv1 records; RFC 8460 §3 requires exactly one (senders ignore them all)"}
    record = rpt[0]
    uris = [u.strip() for u in _fields(record).get("rua", "").split(",") if u.strip()]
    bad = [u for u in uris if not (re.match(r"(?i)^mailto:[^@\s]+@[^@\s]+$", u) or re.match(r"(?i)^https://\S+$", u))]
    if not uris:
        return {"record": record, "valid": False, "rua": [], "error": "no rua= reporting address"}
    if bad:
        return {"record": record, "valid": False, "rua": uris,
                "error": f"rua must be mailto: or https: URIs, not {', '.join(bad)}"}
    return {"record": record, "valid": True, "rua": uris, "error": None}


def tls_rpt_findings(result: dict[str, Any] | None) -> list[Finding]:
    """A malformed TLS-RPT record is a WARNING (reports are lost); an absent one is worth an INFO."""
    if not result:
        return []
    if result.get("record") is None and not result.get("error"):
        return [Finding("tls-rpt-absent", Severity.INFO,
                        "No TLS-RPT record (_smtp._tls TXT): senders cannot report TLS failures to you (RFC 8460).")]
    if not result.get("valid"):
        return [Finding("tls-rpt-invalid", Severity.WARNING,
                        f"The TLS-RPT record is unusable: {result.get('error')}; no TLS failure reports will arrive.")]
    return []
