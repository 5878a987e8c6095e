"""probe.diagnosis.classifier: the same code gets its meaning from the context, the wording and the host."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import probe
from probe.diagnosis.classifier import classify, classify_reply, detect_provider, diagnose_event
from probe.model import Context, Reason, Reply, ReplyClass, Severity


def test_252_to_vrfy_proves_nothing_rcpt_is_the_real_test() -> None:
    d = classify("252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery", "VRFY")
    assert (d.reason, d.severity) == (Reason.CANNOT_VERIFY, Severity.INFO)
    assert "does not prove that the mailbox exists" in d.remediation and "RCPT" in d.remediation


def test_seed_meaning_of_252_and_521() -> None:
    assert "cannot verify the user but will accept the message and attempt delivery" in classify("252").meaning
    assert "does not accept mail at all" in classify("521").meaning


def test_521_banner_points_at_the_mx_records() -> None:
    d = classify("521 mx.example.net does not accept mail", "banner")
    assert d.reason is Reason.NOT_ACCEPTING_MAIL and d.severity is Severity.CRITICAL
    assert "check which host the domain's MX records name" in d.remediation


def test_554_banner_refuses_the_connection_but_after_rcpt_the_recipient() -> None:
    banner = classify("554 mx.example.net ESMTP not accepting connections from you", "banner")
    rcpt = classify("554 5.7.1 <u@example.net>: recipient blocked", "RCPT")
    assert banner.reason is Reason.POLICY_REJECTED and "connection" in banner.meaning
    assert "recipient" in rcpt.meaning and rcpt.meaning != banner.meaning


def test_a_bare_550_to_rcpt_names_no_cause_to_mail_is_sender_rejected() -> None:
    """RFC 5321 4.2.2: 550 is a missing mailbox, no access or a policy refusal alike; to MAIL the sender was refused."""
    assert classify("550 Requested action not taken", "RCPT").reason is Reason.UNKNOWN
    assert classify("550 Requested action not taken", "MAIL").reason is Reason.SENDER_REJECTED


@pytest.mark.parametrize(("text", "context"), [
    ("550 Error", None), ("550 Error", "RCPT"), ("550 Requested action not taken", "bounce"),
    ("550 5.0.0 <x@example.com>... Unknown error", None), ("554 5.0.0 Error", None),
    ("554 Transaction failed", "bounce"), ("554 Transaction failed", "RCPT"), ("450 4.0.0 Temporary failure", "RCPT"),
])
def test_codes_and_words_that_name_no_cause_are_unknown_and_keep_their_class(text: str, context: str | None) -> None:
    d = classify(text, context)
    assert d.reason is Reason.UNKNOWN and d.decided_by is not None and d.decided_by.by == "code"
    assert d.reply_class is (ReplyClass.PERMANENT if text[0] == "5" else ReplyClass.TRANSIENT)


@pytest.mark.parametrize(("text", "context", "reason"), [
    ("554 Transaction failed", "banner", Reason.POLICY_REJECTED),  # "No SMTP service here" for this client
    ("550 Error", "VRFY", Reason.USER_UNKNOWN),  # RFC 5321 3.5.3
    ("550 Error", "MAIL", Reason.SENDER_REJECTED), ("550 Error", "EHLO", Reason.HELO_REJECTED),
    ("554 Transaction failed", "after-DATA", Reason.CONTENT_REJECTED),
    ("451 4.0.0 Temporary failure", None, Reason.SYSTEM_ERROR),  # 451: "local error in processing"
    ("550 5.7.0 x", "RCPT", Reason.POLICY_REJECTED),  # any generic status but X.0 says more than a bare 550
    ("554 5.1.0 x", "RCPT", Reason.USER_UNKNOWN),
    ("550 mailbox unavailable", "RCPT", Reason.USER_UNKNOWN),  # RFC 5321's own words for a missing mailbox
    ("550 <a@example.org>: Requested action not taken: mailbox unavailable", "bounce", Reason.USER_UNKNOWN),
    ("550 Requested action not taken: mailbox unavailable (not enough free space)", "RCPT", Reason.STORAGE_FULL),
])
def test_the_command_or_the_words_name_what_a_bare_code_does_not(text: str, context: str, reason: Reason) -> None:
    assert classify(text, context).reason is reason


def test_a_bare_550_to_rcpt_still_refuses_the_address() -> None:
    from probe.judge.verdicts import address_verdict
    from probe.model import Verdict

    d = classify("550 Error", "RCPT")
    assert d.reason is Reason.UNKNOWN and address_verdict(d) is Verdict.UNDELIVERABLE
    assert "postmaster" in d.remediation and "does not say that the mailbox is missing" in d.remediation


def test_502_to_vrfy_is_normal() -> None:
    d = classify("502 5.5.1 VRFY command is disabled", "VRFY")
    assert (d.reason, d.severity) == (Reason.NOT_IMPLEMENTED, Severity.INFO)
    assert "normal" in d.remediation


@pytest.mark.parametrize(
    ("text", "reason"),
    [("530 5.7.0 Must issue a STARTTLS command first", Reason.TLS_REQUIRED),
     ("530 5.7.0 Authentication required", Reason.AUTH_REQUIRED)],
)
def test_530_to_mail_by_wording(text: str, reason: Reason) -> None:
    assert classify(text, "MAIL").reason is reason


@pytest.mark.parametrize("context", ["banner", "EHLO", "MAIL", "RCPT", None])
def test_421_anywhere_is_service_unavailable(context: str | None) -> None:
    d = classify("421 mx.example.net Service not available, closing transmission channel", context)
    assert d.reason is Reason.SERVICE_UNAVAILABLE and d.severity is Severity.WARNING


def test_microsoft_5_1_10_is_user_unknown_but_generic_5_1_10_is_null_mx() -> None:
    ms = classify("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
                  "RCPT", host="example-com.mail.protection.outlook.com")
    generic = classify("550 5.1.10 Recipient address has null MX", "RCPT")
    assert ms.reason is Reason.USER_UNKNOWN and ms.rule == "m365-recipient-not-found"
    assert ms.provider is not None and "Microsoft" in ms.provider
    assert generic.reason is Reason.NOT_ACCEPTING_MAIL and generic.rule is None


def test_remediation_names_where_it_was_seen() -> None:
    d = classify("550 5.1.1 unknown", "RCPT", host="mx1.example.org")
    assert d.remediation.startswith("RCPT reply from mx1.example.org:")


def test_enhanced_code_beats_the_basic_default() -> None:
    d = classify("452 4.2.2 Mailbox full", "RCPT")
    assert d.reason is Reason.MAILBOX_FULL and d.severity is Severity.WARNING
    assert d.reply_class is ReplyClass.TRANSIENT


@pytest.mark.parametrize(("text", "part"), [("550 5.9.9 odd", "5.9.9 is not a registered"),
                                           ("550 5.1.99 odd", "5.1.99 is not a registered")])
def test_unregistered_enhanced_code_falls_back_and_says_so(text: str, part: str) -> None:
    d = classify(text, "RCPT")
    assert d.notes and part in d.notes[0]
    # X.9 is no subject: the basic code's entry for RCPT, which names no cause; X.1 is the addressing subject
    assert d.reason is (Reason.BAD_ADDRESS if text.startswith("550 5.1.") else Reason.UNKNOWN)


def test_unregistered_basic_code_uses_its_class() -> None:
    d = classify("599 strange")
    assert d.reason is Reason.UNKNOWN and d.severity is Severity.CRITICAL
    assert "599 is not a registered SMTP reply code" in d.notes[0]


def test_greylisting_wording() -> None:
    assert classify("451 4.7.1 Please try again later, you are greylisted", "RCPT").reason is Reason.GREYLISTED


def test_not_a_reply_is_protocol_error_only_from_a_live_peer() -> None:
    """Issue 10 (1): protocol_error is for a live session's peer that does not speak SMTP; the same words pasted
    (classify, explain, bounces) are judged by their words, and are unknown when those say nothing."""
    live = classify_reply(Reply(-1, ("SSH-2.0-OpenSSH_9.6",)), Context.BANNER)
    pasted = classify("SSH-2.0-OpenSSH_9.6", "banner")
    assert live.reason is Reason.PROTOCOL_ERROR
    assert pasted.reason is Reason.UNKNOWN and pasted.code is None


def test_unknown_context_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown reply context"):
        classify("250 ok", "SEND")


def test_public_api_is_the_engine() -> None:
    assert probe.classify("250 2.1.5 ok", "rcpt").to_dict()["reason"] == "accepted"


def test_classify_reply_from_the_wire() -> None:
    assert classify_reply(Reply(550, ("5.1.1 no such user",)), Context.RCPT).reason is Reason.USER_UNKNOWN
    assert classify_reply(Reply(-1, ("HTTP/1.1 400 Bad Request",)), Context.BANNER).reason is Reason.PROTOCOL_ERROR


def test_detect_provider_by_host_and_text() -> None:
    assert detect_provider("alt1.aspmx.l.google.com.", "") == "google"
    assert detect_provider(None, "550 5.7.1 ... gsmtp") == "google"
    assert detect_provider("mx.example.org", "550 no") is None


def test_events_weave_the_detail() -> None:
    d = diagnose_event("reply-timeout", Context.RCPT, detail="while waiting for the reply to RCPT TO")
    assert d.reason is Reason.NETWORK_ERROR
    assert d.meaning == "No complete reply arrived before the timeout (while waiting for the reply to RCPT TO)."
    assert diagnose_event("dns-servfail").reason is Reason.DNS_ERROR
    assert diagnose_event("null-mx").reason is Reason.NOT_ACCEPTING_MAIL


def test_unknown_event_is_generic_not_an_exception() -> None:
    d = diagnose_event("martians-landed", detail="x")
    assert d.reason is Reason.NETWORK_ERROR and "not a known probe event" in d.notes[0]


_reply_line = st.builds(
    lambda code, enh, text, sep: f"{code}{sep}{enh}{text}",
    st.integers(0, 999), st.sampled_from(["", "5.1.1 ", "4.7.0 ", "2.0.0 ", "5.9.99 ", "5.1.10 "]),
    st.text(max_size=120), st.sampled_from([" ", "-", ""]),
)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=300), _reply_line), st.sampled_from([None, *[c.value for c in Context]]),
       st.one_of(st.none(), st.sampled_from(["mx.l.google.com", "x.mail.protection.outlook.com", ""])))
def test_classify_never_raises_and_always_gives_a_spec_reason(text: str, context: str | None,
                                                              host: str | None) -> None:
    d = classify(text, context, host=host)
    assert isinstance(d.reason, Reason) and isinstance(d.severity, Severity)
    assert d.meaning and d.remediation and d.when
    d.to_dict()


@pytest.mark.parametrize(("text", "reason"), [("252 2.1.5 Cannot verify, will attempt delivery", Reason.CANNOT_VERIFY),
                                              ("251 2.1.5 User not local; will forward", Reason.WILL_FORWARD)])
def test_specific_2xx_code_beats_a_generic_success_status(text: str, reason: Reason) -> None:
    assert classify(text, "RCPT").reason is reason
    assert classify(text).reason is reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    ("502 5.5.2 Error: command not recognized", "EHLO", Reason.NOT_IMPLEMENTED),
    ("500 5.5.1 Command unrecognized", "EHLO", Reason.NOT_IMPLEMENTED),
    ("503 5.5.1 Error: need MAIL command", "RCPT", Reason.BAD_SEQUENCE),
    ("504 5.5.4 Unrecognized authentication type", "AUTH", Reason.NOT_IMPLEMENTED),
    ("501 5.5.4 x", "HELO", Reason.HELO_REJECTED),
])
def test_protocol_status_does_not_hide_what_the_basic_code_says(text: str, context: str, reason: Reason) -> None:
    assert classify(text, context).reason is reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # Postfix answers a HELO without a name so (github:vdukhovni/postfix/postfix/src/smtpd/smtpd.c)
    ("501 Syntax: HELO hostname", "HELO", Reason.SYNTAX_ERROR),
    ("501 5.5.4 Syntax: MAIL FROM:<address>", "MAIL", Reason.SYNTAX_ERROR),
    # Gmail (https://support.google.com/a/answer/3726730)
    ("501-5.5.4 Empty HELO/EHLO argument not allowed, closing connection.\n501 5.5.4 - gsmtp", "EHLO",
     Reason.SYNTAX_ERROR),
    # a refused name is still helo_rejected (Postfix smtpd_check.c: reject_invalid_helo_hostname)
    ("501 5.5.2 <mail_server!>: Helo command rejected: Invalid name", "HELO", Reason.HELO_REJECTED),
    # RFC 5321 §3.3 names 503 "command out of sequence"; Postfix says "send HELO/EHLO first"
    ("503 Command out of sequence", "DATA", Reason.BAD_SEQUENCE),
    ("503 5.5.1 Error: send HELO/EHLO first", "MAIL", Reason.BAD_SEQUENCE),
])
def test_the_clients_own_syntax_errors_are_syntax_error(text: str, context: str, reason: Reason) -> None:
    """Issue 10 (9): a HELO without a name or a malformed MAIL FROM is the client's syntax error, not a refusal
    of its name or sender; a command out of order is bad_sequence."""
    assert classify(text, context).reason is reason


@pytest.mark.parametrize("context", ["VRFY", "RCPT", "EXPN", None])
def test_252_is_cannot_verify_whatever_the_words(context: str | None) -> None:
    """Issue 10 (8): Exim's stock VRFY refusal (github:Exim/exim/src/src/smtp_in.c) is a 252, not a rejection."""
    d = classify("252 Administrative prohibition", context)
    assert d.reason is Reason.CANNOT_VERIFY and d.severity is not Severity.CRITICAL
    assert d.decided_by is not None and d.decided_by.by == "code" and d.rule is None


