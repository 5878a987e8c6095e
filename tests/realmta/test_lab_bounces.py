"""Bounces, log lines and queue reasons written by a real Postfix of the lab, pasted into `smtp-probe explain`.

A Postfix of this module (mailers.PostfixSender) takes one message per case by sendmail and relays it, by its
transport map, to a next hop that fails the way mail fails in the world (the lab's servers, a Postfix smtpd of
this module with a restriction, a socket that hangs up or never greets, a name the lab's DNS does not know). Two
such senders run: `pfsend` keeps deferred mail in its queue (postqueue -p says why), `pfonce` tries each message
once (maximal_queue_lifetime = 0) and returns every failure, temporary or not, in a DSN to its own mailbox. What
the tests read is what those Postfix wrote: the smtp(8) log line, the postqueue -p paragraph, the whole DSN, its
recipient paragraph and its Diagnostic-Code field; each is explained as a user would paste it (with --context
bounce, and without), and what explain says must be true of what happened. Nothing of it goes into the corpus.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from probe.cli.main import cli

from lab import Lab
from lab_postfix import GREYLIST_DELAY_S
from mailers import EximSender, PostfixInstance, PostfixSender, SilentPeers, dsn_parts, free_ip
from mtaconf import Listener


@dataclass(frozen=True)
class Case:
    recipient: str
    reason: str | None  # what explain must say of every text of this case (None: the same of each, whatever it is)
    deferred: bool  # Postfix defers it (a temporary failure): pfsend keeps it queued
    code: int | None = None  # the next hop's reply code, None when the sending Postfix speaks alone


CASES = {
    # the next hop's recipient table (Postfix smtpd, local_recipient_maps)
    "user-unknown": Case("nobody@pf.lab.test", "user_unknown", False, 550),
    # access(5) entries of the lab's Postfix with RFC 3463's X.2.1 and X.2.2 texts
    "disabled": Case("disabled@pf.lab.test", "mailbox_disabled", False, 550),
    "full": Case("full@pf.lab.test", "mailbox_full", True, 452),
    # Exim's RCPT ACL, verify = recipient: "550 Unrouteable address"
    "exim-unknown": Case("nobody@exim.lab.test", "user_unknown", False, 550),
    "greylisted": Case("alice@grey.lab.test", "greylisted", True, 450),
    # postscreen drops 127.0.0.0/8 (its access list): 521 at the greeting; smtp_skip_5xx_greeting defers it
    "postscreen": Case("alice@screened.lab.test", "policy_rejected", True, 521),
    "relay": Case("alice@elsewhere.example", "relay_denied", False, 554),
    "refused-sender": Case("alice@refsender.lab.test", "sender_rejected", False, 554),
    "refused-client": Case("alice@refclient.lab.test", "policy_rejected", False, 554),
    # an Exim dnslists ACL with SpamCop's TXT wording
    "dnsbl": Case("alice@eximlisted.lab.test", "blocklisted", False, 550),
    # the next hop advertises SIZE 2000: Postfix does not send the 5 kB message and says so itself
    "size-advertised": Case("alice@size.lab.test", "message_too_big", False),
    # the same next hop, told by HELO (no SIZE seen): it takes the data and refuses it at the end
    "size-refused": Case("alice@sizehelo.lab.test", "message_too_big", False, 552),
    # an Exim admin's aliases: ":fail: Gone away, no forwarding address" (the Exim spec's example) and a bare
    # ":defer:". Their words name no cause the catalogue knows: whatever explain makes of the reply, it makes the same
    # of each text that quotes it (the DSN's "Diagnostic-Code: smtp;" is no word of the reply)
    "exim-fail": Case("gone@eximadmin.lab.test", None, False, 550),
    "exim-defer": Case("moving@eximadmin.lab.test", None, True, 451),
    # the sending Postfix's own words: no reply from a next hop at all
    "refused": Case("alice@down.lab.test", "network_error", True),
    "hangup": Case("alice@hangup.lab.test", "network_error", True),
    "no-greeting": Case("alice@mute.lab.test", "network_error", True),
    "nxdomain": Case("alice@nxdomain.lab.test", "domain_unknown", False),
    "dns-tempfail": Case("alice@nothing.invalid", "dns_error", True),
}
# the transport_maps next hop of each recipient domain: where it is refused
HOPS = {"pf": "postfix", "exim": "exim", "grey": "postfix-grey", "screened": "postscreen", "down": "nowhere",
        "eximlisted": "exim-admin", "eximadmin": "exim-admin"}
OWN = {"size": 200, "refsender": 201, "refclient": 202, "hangup": 203, "mute": 204}  # addresses of this module
BIG = 5000  # the size of the two messages over the next hop's limit (message_size_limit = 2000)


@dataclass
class Texts:
    """What the real Postfix wrote of one case."""

    log: str  # the smtp(8) log line with status=
    bounce: str = ""  # the whole DSN (its human-readable part and its delivery-status part)
    paragraph: str = ""  # the recipient paragraph of the human-readable part
    diagnostic: str = ""  # the Diagnostic-Code field, folded as the DSN has it
    queue: str = ""  # the postqueue -p paragraph (deferred mail only)
    deferred_log: str = ""  # pfsend's log line (deferred mail only)

    def pasted(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


@dataclass
class BounceLab:
    texts: dict[str, Texts]
    keeper: PostfixSender  # pfsend: keeps deferred mail
    queue_ids: dict[str, str]  # case -> its queue id in pfsend
    soft_bounced: str  # the log line of pfsoft (soft_bounce = yes) for the user-unknown case's 550


def _transports(lab: Lab, own: dict[str, str]) -> dict[str, str]:
    port = lab.port
    table = {f"{d}.lab.test": f"smtp:[{lab.ip(host)}]:{port}" for d, host in HOPS.items()}
    table["elsewhere.example"] = f"smtp:[{lab.ip('postfix')}]:{port}"  # a domain the lab's Postfix does not serve
    table.update({f"{d}.lab.test": f"smtp:[{ip}]:{port}" for d, ip in own.items()})
    table["sizehelo.lab.test"] = f"smtphelo:[{own['size']}]:{port}"
    return table  # nxdomain.lab.test, nothing.invalid: not here, so the sending Postfix looks up their MX


def _start_hops(lab: Lab, own: dict[str, str]) -> None:
    """A Postfix of this module whose smtpd listeners refuse: a message over 2000 bytes, the senders of this module
    (access(5) REJECT), clients from 127.0.0.0/8 (check_client_access REJECT). alice is known on each."""
    maps = lab.root / "pfhops" / "maps"
    PostfixInstance.start(
        lab, "pfhops", hostname="mx.pfhops.lab.test",
        local_domains=["size.lab.test", "sizehelo.lab.test", "refsender.lab.test", "refclient.lab.test"],
        listeners=(Listener(own["size"], ("message_size_limit=2000", "myhostname=mx.size.lab.test")),
                   Listener(own["refsender"], (f"smtpd_sender_restrictions=check_sender_access,texthash:{maps / 'senders'}",
                                               "myhostname=mx.refsender.lab.test")),
                   Listener(own["refclient"], (f"smtpd_client_restrictions=check_client_access,texthash:{maps / 'clients'}",
                                               "myhostname=mx.refclient.lab.test"))),
        maps={"recipients": {"alice": "ok"},
              "senders": {"pfsend.lab.test": "REJECT", "pfonce.lab.test": "REJECT"},
              "clients": {"127.0.0.1": "REJECT"}})


def _diagnostic(status: str) -> str:
    found = re.search(r"^Diagnostic-Code:.*(?:\n[ \t].*)*", status, re.MULTILINE)
    return found.group(0) if found else ""


@pytest.fixture(scope="module")
def bounces(lab: Lab) -> Iterator[BounceLab]:
    own = {name: free_ip(lab, octet) for name, octet in OWN.items()}
    _start_hops(lab, own)
    peers = SilentPeers(own["hangup"], own["mute"], lab.port)
    try:
        transports = _transports(lab, own)
        keeper = PostfixSender.start(lab, "pfsend", transports=transports)
        once = PostfixSender.start(lab, "pfonce", transports=transports,
                                   extra_main="maximal_queue_lifetime = 0\nbounce_queue_lifetime = 0\n")
        sizes = {"size-advertised": BIG, "size-refused": BIG}
        once_ids = {name: once.send(c.recipient, body_bytes=sizes.get(name, 0)) for name, c in CASES.items()}
        keep_ids = {name: keeper.send(c.recipient) for name, c in CASES.items() if c.deferred}
        texts: dict[str, Texts] = {}
        for name, queue_id in once_ids.items():
            dsn = once.wait_bounce(queue_id)
            human, status = dsn_parts(dsn)
            paragraph = human.split("The mail system", 1)[1].strip()
            texts[name] = Texts(log=once.wait_log(queue_id, " status="), bounce=f"{human}\n{status}",
                                paragraph=paragraph, diagnostic=_diagnostic(status))
        for name, queue_id in keep_ids.items():
            texts[name].deferred_log = keeper.wait_log(queue_id, " status=deferred")
            texts[name].queue = keeper.queue_entry(queue_id)
        soft = PostfixSender.start(lab, "pfsoft", transports=transports, extra_main="soft_bounce = yes\n")
        soft_bounced = soft.wait_log(soft.send(CASES["user-unknown"].recipient), " status=SOFTBOUNCE")
        yield BounceLab(texts, keeper, keep_ids, soft_bounced)
    finally:
        peers.stop()


def explain(text: str, context: str | None = "bounce") -> dict[str, Any]:
    """`smtp-probe explain [--context bounce] --json TEXT`, as a user runs it."""
    args = ["explain", *(("--context", context) if context else ()), "--json", text]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


@pytest.mark.parametrize("name", list(CASES))
def test_every_text_of_a_failure_is_explained_as_what_happened(bounces: BounceLab, name: str) -> None:
    case = CASES[name]
    texts = bounces.texts[name]
    assert ("status=deferred" in texts.log) == case.deferred  # pfonce logs the attempt, then returns it
    reasons = set()
    for kind, text in texts.pasted().items():
        for context in ("bounce", None):
            said = explain(text, context)
            where = f"{name}, {kind}, context {context}: {text!r}"
            reasons.add(said["reason"])
            assert said["reason"] == (case.reason or said["reason"]), (
                f"{where}: {said['reason']} ({said['decided_by']['summary']})")
            if case.code is not None:
                assert said["code"] == case.code, where
            else:  # the sending Postfix's own words: no reply code is made up for them
                assert said["code"] is None, where
    assert len(reasons) == 1, reasons


def test_the_sending_side_speaks_of_its_own_failures(bounces: BounceLab) -> None:
    """A refused connection, a hang-up, a silent peer, a name that does not resolve: no server answered. Explain says
    the sending Postfix wrote it, and not that the recipient's server refused anything."""
    for name in ("refused", "hangup", "no-greeting", "nxdomain", "dns-tempfail"):
        said = explain(bounces.texts[name].paragraph)
        assert "Postfix (the sending side)" in said["meaning"], (name, said["meaning"])
        assert "refused the" not in said["meaning"] and "rejected" not in said["meaning"], (name, said["meaning"])


