"""Real Sendmail 8.17 configured as mail admins configure it (tests/realmta/lab_sendmail.py): is each thing the probe
says true of that server? Every reply here is sendmail's own; the admin's texts in its access database and
virtusertable are cf/README's examples.

The probe connects from `client-sendmail` (an address with no PTR, nothing in the access database) unless a test
needs one of the access database's client entries: sendmail lets 127.0.0.1 relay ("originated locally").
"""

from __future__ import annotations

import socket
from typing import Any

from probe.judge.health import finish_report
from probe.model import DomainStatus, ExitCode, Reason, Report, Verdict
from probe.render.nagios import render_nagios

from lab import Lab, LabProbe
from lab_sendmail import GREET_PAUSE_MS


async def _from(lab: Lab, lab_probe: LabProbe, source: str, *targets: str, **options: Any) -> Report:
    return await lab_probe(*targets, source_ip=lab.ip(source), **options)


def _rcpt_texts(report: Report) -> list[str]:
    return [s.text for s in report.sessions[0].steps if s.command and s.command.startswith("RCPT")]


async def test_sendmail_local_users_virtusertable_and_starttls(lab: Lab, lab_probe: LabProbe) -> None:
    """A local user (an alias of root) is accepted and VRFY verifies it (250, the canonical address); any other local
    part is "550 5.1.1 ... User unknown" at RCPT and VRFY: undeliverable, CRITICAL, and the random address's refusal
    says no catch-all. STARTTLS with the lab CA's certificate is offered and verified. virtusertable's cf/README
    entries: `error:nouser 550 No such user here` and `error:5.7.0:550 Address invalid` are undeliverable, a virtual
    user is deliverable; `@smcatch.lab.test alice` takes every local part: a catch-all, RISKY."""
    report = await _from(lab, lab_probe, "client-sendmail", "alice@sendmail.lab.test", "xyzzy@sendmail.lab.test")
    alice, xyzzy = report.addresses
    assert (alice.verdict, alice.catch_all) == (Verdict.DELIVERABLE, False)
    assert alice.text == "250 2.1.5 <alice@sendmail.lab.test>... Recipient ok"
    assert alice.vrfy is not None and alice.vrfy["text"] == "250 2.1.5 <alice@mx.sendmail.lab.test>"
    assert (xyzzy.verdict, xyzzy.reason) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN)
    assert xyzzy.text == "550 5.1.1 <xyzzy@sendmail.lab.test>... User unknown"
    (session,) = report.sessions
    assert session.tls is not None and session.tls["version"] and session.tls["certificate"]["trusted"] is True
    assert report.exit_code is ExitCode.CRITICAL
    assert not [f for f in report.findings if f.id.startswith("starttls") or f.id.startswith("cert")]

    virt = await _from(lab, lab_probe, "client-sendmail", "joe@smvirt.lab.test", "jax@smvirt.lab.test",
                       "alice@smvirt.lab.test")
    joe, jax, valice = virt.addresses
    assert (joe.text, joe.verdict, joe.reason) == ("550 5.0.0 <joe@smvirt.lab.test>... No such user here",
                                                   Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN)
    assert (jax.text, jax.verdict) == ("550 5.7.0 <jax@smvirt.lab.test>... Address invalid", Verdict.UNDELIVERABLE)
    assert (valice.verdict, valice.catch_all) == (Verdict.DELIVERABLE, False)

    catch = await _from(lab, lab_probe, "client-sendmail", "alice@smcatch.lab.test")
    (calice,) = catch.addresses
    assert (calice.verdict, calice.catch_all) == (Verdict.RISKY, True)
    assert "virtusertable" in calice.remediation  # the admin's catch-all entry, not Postfix's local_recipient_maps
    assert catch.exit_code is ExitCode.WARNING


