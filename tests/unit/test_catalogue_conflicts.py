"""Conflicts inside the catalogue (issue 10): lexicon phrases that a wording rule decided for another reason
(benchmarks/bench_rule_reach.py), each settled by SPEC.md's reason table, fixtures/corpus/README.md's labelling guide
and what the cited source says the reply means. One side was fixed: the rule narrowed or its reason corrected, or
the phrase's reason corrected. Each case names the source; the lexicon cases are read with the wording rules off
(the general layer alone), since with them on a rule decides first."""

from __future__ import annotations

from functools import cache

import pytest

from probe.diagnosis.catalogue import Catalogue, load
from probe.diagnosis.classifier import classify, diagnose
from probe.diagnosis.codes import parse
from probe.model import Context, Reason


@cache
def _general() -> Catalogue:
    return load(rules="")


def _without_rules(text: str, context: Context) -> Reason:
    return diagnose(parse(text), context, catalogue=_general()).reason


# --- rules corrected or narrowed -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "context", "reason"), [
    # Cox: 'A URL within the body of the message was found on blocklists SURBL and Spamhaus DBL' (Cox.pm, from
    # cox.com's error-code page): a link in the body, not the client IP or sender domain (SPEC blocklisted)
    ("URLBL011 A URL within the body of the message was found on blocklists SURBL and Spamhaus DBL.", "after-DATA",
     Reason.SPAM_DETECTED),
    # Cox.pm: 'An email client has repeatedly sent bad commands or invalid passwords': a count exceeded
    # (README 'too many errors / bad commands / ... invalid recipients' is rate_limited)
    ("421 cox too many bad commands from 198.51.100.23", "MAIL", Reason.RATE_LIMITED),
    # Mimecast's table: '451 IP temporarily blacklisted', a provider ban, stays blocklisted
    ("451 IP temporarily blacklisted", "RCPT", Reason.BLOCKLISTED),
    # Sendmail srvrsmtp.c (_FFR_BLOCK_PROXIES): '421 4.7.0 %s Rejecting open proxy %s' answers a first command GET,
    # POST, CONNECT or USER; no list is consulted
    ("421 4.7.0 mx.example.org Rejecting open proxy [203.0.113.12]", "MAIL", Reason.POLICY_REJECTED),
    # an address on the receiver's own list, no named list (Sisimai's t/653-lhost-exim.t expects 'rejected' for
    # lhost-exim-57, whose reply this is)
    ('"Sorry, you are sending to/from an address that has been blacklisted"', "bounce", Reason.POLICY_REJECTED),
    # spamilter hndlrs.c: the recipient refused by the local list
    ("Recipient has been blacklisted", "RCPT", Reason.POLICY_REJECTED),
    # sdgathman/milter bms.py: the sender domain on the milter's local list (README: blocked-senders lists)
    ("Sending domain has been blacklisted", "MAIL", Reason.SENDER_REJECTED),
    # Sisimai Rejected.pm: the sender on the receiver's list
    ("access denied (sender blacklisted)", "bounce", Reason.SENDER_REJECTED),
    # Stalwart mail.rs handle_spf: SpfResult::TempError -> this reply; RFC 7208 §2.6.6 temperror is a transient DNS
    # error (README 'authentication checks vs DNS')
    ("451 4.7.24 Temporary SPF validation error.", "MAIL", Reason.DNS_ERROR),
    # Microsoft's 5.1.8: the sending account blocked (SPEC lists 5.1.8 under sender_rejected)
    ("550 5.1.8 Access denied, bad outbound sender", "MAIL", Reason.SENDER_REJECTED),
    # qmail (sagredo-dev qmail-smtpd.c): TLS first; RFC 4954's 538 'Encryption required for requested
    # authentication mechanism' (SPEC tls_required)
    ("538 auth not available without TLS (#5.3.3)", "AUTH", Reason.TLS_REQUIRED),
    # Exim smtp_in.c: STARTTLS not offered, in reply to STARTTLS (README 'STARTTLS replies')
    ("SMTP error from remote mail server after STARTTLS: 503 STARTTLS command used when not advertised", "bounce",
     Reason.TLS_FAILURE),
    # mailfront protocol-smtp.c: the session ended on a count of unimplemented commands (README 'too many errors')
    ("503-5.5.0 Too many unimplemented commands.\n503 5.5.0 Closing connection.", "MAIL", Reason.RATE_LIMITED),
])
def test_rule_side_fixed(text: str, context: str, reason: Reason) -> None:
    assert classify(text, context).reason is reason