def test_the_postscreen_refusal_is_this_clients_not_an_outage(bounces: BounceLab) -> None:
    """postscreen's "521 5.3.2 Service currently unavailable" is its deny-list action (postscreen.c
    PSC_ACL_ACT_DENYLIST): quoted by the sending Postfix as "host X refused to talk to me: 521 5.3.2 ...", it is
    still that refusal of the client, not a busy server to retry."""
    for kind, text in bounces.texts["postscreen"].pasted().items():
        said = explain(text)
        assert said["rule"] == "postscreen-denylist", (kind, said["decided_by"])
        assert "Retry later" not in said["remediation"], kind


def test_a_5xx_that_postfix_keeps_in_its_queue_says_why(bounces: BounceLab) -> None:
    """Postfix keeps a message after two kinds of 5xx reply, and it waits for days: a 5xx greeting
    (smtp_skip_5xx_greeting = yes, the default: postscreen's 521 here; logged status=deferred) and any 5xx under
    soft_bounce = yes (the next hop's 550 for an unknown user here; logged status=SOFTBOUNCE). Explain says why it waits and that retrying will not help; it says
    nothing of the kind for a 4xx deferral or a 5xx Postfix bounced."""
    greeting = explain(bounces.texts["postscreen"].deferred_log)
    assert any("smtp_skip_5xx_greeting" in note for note in greeting["notes"]), greeting["notes"]
    assert " 550 " in bounces.soft_bounced, bounces.soft_bounced
    soft = explain(bounces.soft_bounced)
    assert soft["reason"] == "user_unknown" and any("soft_bounce = yes" in note for note in soft["notes"]), soft
    for text in (bounces.texts["greylisted"].deferred_log, bounces.texts["user-unknown"].log):
        assert not any("The sending Postfix logged" in note for note in explain(text)["notes"]), text