@pytest.mark.parametrize("text", [  # constructed to test the invariant: refusal words under success codes
    "250 2.1.5 Recipient address rejected: Access denied",
    "221 2.0.0 Bye: too many connections from your host.",
])
def test_a_2xx_is_never_a_rejection(text: str) -> None:
    d = classify(text, "RCPT")
    assert d.reason in (Reason.ACCEPTED, Reason.CANNOT_VERIFY, Reason.WILL_FORWARD)


@pytest.mark.parametrize(("text", "context", "reason"), [
    ("503 5.5.1 Error: need MAIL command", "RCPT", Reason.BAD_SEQUENCE),
    ("503 5.5.1 x", "DATA", Reason.BAD_SEQUENCE),  # the basic code decides, not the wording
    ("504 5.5.4 Unrecognized authentication type", "AUTH", Reason.NOT_IMPLEMENTED),
    ("504 5.5.4 x", "MAIL", Reason.NOT_IMPLEMENTED),
    ("552 5.7.0 Message rejected by policy", "after-DATA", Reason.POLICY_REJECTED),
    # issue 10 (5): a forbidden attachment is content, whatever the security-or-policy status says
    ("552 5.7.0 Our system detected an illegal attachment on your message", "after-DATA", Reason.CONTENT_REJECTED),
    ("552 5.3.4 Message size exceeds fixed limit", "after-DATA", Reason.MESSAGE_TOO_BIG),
    ("552 5.2.2 x", "RCPT", Reason.MAILBOX_FULL),
    ("550 5.7.750 x", "RCPT", Reason.POLICY_REJECTED),
    ("554 5.6.11 Message contains bare CR", "after-DATA", Reason.CONTENT_REJECTED),
    ("554 5.6.11 x", "RCPT", Reason.CONTENT_REJECTED),
    ("252 2.1.5 Cannot VRFY user, but will accept message", "RCPT", Reason.CANNOT_VERIFY),
    ("251 2.1.5 User not local; will forward", "RCPT", Reason.WILL_FORWARD),
    ("502 5.5.2 Error: command not recognized", "EHLO", Reason.NOT_IMPLEMENTED),
    ("502 5.5.2 x", "EHLO", Reason.NOT_IMPLEMENTED),
])
def test_precedence_of_basic_code_enhanced_status_and_wording(text: str, context: str, reason: Reason) -> None:
    assert classify(text, context).reason is reason