async def test_sendmail_privacy_options_and_recipient_limit(lab: Lab, lab_probe: LabProbe) -> None:
    """PrivacyOptions novrfy and goaway: VRFY is "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try
    finger)" (srvrsmtp.c), nothing known from it (cannot_verify), RCPT decides: deliverable, OK; goaway offers
    neither EXPN nor VERB. MaxRecipientsPerMessage 2: the third RCPT of a transaction gets "452 4.5.3 Too many
    recipients", which the probe asks again in a transaction of its own (RFC 5321 §4.5.3.1.10), so all three
    addresses are deliverable and nothing is refused; MaxMessageSize is advertised (SIZE 1048576)."""
    for domain in ("smnovrfy", "smgoaway"):
        report = await _from(lab, lab_probe, "client-sendmail", f"alice@{domain}.lab.test")
        (alice,) = report.addresses
        assert alice.vrfy is not None and alice.vrfy["text"] == ("252 2.5.2 Cannot VRFY user; try RCPT to attempt "
                                                                  "delivery (or try finger)")
        assert alice.vrfy["reason"] == "cannot_verify"
        assert (alice.verdict, report.exit_code) == (Verdict.DELIVERABLE, ExitCode.OK)
        if domain == "smgoaway":
            assert not {"EXPN", "VERB"} & {e.split()[0] for e in report.sessions[0].extensions}
    limits = await _from(lab, lab_probe, "client-sendmail", "alice@smlimits.lab.test", "bob@smlimits.lab.test",
                         "postmaster@smlimits.lab.test")
    assert "452 4.5.3 Too many recipients" in _rcpt_texts(limits)
    assert [a.verdict for a in limits.addresses] == [Verdict.DELIVERABLE] * 3
    assert (limits.status, limits.exit_code) == (DomainStatus.ACCEPTS_MAIL, ExitCode.OK)
    ehlo = next(s for s in limits.sessions[0].steps if s.command and s.command.startswith("EHLO"))
    assert "SIZE 1048576" in ehlo.lines


async def test_sendmail_access_database_recipient_entries(lab: Lab, lab_probe: LabProbe) -> None:
    """To: entries (FEATURE(`blocklist_recipients')) for users that exist: cf/README's `ERROR:4.2.2:450 mailbox full` is a full mailbox,
    risky; `ERROR:550 Mailbox disabled for badlocaluser` and REJECT (sendmail's "550 5.2.1 ... Mailbox disabled for
    this recipient") a disabled mailbox, undeliverable. DISCARD answers 250 and, like Postfix's, makes sendmail
    verify no later recipient of the transaction (srvrsmtp.c: "If discarding, don't bother to verify user"): the
    random address asked after it is accepted there and refused alone; the findings said that "Postfix does so",
    naming another server; they name Sendmail now."""
    report = await _from(lab, lab_probe, "client-sendmail", "full@sendmail.lab.test", "badlocaluser@sendmail.lab.test",
                         "refused@sendmail.lab.test", "void@sendmail.lab.test")
    full, bad, refused, void = report.addresses
    assert (full.text, full.verdict, full.reason) == ("450 4.2.2 <full@sendmail.lab.test>... mailbox full",
                                                      Verdict.RISKY, Reason.MAILBOX_FULL)
    assert bad.text == "550 5.0.0 <badlocaluser@sendmail.lab.test>... Mailbox disabled for badlocaluser"
    assert refused.text == "550 5.2.1 <refused@sendmail.lab.test>... Mailbox disabled for this recipient"
    assert [(a.verdict, a.reason) for a in (bad, refused)] == [(Verdict.UNDELIVERABLE, Reason.MAILBOX_DISABLED)] * 2
    # the users exist (VRFY verifies them): refused by the admin's entry, which the words say, not unknown
    assert [a.vrfy["code"] for a in (full, bad, refused) if a.vrfy] == [250, 250, 250]
    assert (void.code, void.verdict) == (250, Verdict.RISKY)
    after = next(f for f in report.findings if f.id == "rcpt-accepts-after")
    assert "void@sendmail.lab.test" in after.message and "Sendmail" in after.message
    contradiction = next(f for f in report.findings if f.id == "rcpt-contradicts-vrfy")
    assert "Sendmail" in contradiction.message and "Sendmail" in void.remediation


