"""Refusals Exim admins configure, against real Exim (tests/realmta/lab_exim.py, start_exim_policies and
EXIM_POLICIES): is each thing the probe says true of that server?

- exim-policy: one RCPT ACL statement a domain (a ratelimit that defers per host, cPanel's wording; one that denies
  per sender; `deny hosts =`; `require verify = reverse_host_lookup`, `= sender`, `= sender/callout`, `= helo`;
  dnslists with the admin's own message and with none), message_size_limit = 10M;
- exim-closed / exim-dropped: acl_smtp_connect deny / drop for 127.0.0.0/8, cPanel's message;
- exim-perhost: smtp_accept_max_per_host = 1; exim-heloverify: helo_verify_hosts = *; exim-mailacl: acl_smtp_mail
  `deny hosts = 127.0.0.0/8`; exim-hostreject: host_reject_connection; exim-rcptmax(reject): recipients_max = 2
  (with recipients_max_reject = true);
- greywhite: Postfix behind a postgrey whose --whitelist-clients file lists 127.0.0.0/8.
"""

from __future__ import annotations

import secrets
import socket

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Reason, Verdict
from probe.render.text import render_text

from lab import HOSTS, Lab, LabProbe


async def test_exim_ratelimits_are_rate_limits_not_greylisting(lab_probe: LabProbe) -> None:
    """cPanel's per-host ratelimit defers with "451-The server has reached its limit for processing requests from your
    host. / 451 Please try again later.": the probe said greylisted (RISKY, "retry ... after a few minutes" as from a
    greylist), but a greylist lets the retry through and a rate limit does not; it is rate_limited, nothing known of
    the mailbox (UNKNOWN), the server refuses this client for now (WARNING). A per-sender deny ("550 Rate limited")
    is the same reason, with a 5xx."""
    report = await lab_probe("alice@eximratehost.lab.test")
    (alice,) = report.addresses
    assert alice.text == ("451-The server has reached its limit for processing requests from your host.\n"
                          "451 Please try again later.")
    assert (alice.verdict, alice.reason) == (Verdict.UNKNOWN, Reason.RATE_LIMITED)
    assert "greylist" not in (alice.meaning + alice.remediation).lower()
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)
    report = await lab_probe("alice@eximratesender.lab.test")
    (alice,) = report.addresses
    assert (alice.text, alice.verdict, alice.reason) == ("550 Rate limited", Verdict.UNKNOWN, Reason.RATE_LIMITED)
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)


