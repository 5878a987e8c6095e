"""A domain-only probe (`smtp-probe DOMAIN`, no address) against real servers: it asks RCPT TO:<postmaster@DOMAIN>
(RFC 5321 §4.5.1: every server that delivers for a domain must accept it), pipelined with MAIL, so a host that
refuses this client only at RCPT is not reported as accepting mail.

Postfix says its HELO, client and sender restrictions at RCPT (smtpd_delay_reject = yes, the default), and
postscreen's DNSBL "enforce" refuses every RCPT: with no RCPT, a domain-only probe saw MAIL FROM's 250 and
said "accepts mail". The lab's Postfix knows postmaster (its recipient table, as an installed Postfix has the
aliases file's postmaster: root); the lab's Exim knows alice and bob only, so it has no postmaster.
"""

from __future__ import annotations

from dataclasses import replace

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Reason, Report
from probe.render.text import render_text
from probe.run.bulk import probe_unit

from lab import LAB_OPTIONS, Lab, LabProbe


def _flat_text(report: Report) -> str:
    return " ".join(render_text(report, health=finish_report(report)).split())


def _rcpts(report: Report) -> list[str]:
    return [s.command or "" for session in report.sessions for s in session.steps
            if (s.command or "").startswith("RCPT")]


async def test_plain_postfix_accepts_postmaster(lab_probe: LabProbe) -> None:
    report = await lab_probe("pf.lab.test")
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.OK)
    assert _rcpts(report) == ["RCPT TO:<postmaster@pf.lab.test>"]
    assert report.postmaster is not None
    assert (report.postmaster["code"], report.postmaster["accepted"], report.postmaster["host"]) == (
        250, True, "mx.postfix.lab.test")
    assert "mx.postfix.lab.test accepted postmaster@pf.lab.test (250 2.1.5 Ok)" in report.summary
    text = _flat_text(report)
    assert "Postmaster RCPT TO:<postmaster@pf.lab.test> accepted by mx.postfix.lab.test (250 2.1.5 Ok)" in text
    assert "postmaster@pf.lab.test accepted (mx.postfix.lab.test)" in text  # the OK line