def test_narrowed_rules_keep_their_own_examples() -> None:
    assert classify("SMTP error from remote mail server after AUTH PLAIN: 503 AUTH command used when not advertised",
                    "bounce").decided_by.rule == "exim-not-advertised"
    assert classify("SASL authentication failed; server mx1.example.com[198.51.100.7] said: 503 5.3.3 AUTH not "
                    "available", "bounce").decided_by.rule == "sendmail-auth-not-available"
    assert classify("550 5.7.1 Your IP 203.0.113.12 is blacklisted, contact postmaster",
                    "RCPT").reason is Reason.BLOCKLISTED


# --- lexicon phrases corrected (read by the general layer) -----------------------------------------------------

@pytest.mark.parametrize(("text", "reason"), [
    # Spectrum 1560 'rejected for having too many invalid recipients' (go-sisimai for-spectrum.go): a count
    ("550 5.1.0 <> sender rejected. AUP#I-1560", Reason.RATE_LIMITED),
    # Spectrum's moderator: 'AUP #1020 ... a block on the email address due to suspicious activity. It is not an IP
    # blacklist, it is likely a result of recipients marking the emails as spam' (community.spectrum.net/172891)
    ("554 cmsmtp blocked. AUP#In-1020", Reason.BAD_REPUTATION),
    # Mimecast.pm: 'The message has triggered an Anti-Spoofing policy' (policyviolation), no SPF/DKIM/DMARC result
    ("anti-spoofing policy - inbound not allowed", Reason.POLICY_REJECTED),
    ("rejected by header-based anti-spoofing policy", Reason.POLICY_REJECTED),
    # a file type refused is not malware found (SPEC content_rejected: attachments)
    ("it has a potentially executable attachment", Reason.CONTENT_REJECTED),
    # Google's SMTP relay: 'Invalid credentials for relay <ip>. The IP address you've registered in your Workspace
    # SMTP Relay service doesn't match the domain ...' (Google.pm, norelaying): no AUTH failed, the relay is refused
    ("invalid credentials for relay", Reason.RELAY_DENIED),
    # Exchange Online 5.7.700-749: 'traffic from your tenant has been detected as suspicious and has resulted in a
    # ban on sending ability' (Microsoft.pm): suspicious volume, no list, no count
    ("access denied, tenant has exceeded threshold", Reason.BAD_REPUTATION),
    ("access denied, traffic not accepted from this ip", Reason.BAD_REPUTATION),
    # QQ's 'Bad address syntax' answers RCPT (service.mail.qq.com/detail/122/167): the recipient address malformed
    ("501 Bad address syntax", Reason.BAD_ADDRESS),
    # the server's disk, not one user's quota (README 'mailbox_full vs storage_full')
    ("not enough disk space", Reason.STORAGE_FULL),
    # Gmail 4.7.28 'an unusual rate of mail ... To protect our users from spam, mail has been temporarily rate
    # limited' (Google.pm): README 'bad_reputation vs rate_limited'
    ("an unusual rate of mail", Reason.BAD_REPUTATION),
    # Gmail's NotAuthorizedError: Google refuses the client IP's range itself (a provider ban, as the rule says)
    ("is not authorized to send email directly to our servers", Reason.BLOCKLISTED),
    # Spamilter's hndlrs.c sets 'Helo or Ehlo MTA greeting expected' in mlfi_envfrom when no HELO came at all: MAIL
    # before HELO (SPEC bad_sequence, as MailCleaner's 'no HELO given before MAIL command'), no HELO name refused
    ("Rejecting due to security policy - Helo or Ehlo MTA greeting expected", Reason.BAD_SEQUENCE),
])
def test_lexicon_side_fixed(text: str, reason: Reason) -> None:
    assert _without_rules(text, Context.BOUNCE) is reason


@pytest.mark.parametrize(("context", "reason"), [("RCPT", Reason.BAD_ADDRESS), ("MAIL", Reason.SYNTAX_ERROR)])
def test_exims_malformed_address_is_read_by_the_command(context: str, reason: Reason) -> None:
    # Exim, parse.c ('malformed address: %.32s may not follow %.*s') through smtp_in.c's synprot_error ('501
    # <data>: <errmess>') for MAIL and RCPT alike: the recipient's address (bad_address) or the client's own MAIL FROM
    # (syntax_error; README bad_address vs syntax_error, sender syntax). The lexicon's phrase (Sisimai's Exim.pm,
    # 'syntaxerror') could say one only; the pair layer reads the command
    text = "501 <bob@example.org>>: malformed address: > may not follow <bob@example.org>"
    assert _without_rules(text, Context.parse(context)) is reason
    assert "malformed address:" not in {p.text for p in _general().lexicon}


def test_spectrum_inbound_1010_is_left_to_its_rule() -> None:
    # its inbound meaning is not published; the lexicon no longer calls it a sender refusal at the greeting
    assert "aup#i-1010" not in {p.text for p in _general().lexicon}
    assert classify("554 ESMTP server not available AUP#I-1010", "banner").decided_by.rule == "charter-aup-ip-block"