async def test_sendmail_refusals_of_the_client_and_the_sender(lab: Lab, lab_probe: LabProbe) -> None:
    """With FEATURE(`delay_checks') (Debian's sendmail.mc) sendmail says its refusals of the client and the sender to
    each RCPT. `Connect:ADDR REJECT`: "550 5.7.1 <...>... Access denied" to every recipient: the server refused this
    client, WARNING, nothing known of alice. `From:cyberspammer.com ERROR:"550 We don't accept mail from spammers"`
    (cf/README's example), with that MAIL FROM: "550 5.0.0 <alice@...>... We don't accept mail from spammers" to
    alice and to the random address alike while VRFY verifies alice (250). The probe said alice was undeliverable,
    CRITICAL; by the server's own VRFY the mailbox exists: unknown, WARNING."""
    rejected = await _from(lab, lab_probe, "client-smreject", "alice@sendmail.lab.test")
    (alice,) = rejected.addresses
    assert alice.text == "550 5.7.1 <alice@sendmail.lab.test>... Access denied"
    assert (rejected.status, rejected.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.POLICY_REJECTED)
    assert (alice.verdict, rejected.exit_code) == (Verdict.UNKNOWN, ExitCode.WARNING)

    spam = await _from(lab, lab_probe, "client-sendmail", "alice@sendmail.lab.test",
                       mail_from="someone@cyberspammer.com")
    (alice,) = spam.addresses
    assert alice.text == "550 5.0.0 <alice@sendmail.lab.test>... We don't accept mail from spammers"
    assert alice.vrfy is not None and alice.vrfy["code"] == 250
    assert alice.verdict is Verdict.UNKNOWN and "VRFY" in alice.meaning
    assert spam.exit_code is ExitCode.WARNING
    # a mailbox sendmail does not know stays undeliverable: its VRFY says so
    unknown = await _from(lab, lab_probe, "client-sendmail", "xyzzy@sendmail.lab.test",
                          mail_from="someone@cyberspammer.com")
    assert unknown.addresses[0].verdict is Verdict.UNDELIVERABLE


async def test_sendmail_relaying(lab: Lab, lab_probe: LabProbe) -> None:
    """smrelay.lab.test's MX is the sendmail, which does not serve it: "550 5.7.1 <...>... Relaying denied. IP name
    lookup failed [ADDR]" (proto.m4 Relay_ok, for a client without PTR): the domain takes no mail there, CRITICAL,
    and the advice names Sendmail's settings (local-host-names, relay-domains), not only Postfix's and Exchange's.
    From the server's own address sendmail relays anything ("originated locally"): the probe says it cannot tell a
    catch-all from a relay, naming Sendmail among the servers that trust their own host."""
    report = await _from(lab, lab_probe, "client-sendmail", "alice@smrelay.lab.test")
    (alice,) = report.addresses
    assert alice.text == (f"550 5.7.1 <alice@smrelay.lab.test>... Relaying denied. IP name lookup failed "
                          f"[{lab.ip('client-sendmail')}]")
    assert (report.status, report.reason) == (DomainStatus.DOES_NOT_ACCEPT_MAIL, Reason.RELAY_DENIED)
    assert report.exit_code is ExitCode.CRITICAL and "local-host-names" in alice.remediation
    own = await _from(lab, lab_probe, "sendmail", "alice@smrelay.lab.test")
    (alice,) = own.addresses
    assert (alice.code, alice.verdict, alice.catch_all) == (250, Verdict.RISKY, None)
    (finding,) = [f for f in own.findings if f.id == "probe-on-server-host"]
    assert "Sendmail" in finding.message and "Relaying denied" in finding.message


async def test_sendmail_dnsbl_refuses_this_client(lab: Lab, lab_probe: LabProbe) -> None:
    """FEATURE(`dnsbl', `bl.lab.test'), which lists 127.0.0.1: "550 5.7.1 <...>... Rejected: 127.0.0.1 listed at
    bl.lab.test" to every RCPT (delay_checks): the domain refuses this client (blocklisted), WARNING."""
    report = await lab_probe(domain="smlisted.lab.test")
    assert (report.status, report.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.BLOCKLISTED)
    assert report.postmaster is not None
    assert report.postmaster["text"] == ("550 5.7.1 <postmaster@smlisted.lab.test>... Rejected: 127.0.0.1 listed at "
                                         "bl.lab.test")
    assert report.exit_code is ExitCode.WARNING
    assert render_nagios(report, finish_report(report)).splitlines()[0].startswith(
        "SMTP WARNING - smlisted.lab.test: answered but refused this client (blocklisted)")