def test_a_deferred_message_says_why_in_the_queue(bounces: BounceLab) -> None:
    """postqueue -p gives, for each deferred message, the reason of its last attempt in brackets."""
    for name, case in CASES.items():
        if case.deferred:
            entry = bounces.texts[name].queue
            assert case.recipient in entry and re.search(r"^\s*\(.+\)$", entry, re.MULTILINE), (name, entry)


def test_the_greylisted_message_goes_through_on_a_retry(bounces: BounceLab) -> None:
    """What explain says of postgrey's deferral ("a real MTA retries and gets past the greylist") is what the real
    Postfix does: past postgrey's --delay, a queue run (postqueue -f) delivers it. Retried until sent, with a
    deadline; every attempt before the delay passes is deferred again by postgrey."""
    said = explain(bounces.texts["greylisted"].deferred_log)
    assert "retries" in said["remediation"] and "gets past the greylist" in said["remediation"]
    keeper, queue_id = bounces.keeper, bounces.queue_ids["greylisted"]
    end = time.monotonic() + 60
    sent = ""
    while time.monotonic() < end and not sent:
        time.sleep(GREYLIST_DELAY_S / 2)
        keeper.flush()
        sent = next((line for line in keeper.postfix.log_text().splitlines()
                     if f" {queue_id}: " in line and "status=sent" in line), "")
    assert "status=sent" in sent and "alice@grey.lab.test" in sent