async def test_exim_own_words_for_a_host_list_a_dns_list_and_helo_verify(lab_probe: LabProbe) -> None:
    """`deny hosts = 127.0.0.0/8`, a dnslists deny without a message and `require verify = helo` all get Exim's own
    "550 Administrative prohibition": a policy refusal of this client that names no list (true: the reply does not),
    never a verdict on the mailbox. The admin's own dnslists message (Debian's CHECK_RCPT_IP_DNSBLS wording) names
    the list: blocklisted."""
    for domain in ("eximhosts", "eximdnsblbare", "eximhelo"):
        report = await lab_probe(f"alice@{domain}.lab.test")
        (alice,) = report.addresses
        assert (alice.text, alice.verdict, alice.reason) == (
            "550 Administrative prohibition", Verdict.UNKNOWN, Reason.POLICY_REJECTED), domain
        assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING), domain
        assert "without naming a blocklist" in alice.meaning
    report = await lab_probe(domain="eximdnsblown.lab.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.BLOCKLISTED, ExitCode.WARNING)
    assert report.postmaster is not None and report.postmaster["text"] == (
        "550-127.0.0.1 is listed at bl.lab.test (127.0.0.2:\n"
        "550 Blocked - see https://www.spamcop.net/bl.shtml?127.0.0.1)")


async def test_exim_reverse_lookup_refusal_and_deferral(lab: Lab, lab_probe: LabProbe) -> None:
    """`require verify = reverse_host_lookup`: from an address whose PTR lookup gets NXDOMAIN (the lab's reverse zone
    has no record), Exim refuses with "550 Administrative prohibition" (a policy refusal of this client, WARNING);
    from 127.0.0.1, whose lookup the lab's DNS refuses, it defers with "451 Temporary local problem - please try
    later" (a temporary problem of the server's, nothing said of the mailbox)."""
    report = await lab_probe("alice@eximrdns.lab.test", source_ip=lab.ip("client-noptr"))
    (alice,) = report.addresses
    assert (alice.text, alice.reason, report.status) == (
        "550 Administrative prohibition", Reason.POLICY_REJECTED, DomainStatus.REFUSES_THIS_CLIENT)
    assert report.sessions[0].steps[0].code == 220 and report.exit_code is ExitCode.WARNING
    report = await lab_probe("alice@eximrdns.lab.test")
    (alice,) = report.addresses
    assert (alice.text, alice.verdict, alice.reason) == (
        "451 Temporary local problem - please try later", Verdict.UNKNOWN, Reason.SYSTEM_ERROR)
    assert report.exit_code is ExitCode.WARNING
    # the words of a bare ACL `defer` too (test_lab_restrictions): the meaning names both
    assert "a DNS or other lookup that failed for now" in alice.meaning and "'defer'" in alice.meaning


async def test_exim_sender_verification_refuses_the_probes_sender(lab_probe: LabProbe) -> None:
    """`require verify = sender` passes the null sender <> (the probe's default: alice is deliverable) and refuses a
    --from whose domain does not route: sender_rejected, the domain refuses this client, and nothing is said of
    the mailbox. With a callout, a --from address the sender's server (Postfix) accepts passes."""
    report = await lab_probe("alice@eximvsender.lab.test")
    assert (report.addresses[0].verdict, report.exit_code) == (Verdict.DELIVERABLE, ExitCode.OK)
    report = await lab_probe("alice@eximvsender.lab.test", mail_from="probe@nowhere-at-all.lab.test")
    (alice,) = report.addresses
    assert alice.text == ("550-Verification failed for <probe@nowhere-at-all.lab.test>\n550-Unrouteable address\n"
                          "550 Sender verify failed")
    assert (alice.verdict, alice.reason, report.status) == (
        Verdict.UNKNOWN, Reason.SENDER_REJECTED, DomainStatus.REFUSES_THIS_CLIENT)
    report = await lab_probe("alice@eximcallout.lab.test", mail_from="alice@pf.lab.test")
    assert (report.addresses[0].verdict, report.exit_code) == (Verdict.DELIVERABLE, ExitCode.OK)


async def test_exim_sender_callout_quotes_the_senders_server_whose_status_is_not_the_recipients(
        lab: Lab, lab_probe: LabProbe) -> None:
    """`require verify = sender/callout`, --from an address Postfix (the sender's MX) does not know: Exim quotes
    Postfix's answer ("550-Response: 550 5.1.1 <...>: Recipient address rejected: User unknown ...") in its own
    reply, which has no status code. The probe gave alice that 5.1.1 ("alice@... unknown (sender_rejected, 550
    5.1.1)", JSON "enhanced": "5.1.1"): a bad-mailbox code for a mailbox nobody asked about. A new sender each run
    (Exim caches callout results, and says "Previous (cached) callout verification failure" then)."""
    sender = f"nobody-{secrets.token_hex(4)}@pf.lab.test"
    report = await lab_probe("alice@eximcallout.lab.test", mail_from=sender)
    (alice,) = report.addresses
    assert f"550-Response: 550 5.1.1 <{sender}>: Recipient address rejected: User unknown" in (alice.text or "")
    assert (alice.verdict, alice.reason, alice.code, alice.enhanced) == (
        Verdict.UNKNOWN, Reason.SENDER_REJECTED, 550, None)
    assert report.status is DomainStatus.REFUSES_THIS_CLIENT
    assert "5.1.1" not in report.summary


async def test_exim_connect_acl_refuses_at_the_greeting(lab_probe: LabProbe) -> None:
    """acl_smtp_connect `deny` and `drop` (cPanel's "Your host is not allowed to connect to this server."): Exim greets
    with 550 and the session ends there. The domain refuses this client (WARNING), the address is unknown: true,
    nothing was asked."""
    for domain in ("eximclosed", "eximdropped"):
        report = await lab_probe(f"alice@{domain}.lab.test")
        (session,) = report.sessions
        assert (session.outcome, session.steps[0].text) == (
            "rejected", "550 Your host is not allowed to connect to this server."), domain
        assert (report.status, report.reason, report.exit_code) == (
            DomainStatus.REFUSES_THIS_CLIENT, Reason.POLICY_REJECTED, ExitCode.WARNING), domain
        assert report.addresses[0].verdict is Verdict.UNKNOWN


async def test_exim_recipients_max_with_452_and_552(lab_probe: LabProbe) -> None:
    """recipients_max = 2: the third RCPT of a transaction gets "452 too many recipients", or with
    recipients_max_reject = true "552 too many recipients". RFC 5321 §4.5.3.1.10: a client SHOULD treat that 552
    (RFC 821's code for the limit) as temporary. The probe asked the addresses past the limit again only after a
    452; after the 552 it said nobody@ "unknown (rate_limited, 552)", "a 5xx bounced the message", and the random
    address unanswered, though Exim answers both in a new transaction: nobody@ does not exist (550 Unrouteable
    address). Now both are asked again, and both servers give the same, true, answers."""
    for domain in ("eximrcptmax", "eximrcptmaxreject"):
        report = await lab_probe(f"alice@{domain}.lab.test", f"bob@{domain}.lab.test", f"nobody@{domain}.lab.test")
        alice, bob, nobody = report.addresses
        assert (alice.verdict, bob.verdict, alice.catch_all) == (Verdict.DELIVERABLE, Verdict.DELIVERABLE, False)
        assert (nobody.verdict, nobody.reason, nobody.text) == (
            Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, "550 Unrouteable address"), domain
        too_many = [s.text for s in report.sessions[0].steps if "too many recipients" in (s.text or "")]
        assert too_many and too_many[0].startswith("452" if domain == "eximrcptmax" else "552")
        assert report.exit_code is ExitCode.CRITICAL


async def test_exim_host_reject_connection_and_an_unknown_user_message(lab_probe: LabProbe) -> None:
    """host_reject_connection = 127.0.0.0/8: "554 SMTP service not available" at the greeting is a refusal of this
    client (not a domain without mail), WARNING. Bytemark Symbiosis's `require message = Unknown user / verify =
    recipient`: "550 Unknown user" is no such mailbox."""
    report = await lab_probe(domain="eximhostreject.lab.test")
    assert report.sessions[0].steps[0].text == "554 SMTP service not available"
    assert (report.status, report.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, ExitCode.WARNING)
    report = await lab_probe("alice@eximunknown.lab.test", "nobody@eximunknown.lab.test")
    alice, nobody = report.addresses
    assert (alice.verdict, nobody.verdict, nobody.reason, nobody.text) == (
        Verdict.DELIVERABLE, Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, "550 Unknown user")


async def test_exim_tarpit_past_the_timeout_is_uncertain_not_critical(lab_probe: LabProbe) -> None:
    """`warn delay = 8s` in the RCPT ACL, the probe's --timeout 2 s: Exim greets and answers EHLO, then nothing of
    the pipelined group arrives before the timeout. The probe said CRITICAL ("no mail server gave a definitive
    answer", as for a dead host), yet RFC 5321 §4.5.3.2 gives a sender minutes for MAIL and RCPT, and one that
    waits delivers: nothing is known, WARNING, and the advice is to raise --timeout."""
    report = await lab_probe("alice@eximdelay.lab.test", timeout_s=2.0)
    (session,) = report.sessions
    assert (session.outcome, session.steps[0].code) == ("timeout", 220)
    (alice,) = report.addresses
    assert (alice.verdict, alice.reason) == (Verdict.UNKNOWN, Reason.NETWORK_ERROR)
    assert "higher --timeout" in alice.remediation
    assert (report.status, report.exit_code) == (DomainStatus.UNREACHABLE, ExitCode.WARNING)


async def test_exim_mail_acl_deny_hosts(lab_probe: LabProbe) -> None:
    """acl_smtp_mail `deny hosts = 127.0.0.0/8`: MAIL FROM:<> gets "550 Administrative prohibition". The domain
    refuses this client (WARNING), postmaster@ was not asked and the report says so, the address is unknown."""
    report = await lab_probe(domain="eximmailacl.lab.test")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.POLICY_REJECTED, ExitCode.WARNING)
    assert report.postmaster is not None and (report.postmaster["command"], report.postmaster["text"]) == (
        "MAIL FROM:<>", "550 Administrative prohibition")
    report = await lab_probe("alice@eximmailacl.lab.test")
    assert (report.addresses[0].verdict, report.addresses[0].command) == (Verdict.UNKNOWN, "MAIL")