def test_unregistered_x7_detail_is_explained_by_its_subject_not_the_550_default() -> None:
    d = classify("550 5.7.750 Client blocked", "RCPT")
    assert d.reason is Reason.POLICY_REJECTED and d.rule is None
    assert "security or policy" in d.meaning and "does not exist" not in d.meaning
    assert d.notes and "5.7.750 is not a registered" in d.notes[0] and "subject X.7" in d.notes[0]


def test_unregistered_detail_whose_subject_agrees_keeps_the_basic_entry() -> None:
    assert classify("552 5.2.99 x", "RCPT").reason is Reason.MAILBOX_FULL  # X.2 mailbox: a full mailbox fits
    assert classify("550 5.1.99 x", "RCPT").reason is Reason.BAD_ADDRESS  # a bare 550 names no cause: X.1 speaks
    assert classify("503 5.5.99 x", "RCPT").reason is Reason.BAD_SEQUENCE
    assert classify("250 2.7.99 x", "RCPT").reason is Reason.ACCEPTED


@pytest.mark.parametrize("text", ["554 No SMTP service here", "554 5.7.1 mx.example.net no SMTP service here"])
def test_554_no_smtp_service_in_the_banner_refuses_the_connection(text: str) -> None:
    d = classify(text, "banner")
    assert d.reason is Reason.POLICY_REJECTED and d.rule != "null-mx-does-not-accept-mail"
    assert "connection" in d.meaning


