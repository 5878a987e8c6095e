"""What a reply code means when its words say nothing the rules or the lexicon know (codes.toml, enhanced.toml):
the defaults under the words, each fixed by the RFC that defines the code."""

from __future__ import annotations

import pytest

from probe.diagnosis.catalogue import load
from probe.diagnosis.classifier import classify, diagnose
from probe.diagnosis.codes import parse
from probe.model import Context, Reason


def _words_off(text: str, context: str) -> Reason:
    """The reason with every wording rule off: what unseen wording meets."""
    return diagnose(parse(text), Context.parse(context), catalogue=load(rules="")).reason


@pytest.mark.parametrize("context", ["banner", "MAIL", "RCPT", "DATA", "after-DATA", "bounce"])
def test_421_with_a_mail_system_status_is_the_receivers_own_failure(context: str) -> None:
    """RFC 3463 §3.4: X.3.0 names the destination system as the cause, which a bare 421 leaves open; unlike X.0.0
    it is no weak status."""
    assert classify("421 4.3.0", context).reason is Reason.SYSTEM_ERROR
    assert classify("421", context).reason is Reason.SERVICE_UNAVAILABLE
    assert classify("554 5.3.0", "after-DATA").reason is Reason.SYSTEM_ERROR  # qmail's 'qq permanent problem'
    assert classify("450 4.0.0", "banner").reason is not Reason.SYSTEM_ERROR  # X.0.0 still adds nothing


def test_a_directory_server_failure_is_no_dns_failure_unless_the_words_say_dns() -> None:
    """RFC 3463 §3.5: X.4.3 is a directory server failure, DNS being 'one example'."""
    assert classify("451 4.4.3", "RCPT").reason is Reason.SYSTEM_ERROR
    # chasquid's recipient lookup failing (its smtpsrv/conn.go), with every rule off
    assert _words_off("451 4.4.3 Temporary error checking address", "RCPT") is Reason.SYSTEM_ERROR
    # qmail's own DNS wording still decides dns_error
    assert _words_off("CNAME lookup failed temporarily. (#4.4.3)", "bounce") is Reason.DNS_ERROR


def test_554_to_data_is_no_valid_recipients() -> None:
    """RFC 5321 §3.3: 'no valid recipients' (554) to DATA, like 503, when every RCPT was refused."""
    assert classify("554", "DATA").reason is Reason.BAD_SEQUENCE
    assert classify("554", "RCPT").reason is Reason.UNKNOWN


def test_500_after_the_data_refuses_the_messages_lines() -> None:
    """RFC 5321 §4.2.2 ('command line too long') and §4.5.3.1.6 (1000-octet lines): after the final dot, the lines
    the server could not take are the message's."""
    assert classify("500", "after-DATA").reason is Reason.CONTENT_REJECTED
    assert classify("500", "MAIL").reason is Reason.SYNTAX_ERROR


def test_550_to_vrfy_is_an_unknown_user_whatever_the_enhanced_code() -> None:
    """RFC 5321 §3.5.3: 550 to VRFY is 'String does not match anything'; Stalwart (crates/smtp/src/inbound/vrfy.rs)
    attaches 5.1.2 to it."""
    assert classify("550 5.1.2", "VRFY").reason is Reason.USER_UNKNOWN
    assert classify("550 5.1.2", "RCPT").reason is Reason.DOMAIN_UNKNOWN


def test_a_server_shutting_down_is_unavailable_whatever_its_status() -> None:
    """Stalwart's '421 4.3.0 Server shutting down.' (crates/smtp/src/inbound/mod.rs): the words beat X.3.0."""
    assert _words_off("421 4.3.0 Server shutting down.", "MAIL") is Reason.SERVICE_UNAVAILABLE


