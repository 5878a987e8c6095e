"""More settings Postfix admins really use, against real Postfix: is each thing the probe says true of that server?

- senders.lab.test: smtpd_reject_unlisted_sender = yes (and reject_non_fqdn_sender/recipient, which the probe's own
  addresses always pass: it refuses a domain without a dot itself);
- revptr.lab.test: reject_unknown_reverse_client_hostname (a PTR is enough; no forward confirmation);
- policy.lab.test: check_client_access keyed on the probe's source address and check_sender_access on its MAIL FROM,
  access(5) actions without text (lab_postfix.CLIENT_ACTIONS, SENDER_ACTIONS); softpolicy.lab.test: the same with
  soft_bounce = yes; earlypolicy.lab.test: with smtpd_delay_reject = no;
- rfc821.lab.test: strict_rfc821_envelopes = yes and smtpd_helo_required = yes; nopipe.lab.test: PIPELINING not
  advertised (smtpd_discard_ehlo_keywords) and reject_unauth_pipelining; forbid.lab.test:
  smtpd_forbid_unauth_pipelining = yes; sized.lab.test: message_size_limit;
- anyuser.lab.test: an empty local_recipient_maps (every local address accepted at RCPT);
- bare.lab.test: postscreen's bare-newline and non-SMTP-command tests.
"""

from __future__ import annotations

import asyncio

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Reason, Report, Severity, Verdict
from probe.render.text import render_text

from lab import Lab, LabProbe
from lab_postfix import CLIENT_ACTIONS


def _flat_text(report: Report) -> str:
    return " ".join(render_text(report, health=finish_report(report), verbose=True).split())


def _source(lab: Lab, action: str) -> str:
    """The source address whose check_client_access entry is `action`."""
    (octet,) = [o for o, a in CLIENT_ACTIONS.items() if a == action]
    return f"{lab.block}.{octet}"


def _commands(report: Report) -> list[str]:
    return [step.command for session in report.sessions for step in session.steps if step.command]


async def test_an_unlisted_sender_is_the_servers_own_unknown_user(lab_probe: LabProbe) -> None:
    """smtpd_reject_unlisted_sender = yes, and a MAIL FROM in the domain the server hosts that is no user of it (as
    an admin probing their own domain with --from may give): "550 5.1.0 <nobody@...>: Sender address rejected: User
    unknown in local recipient table" (smtpd_check.c check_sender_rcpt_maps), at RCPT (smtpd_delay_reject). The
    probe called it a sender whose "domain does not resolve or accepts no mail" and advised a MAIL FROM "whose
    domain exists, has MX or A records": the domain is the server's own, and exists."""
    report = await lab_probe("alice@senders.lab.test", mail_from="nobody@senders.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED)
    (alice,) = report.addresses
    assert (alice.verdict, alice.code, alice.enhanced) == (Verdict.UNKNOWN, 550, "5.1.0")
    assert alice.text == ("550 5.1.0 <nobody@senders.lab.test>: Sender address rejected: User unknown in local "
                          "recipient table")
    assert "domain this server itself receives mail for, and no such user exists there" in alice.meaning
    assert "does not resolve" not in alice.meaning and "MX or A records" not in alice.remediation
    assert "a MAIL FROM that exists on that server" in alice.remediation
    # a known user of the domain passes (the list is the recipients'), and so does the probe's default <>
    for sender in ("bob@senders.lab.test", None):
        report = await lab_probe("alice@senders.lab.test", **({"mail_from": sender} if sender else {}))
        assert (report.status, report.addresses[0].verdict) == (DomainStatus.ACCEPTS_MAIL, Verdict.DELIVERABLE)


async def test_an_unknown_reverse_hostname_asks_only_for_a_ptr(lab: Lab, lab_probe: LabProbe) -> None:
    """reject_unknown_reverse_client_hostname: "450 4.7.1 Client host rejected: cannot find your reverse hostname,
    [IP]" when the client IP has no PTR name (smtpd_check.c reject_unknown_reverse_name; any name will do, forward
    confirmation is reject_unknown_client_hostname's). The probe said the IP "has no reverse DNS (PTR) name, or the
    name does not resolve back to the same IP (FCrDNS)": the second cannot be the cause of this refusal."""
    source = f"{lab.block}.99"  # not 127.0.0.1, which /etc/hosts names "localhost"
    report = await lab_probe("alice@revptr.lab.test", source_ip=source)
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.REVERSE_DNS, ExitCode.WARNING)
    (alice,) = report.addresses
    assert alice.text == f"450 4.7.1 Client host rejected: cannot find your reverse hostname, [{source}]"
    assert (alice.verdict, alice.reason) == (Verdict.UNKNOWN, Reason.REVERSE_DNS)
    assert "has no reverse DNS (PTR) name" in alice.meaning
    assert "or the name does not resolve back" not in alice.meaning and "not that its name resolve back" in alice.meaning