def test_domain_that_accepts_no_mail_is_still_recognised_by_its_wording() -> None:
    d = classify("550 5.7.27 <a@nomail.example>: Sender address rejected: Domain nomail.example does not accept mail",
                 "MAIL")
    # the sender's domain publishes a null MX (RFC 7505 X.7.27): the rule that says so, not the generic one
    assert (d.reason, d.rule) == (Reason.SENDER_REJECTED, "null-mx-sender")
    assert classify("521 5.3.2 mx.example.org does not accept mail", "banner").reason is Reason.NOT_ACCEPTING_MAIL
    assert classify("556 5.1.10 Domain example.org does not accept mail (nullMX)", "RCPT").rule == \
        "null-mx-does-not-accept-mail"


@pytest.mark.parametrize("text", ["550 5.7.0 Go away", "550 5.3.0 Refused", "550 5.4.0 Refused", "550 5.5.0 Refused",
                                  "553 5.7.0 Refused"])
def test_generic_non_address_status_on_rcpt_is_not_an_unknown_user(text: str) -> None:
    d = classify(text, "RCPT")
    assert d.reason not in (Reason.USER_UNKNOWN, Reason.BAD_ADDRESS), d
    assert "does not exist" not in d.meaning.replace("says nothing about whether the mailbox exists", "")


