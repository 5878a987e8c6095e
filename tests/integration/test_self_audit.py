"""The probe audits its own public address whenever a server echoes it (issue 6), once per address in a run."""

from __future__ import annotations

from probe.dns import resolve
from probe.inputs import parse_address
from probe.model import ProbeOptions, Reason, Report, Verdict
from probe.run.probe import probe_domain
from probe.smtp.polite import HostLimiter
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

ZONES = {
    "a.test.": "$ORIGIN a.test.\n@ SOA ns h 1 1 1 1 1\n@ MX 10 mx\nmx A 127.0.0.1\nmail A 11.22.33.44\n",
    "33.22.11.in-addr.arpa.": "$ORIGIN 33.22.11.in-addr.arpa.\n@ SOA ns.a.test. h.a.test. 1 1 1 1 1\n"
                               "44 PTR mail.a.test.\n",
    "bl.test.": "$ORIGIN bl.test.\n@ SOA ns.a.test. h.a.test. 1 1 1 1 1\n44.33.22.11 A 127.0.0.2\n"
                "44.33.22.11 TXT \"listed for testing\"\n",
}
# 11.22.33.44: a globally routable address used as data only (never contacted); documentation
# ranges such as 203.0.113.0/24 are rightly not "public" and would not be audited.
BLOCKED = "554 5.7.1 Service unavailable; Client host [11.22.33.44] blocked using zen.spamhaus.org"


async def probe(rcpt_reply: str, *, limiter: HostLimiter | None = None, runs: int = 1,
                **options: object) -> tuple[list[Report], FakeDNS]:
    async with FakeDNS(ZONES) as dns, FakeSMTP(hostname="mx.a.test Hello mail.a.test [11.22.33.44]",
                                               rcpt_default=rcpt_reply) as smtp:
        opts = ProbeOptions(helo="mail.a.test", port=smtp.port, timeout_s=2, deadline_s=10, tls_policies=False,
                            starttls="never", catch_all=False, **options)  # type: ignore[arg-type]
        resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=1)
        reports = [await probe_domain("a.test", [parse_address("u@a.test")], opts, resolver=resolver,
                                      limiter=limiter) for _ in range(runs)]
        return reports, dns


async def test_blocklisted_reply_triggers_an_audit_of_the_echoed_address() -> None:
    [report], _dns = await probe(BLOCKED, dnsbl_zones=("bl.test",))
    address = report.addresses[0]
    assert (address.verdict, address.reason) == (Verdict.UNKNOWN, Reason.BLOCKLISTED)
    source = report.source
    assert source is not None and source["ip"] == "11.22.33.44"
    assert source["ptr"] == ["mail.a.test"] and source["forward_confirmed"] is True
    assert [d["status"] for d in source["dnsbl"]] == ["listed"]
    assert "source-listed" in {f.id for f in report.findings}


async def test_the_echoed_address_is_audited_even_when_nobody_blamed_this_machine() -> None:
    [report], _dns = await probe("250 2.1.5 Ok", dnsbl_zones=("bl.test",))
    assert report.addresses[0].verdict is Verdict.DELIVERABLE
    assert report.source is not None and report.source["ip"] == "11.22.33.44"
    assert "source-listed" in {f.id for f in report.findings}


async def test_a_batch_audits_each_source_address_once() -> None:
    reports, dns = await probe("250 2.1.5 Ok", limiter=HostLimiter(), runs=3, dnsbl_zones=("bl.test",))
    assert all(r.source is not None and r.source["ip"] == "11.22.33.44" for r in reports)
    assert dns.queries.count(("44.33.22.11.in-addr.arpa", "PTR")) == 1
    assert dns.queries.count(("44.33.22.11.bl.test", "A")) == 1