def test_starttls_not_implemented_or_failing_is_no_tls() -> None:
    """A 502 to STARTTLS: the server does not do TLS (fixtures/corpus/README.md, 'STARTTLS replies'); a 554 there
    (Exim's 'Security failure') is TLS failing; a 503 stays a sequence error ('already speaking TLS')."""
    assert classify("502 5.5.1", "STARTTLS").reason is Reason.TLS_FAILURE
    assert _words_off("502 5.5.1 TLS support is not enabled.", "STARTTLS") is Reason.TLS_FAILURE  # Dovecot
    assert classify("554", "STARTTLS").reason is Reason.TLS_FAILURE
    assert classify("502 5.5.1", "HELP").reason is Reason.NOT_IMPLEMENTED
    assert classify("503 5.5.1", "STARTTLS").reason is Reason.BAD_SEQUENCE


@pytest.mark.parametrize("context", ["HELP", "EXPN"])
def test_500_to_an_optional_command_is_not_implemented(context: str) -> None:
    """RFC 5321 §4.5.1: HELP and EXPN are not among the commands a server must support; 'command unrecognized'
    to them says the server does not do them (Postfix's '500 5.5.2 Error: command not recognized' to HELP)."""
    assert classify("500 5.5.2", context).reason is Reason.NOT_IMPLEMENTED
    assert classify("500 5.5.2", "MAIL").reason is Reason.SYNTAX_ERROR


@pytest.mark.parametrize("context", ["banner", "EHLO", "MAIL", "RCPT", "after-DATA", "bounce"])
def test_421_says_why_it_closes_when_its_enhanced_code_does(context: str) -> None:
    """RFC 5321 §4.2.2: 421 closes the channel, and may answer any command; the enhanced status says why (RFC 3463
    §3.4-3.8): the mail system (4.3.0), a connection that broke off (4.4.2), a sender not authorised (4.7.1,
    OpenSMTPD-like '421 4.7.1 Intrusion prevention active'), a security or policy deferral (4.7.0: the SPEC's
    rate_limited '4.7.0 / 421', Google's '421 4.7.0 Try again later, closing connection'). A 421 that closes for
    policy is no server out of service. Bare, at the greeting or to RCPT, it still is."""
    assert classify("421 4.3.0", context).reason is Reason.SYSTEM_ERROR
    assert classify("421 4.4.2", context).reason is Reason.NETWORK_ERROR
    assert classify("421 4.7.1", context).reason is Reason.POLICY_REJECTED
    assert classify("421 4.7.0", context).reason is Reason.RATE_LIMITED
    assert classify("421 4.3.2", context).reason is Reason.SERVICE_UNAVAILABLE  # 'system not accepting messages'
    assert classify("421", context).reason is Reason.SERVICE_UNAVAILABLE
    assert classify("451 4.7.0", "RCPT").reason is Reason.SYSTEM_ERROR  # 451's own cause: local error in processing


@pytest.mark.parametrize(("text", "context"), [("450 4.2.0", "bounce"), ("550 5.2.0", "RCPT"),
                                               ("550 5.2.0", "bounce"), ("450 4.2.0", "RCPT")])
def test_an_undefined_mailbox_status_names_no_cause(text: str, context: str) -> None:
    """RFC 3463 §3.3 X.2.0 'Other or undefined mailbox status': 'The mailbox exists, but something about the
    destination mailbox has caused the sending of this DSN' -- not that it is disabled (X.2.1), full (X.2.2) or too
    small (X.2.3). Dev: 16 replies carry X.2.0, none labelled mailbox_disabled ('450 4.2.0 ... Recipient temporarily
    unavailable' is unknown, fixtures/corpus/README.md 'unknown vs a code's default')."""
    assert classify(text, context).reason is Reason.UNKNOWN
    assert classify(text.replace(".2.0", ".2.1"), context).reason is Reason.MAILBOX_DISABLED
    assert classify("552 5.2.0", "after-DATA").reason is Reason.MESSAGE_TOO_BIG  # the basic code names a cause
    # an unregistered X.2 detail still falls back on its subject, whatever 'unknown' X.2.0 gives
    assert classify("550 5.2.99", "RCPT").reason is Reason.MAILBOX_DISABLED


