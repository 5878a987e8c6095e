"""What a monitoring user reads, against real servers: the smtp-probe command itself (exit code, --format
nagios|prometheus|junit, batch JSON Lines), run as a process against the lab, for a healthy Postfix, a
greylisting one (postgrey), a refusing one (postscreen's 521) and an unreachable one (nothing listens); and a
host whose AAAA address is dead while its IPv4 one answers (dual.lab.test)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from probe.model import DomainStatus, Severity

from lab import Lab, LabProbe

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def _cli(lab: Lab, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """smtp-probe as a user runs it: the lab's DNS and port, the lab CA trusted (SSL_CERT_FILE, as documented)."""
    env = {**os.environ, "SSL_CERT_FILE": str(lab.ca.bundle_path), "NO_COLOR": "1", "COLUMNS": "100"}
    common = ["--resolver", f"{lab.dns_address[0]}:{lab.dns_address[1]}", "--port", str(lab.port),
              "--helo", "probe.lab.test", "--timeout", "5", "--deadline", "30", "--no-tls-policies"]
    command = [sys.executable, "-m", "probe", *args[:1], *common, *args[1:]] if args[:1] == ("batch",) else [
        sys.executable, "-m", "probe", *common, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, input=stdin, timeout=60, check=False)


def _grey_sender() -> str:
    return f"monitor-{secrets.token_hex(4)}@probe.lab.test"  # a new postgrey triplet: greylisted


# target arguments -> (exit code, status): what each server is
CASES = {
    "healthy": (("pf.lab.test",), 0, "accepts_mail"),
    "greylisting": (("alice@grey.lab.test", "--from", "GREY"), 1, "accepts_mail"),
    "refusing": (("screened.lab.test",), 1, "refuses_this_client"),
    "unreachable": (("down.lab.test",), 2, "unreachable"),
}


def _args(case: str) -> list[str]:
    return [_grey_sender() if a == "GREY" else a for a in CASES[case][0]]


@pytest.mark.parametrize("case", list(CASES))
def test_monitoring_formats_tell_the_truth(lab: Lab, case: str) -> None:
    """Each format's state and exit code is the one SPEC gives that server: OK for a domain that accepts mail,
    WARNING for greylisting (a transient answer) and for a refusal of this client (the servers are up), CRITICAL
    for a domain whose one MX runs no mail server."""
    _targets, code, status = CASES[case]
    domain = _args(case)[0].rpartition("@")[2]
    nagios = _cli(lab, *_args(case), "--format", "nagios")
    assert nagios.returncode == code, nagios.stdout + nagios.stderr
    assert nagios.stdout.startswith(f"SMTP {STATES[code]} - {domain}: ")
    _status, _bar, perfdata = nagios.stdout.splitlines()[0].partition(" | ")
    assert perfdata.startswith("time=") and "=" in perfdata
    prometheus = _cli(lab, *_args(case), "--format", "prometheus")
    assert prometheus.returncode == code
    assert f'smtp_probe_exit_code{{domain="{domain}"}} {code}\n' in prometheus.stdout
    assert f'smtp_probe_domain_status{{domain="{domain}",status="{status}"}} 1\n' in prometheus.stdout
    junit = _cli(lab, *_args(case), "--format", "junit")
    assert junit.returncode == code
    suite = ET.fromstring(junit.stdout).find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (properties["status"], properties["exit_code"], properties["state"]) == (status, str(code), STATES[code])
    failures = int(suite.get("failures") or 0)
    assert (failures == 0) == (code == 0)
    report = json.loads(_cli(lab, *_args(case), "--json").stdout)
    assert (report["status"], report["exit_code"]) == (status, code)


def test_batch_lines_are_true_of_their_servers(lab: Lab) -> None:
    """One batch of several lab targets: each line's status, verdicts and exit code are its own server's, and
    the batch exits with the worst of them."""
    lines = ["pf.lab.test", "nobody@pf.lab.test", "alice@exim.lab.test", "screened.lab.test", "down.lab.test",
             "eximlisted.lab.test", "nosuch.lab.test"]
    result = _cli(lab, "batch", "-", "--no-progress", stdin="\n".join(lines) + "\n")
    assert result.returncode == 2, result.stderr
    out = {d["input"]: d for d in map(json.loads, result.stdout.splitlines())}
    got = {k: (d["status"], d["exit_code"], [(a["address"], a["verdict"]) for a in d["addresses"]])
           for k, d in out.items()}
    assert got == {
        "pf.lab.test": ("accepts_mail", 0, []),
        "nobody@pf.lab.test": ("accepts_mail", 2, [("nobody@pf.lab.test", "undeliverable")]),
        "alice@exim.lab.test": ("accepts_mail", 0, [("alice@exim.lab.test", "deliverable")]),
        "screened.lab.test": ("refuses_this_client", 1, []),
        "down.lab.test": ("unreachable", 2, []),
        "eximlisted.lab.test": ("refuses_this_client", 1, []),
        "nosuch.lab.test": ("no_such_domain", 2, []),
    }
    assert out["eximlisted.lab.test"]["reason"] == "blocklisted"


async def test_a_dead_aaaa_is_found(lab_probe: LabProbe) -> None:
    """mx.dual.lab.test has an A record (a Postfix that answers) and an AAAA record (::1) where nothing listens.
    The probe tries IPv4 first and said nothing of the AAAA address, which senders with IPv6 try first: it now
    connects there too (connect, greeting, QUIT) and a refused connection is a WARNING finding."""
    report = await lab_probe(domain="dual.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    (dead,) = [f for f in report.findings if f.id == "mx-ipv6-dead"]
    assert dead.severity is Severity.WARNING and dead.subject == "mx.dual.lab.test"
    assert "::1" in dead.message and "refused the connection" in dead.message
    assert [s.address for s in report.sessions] == [report.mx[0].addresses[0]]  # nothing but the check was asked
    report = await lab_probe(domain="pf.lab.test")  # IPv4 only: nothing to check, nothing said
    assert not [f for f in report.findings if f.id.startswith("mx-ipv6")]


def test_the_report_shows_the_dead_aaaa_as_checked(lab: Lab) -> None:
    text = _cli(lab, "dual.lab.test").stdout
    line = next(x for x in text.splitlines() if x.strip().startswith("::1"))
    assert "not tried" not in line and "connection check only" in line