# -- Exim ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EximCase:
    recipient: str
    failed: str  # what explain must say of the bounce's paragraph, the whole bounce and its Diagnostic-Code
    deferred: str | None = None  # of the main log's "==" line (and the message log) when Exim defers it first
    expired: bool = False  # the sending Exim's "** ...: retry timeout exceeded" line: its retry rule gave up


EXIM_CASES = {
    "user-unknown": EximCase("nobody@pf.lab.test", "user_unknown"),
    "exim-unknown": EximCase("nobody@exim.lab.test", "user_unknown"),
    "relay": EximCase("alice@elsewhere.example", "relay_denied"),
    "dnsbl": EximCase("alice@eximlisted.lab.test", "blocklisted"),
    # Exim does not skip a 5xx greeting: it returns the message at once
    "postscreen": EximCase("alice@screened.lab.test", "policy_rejected"),
    # deferred, then returned by the retry rule: the bounce quotes the cause, and the cause wins
    "full": EximCase("full@pf.lab.test", "mailbox_full", "mailbox_full", expired=True),
    "greylisted": EximCase("alice@grey.lab.test", "greylisted", "greylisted", expired=True),
    # deferred, then returned: the bounce says only "retry timeout exceeded" (fixtures/corpus/README.md: expired)
    "refused": EximCase("alice@down.lab.test", "expired", "network_error", expired=True),
    "hangup": EximCase("alice@hangup.lab.test", "expired", "network_error", expired=True),
    "no-greeting": EximCase("alice@mute.lab.test", "expired", "network_error", expired=True),
    "dns-tempfail": EximCase("alice@nothing.invalid", "expired", "dns_error", expired=True),
    # the sending Exim's own router: the lab's DNS says the domain does not exist ("Unrouteable address", no code)
    "nxdomain": EximCase("alice@nxdomain.lab.test", "domain_unknown"),
}


@dataclass
class EximTexts:
    failed_log: str  # the "**" line
    paragraph: str  # the bounce's paragraph for the address (the address, then the message indented)
    bounce: str  # the whole bounce (its human-readable part and its delivery-status part)
    diagnostic: str = ""  # the Diagnostic-Code field, when a remote server answered
    deferred_log: str = ""  # the "==" line of the sender that keeps deferred mail
    message_log: str = ""  # exim -Mvl of that message


