"""The real-MTA lab: real Postfix, Exim, OpenSMTPD, qpsmtpd, Sendmail and postgrey on loopback, for tests that must be
right about real servers.

The lab starts once per test session (the `lab` fixture, about a second) and is stopped at the end;
without the daemons (or without root) every test here is skipped and pytest prints ONE line saying how
to install them (`sudo bash tests/realmta/install.sh`, which .ci/run runs).

    async def test_x(lab_probe: LabProbe) -> None:
        report = await lab_probe("alice@exim.lab.test")         # through DNS (lab zone) and the real runner
        assert report.addresses[0].verdict is Verdict.DELIVERABLE

Adding a scenario (tests/realmta/lab.py: the hosts, domains and zone; lab_postfix.py, lab_exim.py, lab_sendmail.py,
lab_opensmtpd.py, lab_qpsmtpd.py: the daemons):
1. a host: a label and a free last octet in HOSTS; for Postfix a `Listener(lab.ip(label), (-o overrides))`
   in lab_postfix.start_postfix, for Exim a `start_exim(lab, label, [domains], extra main options)` call in
   Lab.start (lab_exim.py); for OpenSMTPD a listener in lab_opensmtpd.py (which keeps its hosts and domains);
   for Sendmail a daemon in lab_sendmail.py (its SENDMAIL_HOSTS and SENDMAIL_SCENARIOS, its .mc in sendmail_mc);
   for qpsmtpd a start_qpsmtpd call in lab_qpsmtpd.start_qpsmtpds (its QPSMTPD_HOSTS and QPSMTPD_SCENARIOS);
2. a domain: SCENARIOS["name"] = [its MX host labels in preference order] (served as name.lab.test);
   Postfix must also know it: add it to local_domains (hosted) or alias_domains (catch-all) there;
3. its users and refusals: USERS / POSTFIX_ACCESS (lab_postfix.py), the users file in lab_exim.start_exim. Replies
   come from the servers themselves: never write a reply text the server would not send.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # lab.py, lab_*.py, labbase.py and mtaconf.py, imported by plain name

from probe.inputs import parse_address
from probe.judge.health import finish_report
from probe.model import Report
from probe.run.probe import probe_domain
from probe.tls.certificates import client_context

from lab import INSTALL_HINT, LAB_OPTIONS, Lab, LabProbe, missing_tools

_WHY_NOT = missing_tools()
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the lab's daemons: skip its tests, with one line in the terminal saying how to install them."""
    if _WHY_NOT is None:
        return
    skip = pytest.mark.skip(reason=f"{INSTALL_HINT} [{_WHY_NOT}]")
    mine = [item for item in items if _HERE in Path(str(item.path)).parents]
    for item in mine:
        item.add_marker(skip)
    if mine:
        config.stash[_SKIPPED] = len(mine)


_SKIPPED = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    count = config.stash.get(_SKIPPED, 0)
    if count:
        terminalreporter.write_line(f"{count} {INSTALL_HINT} [{_WHY_NOT}]")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The running lab (started on first use, stopped at the end of the session)."""
    root = Path(tempfile.mkdtemp(prefix="smtp-probe-lab-"))
    root.chmod(0o755)  # the daemons' own users (postfix, Debian-exim, postgrey) read their files here
    started = Lab.start(root)
    try:
        yield started
    finally:
        started.stop()
        shutil.rmtree(root, ignore_errors=True)




@pytest.fixture
def lab_probe(lab: Lab) -> LabProbe:
    """`await lab_probe(*targets, domain=None, **ProbeOptions fields)` -> the finished Report.

    Targets are addresses (their domain is probed) or one domain; DNS is the lab's zone, the port the
    lab's, TLS trusts the lab CA (a factory as the CLI builds, with the lab CA as cafile)."""
    cafile = str(lab.ca.bundle_path)

    async def run(*targets: str, domain: str | None = None, **options: Any) -> Report:
        addresses = [parse_address(t) for t in targets if "@" in t]
        name = domain or (addresses[0].domain if addresses else targets[0])
        opts = replace(LAB_OPTIONS, port=lab.port, **options)
        report = await probe_domain(name, addresses, opts, resolver=lab.resolver(),
                                    tls_context_factory=lambda verify: client_context(verify=verify, cafile=cafile))
        finish_report(report, [])
        return report

    return run
