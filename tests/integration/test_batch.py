"""Batch mode (issue 4): streamed, ordered, polite, resumable; a bad line never stops the run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from probe.dns import resolve
from probe.judge.health import finish_report
from probe.model import ProbeOptions, Reply
from probe.run.batch import answered_inputs, parse_lines, run_batch
from probe.smtp.polite import HostLimiter, asks_to_slow_down
from probe.testing.fakedns import FakeDNS
from probe.testing.fakesmtp import FakeSMTP

ZONE = """$ORIGIN b.test.
$TTL 60
@        SOA ns.b.test. h.b.test. 1 3600 600 86400 60
one      MX 10 mx
two      MX 10 mx
three    MX 10 mx
nullmx   MX 0 .
mx       A  127.0.0.1
"""


@pytest.fixture
async def dns() -> AsyncIterator[FakeDNS]:
    async with FakeDNS({"b.test.": ZONE}) as server:
        yield server


async def batch(dns: FakeDNS, smtp: FakeSMTP, lines: list[str], **kw: Any) -> list[dict[str, Any]]:
    options = ProbeOptions(helo="probe.b.test", port=smtp.port, timeout_s=2, deadline_s=10, tls_policies=False,
                           vrfy=False, catch_all=False)
    resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=1)
    out: list[dict[str, Any]] = []
    await run_batch(lines, options, out.append, finish=lambda r: finish_report(r, []), resolver=resolver, **kw)
    return out


def test_parse_lines_accepts_plain_csv_and_json_and_skips_comments() -> None:
    lines = ["# targets", "", "b.test", "a@one.b.test", "one.b.test, x@one.b.test, y@one.b.test",
             '{"domain": "two.b.test", "addresses": ["z@two.b.test"]}', '{"address": "q@three.b.test"}',
             "bad\x07domain", '{"domain": 5}', "[not json"]
    parsed = list(parse_lines(lines))
    assert [p.number for p in parsed] == [3, 4, 5, 6, 7, 8, 9, 10]
    good = [(p.target.domain, [a.original for a in p.target.addresses]) for p in parsed if p.target]
    assert good == [("b.test", []), ("one.b.test", ["a@one.b.test"]),
                    ("one.b.test", ["x@one.b.test", "y@one.b.test"]), ("two.b.test", ["z@two.b.test"]),
                    ("three.b.test", ["q@three.b.test"])]
    errors = [p for p in parsed if p.error]
    assert [p.number for p in errors] == [8, 9, 10]
    assert all("\x07" not in (p.error or "") for p in errors)


async def test_results_in_input_order_with_bad_lines_as_results(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        out = await batch(dns, smtp, ["a@one.b.test", "bad\x00line", "nullmx.b.test", "b@two.b.test"],
                          concurrency=4)
    assert [r["line"] for r in out] == [1, 2, 3, 4]
    assert [r["input"] for r in out] == ["a@one.b.test", "bad\x00line", "nullmx.b.test", "b@two.b.test"]
    assert out[1]["error"] and out[1]["exit_code"] == 3 and out[1]["status"] is None
    assert out[2]["status"] == "does_not_accept_mail"
    assert out[0]["addresses"][0]["verdict"] == "deliverable"


async def test_addresses_of_one_domain_share_one_session(dns: FakeDNS) -> None:
    async with FakeSMTP(rcpt={"gone@one.b.test": "550 5.1.1 no such user"}, rcpt_default="250 Ok") as smtp:
        out = await batch(dns, smtp, ["a@one.b.test", "gone@one.b.test", "c@one.b.test"])
        assert len(smtp.connections) == 1
        rcpts = [c for c in smtp.commands if c.upper().startswith("RCPT")]
    assert len(rcpts) == 3
    assert [r["addresses"][0]["verdict"] for r in out] == ["deliverable", "undeliverable", "deliverable"]
    assert [[a["address"] for a in r["addresses"]] for r in out] == [["a@one.b.test"], ["gone@one.b.test"],
                                                                     ["c@one.b.test"]]
    # each line judged on its own address (no STARTTLS here is advisory: it does not warn)
    assert [r["exit_code"] for r in out] == [0, 2, 0]


async def test_dns_answers_are_cached_across_targets(dns: FakeDNS) -> None:
    async with FakeSMTP() as smtp:
        await batch(dns, smtp, ["one.b.test", "two.b.test", "one.b.test", "two.b.test"], concurrency=1)
    mx_queries = [q for q in dns.queries if q[1] == "MX"]
    assert sorted(mx_queries) == [("one.b.test", "MX"), ("two.b.test", "MX")]


async def test_one_connection_per_mx_host_at_a_time(dns: FakeDNS) -> None:
    live = peak = 0
    lock = asyncio.Lock()

    class Counting(FakeSMTP):
        def _make_protocol(self) -> Any:
            protocol = super()._make_protocol()
            original_made, original_lost = protocol.connection_made, protocol.connection_lost

            def made(transport: Any) -> None:
                nonlocal live, peak
                live += 1
                peak = max(peak, live)
                original_made(transport)

            def lost(exc: Any) -> None:
                nonlocal live
                live -= 1
                original_lost(exc)

            protocol.connection_made, protocol.connection_lost = made, lost  # type: ignore[method-assign]
            return protocol

    async with Counting() as smtp:
        out = await batch(dns, smtp, ["one.b.test", "two.b.test", "three.b.test"] * 2, concurrency=6)
    del lock
    assert len(out) == 6 and peak == 1


async def test_resume_skips_answered_lines(tmp_path: Path, dns: FakeDNS) -> None:
    previous = tmp_path / "out.jsonl"
    previous.write_text(json.dumps({"line": 1, "input": "one.b.test", "status": "accepts_mail"}) + "\n"
                        + '{"line": 2, "input": "two.b.te', encoding="utf-8")  # cut short by an interrupt
    done = answered_inputs(str(previous))
    assert done == {(1, "one.b.test")}
    async with FakeSMTP() as smtp:
        out = await batch(dns, smtp, ["one.b.test", "two.b.test"], skip=lambda line: (line.number, line.raw) in done)
        assert len(smtp.connections) == 1
    assert [r["line"] for r in out] == [2]


async def test_unordered_mode_streams_as_ready(dns: FakeDNS) -> None:
    async with FakeSMTP() as smtp:
        out = await batch(dns, smtp, ["one.b.test", "nullmx.b.test", "two.b.test"], ordered=False)
    assert sorted(r["line"] for r in out) == [1, 2, 3]


def test_slow_down_replies() -> None:
    assert asks_to_slow_down(Reply(421, ("4.7.0 Too many connections",)))
    assert asks_to_slow_down(Reply(450, ("4.7.0 [TSS04] deferred due to unexpected volume or user complaints",)))
    assert asks_to_slow_down(Reply(452, ("4.5.3 Too many recipients",)))
    assert not asks_to_slow_down(Reply(450, ("4.2.0 Greylisted",)))
    assert not asks_to_slow_down(Reply(550, ("5.7.1 rate limited",)))


async def test_backoff_doubles_and_resets() -> None:
    limiter = HostLimiter(base_backoff_s=0.01, max_backoff_s=0.04)
    slow = [Reply(421, ("4.7.0 slow down",))]
    await limiter.observe("mx.test", slow)
    assert await limiter.backoff_of("mx.test") == 0.01
    await limiter.observe("mx.test", slow)
    await limiter.observe("mx.test", slow)
    await limiter.observe("mx.test", slow)
    assert await limiter.backoff_of("MX.test.") == 0.04  # capped, host names folded
    async with limiter.slot("mx.test"):
        pass
    await limiter.observe("mx.test", [Reply(250, ("ok",))])
    assert await limiter.backoff_of("mx.test") == 0.0


def test_quoted_csv_rows_are_accepted() -> None:
    parsed = list(parse_lines(['"t.test","u@t.test"', '"one.b.test", "x@one.b.test","y@one.b.test"', '"b.test"']))
    assert [(p.target.domain, [a.original for a in p.target.addresses]) for p in parsed if p.target] == [
        ("t.test", ["u@t.test"]), ("one.b.test", ["x@one.b.test", "y@one.b.test"]), ("b.test", [])]
    assert not [p.error for p in parsed if p.error]


async def test_every_batch_line_validates_against_the_schema(dns: FakeDNS, validate_report: Any) -> None:
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        out = await batch(dns, smtp, ["a@one.b.test", "bad\x00line", '{"domain": 5}', "nullmx.b.test"])
    for result in out:
        validate_report(json.loads(json.dumps(result)))
    bad = out[1]
    assert bad["status"] is None and bad["exit_code"] == 3 and bad["error"]
    assert (bad["domain"], bad["mx"], bad["sessions"], bad["addresses"]) == ("bad\x00line", [], [], [])


def test_resume_file_cut_mid_line_is_repaired(tmp_path: Path) -> None:
    from probe.run.batch import drop_cut_line

    out = tmp_path / "out.jsonl"
    out.write_text('{"line": 1, "input": "a.test"}\n{"line": 2, "inp', encoding="utf-8")
    assert drop_cut_line(str(out)) == len('{"line": 2, "inp')
    assert out.read_text(encoding="utf-8") == '{"line": 1, "input": "a.test"}\n', "valid JSON Lines again"
    assert answered_inputs(str(out)) == {(1, "a.test")}, "the cut line's target is probed again"
    assert drop_cut_line(str(out)) == 0  # nothing more to repair
    out.write_text('{"line": 1, "input": "a.test"}', encoding="utf-8")  # whole; only its newline missing
    assert drop_cut_line(str(out)) == 0 and out.read_text(encoding="utf-8").endswith("}\n")
    out.write_text('{"line": 1, "input": "a.test"}\n' + '{"x": "' + "y" * (1 << 21), encoding="utf-8")
    assert drop_cut_line(str(out)) == len('{"x": "') + (1 << 21)  # a cut line longer than the tail read
    assert out.read_text(encoding="utf-8") == '{"line": 1, "input": "a.test"}\n'
    assert drop_cut_line(str(tmp_path / "missing.jsonl")) == 0  # nothing to repair


def test_csv_header_line_is_skipped() -> None:
    lines = list(parse_lines(["domain,address\n", "a.test,u@a.test\n"]))
    assert [(line.number, line.error) for line in lines] == [(2, None)]
    assert [(line.number, line.error is not None) for line in parse_lines(["a.test\n", "domain,address\n"])] \
        == [(1, False), (2, True)], "only a first line can be a header"
    assert len(list(parse_lines(['"Email"\n']))) == 0
    assert [line.error is not None for line in parse_lines(["localhost,foo\n"])] == [True], "not a header"


# ---- lines gathered by domain within the window; each line stands alone (issues 13 and 11) ----------------


async def test_lines_of_a_domain_are_gathered_across_the_input_in_one_session(dns: FakeDNS) -> None:
    lines = ["a@one.b.test", "x@two.b.test", "b@one.b.test", "y@two.b.test", "c@one.b.test"]
    async with FakeSMTP(rcpt_default="250 Ok") as smtp:
        out = await batch(dns, smtp, lines, concurrency=1)
        mails = [c for c in smtp.commands if c.upper().startswith("MAIL")]
    assert len(smtp.connections) == 2 and len(mails) == 2  # one session per domain, not one per line
    assert [r["input"] for r in out] == lines  # still in input order


async def test_a_small_window_bounds_the_gathering(dns: FakeDNS) -> None:
    lines = [f"u{i}@one.b.test" for i in range(6)]
    async with FakeSMTP(rcpt_default="250 Ok") as smtp:
        out = await batch(dns, smtp, lines, concurrency=1, window=2)
    assert len(smtp.connections) == 3 and [r["line"] for r in out] == [1, 2, 3, 4, 5, 6]


async def test_one_catch_all_rcpt_per_session_and_a_new_transaction_after_452(dns: FakeDNS) -> None:
    def three_per_transaction(request: Any) -> str | None:
        # Postfix's words (github:vdukhovni/postfix postfix/src/smtpd/smtpd.c, rcpt_cmd)
        return "452 4.5.3 Error: too many recipients" if len(request.earlier) >= 3 else None

    options = ProbeOptions(helo="probe.b.test", timeout_s=2, deadline_s=10, tls_policies=False, vrfy=False,
                           catch_all=True)
    lines = [f"u{i}@one.b.test" for i in range(5)]
    async with FakeSMTP(rcpt_default="250 Ok", rcpt_policy=three_per_transaction) as smtp:
        resolver = resolve.make_resolver([(dns.host, dns.port)], timeout_s=1)
        out: list[dict[str, Any]] = []
        await run_batch(lines, replace(options, port=smtp.port), out.append,
                        finish=lambda r: finish_report(r, []), resolver=resolver)
        rcpts = [c for c in smtp.commands if c.upper().startswith("RCPT")]
        mails = [c for c in smtp.commands if c.upper().startswith("MAIL")]
    # two transactions (a split after the 452), then the random address alone: it was accepted after accepted
    # recipients, so it is asked again in a transaction of its own (Dialogue._recheck), and accepted there too
    assert len(smtp.connections) == 1 and len(mails) == 3
    assert len({c for c in rcpts if not c.startswith("RCPT TO:<u")}) == 1  # one random catch-all address
    assert all(r["addresses"][0]["verdict"] == "risky" for r in out)  # every line knows the domain accepts all


async def test_each_line_speaks_of_its_own_targets_only(dns: FakeDNS) -> None:
    lines = ["a@one.b.test", "one.b.test", "one.b.test a@one.b.test gone@one.b.test", "gone@one.b.test"]
    async with FakeSMTP(rcpt={"gone@one.b.test": "550 5.1.1 <gone@one.b.test>: Recipient address rejected: "
                                                 "User unknown in local recipient table"},
                        rcpt_default="250 2.1.5 Ok") as smtp:
        out = await batch(dns, smtp, lines)
        assert len(smtp.connections) == 1
        rcpts = [c for c in smtp.commands if c.upper().startswith("RCPT")]
    # each asked once; postmaster@ for the domain's own line (it asks it alone: test_a_domain_only_line_asks_postmaster)
    assert sorted(rcpts) == ["RCPT TO:<a@one.b.test>", "RCPT TO:<gone@one.b.test>", "RCPT TO:<postmaster@one.b.test>"]
    alice, domain_only, both, gone = out
    assert [a["address"] for a in alice["addresses"]] == ["a@one.b.test"]
    assert [a["address"] for a in both["addresses"]] == ["a@one.b.test", "gone@one.b.test"]
    assert "gone@" not in alice["summary"] and "a@one" in alice["summary"]
    assert domain_only["addresses"] == [] and "a@one" not in domain_only["summary"] and "gone@" not in domain_only["summary"]
    assert (alice["exit_code"], domain_only["exit_code"], both["exit_code"], gone["exit_code"]) == (0, 0, 2, 2)

    def rcpt_steps(result: dict[str, Any]) -> list[str]:
        return [s["command"] for s in result["sessions"][0]["steps"] if (s["command"] or "").startswith("RCPT")]

    assert rcpt_steps(alice) == ["RCPT TO:<a@one.b.test>"]
    assert rcpt_steps(domain_only) == ["RCPT TO:<postmaster@one.b.test>"] and rcpt_steps(gone) == ["RCPT TO:<gone@one.b.test>"]
    assert domain_only["postmaster"]["accepted"] and alice["postmaster"] is None
    assert sorted(rcpt_steps(both)) == ["RCPT TO:<a@one.b.test>", "RCPT TO:<gone@one.b.test>"]
    assert not any("gone@" in f["message"] for f in alice["findings"] + domain_only["findings"])


async def test_the_unit_of_work_is_json_in_and_json_out(dns: FakeDNS) -> None:
    """What a worker elsewhere would run: probe_unit takes and returns plain JSON data."""
    from probe.run.bulk import probe_unit

    unit = {"domain": "one.b.test", "lines": [{"line": 1, "input": "a@one.b.test", "addresses": ["a@one.b.test"]},
                                              {"line": 2, "input": "one.b.test", "addresses": []}]}
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        options = ProbeOptions(helo="probe.b.test", port=smtp.port, timeout_s=2, deadline_s=10, tls_policies=False,
                               resolvers=((dns.host, dns.port),))
        results = await probe_unit(json.loads(json.dumps(unit)), options, finish=lambda r: finish_report(r, []))
    assert json.loads(json.dumps(results)) == results
    assert [(r["line"], r["input"], len(r["addresses"])) for r in results] == [(1, "a@one.b.test", 1),
                                                                               (2, "one.b.test", 0)]


async def test_a_domain_only_line_asks_postmaster(dns: FakeDNS) -> None:
    """A batch line with a domain alone is the domain check `smtp-probe DOMAIN` makes: RCPT TO:<postmaster@DOMAIN>
    (RFC 5321 §4.5.1), its step in the line's session and its answer in `postmaster`."""
    from probe.run.bulk import probe_unit

    unit = {"domain": "one.b.test", "lines": [{"line": 1, "input": "one.b.test", "addresses": []}]}
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        options = ProbeOptions(helo="probe.b.test", port=smtp.port, timeout_s=2, deadline_s=10, tls_policies=False,
                               resolvers=((dns.host, dns.port),), source_ip="127.0.0.2")  # not the server's own
        (result,) = await probe_unit(unit, options, finish=lambda r: finish_report(r, []))
        rcpts = [c for c in smtp.commands if c.upper().startswith("RCPT")]
    assert rcpts == ["RCPT TO:<postmaster@one.b.test>"]
    assert (result["status"], result["exit_code"]) == ("accepts_mail", 0)
    assert result["postmaster"]["accepted"] is True and result["postmaster"]["code"] == 250
    assert "RCPT TO:<postmaster@one.b.test>" in [s["command"] for s in result["sessions"][0]["steps"]]


