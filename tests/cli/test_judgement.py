"""Judgement end to end (issue 11): what a host that answered is called, hosts that disagree under --all-mx,
findings whose severity the exit code follows, DANE/MTA-STS only for MX names. The real `python -m probe`
against FakeDNS and FakeSMTP on loopback, read in the formats a user sees."""

from __future__ import annotations

import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

ZONE = """$ORIGIN j.test.
@        SOA ns.j.test. h.j.test. 1 3600 600 86400 60
one      MX 10 mx
mx       A  127.0.0.1
two      MX 10 mx1.two
two      MX 20 mx2.two
mx1.two  A  127.0.0.1
mx2.two  A  127.0.0.2
three    MX 10 mx.three
mx.three A  127.0.0.3
"""
# Postfix postscreen, permanent denylist with postscreen_denylist_action = drop
# (github:vdukhovni/postfix postfix/src/postscreen/postscreen.c, PSC_ACL_ACT_DENYLIST)
POSTSCREEN_DROP = "521 5.3.2 Service currently unavailable"
# Postfix smtpd connection-rate limit (github:vdukhovni/postfix postfix/src/smtpd/smtpd.c)
TOO_MANY = "421 4.7.0 mx.j.test Error: too many connections from 127.0.0.1"


async def smtp_probe(*args: str, fmt: str = "json") -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "probe", *args, "--format", fmt, "--helo", "probe.j.test", "--timeout", "2",
        "--deadline", "15", "--starttls", "never", "--no-tls-policies",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def every_format(*args: str) -> dict[str, tuple[int, str]]:
    return {fmt: await smtp_probe(*args, fmt=fmt) for fmt in ("text", "json", "nagios", "prometheus", "junit")}


# ---------------------------------------------------------------- defect 4: refuses_this_client

async def test_postscreen_drop_is_refuses_this_client_in_every_format(validate_report: Any) -> None:
    async with FakeDNS({"j.test.": ZONE}) as dns, FakeSMTP(banner=POSTSCREEN_DROP) as smtp:
        runs = await every_format("alice@one.j.test", "--resolver", f"127.0.0.1:{dns.port}",
                                  "--port", str(smtp.port))
    assert {fmt: code for fmt, (code, _) in runs.items()} == dict.fromkeys(runs, 1)  # WARNING everywhere
    data = json.loads(runs["json"][1])
    validate_report(data)
    assert (data["status"], data["reason"], data["exit_code"]) == ("refuses_this_client", "policy_rejected", 1)
    assert "answered and refused this client" in data["summary"] and POSTSCREEN_DROP in data["summary"]
    text = runs["text"][1]
    assert "REFUSES THIS CLIENT" in text and "UNREACHABLE" not in text and "no mail server answered" not in text
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("127.0.0.1") and "rejected" in line)
    row = " ".join([lines[at], *(line.strip() for line in lines[at + 1:at + 3] if line.startswith(" " * 33))])
    assert POSTSCREEN_DROP in row  # the 521 on that host's row (wrapped at 80 columns)
    assert runs["nagios"][1].startswith("SMTP WARNING - one.j.test: answered but refused this client")
    families = {f.name: f for f in text_string_to_metric_families(runs["prometheus"][1])}
    status = {s.labels["status"]: s.value for s in families["smtp_probe_domain_status"].samples}
    assert status["refuses_this_client"] == 1 and status["unreachable"] == 0
    junit = ET.fromstring(runs["junit"][1])
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert (props["status"], props["state"]) == ("refuses_this_client", "WARNING")


async def test_connection_rate_limit_at_connect_is_refuses_this_client() -> None:
    async with FakeDNS({"j.test.": ZONE}) as dns, FakeSMTP(banner=TOO_MANY) as smtp:
        code, out = await smtp_probe("alice@one.j.test", "--resolver", f"127.0.0.1:{dns.port}",
                                     "--port", str(smtp.port))
    data = json.loads(out)
    assert (code, data["status"], data["reason"]) == (1, "refuses_this_client", "rate_limited")
    assert data["summary"].startswith("one.j.test: a mail server answered and refused this client: ")


