"""The pair layer read alone agrees with the lexicon's phrases by the definitions (issue 10: the pairs read the next
server's variant wordings, which the lexicon does not know). Each case is a real text from the source its lexicon
phrase cites; benchmarks/bench_pair_precision.py measures the whole lexicon this way."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from probe.diagnosis.catalogue import default, load
from probe.diagnosis.classifier import diagnose
from probe.diagnosis.codes import parse
from probe.diagnosis.pairs import judge_pairs, over_phrases
from probe.model import Context, Reason


def _pairs(text: str, context: str) -> tuple[Reason | None, tuple[str, ...]]:
    verdict = judge_pairs(parse(text), Context.parse(context), default())
    return (verdict.reason, verdict.words) if verdict is not None else (None, ())


@pytest.mark.parametrize(("text", "context", "reason", "words"), [
    # Sendmail, github:deepin-community/sendmail sendmail/srvrsmtp.c ("421 4.7.0 ... Too many bad commands; closing
    # connection"); hMailServer, SMTPConnection.cpp ("Too many invalid commands"): README 'too many errors / bad
    # commands' is rate_limited: 'bad' says which commands are counted, not what is wrong with one
    ("421 4.7.0 mx.example.org Too many bad commands; closing connection", "bounce", Reason.RATE_LIMITED,
     ("commands", "too many")),
    ("Too many invalid commands", "MAIL", Reason.RATE_LIMITED, ("commands", "too many")),
    # but a count of what one command carries is its syntax (Sendmail's srvrsmtp.c: 'Too many parameters')
    ("Too many parameters", "MAIL", None, ()),
])
def test_a_quantity_counts_the_subject_after_it_and_its_modifiers_say_which(
        text: str, context: str, reason: Reason | None, words: tuple[str, ...]) -> None:
    assert _pairs(text, context) == (reason, words)


@pytest.mark.parametrize(("text", "context", "reason"), [
    # qpsmtpd, github:smtpd/qpsmtpd lib/Qpsmtpd/SMTP.pm (connect hook DENY, DENYSOFT); Tencent's 'connection denied'
    # (github:sisimai/p5-sisimai lib/Sisimai/Rhost/Tencent.pm): the server refuses this client, README
    # not_accepting_mail vs policy_rejected
    ("550 Connection from you denied, bye bye.", "banner", Reason.POLICY_REJECTED),
    ("Connection from you temporarily denied, bye bye.", "banner", Reason.POLICY_REJECTED),
    # the socket's ECONNREFUSED and notqmail's qmail-qmqpc.c stay network_error (README network_error row)
    ("connect to mx.example.org[192.0.2.1]:25: Connection refused", "bounce", Reason.NETWORK_ERROR),
    ("connection to mail server rejected (#4.4.1)", "bounce", Reason.NETWORK_ERROR),
])
def test_a_connection_denied_is_policy_and_a_connection_refused_the_network(
        text: str, context: str, reason: Reason) -> None:
    assert _pairs(text, context)[0] is reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # Postfix, github:vdukhovni/postfix postfix/src/dns/dns_lookup.c ('Invalid host or domain name'): RFC 3463 X.1.2
    # 'Bad destination system address' is a destination system that does not exist (SPEC domain_unknown)
    ("Invalid host or domain name", "bounce", Reason.DOMAIN_UNKNOWN),
    ("Invalid host or domain name", "RCPT", Reason.DOMAIN_UNKNOWN),
    ("Invalid host or domain name", "MAIL", Reason.SENDER_REJECTED),  # README sender syntax: the sender's domain
    # poolpOrg's filter-checksenderdomain.go (a 550 'unknown sender domain'): a domain named as the sender's
    ("unknown sender domain", "RCPT", Reason.SENDER_REJECTED),
])
def test_a_bad_domain_does_not_exist_and_a_senders_domain_is_the_senders(
        text: str, context: str, reason: Reason) -> None:
    assert _pairs(text, context)[0] is reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # RFC 5321 4.2.2 '503 Bad sequence of commands' (Google's, NTTDOCOMO's in Sisimai's Rhost tables): the order
    ("503 Bad sequence of commands", "bounce", Reason.BAD_SEQUENCE),
    # Sendmail, collect.c ('headers too large'): no command carries a header, so in reply to RCPT it is the message's
    ("552 5.6.0 Headers too large (32768 max)", "RCPT", Reason.CONTENT_REJECTED),
    # the IANA registry's X.5.6 'Authentication Exchange line is too long': in reply to AUTH, the command's own line
    ("500 5.5.6 Authentication Exchange line is too long", "AUTH", Reason.SYNTAX_ERROR),
    # Postfix's xsasl_dovecot_server.c, qmail-smtpd.c ('504 auth type invalid (#5.5.1)'): RFC 4954 4 '504
    # Unrecognized authentication type' is a mechanism the server does not do (SPEC not_implemented), not a bad login
    ("Invalid authentication mechanism", "AUTH", Reason.NOT_IMPLEMENTED),
    ("504 auth type invalid (#5.5.1)", "AUTH", Reason.NOT_IMPLEMENTED),
    # Haraka, plugins/auth/auth_base.js ('504 Invalid AUTH string'): the argument could not be decoded
    ("504 Invalid AUTH string", "AUTH", Reason.SYNTAX_ERROR),
    # Exim, smtp_in.c ('501 Syntactically invalid HELO argument(s)'): a name given but invalid (README helo_rejected)
    ("501 Syntactically invalid HELO argument(s)", "HELO", Reason.HELO_REJECTED),
])
def test_the_head_of_a_compound_says_what_is_refused(text: str, context: str, reason: Reason) -> None:
    assert _pairs(text, context)[0] is reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # Mimecast's codes (github:sisimai/p5-sisimai lib/Sisimai/Rhost/Mimecast.pm: 'SPF Sender Invalid - envelope
    # rejected', and DKIM's, DMARC's), Microsoft's (lib/Sisimai/Rhost/Microsoft.pm): README sender_rejected vs
    # sender_unauthenticated, SPF, DKIM, DMARC failing is sender_unauthenticated, not a sender refused for anything else
    ("SPF Sender Invalid - envelope rejected", "RCPT", Reason.SENDER_UNAUTHENTICATED),
    ("DMARC Sender Invalid - envelope rejected", "bounce", Reason.SENDER_UNAUTHENTICATED),
    ("The message was rejected because of Sender Policy Framework violation", "bounce",
     Reason.SENDER_UNAUTHENTICATED),
    # but a check that could not run is no failed authentication (README authentication checks vs DNS): indimail's
    # smtpd.c '451 SPF lookup failure', OpenDKIM's 'DKIM key retrieval failed'
    ("451 SPF lookup failure (#4.3.0)", "RCPT", None),
    ("DKIM key retrieval failed", "bounce", None),
])
def test_spf_dkim_dmarc_refusals_are_the_senders_authentication(text: str, context: str, reason: Reason | None) -> None:
    assert _pairs(text, context)[0] is reason


@pytest.mark.parametrize(("text", "context", "reason", "words"), [
    # Postfix, github:vdukhovni/postfix postfix/src/smtpd/smtpd.c ('501 5.1.3 Bad recipient address syntax', '501 5.1.7
    # Bad sender address syntax'): it is the address's syntax that is bad (README bad_address vs syntax_error, sender
    # syntax), not a mailbox that does not exist (user_unknown) nor a sender refused (sender_rejected)
    ("501 5.1.3 Bad recipient address syntax", "RCPT", Reason.BAD_ADDRESS, ("recipient address", "syntax")),
    ("501 5.1.3 Bad recipient address syntax", "bounce", Reason.BAD_ADDRESS, ("recipient address", "syntax")),
    ("501 5.1.7 Bad sender address syntax", "MAIL", Reason.SYNTAX_ERROR, ("sender address", "syntax")),
    # Sendmail, github:deepin-community/sendmail cf/m4/proto.m4 ('5.1.3 ... _CODE553 List:; syntax illegal for
    # recipient addresses')
    ("553 5.1.3 List:; syntax illegal for recipient addresses", "RCPT", Reason.BAD_ADDRESS, ("recipient", "syntax")),
])
def test_a_word_saying_bad_next_to_syntax_says_the_syntax_is_bad(
        text: str, context: str, reason: Reason, words: tuple[str, ...]) -> None:
    assert _pairs(text, context) == (reason, words)


@pytest.mark.parametrize(("text", "context", "reason"), [
    # Sisimai, github:sisimai/p5-sisimai lib/Sisimai/Reason/UserUnknown.pm ('#5.1.1 bad address'): under X.1.1 ('bad
    # destination mailbox address', RFC 3463) an invalid address is a mailbox that does not exist
    ("#5.1.1 bad address", "bounce", Reason.USER_UNKNOWN),
    # Postfix, github:vdukhovni/postfix postfix/src/smtpd/smtpd_sasl_glue.c ('454 4.7.0 Temporary authentication
    # failure: %s'; RFC 4954 6): the server's own authentication failed, which its code says (system_error)
    ("454 4.7.0 Temporary authentication failure: generic failure", "AUTH", Reason.SYSTEM_ERROR),
    # a failed login stays one: Postfix's '535 5.7.8 Error: authentication failed: %s'
    ("535 5.7.8 Error: authentication failed: authentication failure", "AUTH", Reason.CREDENTIALS_INVALID),
    # the basic code does not tell: hMailServer answers its address syntax check with 550 (github:hmailserver/
    # hmailserver SMTPConnection.cpp, '550 The address is not valid.' after IsValidEmailAddress); to MAIL the command
    # decides first (README sender syntax)
    ("550 The address is not valid.", "MAIL", Reason.SYNTAX_ERROR),
])
def test_where_the_words_are_used_for_two_reasons_the_code_picks(text: str, context: str, reason: Reason) -> None:
    assert _pairs(text, context)[0] is reason


def test_the_classifier_gives_the_pairs_what_the_codes_say() -> None:
    text = "454 4.7.0 Temporary authentication failure: generic failure"
    parsed = parse(text)
    assert judge_pairs(parsed, Context.AUTH, default(), coded=None).reason is Reason.CREDENTIALS_INVALID
    assert judge_pairs(parsed, Context.AUTH, default(), coded=Reason.SYSTEM_ERROR).reason is Reason.SYSTEM_ERROR
    d = diagnose(parsed, Context.AUTH, catalogue=load(lexicon="", rules=""))
    assert d.reason is Reason.SYSTEM_ERROR and d.decided_by is not None and d.decided_by.by == "pair"


@pytest.mark.parametrize(("text", "context", "reason", "words"), [
    # maddy, github:foxcpp/maddy internal/check/spf/spf.go ('SPF authentication failed with a temporary error'): the
    # SPF check, no login (README authentication checks vs DNS: no pair says which)
    ("451 4.7.23 SPF authentication failed with a temporary error", "MAIL", None, ()),
    # the IANA registry's 5.7.26 'Multiple authentication checks failed': SPF's and DKIM's, no login
    ("550 5.7.26 Multiple authentication checks failed", "after-DATA", None, ()),
    # Microsoft's 5.7.515 (techcommunity.microsoft.com, 'Strengthening Email Ecosystem: Outlook's New Requirements
    # for High-Volume Senders'): the sending domain's SPF, DKIM and DMARC (README sender_unauthenticated)
    ("550 5.7.515 Access denied, sending domain example.com does not meet the required authentication level.",
     "after-DATA", Reason.SENDER_UNAUTHENTICATED, ("authentication level", "required")),
    # Google's '534-5.7.9 Application-specific password required' (github:sisimai/p5-sisimai lib/Sisimai/Rhost/
    # Google.pm) and the IANA registry's 5.7.12 'A password transition is needed': the password given is not the kind
    # asked for (SPEC credentials_invalid), not AUTH asked for (auth_required)
    ("534 5.7.9 Application-specific password required", "AUTH", Reason.CREDENTIALS_INVALID,
     ("application-specific password", "required")),
    ("A password transition is needed", "bounce", Reason.CREDENTIALS_INVALID, ("password", "needed")),
    # bms.py, github:sdgathman/milter ('Invalid RCPT PARAM'): a parameter of the command (README bad_address vs
    # syntax_error: bad parameters), not the recipient
    ("Invalid RCPT PARAM", "RCPT", Reason.SYNTAX_ERROR, ("rcpt param", "invalid")),
    # Sisimai, lib/Sisimai/Reason/Blocked.pm ('bad sender ip address'): the client's IP, not an e-mail address
    ("bad sender ip address", "bounce", None, ()),
])
def test_a_compound_is_read_as_its_head(
        text: str, context: str, reason: Reason | None, words: tuple[str, ...]) -> None:
    assert _pairs(text, context) == (reason, words)


@pytest.mark.parametrize(("text", "context", "reason", "words"), [
    # Stalwart, github:stalwartlabs/mail-server crates/smtp/src/inbound/session.rs ('502 5.5.1 Invalid command: EHLO
    # expected.'): the server waits for EHLO first (SPEC bad_sequence), the command itself is well formed
    ("502 5.5.1 Invalid command: EHLO expected.", "MAIL", Reason.BAD_SEQUENCE, ("ehlo", "expected")),
    # Spamilter, github:nkhorman/spamilter src/hndlrs.c (mlfi_envfrom, no HELO given: 'Helo or Ehlo MTA greeting
    # expected')
    ("550 5.7.1 Rejecting due to security policy - Helo or Ehlo MTA greeting expected", "MAIL", Reason.BAD_SEQUENCE,
     ("helo", "expected", "ehlo", "expected")),
    # Mimecast's 'Account inbounds disabled', 'Account outbounds disabled' (github:sisimai/p5-sisimai lib/Sisimai/Rhost/
    # Mimecast.pm): the customer's traffic, not a mailbox disabled (mailbox_disabled)
    ("Account inbounds disabled", "bounce", None, ()),
    ("Account outbounds disabled", "bounce", None, ()),
])
def test_what_the_server_expects_first_and_the_clients_own_account(
        text: str, context: str, reason: Reason | None, words: tuple[str, ...]) -> None:
    assert _pairs(text, context) == (reason, words)


@pytest.mark.parametrize(("text", "context", "reason"), [
    # Sendmail, github:deepin-community/sendmail sendmail/parseaddr.c ('501 5.1.3 Syntax error in mailbox address
    # \"%s\" (%s)' when isrcpt, else 5.1.7): the lexicon's 'syntax error' alone is a malformed command, but here it is
    # said of the recipient's mailbox address (README bad_address vs syntax_error); of the sender's, syntax_error
    ('501 5.1.3 Syntax error in mailbox address "\\"bob@example.org" (unbalanced quote)', "RCPT", Reason.BAD_ADDRESS),
    ('501 5.1.7 Syntax error in mailbox address "\\"bob@example.org" (unbalanced quote)', "MAIL", Reason.SYNTAX_ERROR),
    # Postfix, github:vdukhovni/postfix postfix/src/smtpd/smtpd.c (msg_warn 'Illegal address syntax from %s in %s
    # command: %s'): the address's syntax
    ("warning: Illegal address syntax from localhost[127.0.0.1] in RCPT command: <bob@example.org>", "bounce",
     Reason.BAD_ADDRESS),
])
def test_a_phrase_that_is_only_what_a_pair_says_of_its_subject_gives_way_to_the_pair(
        text: str, context: str, reason: Reason) -> None:
    d = diagnose(parse(text), Context.parse(context), catalogue=load(rules=""))
    assert d.reason is reason


def test_a_phrase_that_says_more_than_a_predicate_stands() -> None:
    # Sendmail's '550 5.1.1 User unknown' (github:deepin-community/sendmail sendmail/recipient.c): the
    # lexicon's 'user unknown' is no predicate word, so the lexicon decides, whatever the pairs say
    d = diagnose(parse("550 5.1.1 <bob@example.org>... User unknown"), Context.RCPT, catalogue=load(rules=""))
    assert d.reason is Reason.USER_UNKNOWN and d.decided_by is not None and d.decided_by.by == "lexicon"
    assert over_phrases(("user unknown",), parse("550 5.1.1 <bob@example.org>... User unknown"), Context.RCPT,
                        default(), None, Reason.USER_UNKNOWN) is None
    # and a predicate word the pairs do not use as their predicate stands too: 'syntax error' with no subject
    assert over_phrases(("syntax error",), parse("500 5.5.2 Syntax error"), Context.MAIL, default(), None,
                        Reason.SYNTAX_ERROR) is None


# The benchmark

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pair_precision.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_pair_precision_under_test", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves its annotations through it
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_reports_a_misread_phrase_and_reads_mail_as_the_senders(bench: ModuleType) -> None:
    lexicon = ("language = 'en'\n[[group]]\nreason = 'bad_reputation'\nsource = 'github:owner/repo/file.c'\n"
               "phrases = ['too many spams from your ip']\n[[group]]\nreason = 'user_unknown'\n"
               "source = 'github:owner/repo/other.c'\nphrases = ['user unknown']\n")
    decided, wrong, found = bench.measure(load(lexicon=lexicon))
    assert decided["bounce"] == 2 and decided["550 MAIL"] == 2 and wrong["bounce"] == 1
    # the pairs read a count of spam as a rate limit (README: a limit because of unsolicited mail is bad_reputation)
    assert {(d.text, d.setting, d.pairs) for d in found if d.setting == "bounce"} == {
        ("too many spams from your ip", "bounce", Reason.RATE_LIMITED)}
    # 'user unknown' to MAIL is the sender's (sender_rejected): that agrees; nothing else disagrees about it
    assert not [d for d in found if d.text == "user unknown"]
    assert bench.agrees(Reason.USER_UNKNOWN, Reason.SENDER_REJECTED, Context.MAIL)
    assert not bench.agrees(Reason.USER_UNKNOWN, Reason.SENDER_REJECTED, Context.RCPT)