async def test_a_line_refused_at_rcpt_is_judged_alike_with_or_without_the_domain_line(dns: FakeDNS) -> None:
    """A line's result never depends on the other lines: Exim's default ACL accepts postmaster@ before its DNSBL
    check (acl_check_rcpt), so only the RCPT of the address is refused "blocked using"; the domain line's
    postmaster@ answer is that line's, not the address line's."""
    blocked = "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using zen.spamhaus.org"
    results = []
    for lines in (["alice@one.b.test"], ["alice@one.b.test", "one.b.test"]):
        async with FakeSMTP(rcpt={"postmaster@one.b.test": "250 2.1.5 Ok"}, rcpt_default=blocked) as smtp:
            results.append(await batch(dns, smtp, lines))
    alone, (alice, domain_only) = results[0][0], results[1]
    assert (alone["status"], alone["reason"]) == ("refuses_this_client", "blocklisted")
    assert (alice["status"], alice["reason"]) == (alone["status"], alone["reason"])
    assert alice["summary"] == alone["summary"]
    assert domain_only["status"] == "accepts_mail"


async def test_postmaster_asked_as_an_address_is_not_asked_again_for_the_domain_line(dns: FakeDNS) -> None:
    """Lines postmaster@DOMAIN and DOMAIN: one RCPT TO:<postmaster@DOMAIN>, whose answer serves both lines."""
    async with FakeSMTP(rcpt_default="250 2.1.5 Ok") as smtp:
        pm_line, domain_only = await batch(dns, smtp, ["postmaster@one.b.test", "one.b.test"])
        rcpts = [c for c in smtp.commands if c.upper().startswith("RCPT")]
    assert rcpts == ["RCPT TO:<postmaster@one.b.test>"]
    assert [a["address"] for a in pm_line["addresses"]] == ["postmaster@one.b.test"] and pm_line["postmaster"] is None
    assert domain_only["addresses"] == [] and domain_only["postmaster"]["accepted"] is True
    assert (domain_only["status"], domain_only["exit_code"]) == ("accepts_mail", 0)
    steps = [s["command"] for s in domain_only["sessions"][0]["steps"] if (s["command"] or "").startswith("RCPT")]
    assert steps == ["RCPT TO:<postmaster@one.b.test>"]
