"""Orchestration: `smtp-probe demo` — real situations on loopback, probed through the real code path.

An in-process DNS server serves a `demo.test` zone, and fake mail servers on
127.0.0.1 reproduce what real servers say. Each scenario is probed by
`runner.probe_domain` with a real resolver and the real SMTP client; only the
nameserver address and the SMTP port differ from a live probe. The demo checks
its own results, so it doubles as an end-to-end test.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.model import DomainStatus, ExitCode, ProbeOptions, Verdict
from probe.render.wrap import DEFAULT_COLUMNS, wrap

ZONE_HEAD = """$ORIGIN demo.test.
$TTL 300
@   SOA ns.demo.test. hostmaster.demo.test. 1 3600 600 86400 300
@   NS  ns
ns  A   127.0.0.1
"""


@dataclass(frozen=True)
class Scenario:
    """One situation: DNS records, the mail server's script, and what the probe must conclude."""

    title: str
    story: str  # what a person should notice
    domain: str
    addresses: tuple[str, ...]
    records: str  # zone lines for this domain (relative to demo.test.)
    server: dict[str, Any] | None  # FakeSMTP keyword arguments; None: no mail server at all
    expect_status: DomainStatus
    expect_verdicts: tuple[Verdict, ...] = ()
    tls: bool = False  # offer STARTTLS with a certificate from the demo CA
    options: dict[str, Any] = field(default_factory=dict)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "VRFY answered with 252, RCPT tells the truth",
        "The server will not confirm users through VRFY (252: it hides them), so RCPT is the real test. "
        "STARTTLS is offered with a certificate from the demo CA, and a random address is refused, so "
        "this is not a catch-all domain.",
        "vrfy.demo.test", ("alice@vrfy.demo.test",),
        "vrfy MX 10 mx.vrfy\nmx.vrfy A 127.0.0.1\n",
        {"hostname": "mx.vrfy.demo.test", "banner": "220 mx.vrfy.demo.test ESMTP Postfix",
         "pipelining": True, "rcpt": {"alice@vrfy.demo.test": "250 2.1.5 Ok"},
         "rcpt_default": "550 5.1.1 <random>: Recipient address rejected: User unknown in local recipient table"},
        DomainStatus.ACCEPTS_MAIL, (Verdict.DELIVERABLE,), tls=True,
    ),
    Scenario(
        "A host that greets with 521",
        "521 in the banner: this host accepts no mail at all (RFC 7504). Nothing more is asked.",
        "parked.demo.test", ("info@parked.demo.test",),
        "parked MX 10 mx.parked\nmx.parked A 127.0.0.1\n",
        {"hostname": "mx.parked.demo.test", "banner": "521 5.3.2 mx.parked.demo.test does not accept mail"},
        DomainStatus.DOES_NOT_ACCEPT_MAIL, (Verdict.UNDELIVERABLE,),
    ),
    Scenario(
        "An unknown user",
        "550 5.1.1 to RCPT: the mailbox does not exist (Postfix wording).",
        "users.demo.test", ("ghost@users.demo.test",),
        "users MX 10 mx.users\nmx.users A 127.0.0.1\n",
        {"hostname": "mx.users.demo.test", "banner": "220 mx.users.demo.test ESMTP Postfix (Debian/GNU)",
         "vrfy_default": "502 5.5.1 VRFY command is disabled",
         "rcpt_default": "550 5.1.1 <ghost@users.demo.test>: Recipient address rejected: "
                         "User unknown in virtual mailbox table"},
        DomainStatus.ACCEPTS_MAIL, (Verdict.UNDELIVERABLE,),
    ),
    Scenario(
        "Greylisting",
        "450 with greylisting wording: a first contact is deferred on purpose; a real sender that retries "
        "later gets through. The address is risky, not undeliverable.",
        "greylist.demo.test", ("bob@greylist.demo.test",),
        "greylist MX 10 mx.greylist\nmx.greylist A 127.0.0.1\n",
        {"hostname": "mx.greylist.demo.test", "banner": "220 mx.greylist.demo.test ESMTP",
         "rcpt_default": "450 4.2.0 <bob@greylist.demo.test>: Recipient address rejected: Greylisted, "
                         "see http://postgrey.schweikert.ch/help/greylist.demo.test.html"},
        DomainStatus.ACCEPTS_MAIL, (Verdict.RISKY,),
    ),
    Scenario(
        "A full mailbox",
        "452 4.2.2: the mailbox exists but is over quota (Gmail wording); mail may get through later.",
        "quota.demo.test", ("carol@quota.demo.test",),
        "quota MX 5 mx.quota\nmx.quota A 127.0.0.1\n",
        {"hostname": "mx.quota.demo.test", "banner": "220 mx.google.com ESMTP a1si123 - gsmtp",
         "rcpt": {"carol@quota.demo.test":
                  "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\r\n"
                  "452-4.2.2 recipient to\r\n"
                  "452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp a1si123 - gsmtp"},
         "rcpt_default": "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                         "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp"},
        DomainStatus.ACCEPTS_MAIL, (Verdict.RISKY,),
    ),
    Scenario(
        "A null MX domain",
        "MX 0 . (RFC 7505): the domain says it accepts no mail. No connection is made, and there is no "
        "fallback to the domain's own address.",
        "nullmx.demo.test", ("anyone@nullmx.demo.test",),
        "nullmx MX 0 .\nnullmx A 127.0.0.1\n",
        None,
        DomainStatus.DOES_NOT_ACCEPT_MAIL, (Verdict.UNDELIVERABLE,),
    ),
    Scenario(
        "A dead primary MX with a working backup",
        "The preferred MX refuses connections; the probe moves on to the backup, as a sender would, "
        "and reports both attempts.",
        "failover.demo.test", ("dave@failover.demo.test",),
        "failover MX 10 mx1.failover\nfailover MX 20 mx2.failover\n"
        "mx1.failover A 127.0.0.2\nmx2.failover A 127.0.0.1\n",
        {"hostname": "mx2.failover.demo.test", "banner": "220 mx2.failover.demo.test ESMTP Exim 4.97",
         "rcpt": {"dave@failover.demo.test": "250 Accepted"},
         "rcpt_default": "550 Unrouteable address"},
        DomainStatus.ACCEPTS_MAIL, (Verdict.DELIVERABLE,),
    ),
)