async def test_a_helo_refused_at_rcpt_refuses_this_client(lab_probe: LabProbe) -> None:
    """reject_unknown_helo_hostname with smtpd_delay_reject = yes: EHLO and MAIL 250, then the postmaster RCPT
    "450 4.7.1 <probe.lab.test>: Helo command rejected: Host not found" (smtpd_check.c)."""
    report = await lab_probe("strict.lab.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.HELO_REJECTED, ExitCode.WARNING)
    assert report.postmaster is not None and report.postmaster["accepted"] is False
    assert report.postmaster["text"] == "450 4.7.1 <probe.lab.test>: Helo command rejected: Host not found"
    assert "answered and refused this client (450 4.7.1 <probe.lab.test>: Helo command rejected" in report.summary
    text = _flat_text(report)
    assert "REFUSES THIS CLIENT" in text and "ACCEPTS MAIL" not in text


async def test_no_postmaster_keeps_the_old_dialogue(lab_probe: LabProbe) -> None:
    """--no-postmaster: MAIL, RSET and no RCPT; the same host then looks like it accepts mail, which is what
    the option is for (the MAIL FROM test only) and why it is not the default."""
    report = await lab_probe("strict.lab.test", postmaster=False)
    assert _rcpts(report) == [] and report.postmaster is None
    assert report.status is DomainStatus.ACCEPTS_MAIL


async def test_postscreen_dnsbl_enforce_refuses_this_client(lab_probe: LabProbe) -> None:
    """postscreen_dnsbl_action = enforce: "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using
    bl.lab.test" to the postmaster RCPT (postscreen_early.c)."""
    report = await lab_probe("listed.lab.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.BLOCKLISTED, ExitCode.WARNING)
    assert report.postmaster is not None
    assert report.postmaster["text"] == "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using bl.lab.test"
    assert "bl.lab.test" in report.summary and "refused this client" in report.summary
    text = _flat_text(report)
    assert "REFUSES THIS CLIENT" in text and "ACCEPTS MAIL" not in text


async def test_an_unknown_sender_domain_refuses_this_client(lab_probe: LabProbe) -> None:
    """reject_unknown_sender_domain, said at RCPT: "450 4.1.8 <...>: Sender address rejected: Domain not found".
    The probe's own sender is refused: the host refused this client's envelope, not mail for the domain."""
    report = await lab_probe("strict.lab.test", helo="mx.postfix.lab.test", mail_from="someone@nowhere.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED)
    assert report.postmaster is not None
    assert report.postmaster["text"] == "450 4.1.8 <someone@nowhere.lab.test>: Sender address rejected: Domain not found"


async def test_exim_without_postmaster_is_a_finding(lab_probe: LabProbe) -> None:
    """The lab's Exim routes alice and bob only: postmaster@ is refused as any unknown user. The host takes the
    domain's mail (accepts_mail), and the report says RFC 5321 §4.5.1 wants postmaster@ (WARNING)."""
    report = await lab_probe("exim.lab.test")
    assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.WARNING)
    assert report.postmaster is not None and report.postmaster["reason"] == "user_unknown"
    assert report.postmaster["code"] == 550
    (finding,) = [f for f in report.findings if f.id == "postmaster-unknown"]
    assert "§4.5.1" in finding.message


async def test_a_host_that_does_not_relay_for_the_domain(lab: Lab, lab_probe: LabProbe) -> None:
    """The lab's Exim is twomx's backup but not configured for it: "550 relay not permitted" (its RCPT ACL) to
    postmaster@twomx.lab.test. Probed as the domain's mail server (--mx), it takes no mail for the domain."""
    report = await lab_probe("twomx.lab.test", mx=((lab.ip("exim"), lab.port),))
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED, ExitCode.CRITICAL)
    (finding,) = [f for f in report.findings if f.id == "postmaster-relay-denied"]
    assert "named with --mx, does not take mail for twomx.lab.test" in finding.message


async def test_a_refused_sender_means_postmaster_was_not_asked(lab_probe: LabProbe) -> None:
    """With smtpd_delay_reject = no, reject_unknown_sender_domain answers MAIL FROM itself ("450 4.1.8 <...>:
    Sender address rejected: Domain not found", smtpd_check.c). Without PIPELINING the probe then sends no RCPT;
    with it, the RCPT rides in the group and Postfix answers it "need MAIL command". Either way nothing was
    asked about postmaster@: the Postmaster line says so, and does not call the MAIL reply the RCPT's."""
    for pipelining in (False, True):
        report = await lab_probe("early.lab.test", helo="mx.postfix.lab.test", mail_from="someone@nowhere.lab.test",
                                 pipelining=pipelining)
        assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED)
        assert report.postmaster is not None and report.postmaster["command"] == "MAIL FROM:<someone@nowhere.lab.test>"
        assert _rcpts(report) == ([] if not pipelining else ["RCPT TO:<postmaster@early.lab.test>"])
        text = _flat_text(report)
        assert ("Postmaster RCPT TO:<postmaster@early.lab.test> not asked: mx.postfix-early.lab.test deferred MAIL "
                "FROM:<someone@nowhere.lab.test> (450 4.1.8 <someone@nowhere.lab.test>: Sender address rejected: "
                "Domain not found)") in text
        assert "deferred by mx.postfix-early.lab.test" not in text
        assert ("but not from here (postmaster@early.lab.test was not asked: the MAIL FROM was refused)"
                in report.summary)


async def test_retry_greylist_asks_postmaster_again(lab_probe: LabProbe) -> None:
    """reject_unverified_recipient (verify.lab.test: Postfix verifies with the lab's Exim, which knows no
    postmaster): the domain-only probe's first RCPT TO:<postmaster@...> gets "450 4.1.1 ... unverified address:
    Address verification in progress". --retry-greylist asked the addresses again but not postmaster@, and the
    finding called the deferral greylisting that "a sender that retries later ... is let through" and told the
    user to use --retry-greylist, which was on. Asked again, Postfix answers with Exim's refusal (or, if its
    verify probe is still running, the same 450: then the finding says it was asked again)."""
    report = await lab_probe("verify.lab.test", retry_greylist_s=1.0)
    pm = report.postmaster
    assert pm is not None and [a["code"] for a in pm["attempts"]][:1] == [450]
    assert len(_rcpts(report)) == 2  # the first session's RCPT and the retry's
    findings = {f.id: f.message for f in report.findings}
    assert "greylist-retried" in findings
    assert report.status is DomainStatus.ACCEPTS_MAIL
    if pm["code"] == 550:  # Postfix's verify probe was done: Exim has no postmaster
        assert "postmaster-unknown" in findings and "postmaster-deferred" not in findings
        assert pm["text"].startswith("550 5.1.1 <postmaster@verify.lab.test>: Recipient address rejected: "
                                     "undeliverable address:")
    else:
        message = findings["postmaster-deferred"]
        assert "asked again" in message and "still deferred" in message
        assert "verifying the address with the server behind it" in message
    for message in findings.values():
        assert "is let through" not in message


