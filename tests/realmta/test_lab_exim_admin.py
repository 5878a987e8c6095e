"""Settings Exim admins really use, against real Exim (tests/realmta/lab_exim.py, start_exim_admin): is each thing
the probe says true of that server?

- eximadmin.lab.test: a redirect router over an aliases file (allow_fail, allow_defer) with `gone: :fail: Gone
  away, no forwarding address` (the Exim spec's own example, "Special items in redirection lists"), `moving:
  :defer:` and `void: :blackhole:`; acl_smtp_vrfy accepts, so Exim answers VRFY by verifying the address;
- eximlisted.lab.test: the same Exim's RCPT ACL has the spec's dnslists deny ("rejected because
  $sender_host_address is in a black list at $dnslist_domain\\n$dnslist_text") for bl.lab.test, which lists
  127.0.0.1 with SpamCop's TXT wording.
"""

from __future__ import annotations

from probe.judge.health import finish_report
from probe.model import DomainStatus, Reason, Verdict
from probe.render.nagios import render_nagios

from lab import LabProbe


async def test_exim_aliases_fail_defer_and_blackhole(lab_probe: LabProbe) -> None:
    """:fail: is a permanent refusal with the admin's text (550 at RCPT and VRFY alike): undeliverable. :defer: is a
    bare 451: a temporary answer, nothing known of the mailbox (unknown, not undeliverable). :blackhole: accepts
    and drops: RCPT and VRFY both say 250 ("is deliverable"), which nothing seen from outside contradicts."""
    report = await lab_probe("alice@eximadmin.lab.test", "gone@eximadmin.lab.test", "moving@eximadmin.lab.test",
                             "void@eximadmin.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    alice, gone, moving, void = report.addresses
    assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False)
    assert alice.vrfy is not None and alice.vrfy["text"] == "250 <alice@eximadmin.lab.test> is deliverable"
    assert (gone.verdict, gone.code, gone.text) == (Verdict.UNDELIVERABLE, 550, "550 Gone away, no forwarding address")
    assert gone.vrfy is not None and gone.vrfy["code"] == 550
    assert (moving.verdict, moving.code) == (Verdict.UNKNOWN, 451)
    assert moving.reason is not Reason.USER_UNKNOWN
    # a bare "451 " says nothing of a fault: the alias is deferred by the admin's choice (it was "hit a temporary
    # problem of its own (lookup failure, overloaded filter, database error)")
    assert "no text" in moving.meaning and "problem of its own" not in moving.meaning
    assert (void.verdict, void.code) == (Verdict.DELIVERABLE, 250)
    assert not [f for f in report.findings if f.id in ("rcpt-accepts-after", "rcpt-contradicts-vrfy")]
    assert report.exit_code == 2  # gone@ is a permanent failure


async def test_exim_dnslist_deny_refuses_this_client(lab_probe: LabProbe) -> None:
    """The dnslists deny answers every RCPT with a two-line 550 carrying the list's TXT: the domain refuses this
    client (blocklisted), WARNING (exit 1) and the Nagios line says so, not that the domain takes no mail."""
    report = await lab_probe(domain="eximlisted.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.BLOCKLISTED)
    assert report.postmaster is not None
    assert report.postmaster["text"] == ("550-rejected because 127.0.0.1 is in a black list at bl.lab.test\n"
                                         "550 Blocked - see https://www.spamcop.net/bl.shtml?127.0.0.1")
    assert report.exit_code == 1
    assert render_nagios(report, finish_report(report)).splitlines()[0].startswith(
        "SMTP WARNING - eximlisted.lab.test: answered but refused this client (blocklisted)")