@pytest.mark.parametrize(("text", "reason"), [("550 5.1.0 x", Reason.USER_UNKNOWN),
                                              ("550 5.2.1 x", Reason.MAILBOX_DISABLED),  # RFC 3463: the mailbox exists
                                              ("550 Requested action not taken", Reason.UNKNOWN)])
def test_address_and_mailbox_statuses_say_more_than_a_bare_550(text: str, reason: Reason) -> None:
    assert classify(text, "RCPT").reason is reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    ("550 5.7.0 Your server IP address is in the SORBS DNSBL", "RCPT", Reason.BLOCKLISTED),
    ("550 5.7.1 Client 192.0.2.7 is listed on one or more DNS blocklists", "RCPT", Reason.BLOCKLISTED),
    ("550 Your IP 192.0.2.7 is blacklisted", "RCPT", Reason.BLOCKLISTED),
    # an IP blocked without a list's name: the provider's own ban (SPEC), read by the pairs (test_rule_precision.py)
    ("550 Your IP is blocked", "RCPT", Reason.BLOCKLISTED),
    ("550 5.7.1 Sender IP reputation is bad", "RCPT", Reason.BAD_REPUTATION),
    ("554 5.7.1 Rejected because of poor reputation of 192.0.2.7", "RCPT", Reason.BAD_REPUTATION),
    # "Relaying denied" decides; Sendmail appends why it could not trust the client (fixtures/corpus/README.md)
    ("550 5.7.1 <a@example.org>... Relaying denied. IP name lookup failed [192.0.2.7]", "RCPT", Reason.RELAY_DENIED),
    ("450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.7]", "RCPT", Reason.REVERSE_DNS),
    ("550 5.3.2 Service currently unavailable", "RCPT", Reason.POLICY_REJECTED),
    ("521 5.3.2 Service currently unavailable", "banner", Reason.POLICY_REJECTED),
    ("450 4.3.2 Service currently unavailable", "RCPT", Reason.GREYLISTED),
    ("450 4.7.1 <a@example.org>: Recipient address rejected: Service is unavailable (try later)", "RCPT",
     Reason.GREYLISTED),
])
def test_policy_refusals_on_rcpt_are_named_by_their_wording(text: str, context: str, reason: Reason) -> None:
    assert classify(text, context).reason is reason