async def test_exim_per_host_connection_limit(lab: Lab, lab_probe: LabProbe) -> None:
    """smtp_accept_max_per_host = 1, with one connection from 127.0.0.1 held open (its greeting read, so Exim counts
    it): the probe's connection gets Exim's "421 Too many concurrent SMTP connections from this IP address; please
    try again later.": rate_limited, the domain refuses this client for now (WARNING), the address unknown."""
    with socket.create_connection((lab.ip("exim-perhost"), lab.port), timeout=5) as held:
        assert held.recv(512).startswith(b"220 ")
        report = await lab_probe("alice@eximperhost.lab.test")
    (session,) = report.sessions
    assert session.steps[0].text == ("421 Too many concurrent SMTP connections from this IP address; please try "
                                     "again later.")
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.RATE_LIMITED, ExitCode.WARNING)
    assert report.addresses[0].verdict is Verdict.UNKNOWN


async def test_exim_helo_verify_hosts(lab_probe: LabProbe) -> None:
    """helo_verify_hosts = *: the probe's EHLO name (probe.lab.test, no address record) cannot be verified against
    127.0.0.1 (whose PTR lookup the lab's DNS refuses: a temporary failure), and Exim answers EHLO with "451 EHLO
    argument does not match calling host": helo_rejected, refuses this client, WARNING."""
    report = await lab_probe(domain="eximheloverify.lab.test")
    (session,) = report.sessions
    assert [s.text for s in session.steps[:2]][1] == "451 EHLO argument does not match calling host"
    assert (report.status, report.reason, report.exit_code) == (
        DomainStatus.REFUSES_THIS_CLIENT, Reason.HELO_REJECTED, ExitCode.WARNING)
    # the advice names Exim's setting (smtp_in.c: helo_verify_hosts, 451 when a lookup failed for now) and --helo,
    # in the default report of a domain-only probe
    text = " ".join(render_text(report, health=finish_report(report)).split())
    assert ("What to do mx.exim-heloverify.lab.test refused the EHLO name the probe gave, probe.lab.test, by Exim's "
            "helo_verify_hosts: the name does not resolve to this client's IP address, nor is it the name the IP "
            "address's PTR record gives (said with a 451: a DNS lookup of the check failed for now).") in text
    assert "Probe again with --helo NAME" in text


