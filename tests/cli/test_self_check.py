"""`smtp-probe self-check`: the prober audits itself (PTR, FCrDNS, HELO, DNS blocklists) before blaming others."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import jsonschema

from probe.testing.fakedns import FakeDNS

REVERSE = """$ORIGIN 113.0.203.in-addr.arpa.
@ SOA ns.x.test. h.x.test. 1 1 1 1 1
5 PTR mail.example.test.
6 PTR nowhere.example.test.
"""
FORWARD = """$ORIGIN example.test.
@ SOA ns.x.test. h.x.test. 1 1 1 1 1
mail A 203.0.113.5
"""
BLOCKLIST = """$ORIGIN bl.test.
@ SOA ns.x.test. h.x.test. 1 1 1 1 1
5.113.0.203 A 127.0.0.2
5.113.0.203 TXT "Listed for testing"
"""


async def self_check(*args: str) -> tuple[int, str, str]:
    zones = {"113.0.203.in-addr.arpa.": REVERSE, "example.test.": FORWARD, "bl.test.": BLOCKLIST}
    async with FakeDNS(zones) as dns:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "probe", "self-check", *args, "--resolver", f"127.0.0.1:{dns.port}",
            "--timeout", "2", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_listed_address_is_critical(report_schema: dict[str, Any]) -> None:
    code, out, _ = await self_check("--source-ip", "203.0.113.5", "--helo", "mail.example.test",
                                    "--dnsbl", "bl.test", "--json")
    assert code == 2
    data = json.loads(out)
    # self-check JSON is not a report: it has its own section of the schema
    jsonschema.Draft202012Validator({"$ref": "#/$defs/self_check", "$defs": report_schema["$defs"]}).validate(data)
    assert data["ptr"] == ["mail.example.test"] and data["forward_confirmed"] is True
    assert [d["status"] for d in data["dnsbl"]] == ["listed"]
    assert "source-listed" in {f["id"] for f in data["findings"]}


async def test_unconfirmed_ptr_and_helo_mismatch_warn() -> None:
    code, out, _ = await self_check("--source-ip", "203.0.113.6", "--helo", "mail.example.test", "--dnsbl", "bl.test")
    assert code == 1
    assert "NOT forward-confirmed" in out and "source-ptr-not-confirmed" in out
    assert "not listed" in out


async def test_without_an_address_it_says_how_to_name_one() -> None:
    code, out, _ = await self_check()
    assert code == 3
    assert "--source-ip" in out


async def test_bad_input_is_one_line_exit_3() -> None:
    code, _out, err = await self_check("--source-ip", "not-an-ip\r\n")
    assert code == 3 and "Traceback" not in err and len(err.strip().splitlines()) == 1