async def test_a_client_discard_makes_no_acceptance_a_mailbox(lab: Lab, lab_probe: LabProbe) -> None:
    """check_client_access "DISCARD" for the probe's address: Postfix answers 250 to every RCPT of every
    transaction of this client, the random address's too, asked alone as well, and drops the mail (access(5)); its
    VRFY still refuses nobody@. The probe called alice@ deliverable, saying "The random address got no clear
    answer" (it got 250, twice), and its finding spoke of the random address only as asked "in the same
    transaction"."""
    report = await lab_probe("alice@policy.lab.test", "nobody@policy.lab.test", source_ip=_source(lab, "DISCARD"))
    alice, nobody = report.addresses
    assert [s.code for s in report.sessions[0].steps if s.command and s.command.startswith("RCPT")] == [250] * 4
    assert (nobody.verdict, nobody.catch_all, nobody.code) == (Verdict.RISKY, None, 250)
    assert (alice.verdict, alice.catch_all, alice.code) == (Verdict.RISKY, None, 250)
    assert "no clear answer" not in alice.remediation
    assert "also accepted a random address" in alice.meaning and "DISCARD" in alice.remediation
    (finding,) = [f for f in report.findings if f.id == "rcpt-contradicts-vrfy"]
    assert "asked in a transaction of its own as well" in finding.message
    assert "asked after them in the same transaction" not in finding.message
    text = _flat_text(report)
    assert "DELIVERABLE" not in text and "catch-all: yes" not in text


async def test_access_actions_without_text(lab: Lab, lab_probe: LabProbe) -> None:
    """check_client_access REJECT / DEFER: "554 5.7.1 / 450 4.7.1 <unknown[IP]>: Client host rejected: Access denied" to
    each RCPT: a refusal of this client by an access table of the site's, not greylisting (no retry gets through),
    and not a PTR, blocklist or HELO check (those say so in words of their own). REJECT under soft_bounce
    = yes: "454 4.7.1 ...", the same; with smtpd_delay_reject = no (earlypolicy.lab.test) REJECT and DEFER answer
    the connection: a 554 or a 450 greeting, and no command is asked. check_sender_access HOLD, WARN and FILTER accept the mail (it waits in the
    hold queue, is logged, goes to another transport): what RCPT says of the mailboxes stands."""
    for domain, action, code, greeting in (("policy", "REJECT", 554, False), ("policy", "DEFER", 450, False),
                                           ("softpolicy", "REJECT", 454, False),
                                           ("earlypolicy", "REJECT", 554, True), ("earlypolicy", "DEFER", 450, True)):
        source = _source(lab, action)
        report = await lab_probe(f"alice@{domain}.lab.test", source_ip=source)
        assert (report.status, report.reason, report.exit_code) == (
            DomainStatus.REFUSES_THIS_CLIENT, Reason.POLICY_REJECTED, ExitCode.WARNING), (domain, action)
        (alice,) = report.addresses
        status = "5.7.1" if code >= 500 else "4.7.1"
        assert alice.text == f"{code} {status} <unknown[{source}]>: Client host rejected: Access denied"
        assert (alice.verdict, alice.reason, alice.retry_after_s) == (Verdict.UNKNOWN, Reason.POLICY_REJECTED, None)
        assert "greylist" not in alice.meaning.lower() + alice.remediation.lower()
        # Postfix's default words for an access table's entry (smtpd_check.c): the admin listed this client; the
        # advice used to list PTR, blocklists and the HELO name as the first things to check
        assert "an access table keyed on the client (check_client_access" in alice.meaning
        assert "check first that your IP has a PTR record" not in alice.remediation
        assert "send from another IP address" in alice.remediation and "mail administrator" in alice.remediation
        if greeting:  # smtpd_delay_reject = no: the client restrictions answer the connection itself
            assert [s.command for s in report.sessions[0].steps][:2] == [None, "QUIT"]
    # check_sender_access REJECT: "554 5.7.1 <reject@...>: Sender address rejected: Access denied": the site's
    # table, not the sender domain's DNS (the probe advised "a MAIL FROM address whose domain exists, has MX or A
    # records"; probe.lab.test has them)
    report = await lab_probe("alice@policy.lab.test", mail_from="reject@probe.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.SENDER_REJECTED)
    (alice,) = report.addresses
    assert alice.text == "554 5.7.1 <reject@probe.lab.test>: Sender address rejected: Access denied"
    assert "access table refuses this MAIL FROM" in alice.meaning and "does not resolve" not in alice.meaning
    assert "MX or A records" not in alice.remediation and "another MAIL FROM" in alice.remediation
    for sender in ("hold", "warn", "filter"):
        report = await lab_probe("alice@policy.lab.test", "nobody@policy.lab.test",
                                 mail_from=f"{sender}@probe.lab.test")
        alice, nobody = report.addresses
        assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False), sender
        assert (nobody.verdict, nobody.reason) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN), sender