async def test_a_host_that_broke_the_protocol_is_said_so() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    async with FakeDNS({"j.test.": ZONE}) as dns:
        server = await asyncio.start_server(garbage, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            code, out = await smtp_probe("alice@one.j.test", "--resolver", f"127.0.0.1:{dns.port}",
                                         "--port", str(port))
            ncode, nagios = await smtp_probe("alice@one.j.test", "--resolver", f"127.0.0.1:{dns.port}",
                                             "--port", str(port), fmt="nagios")
        finally:
            server.close()
            await server.wait_closed()
    data = json.loads(out)
    assert (code, data["status"], data["reason"]) == (2, "unreachable", "protocol_error")
    assert "answered but broke the SMTP protocol" in data["summary"]
    assert ncode == 2 and "answered but broke the SMTP protocol" in nagios.splitlines()[0]


async def test_a_host_that_did_not_answer_is_said_so() -> None:
    async with FakeDNS({"j.test.": ZONE}) as dns:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # a free port, then closed
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        code, out = await smtp_probe("alice@one.j.test", "--resolver", f"127.0.0.1:{dns.port}", "--port", str(port))
    data = json.loads(out)
    assert (code, data["status"]) == (2, "unreachable")
    assert data["summary"].startswith("one.j.test: no mail server answered: ")


# ---------------------------------------------------------------- defect 3: --all-mx, hosts that disagree

# Exim's default ACL for a domain it neither hosts nor relays for (github:Exim/exim src/src/configure.default:
# "require message = relay not permitted / domains = +local_domains : +relay_to_domains")
RELAY_NOT_PERMITTED = "550 relay not permitted"


async def test_all_mx_shows_the_backup_that_would_bounce_in_every_format(validate_report: Any) -> None:
    async with FakeDNS({"j.test.": ZONE}) as dns, FakeSMTP(rcpt={"alice@two.j.test": "250 2.1.5 Ok"}) as mx1, \
            FakeSMTP(host="127.0.0.2", port=mx1.port, rcpt_default=RELAY_NOT_PERMITTED) as mx2:
        args = ("alice@two.j.test", "--resolver", f"127.0.0.1:{dns.port}", "--port", str(mx1.port),
                "--no-catch-all")
        runs = await every_format(*args, "--all-mx")
        one_host_code, _ = await smtp_probe(*args)  # without --all-mx the walk stops at mx1
        assert len(mx2.connections) == len(runs)
    assert one_host_code == 0
    assert {fmt: code for fmt, (code, _) in runs.items()} == dict.fromkeys(runs, 2)  # the worse state
    data = json.loads(runs["json"][1])
    validate_report(data)
    (alice,) = data["addresses"]
    assert (alice["verdict"], alice["host"]) == ("deliverable", "mx1.two.j.test")  # preference order decides
    assert [(v["host"], v["verdict"], v["code"]) for v in alice["mx_verdicts"]] == [
        ("mx1.two.j.test", "deliverable", 250), ("mx2.two.j.test", "undeliverable", 550)]
    (disagree,) = [f for f in data["findings"] if f["id"] == "mx-disagree"]
    assert disagree["severity"] == "critical" and disagree["subject"] == "mx2.two.j.test"
    assert ("mail that fails over to mx2.two.j.test will bounce: it does not accept alice@two.j.test "
            f"({RELAY_NOT_PERMITTED})") in disagree["message"]
    text = " ".join(runs["text"][1].split())  # wrapped to 80 columns
    assert "mx1.two.j.test [127.0.0.1]: deliverable (accepted): 250 2.1.5 Ok" in text
    assert f"mx2.two.j.test [127.0.0.2]: undeliverable (relay_denied): {RELAY_NOT_PERMITTED}" in text
    assert "critical The MX hosts disagree about alice@two.j.test" in text
    assert "CRITICAL: two.j.test: The MX hosts disagree" in text and "OK:" not in text
    assert runs["nagios"][1].startswith("SMTP CRITICAL - ") and "mail that fails over" in runs["nagios"][1]
    families = {f.name: f for f in text_string_to_metric_families(runs["prometheus"][1])}
    per_mx = {(s.labels["mx"], s.labels["verdict"]) for s in families["smtp_probe_mx_address_verdict"].samples
              if s.value == 1}
    assert per_mx == {("mx1.two.j.test", "deliverable"), ("mx2.two.j.test", "undeliverable")}
    statuses = {s.labels["check"]: s.value for s in families["smtp_probe_check_status"].samples}
    assert statuses["finding mx-disagree"] == 2
    junit = ET.fromstring(runs["junit"][1])
    case = next(c for c in junit.iter("testcase") if c.get("name") == "finding mx-disagree")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "critical"


async def test_all_mx_hosts_that_agree_add_nothing() -> None:
    async with FakeDNS({"j.test.": ZONE}) as dns, FakeSMTP(rcpt={"alice@two.j.test": "250 2.1.5 Ok"}) as mx1, \
            FakeSMTP(host="127.0.0.2", port=mx1.port, rcpt={"alice@two.j.test": "250 2.1.5 Ok"}):
        code, out = await smtp_probe("alice@two.j.test", "--resolver", f"127.0.0.1:{dns.port}", "--port",
                                     str(mx1.port), "--no-catch-all", "--all-mx")
    data = json.loads(out)
    assert code == 0 and not [f for f in data["findings"] if f["id"] == "mx-disagree"]
    assert [v["verdict"] for v in data["addresses"][0]["mx_verdicts"]] == ["deliverable", "deliverable"]


# ---------------------------------------------------------------- a domain-only probe asks postmaster@

# Postfix postscreen's DNSBL "enforce" refusal of each RCPT (github:vdukhovni/postfix
# postfix/src/postscreen/postscreen_early.c, as the lab's postscreen said it: tests/realmta)
DNSBL_ENFORCE = "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using bl.j.test"


async def test_a_domain_only_check_refused_at_rcpt_in_every_format(validate_report: Any) -> None:
    """A Nagios/CI check of a domain: the host answers MAIL with 250 and refuses this client at RCPT. The check
    says so (refuses_this_client, WARNING) in every format; --no-postmaster asks no RCPT and says OK as before."""
    async with FakeDNS({"j.test.": ZONE}) as dns, FakeSMTP(rcpt_default=DNSBL_ENFORCE, host="127.0.0.3") as smtp:
        # the server on 127.0.0.3, the probe from 127.0.0.1: not the server's own address (probe-on-server-host)
        args = ("three.j.test", "--resolver", f"127.0.0.1:{dns.port}", "--port", str(smtp.port))
        runs = await every_format(*args)
        opted_out, out = await smtp_probe(*args, "--no-postmaster")
    assert {fmt: code for fmt, (code, _) in runs.items()} == dict.fromkeys(runs, 1)
    data = json.loads(runs["json"][1])
    validate_report(data)
    assert (data["status"], data["reason"]) == ("refuses_this_client", "blocklisted")
    assert data["postmaster"]["address"] == "postmaster@three.j.test" and data["postmaster"]["accepted"] is False
    rcpt = [s for s in data["sessions"][0]["steps"] if (s["command"] or "").startswith("RCPT")]
    assert [(s["command"], s["code"], s["reason"]) for s in rcpt] == [
        ("RCPT TO:<postmaster@three.j.test>", 550, "blocklisted")]
    assert "REFUSES THIS CLIENT" in runs["text"][1]
    assert runs["nagios"][1].startswith("SMTP WARNING - three.j.test: answered but refused this client (blocklisted)")
    assert opted_out == 0
    plain = json.loads(out)
    assert plain["status"] == "accepts_mail" and plain["postmaster"] is None
    assert not any((s["command"] or "").startswith("RCPT") for s in plain["sessions"][0]["steps"])