def test_a_policy_refusal_is_not_an_undeliverable_address() -> None:
    from probe.judge.verdicts import address_verdict
    from probe.model import Verdict

    for text in ("550 5.7.0 Go away", "550 Your IP is blocked", "550 5.7.0 Your server IP address is in the SORBS DNSBL"):
        assert address_verdict(classify(text, "RCPT")) is not Verdict.UNDELIVERABLE, text


# Details as the DNS, connection, wire and session layers really emit them (probe/runner.py, session.py,
# wire.py, wireerrors.py, resolve.py, proxy.py).
REALISTIC_DETAILS = {
    "connect-refused": ["connection to 192.0.2.1 port 25 refused"],
    "connect-timeout": ["connection to 192.0.2.1 port 25 timed out"],
    "connect-unreachable": ["192.0.2.1 port 25 unreachable: Network is unreachable",
                            "cannot connect to 2001:db8::1 port 25: Address family not supported by protocol"],
    "connection-reset": ["while waiting for the reply to RCPT TO:<a@example.org>",
                         "while waiting for the banner; received '220-mx.example.org'"],
    "connection-closed": ["while waiting for the banner", "while waiting for the reply to EHLO probe.example.net"],
    "reply-timeout": ["while waiting for the reply to RCPT TO:<a@example.org>", "while waiting for the banner"],
    "protocol-error": ["server sent 'HTTP/1.1 400 Bad Request', not an SMTP reply",
                       "reply lines carry different codes (250 then 251)", "the peer sent 'SSH-2.0-OpenSSH_9.6'",
                       "no reply recorded", "server sent data after its 220 reply to STARTTLS"],
    "reply-too-long": ["reply longer than 65536 bytes while reading the reply to EHLO probe.example.net"],
    "tls-handshake-failed": [
        "TLS handshake failed: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000); continuing in "
        "plain text on a new connection", "TLS handshake did not finish within 10 s; stopping (--starttls require)"],
    "tls-untrusted": ["self-signed certificate", "Hostname mismatch, certificate is not valid for 'mx.example.org'."],
    "starttls-not-offered": ["--starttls require is set, so the probe stopped"],
    "deadline-exceeded": ["the session's deadline passed before RCPT TO:<a@example.org>",
                          "the deadline passed before this host was tried"],
    "dns-nxdomain": ["nx.example.test"],
    "dns-servfail": ["SERVFAIL from 127.0.0.1:53",
                     "address lookup for a.example.test (no MX records): SERVFAIL from 127.0.0.1:53"],
    "dns-refused": ["REFUSED from 127.0.0.1:53"],
    "dns-timeout": ["no answer within 1 s from 127.0.0.1:53"],
    "null-mx": ["n.example.test"],
    "no-mail-hosts": ["nomail.example.test", "mx.example.test has no address", "no address records (A or AAAA)"],
    "smtputf8-required": ["the sender address needs SMTPUTF8 and the server does not offer it",
                          "bjørn@example.org needs SMTPUTF8 (non-ASCII local part) and the server does not offer "
                          "it; not sent"],
    "proxy-failed": ["the SOCKS proxy at 127.0.0.1:1080 did not complete the connection to 192.0.2.1:25 within "
                     "5 s [proxy-timeout]"],
    "port25-blocked": ["3 of 3 MX addresses timed out on port 25"],
    "quit-sent": ["no 221 came within the wait"],
    "not-asked": ["not sent: this session already used the 10 non-mail commands servers "
                  "commonly allow (Exim closes the connection at the next one)"],
}


def test_realistic_details_cover_every_event() -> None:
    from probe.diagnosis.catalogue import default

    assert set(REALISTIC_DETAILS) == set(default().events)


@pytest.mark.parametrize(("event", "detail"), [(e, d) for e, ds in REALISTIC_DETAILS.items() for d in [*ds, ""]])
def test_event_meaning_reads_as_one_sentence_with_its_detail(event: str, detail: str) -> None:
    import itertools
    import re

    meaning = diagnose_event(event, Context.CONNECT, detail=detail).meaning
    shown = detail.rstrip(".")
    assert shown in meaning and "{detail}" not in meaning
    body = (meaning.replace(shown, "DETAIL") if shown else meaning).replace("'0 .'", "'0.'")
    assert "[" not in body and "]" not in body, meaning  # no template left over
    words = re.findall(r"[a-z][a-z'-]*", meaning.lower())
    doubled = [a for a, b in itertools.pairwise(words) if a == b]
    assert not doubled, f"doubled {doubled} in {meaning!r}"
    assert body[0].isupper() and body.endswith(".") and not body.endswith(".."), meaning
    assert ". " not in body and "  " not in body and " ." not in body and " ," not in body, meaning
    assert body.count("(") == body.count(")"), meaning