async def test_strict_envelopes_helo_required_and_no_pipelining_pass_the_probes_commands(
        lab: Lab, lab_probe: LabProbe) -> None:
    """The probe's own commands must pass what strict admins set: strict_rfc821_envelopes = yes (addresses in <>,
    nothing after them) with smtpd_helo_required = yes, with and without PIPELINING; and, where PIPELINING is not
    advertised, reject_unauth_pipelining ("503 5.5.0 <...>: ... Improper use of SMTP command pipelining" to a
    client that sends before the answer): the probe sends one command at a time there. Where it is advertised,
    smtpd_forbid_unauth_pipelining = yes (set by many admins since SMTP smuggling, CVE-2023-51764) hangs up on a
    client that sends more after a command that must end a group (RFC 2920 §3.1: VRFY, QUIT...): the probe's
    groups end with such a command, and it sends the next only after the answer. message_size_limit:
    the probe sends no SIZE= (it never sends a message), so the limit never refuses it."""
    source = f"{lab.block}.199"  # the probe's own source address: the log names it
    for domain, options in (("rfc821", {}), ("rfc821", {"pipelining": False}), ("nopipe", {}), ("forbid", {}),
                            ("sized", {})):
        report = await lab_probe(f"alice@{domain}.lab.test", f"nobody@{domain}.lab.test", source_ip=source,
                                 **options)
        assert (report.status, report.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.CRITICAL), domain
        alice, nobody = report.addresses
        assert (alice.verdict, alice.catch_all, nobody.verdict, nobody.code) == (
            Verdict.DELIVERABLE, False, Verdict.UNDELIVERABLE, 550), domain
        steps = [s for session in report.sessions for s in session.steps]
        assert not [s for s in steps if s.code is not None and s.code in (500, 501, 503, 504, 555)], domain
        assert "MAIL FROM:<>" in _commands(report) and not [c for c in _commands(report) if "SIZE=" in c]
    log = (lab.root / "postfix" / "postfix.log").read_text(errors="replace").splitlines()
    assert [line for line in log if f"[{source}]" in line and "connect from" in line]  # the log is read
    assert not [line for line in log if f"[{source}]" in line and "improper command pipelining" in line]