async def test_exim_message_size_limit_is_advertised_and_no_size_is_claimed(lab_probe: LabProbe) -> None:
    """message_size_limit = 10M: Exim advertises SIZE 10485760, the session's EHLO step shows it, and the probe sends
    no SIZE= of its own (it never sends a message), so nothing it says depends on it."""
    report = await lab_probe("alice@eximvsender.lab.test")
    (session,) = report.sessions
    assert "SIZE" in session.extensions
    assert "SIZE 10485760" in [s for s in session.steps if (s.command or "").startswith("EHLO")][-1].lines
    assert all("SIZE=" not in (s.command or "") for s in session.steps)


async def test_postgrey_with_a_whitelisted_client_greylists_nothing(lab_probe: LabProbe) -> None:
    """postgrey's --whitelist-clients lists 127.0.0.0/8: a new sender (a first triplet, greylisted by the other
    postgrey) gets Postfix's own answers, and the probe says nothing of greylisting."""
    sender = f"white-{secrets.token_hex(4)}@probe.lab.test"
    report = await lab_probe("alice@greywhite.lab.test", "nobody@greywhite.lab.test", mail_from=sender)
    alice, nobody = report.addresses
    assert (alice.verdict, alice.code, nobody.verdict, nobody.reason) == (
        Verdict.DELIVERABLE, 250, Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN)
    assert not [f for f in report.findings if "greylist" in f.id]


def test_the_policy_hosts_are_in_the_lab() -> None:
    assert {"exim-policy", "exim-closed", "exim-dropped", "exim-perhost", "exim-heloverify"} <= set(HOSTS)
