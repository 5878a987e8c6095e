"""Exit codes end to end: the real `python -m probe` against FakeDNS and FakeSMTP on loopback (no canned reports)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from typing import Any

import pytest

from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

ZONE = """$ORIGIN e.test.
@        SOA ns.e.test. h.e.test. 1 3600 600 86400 60
ok       MX 10 mx
mx       A  127.0.0.1
"""


async def smtp_probe(*args: str) -> tuple[int, dict[str, Any], str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "probe", *args, "--json", "--helo", "probe.e.test", "--timeout", "1",
        "--deadline", "10", "--starttls", "never", "--no-tls-policies",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, json.loads(out), err.decode()


@pytest.mark.parametrize(("banner", "address", "code", "status"), [
    ("220 mx.test ESMTP", "a@ok.e.test", 0, "accepts_mail"),
    ("220 mx.test ESMTP", "gone@ok.e.test", 2, "accepts_mail"),
    ("421 4.3.2 mx.test busy, try again later", "a@ok.e.test", 1, "unreachable"),
    # 4.7.1: a policy deferral of this client at the greeting (the host answered: not unreachable)
    ("450 4.7.1 mx.test not now", "a@ok.e.test", 1, "refuses_this_client"),
    ("521 5.3.2 Service currently unavailable", "a@ok.e.test", 1, "refuses_this_client"),
    ("521 5.3.2 mx.test does not accept mail", "a@ok.e.test", 2, "does_not_accept_mail"),
])
async def test_real_runs_exit_with_the_spec_code(validate_report: Any, banner: str, address: str, code: int,
                                                 status: str) -> None:
    async with FakeDNS({"e.test.": ZONE}) as dns, FakeSMTP(
            banner=banner, rcpt={"a@ok.e.test": "250 2.1.5 Ok"}, rcpt_default="550 5.1.1 no such user") as smtp:
        exit_code, data, err = await smtp_probe(address, "--resolver", f"127.0.0.1:{dns.port}",
                                                "--port", str(smtp.port))
    validate_report(data)
    assert (exit_code, data["exit_code"], data["status"]) == (code, code, status), (err, data["summary"])
    assert not any(c.upper().startswith("DATA") for c in smtp.commands)


async def test_servfail_from_the_domains_servers_is_a_warning(validate_report: Any) -> None:
    async with FakeDNS({"e.test.": ZONE}, servfail=["sf.e.test."]) as dns:
        exit_code, data, _err = await smtp_probe("sf.e.test", "--resolver", f"127.0.0.1:{dns.port}")
    validate_report(data)
    assert (exit_code, data["status"], data["health"]["state"]) == (1, "dns_error", "WARNING")


async def test_unreachable_resolver_is_unknown(validate_report: Any) -> None:
    async with FakeDNS({"e.test.": ZONE}, drop=["ok.e.test."]) as dns:
        exit_code, data, _err = await smtp_probe("ok.e.test", "--resolver", f"127.0.0.1:{dns.port}")
    validate_report(data)
    assert (exit_code, data["status"], data["health"]["state"]) == (3, "dns_error", "UNKNOWN")
    assert "local resolver failure" in data["health"]["summary"]


async def test_bad_input_is_unknown_with_a_report(validate_report: Any) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    exit_code, data, err = await smtp_probe("bad domain!", "--resolver", f"127.0.0.1:{port}")
    validate_report(data)
    assert exit_code == data["exit_code"] == 3 and data["error"] and len(err.splitlines()) == 1