def test_reply_timeout_advice_depends_on_the_step() -> None:
    banner = diagnose_event("reply-timeout", Context.BANNER, detail="while waiting for the banner")
    rcpt = diagnose_event("reply-timeout", Context.RCPT, detail="while waiting for the reply to RCPT TO:<a@b.example>")
    assert "greeting" in banner.remediation
    assert "greeting" not in rcpt.remediation and "after the command" in rcpt.remediation


def test_dns_refused_is_its_own_event() -> None:
    d = diagnose_event("dns-refused", Context.DNS, detail="REFUSED from 127.0.0.1:53")
    assert d.reason is Reason.DNS_ERROR and "SERVFAIL" not in d.meaning and "refused" in d.meaning


def test_when_follows_the_rule_not_the_code_it_overrides() -> None:
    """A blocklist wording on a 550 to RCPT must not say 'for an address the server does not know'."""
    blocked = classify("550 5.7.0 Your server IP address is in the SORBS DNSBL", "RCPT")
    usual = classify("550 5.1.1 <x@example.com>: Recipient address rejected: User unknown", "RCPT")
    assert blocked.reason is Reason.BLOCKLISTED and "does not know" not in blocked.when
    assert "blocklisted" in blocked.when and "RCPT TO" in blocked.when
    assert usual.reason is Reason.USER_UNKNOWN


@pytest.mark.parametrize(("text", "context", "reason", "bare"), [
    # A blocklist named under 5.2.1 ("mailbox disabled"): github:zone-eu/zone-mta/config/bounces.txt (a commented example)
    ("550 5.2.1 Mailbox unavailable. Your IP address 192.0.2.44 is blacklisted using SPAMHAUS-XBL. Details: "
     "https://www.spamhaus.org/query/ip/192.0.2.44.", "RCPT", Reason.BLOCKLISTED, "550 5.2.1"),
    # Orange's full mailbox under 5.1.1 ("bad destination mailbox"): same file
    ("552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]", "RCPT", Reason.MAILBOX_FULL,
     "552 5.1.1"),
    # Exchange Online's directory-based edge blocking under 5.4.1 ("no answer from host"): Microsoft's NDR docs
    ("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "RCPT", Reason.USER_UNKNOWN, "550 5.4.1"),
])
def test_specific_words_beat_a_misused_enhanced_code(text: str, context: str, reason: Reason, bare: str) -> None:
    """Issue 10 (7): when the wording is specific it decides; the code alone says something else."""
    assert classify(bare, context).reason is not reason
    got = classify(text, context)
    assert got.reason is reason
    assert got.decided_by is not None and got.decided_by.by in ("rule", "lexicon")


def test_a_cause_after_microsofts_generic_refusal_decides() -> None:
    """OpenSMTPD words its content refusal as RFC 3463's description of X.7.1 followed by the cause
    (github:OpenSMTPD/OpenSMTPD usr.sbin/smtpd/smtp_session.c); the cause decides, not Exchange's bare sentence."""
    d = classify("550 5.7.1 Delivery not authorized, message refused: Message is not RFC 2822 compliant", "DATA")
    assert d.reason is Reason.CONTENT_REJECTED
    assert classify("550 5.7.1 Delivery not authorized, message refused", "RCPT").rule == "m365-delivery-restriction"


def test_words_that_fit_any_address_do_not_claim_an_unknown_user() -> None:
    """'invalid address' and 'does not exist' may be said of the sender or of a domain: the generic user-unknown
    rule does not take them; the words are weighed with the command. At MAIL an invalid address is the client's own
    MAIL FROM (fixtures/corpus/README.md 'sender syntax'; the rule hmailserver-sender-not-valid reads hMailServer's
    'The address is not valid' so): the pair layer (probe.diagnosis.pairs) gives syntax_error, no unknown user."""
    assert classify("550 Invalid address", "MAIL").reason is Reason.SYNTAX_ERROR
    assert classify("550 The user does not exist", "RCPT").reason is Reason.USER_UNKNOWN