def demo_zone() -> str:
    return ZONE_HEAD + "".join(s.records for s in SCENARIOS)


def check(scenario: Scenario, report: Any) -> list[str]:
    """What came out differently from what the scenario shows (empty when all is as expected)."""
    problems = []
    if report.status != scenario.expect_status:
        problems.append(f"status {report.status}, expected {scenario.expect_status}")
    got = tuple(a.verdict for a in report.addresses)
    if got != scenario.expect_verdicts:
        problems.append(f"verdicts {[str(v) for v in got]}, expected {[str(v) for v in scenario.expect_verdicts]}")
    return problems


async def run_demo(show: Callable[[str], None], *, color: bool = False, verbose: bool = False,
                   as_json: bool = False, scenarios: tuple[Scenario, ...] = SCENARIOS,
                   width: int = DEFAULT_COLUMNS) -> int:
    """Run every scenario and show its report, wrapped to `width`; exit 0 when each came out as it should."""
    from probe.dns import resolve
    from probe.inputs import parse_address
    from probe.judge.health import finish_report
    from probe.render.json import report_json
    from probe.render.text import render_text
    from probe.run.probe import probe_domain
    from probe.testing.certs import TestCA
    from probe.testing.fakedns import FakeDNS
    from probe.testing.fakesmtp import FakeSMTP
    from probe.tls.certificates import client_context

    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="smtp-probe-demo-") as tmp:
        ca = TestCA(Path(tmp))
        async with FakeDNS({"demo.test.": demo_zone()}) as dns_server:
            resolver = resolve.make_resolver([(dns_server.host, dns_server.port)], timeout_s=2.0)

            def tls_factory(verify: bool) -> Any:
                return client_context(verify=verify, cafile=str(ca.bundle_path))

            if not as_json:
                show(_intro(dns_server.port, color, width))
            for number, scenario in enumerate(scenarios, 1):
                kwargs = dict(scenario.server or {})
                if scenario.tls and scenario.server is not None:
                    kwargs["tls_context"] = ca.server_context(ca.issue([kwargs["hostname"]]))
                server = FakeSMTP(**kwargs) if scenario.server is not None else None
                if server is not None:
                    await server.start()
                try:
                    options = ProbeOptions(
                        helo="probe.run.demo.test", port=server.port if server else 25, timeout_s=3.0,
                        deadline_s=20.0, resolvers=((dns_server.host, dns_server.port),),
                        **scenario.options,
                    )
                    addresses = [parse_address(a) for a in scenario.addresses]
                    report = await probe_domain(scenario.domain, addresses, options, resolver=resolver,
                                                tls_context_factory=tls_factory)
                finally:
                    if server is not None:
                        await server.stop()
                health = finish_report(report, [])
                problems = check(scenario, report)
                failures += [f"{scenario.title}: {p}" for p in problems]
                if as_json:
                    show(report_json(report, indent=None) + "\n")
                    continue
                show(_heading(number, len(scenarios), scenario, color, width))
                show(render_text(report, color=color, verbose=verbose, health=health, width=width))
                if problems:
                    show(f"  !! unexpected: {'; '.join(problems)}\n")
    if not as_json:
        show(_outro(failures, color, width))
    return int(ExitCode.WARNING) if failures else int(ExitCode.OK)


def _bold(text: str, color: bool) -> str:
    return f"\x1b[1m{text}\x1b[0m" if color else text


def _intro(dns_port: int, color: bool, width: int = DEFAULT_COLUMNS) -> str:
    text = (f"A DNS server on 127.0.0.1:{dns_port} serves the zone demo.test; fake mail servers on 127.0.0.1 "
            "play real servers' parts. Each report below comes from the same code a live probe runs. Nothing "
            "leaves this machine, and no mail is ever sent (the probe never sends DATA).")
    return _bold("smtp-probe demo", color) + "\n" + "\n".join(wrap(text, width - 2)) + "\n"


def _heading(number: int, total: int, scenario: Scenario, color: bool, width: int = DEFAULT_COLUMNS) -> str:
    command = " ".join(["smtp-probe", *scenario.addresses]) if scenario.addresses else f"smtp-probe {scenario.domain}"
    rule = "─" * (width - 2)
    story = "\n".join(wrap(scenario.story, width - 2))
    return (f"\n{rule}\n{_bold(f'[{number}/{total}] {scenario.title}', color)}\n"
            f"{story}\n$ {command}\n\n")


def _outro(failures: list[str], color: bool, width: int = DEFAULT_COLUMNS) -> str:
    rule = "─" * (width - 2)
    if failures:
        return f"\n{rule}\nSome scenarios did not come out as expected:\n" + "".join(f"  - {f}\n" for f in failures)
    text = ("Every scenario came out as expected. Try `smtp-probe demo -v` for the annotated transcripts, "
            "`smtp-probe explain 252 521` for two codes side by side, and `smtp-probe --help` for a live probe.")
    return f"\n{rule}\n" + "\n".join(wrap(text, width - 2)) + "\n"