async def test_an_empty_local_recipient_maps_is_called_a_catch_all_with_its_bounces(lab_probe: LabProbe) -> None:
    """local_recipient_maps = (empty): Postfix accepts every address of its local domains at RCPT, the random one
    too, and its local delivery agent bounces the unknown ones later (postconf(5) local_recipient_maps). The probe
    calls the domain a catch-all: true at RCPT, and its advice says that such a domain may bounce mail for
    mailboxes that do not exist, and does not call any address deliverable. It did not tell the domain's admin
    what such a server does to others: the advice now says (refuse unknown recipients at RCPT, Postfix's
    local_recipient_maps; accepting and bouncing later is backscatter)."""
    report = await lab_probe("alice@anyuser.lab.test", "nobody@anyuser.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    for result in report.addresses:
        assert (result.verdict, result.catch_all, result.code) == (Verdict.RISKY, True, 250)
        assert "bounce mail for mailboxes that do not exist" in result.remediation
        assert "local_recipient_maps" in result.remediation and "backscatter" in result.remediation
    assert "catch-all: yes" in _flat_text(report)


async def test_postscreen_bare_newline_and_non_smtp_tests_are_passed(lab: Lab, lab_probe: LabProbe) -> None:
    """postscreen_bare_newline_enable and postscreen_non_smtp_command_enable: the probe ends every line with CRLF
    and sends only SMTP commands, so it passes; postscreen, which talks to it itself, defers the first session
    ("450 4.3.2 Service currently unavailable", said to be that and not greylisting by a policy service), and the
    next session reaches smtpd. postscreen would log "BARE NEWLINE" or "NON-SMTP COMMAND" for a client that
    failed. (Only this test uses bare.lab.test: postscreen caches the pass.)"""
    first = await lab_probe("alice@bare.lab.test")
    (alice,) = first.addresses
    assert (alice.verdict, alice.reason, alice.text) == (
        Verdict.RISKY, Reason.GREYLISTED, "450 4.3.2 Service currently unavailable")
    assert "postscreen" in alice.meaning and "reconnect" in alice.meaning
    for _ in range(50):  # postscreen records the pass as the session ends: the next session reaches smtpd
        again = await lab_probe("alice@bare.lab.test")
        if again.addresses[0].code != 450:
            break
        await asyncio.sleep(0.1)
    assert (again.addresses[0].verdict, again.addresses[0].code) == (Verdict.DELIVERABLE, 250)
    log = (lab.root / "postfix" / "postfix.log").read_text(errors="replace")
    assert "BARE NEWLINE" not in log and "NON-SMTP COMMAND" not in log


async def test_auth_only_under_tls_on_port_25_is_no_concern_of_the_probe(lab_probe: LabProbe) -> None:
    """smtpd_sasl_auth_enable = yes with smtpd_tls_auth_only = yes on port 25: AUTH is offered only after STARTTLS.
    The probe never logs in, and a receiving MX needs no login: it reports the server as it is, and nothing about
    AUTH is a finding or a refusal."""
    for starttls, offered in (("auto", True), ("never", False)):
        report = await lab_probe("alice@authonly.lab.test", starttls=starttls)
        assert (report.status, report.addresses[0].verdict) == (DomainStatus.ACCEPTS_MAIL, Verdict.DELIVERABLE)
        assert ("AUTH" in report.sessions[0].extensions) is offered
        assert not [c for c in _commands(report) if c.startswith("AUTH")]
        assert not [f for f in report.findings if "AUTH" in f.message]


async def test_auth_with_passwords_in_clear_text_is_an_informational_finding(lab_probe: LabProbe) -> None:
    """smtpd_sasl_auth_enable = yes with smtpd_tls_auth_only at its default (no): Postfix offers "AUTH PLAIN LOGIN"
    before STARTTLS, where a client that logs in sends its password in clear text (RFC 4954 §4). The probe says so,
    naming Postfix's setting, as an INFO finding (it moves no exit code: the probe never logs in). With
    smtpd_tls_auth_only = yes (authonly.lab.test, above) it says nothing."""
    report = await lab_probe("alice@authplain.lab.test")
    ehlo = next(s for s in report.sessions[0].steps if s.command and s.command.startswith("EHLO"))
    assert any(line.startswith("AUTH") and "PLAIN" in line for line in ehlo.lines)  # Postfix's own EHLO reply
    (finding,) = [f for f in report.findings if f.id == "auth-in-clear"]
    assert finding.severity is Severity.INFO and "AUTH PLAIN LOGIN" in finding.message
    assert "smtpd_tls_auth_only = yes" in finding.message
    quiet = await lab_probe("alice@authonly.lab.test")
    assert report.exit_code is quiet.exit_code  # the same server and certificate otherwise
    assert not [f for f in quiet.findings if f.id == "auth-in-clear"]