async def test_all_mx_compares_the_postmaster_answers(lab_probe: LabProbe) -> None:
    """twomx.lab.test: the primary (Postfix) takes the domain's mail, the backup (Exim) answers "550 relay not
    permitted". With an address, --all-mx says the hosts disagree (CRITICAL: mail that fails over bounces);
    the domain-only probe asked postmaster@ on both hosts too, but reported the primary's 250 alone: the
    backup's refusal was in the transcript only, and the run was not CRITICAL."""
    report = await lab_probe("twomx.lab.test", all_mx=True)
    pm = report.postmaster
    assert pm is not None and (pm["host"], pm["code"]) == ("mx.postfix.lab.test", 250)
    assert [(v["host"], v["code"], v["reason"]) for v in pm["mx_verdicts"]] == [
        ("mx.postfix.lab.test", 250, "accepted"), ("mx.exim.lab.test", 550, "relay_denied")]
    (disagree,) = [f for f in report.findings if f.id == "mx-disagree"]
    assert disagree.subject == "mx.exim.lab.test"
    assert "fails over to mx.exim.lab.test will bounce" in disagree.message
    assert "550 relay not permitted" in disagree.message
    assert report.exit_code is ExitCode.CRITICAL
    single = await lab_probe("twomx.lab.test")  # without --all-mx the backup is not asked: nothing to compare
    assert single.postmaster is not None and "mx_verdicts" not in single.postmaster


async def test_a_batch_domain_line_asks_postmaster_beside_the_addresses(lab: Lab) -> None:
    """`smtp-probe batch` gathers the lines of one domain into one walk. A line with the domain alone must get the
    report it would have alone (run/bulk.py): alone, exim.lab.test's postmaster@ is refused ("550 Unrouteable
    address": the lab's Exim has no postmaster), a WARNING; beside a line with an address of the domain, the
    postmaster RCPT was not sent, and the domain's line said nothing of it."""
    unit = {"domain": "exim.lab.test", "lines": [
        {"line": 1, "input": "exim.lab.test", "addresses": []},
        {"line": 2, "input": "alice@exim.lab.test", "addresses": ["alice@exim.lab.test"]}]}
    domain_line, alice_line = await probe_unit(unit, replace(LAB_OPTIONS, port=lab.port),
                                               finish=lambda r: finish_report(r, []), resolver=lab.resolver())
    pm = domain_line["postmaster"]
    assert pm is not None and (pm["code"], pm["text"], pm["reason"]) == (550, "550 Unrouteable address", "user_unknown")
    assert "postmaster-unknown" in {f["id"] for f in domain_line["findings"]}
    assert domain_line["exit_code"] == int(ExitCode.WARNING)
    # the address's line is the report it has alone: no postmaster@ answer, step or finding
    assert alice_line["postmaster"] is None and alice_line["addresses"][0]["verdict"] == "deliverable"
    assert "postmaster-unknown" not in {f["id"] for f in alice_line["findings"]}
    steps = [s["command"] or "" for s in alice_line["sessions"][0]["steps"]]
    assert not any("postmaster@" in c for c in steps)


async def test_a_host_that_defers_relaying_for_the_domain_does_not_take_its_mail(lab: Lab, lab_probe: LabProbe) -> None:
    """Postfix's default smtpd_relay_restrictions end in defer_unauth_destination: for a domain it does not serve it
    answers "454 4.7.1 <postmaster@...>: Relay access denied" (smtpd_check.c). Probed as exim.lab.test's mail
    server, the report said "ACCEPTS MAIL" and "mail to the domain is deferred for now; a sender retries": the
    host takes none of the domain's mail, whatever the code (with 550 it said so: the test above)."""
    report = await lab_probe("exim.lab.test", mx=((lab.ip("postfix-defer"), lab.port),))
    assert report.postmaster is not None
    assert report.postmaster["text"] == "454 4.7.1 <postmaster@exim.lab.test>: Relay access denied"
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED, ExitCode.CRITICAL)
    ids = {f.id for f in report.findings}
    assert "postmaster-relay-denied" in ids and "postmaster-deferred" not in ids
    (finding,) = [f for f in report.findings if f.id == "postmaster-relay-denied"]
    assert "defer_unauth_destination" in finding.message and "give up retrying" in finding.message


async def test_addresses_refused_as_relay_mean_the_host_takes_no_mail_for_the_domain(lab: Lab, lab_probe: LabProbe) -> None:
    """The same hosts asked about addresses: Exim's "550 relay not permitted" and Postfix's default "454 4.7.1 <a>:
    Relay access denied", to the address and to the random one alike. The domain-only probe says the host does
    not accept the domain's mail; with addresses the report said "ACCEPTS MAIL"."""
    exim = await lab_probe("alice@pf.lab.test", mx=((lab.ip("exim"), lab.port),))
    postfix = await lab_probe("alice@exim.lab.test", mx=((lab.ip("postfix-defer"), lab.port),))
    for report, code in ((exim, 550), (postfix, 454)):
        (alice,) = report.addresses
        assert (alice.reason, alice.code) == (Reason.RELAY_DENIED, code)
        assert (report.status, report.reason) == (DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED)
        assert "ACCEPTS MAIL" not in _flat_text(report)