@pytest.mark.parametrize("context", ["MAIL", "RCPT", "DATA", "after-DATA"])
def test_a_weak_mechanism_status_outside_auth_is_a_policy_refusal(context: str) -> None:
    """X.7.9 'Authentication mechanism is too weak' is registered (RFC 4954 §6, IANA: basic code 534) as 'this
    response to the AUTH command'; to other commands no mechanism is being judged (Yahoo's '554 5.7.9 Message not
    accepted for policy reasons'): the security or policy subject, X.7."""
    assert classify("554 5.7.9", context).reason is Reason.POLICY_REJECTED
    assert classify("534 5.7.9", "AUTH").reason is Reason.CREDENTIALS_INVALID


def test_452_to_rcpt_is_the_recipient_limit() -> None:
    """RFC 5321 §4.5.3.1.10: 'The correct reply code for this condition [too many recipients] is 452'; the SPEC's
    rate_limited names too many recipients. An enhanced code still says which storage a 452 means."""
    assert classify("452", "RCPT").reason is Reason.RATE_LIMITED
    assert classify("452 4.5.3", "RCPT").reason is Reason.RATE_LIMITED
    assert classify("452 4.3.1", "RCPT").reason is Reason.STORAGE_FULL
    assert classify("452 4.2.2", "RCPT").reason is Reason.MAILBOX_FULL
    assert classify("452", "MAIL").reason is Reason.STORAGE_FULL  # RFC 1870 §6: SIZE the server cannot store now
    assert classify("452", "after-DATA").reason is Reason.STORAGE_FULL


def test_an_other_address_status_in_a_bounce_names_no_cause() -> None:
    """RFC 3463 §3.2 X.1.0: 'Something about the address specified in the message caused this DSN'. Without the
    command it answered it does not even say which address: Postfix's smtpd_check.c gives 5.1.0 to an unknown
    sender. To RCPT the address is the recipient's; to MAIL the sender's."""
    assert classify("550 5.1.0", "bounce").reason is Reason.UNKNOWN
    assert classify("550 5.1.0", "RCPT").reason is Reason.USER_UNKNOWN
    assert classify("550 5.1.0", "MAIL").reason is Reason.SENDER_REJECTED
    assert classify("550 5.1.1", "bounce").reason is Reason.USER_UNKNOWN


def test_mail_system_congestion_is_an_overloaded_server() -> None:
    """RFC 3463 §3.5 X.4.5 'Mail system congestion ... useful only as a persistent transient error': an overloaded
    server (SPEC service_unavailable: 'overloaded'), as maddy's '451 4.4.5 High load, try again later' and Google's
    '421 4.4.5 Server busy' say. Google's permanent 5.4.5 is its daily sending limit."""
    assert classify("451 4.4.5", "RCPT").reason is Reason.SERVICE_UNAVAILABLE
    assert classify("421 4.4.5", "banner").reason is Reason.SERVICE_UNAVAILABLE
    assert classify("550 5.4.5", "MAIL").reason is Reason.RATE_LIMITED


def test_an_auth_mechanism_code_in_a_bounce_is_a_policy_refusal() -> None:
    """RFC 4954 §6 (the IANA registry): X.7.9 'This response to the AUTH command indicates that the selected
    authentication mechanism is weaker than server policy permits'. A bounce reports a message's refused delivery,
    not a reply to AUTH: Yahoo's after-DATA '554 5.7.9 Message not accepted for policy reasons' is what bounces
    carry, so the code alone there is a policy refusal, as to MAIL, RCPT and the data."""
    assert classify("554 5.7.9", "bounce").reason is Reason.POLICY_REJECTED
    assert classify("554 5.7.9", "after-DATA").reason is Reason.POLICY_REJECTED
    assert classify("534 5.7.9", "AUTH").reason is Reason.CREDENTIALS_INVALID