@dataclass
class EximLab:
    texts: dict[str, EximTexts]
    keeper: EximSender
    message_ids: dict[str, str]  # case -> its id in the keeper's queue


@pytest.fixture(scope="module")
def exim_bounces(lab: Lab) -> Iterator[EximLab]:
    own = {name: free_ip(lab, octet) for name, octet in (("hangup", 205), ("mute", 206))}
    peers = SilentPeers(own["hangup"], own["mute"], lab.port)
    try:
        routes = {f"{d}.lab.test": lab.ip(host) for d, host in HOPS.items()}
        routes.update({"elsewhere.example": lab.ip("postfix"), "hangup.lab.test": own["hangup"],
                       "mute.lab.test": own["mute"]})
        once = EximSender.start(lab, "eximonce", routes=routes, retry="")  # no retry rule: a deferral is final
        keeper = EximSender.start(lab, "eximkeep", routes=routes)
        texts: dict[str, EximTexts] = {}
        for name, case in EXIM_CASES.items():
            message_id = once.send(case.recipient)
            human, status = dsn_parts(once.wait_bounce(message_id))
            paragraph = human.split("failed:", 1)[1].strip()
            texts[name] = EximTexts(failed_log=once.wait_log(message_id, "** "), paragraph=paragraph,
                                    bounce=f"{human}\n{status}", diagnostic=_diagnostic(status))
        kept = {}
        for name, case in EXIM_CASES.items():
            if case.deferred:
                kept[name] = message_id = keeper.send(case.recipient)
                texts[name].deferred_log = keeper.wait_log(message_id, "== ")
                texts[name].message_log = keeper.exim("-Mvl", message_id)
        yield EximLab(texts, keeper, kept)
    finally:
        peers.stop()


@pytest.mark.parametrize("name", list(EXIM_CASES))
def test_every_text_of_an_exim_failure_is_explained_as_what_happened(exim_bounces: EximLab, name: str) -> None:
    case = EXIM_CASES[name]
    texts = exim_bounces.texts[name]
    expected = {"paragraph": case.failed, "bounce": case.failed, "diagnostic": case.failed,
                "failed_log": "expired" if case.expired else case.failed}
    if case.deferred:
        expected.update(deferred_log=case.deferred, message_log=case.deferred)
    for kind, reason in expected.items():
        text = getattr(texts, kind)
        if not text:
            assert kind == "diagnostic", (name, kind)  # no remote server answered: no Diagnostic-Code
            continue
        for context in ("bounce", None):
            said = explain(text, context)
            assert said["reason"] == reason, (
                f"{name}, {kind}, context {context}: {text!r}: {said['reason']} ({said['decided_by']['summary']})")


def test_exims_own_unrouteable_address_is_the_domain_not_the_mailbox(exim_bounces: EximLab) -> None:
    """The sending Exim's "Unrouteable address" (no reply code: no server was asked) for a domain the DNS does not know
    is not "the server says the mailbox does not exist"; a remote Exim's "550 Unrouteable address" still is."""
    own = explain(exim_bounces.texts["nxdomain"].paragraph)
    assert own["rule"] == "exim-unrouteable-bounce" and "server says" not in own["meaning"]
    remote = explain(exim_bounces.texts["exim-unknown"].paragraph)
    assert (remote["code"], remote["reason"]) == (550, "user_unknown")


def test_exims_greylisted_message_goes_through_on_a_forced_retry(exim_bounces: EximLab) -> None:
    """As for Postfix: past postgrey's delay, `exim -qff` (a forced queue run) delivers the greylisted message."""
    keeper, message_id = exim_bounces.keeper, exim_bounces.message_ids["greylisted"]
    end = time.monotonic() + 60
    delivered = ""
    while time.monotonic() < end and not delivered:
        time.sleep(GREYLIST_DELAY_S / 2)
        keeper.exim("-qff")
        delivered = next((line for line in keeper.log_text().splitlines()
                          if f" {message_id} => alice@grey.lab.test" in line), "")
    assert delivered