async def test_sendmail_greet_pause_rate_and_connection_control(lab: Lab, lab_probe: LabProbe) -> None:
    """greet_pause (GreetPause:ADDR 1000, Debian's pause, in cf/README's entry form): sendmail greets after 1 s and
    refuses a client that talks first ("554 ... ESMTP not accepting messages", then "550 5.0.0 Command rejected");
    the probe waits for the greeting: deliverable. ratecontrol (ClientRate:ADDR 1, `terminate'): the client's second
    connection within the window gets "421 4.3.2 Connection rate limit exceeded." as greeting: the server refuses
    this client for now, WARNING. conncontrol (ClientConn:ADDR 1): with one connection of that client open, the
    probe's gets "421 4.3.2 Too many open connections.": the same."""
    paused = await _from(lab, lab_probe, "client-smpause", "alice@sendmail.lab.test")
    banner = paused.sessions[0].steps[0]
    assert banner.code == 220 and banner.elapsed_ms >= GREET_PAUSE_MS * 0.9
    assert (paused.addresses[0].verdict, paused.exit_code) == (Verdict.DELIVERABLE, ExitCode.OK)

    first = await _from(lab, lab_probe, "client-smrate", "alice@sendmail.lab.test")
    assert first.addresses[0].verdict is Verdict.DELIVERABLE
    second = await _from(lab, lab_probe, "client-smrate", "alice@sendmail.lab.test")
    assert second.sessions[0].steps[0].text == "421 4.3.2 Connection rate limit exceeded."
    assert "new connections" in second.sessions[0].steps[0].meaning  # it counts sessions, not messages
    assert (second.status, second.reason) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.RATE_LIMITED)
    assert second.exit_code is ExitCode.WARNING

    with socket.create_connection((lab.ip("sendmail"), lab.port), timeout=5,
                                  source_address=(lab.ip("client-smconn"), 0)) as held:
        assert held.recv(512).startswith(b"220 ")
        busy = await _from(lab, lab_probe, "client-smconn", "alice@sendmail.lab.test")
    assert busy.sessions[0].steps[0].text == "421 4.3.2 Too many open connections."
    assert (busy.status, busy.reason, busy.exit_code) == (DomainStatus.REFUSES_THIS_CLIENT, Reason.RATE_LIMITED,
                                                         ExitCode.WARNING)


async def test_a_postmaster_refusal_that_names_no_cause_may_be_about_the_sender(lab: Lab, lab_probe: LabProbe) -> None:
    """A domain-only probe with the cf/README spammer as MAIL FROM: sendmail answers postmaster@ "550 5.0.0
    <postmaster@...>... We don't accept mail from spammers" (the access database's From: entry, said at RCPT under
    delay_checks). The finding blamed the domain ("RFC 5321 §4.5.1 requires ... postmaster@"); the words name no
    cause the catalogue knows, and the same server takes postmaster@ from the null sender: it now says the refusal
    may be of the probe's MAIL FROM, and how to tell."""
    spam = await _from(lab, lab_probe, "client-sendmail", "sendmail.lab.test", mail_from="someone@cyberspammer.com")
    (refused,) = [f for f in spam.findings if f.id == "postmaster-refused"]
    assert "We don't accept mail from spammers" in (spam.postmaster or {}).get("text", "")
    assert "the probe's MAIL FROM <someone@cyberspammer.com>" in refused.message
    assert "without --from" in refused.message
    null = await _from(lab, lab_probe, "client-sendmail", "sendmail.lab.test")
    assert (null.postmaster or {}).get("accepted") is True  # from <> the same server takes postmaster@
