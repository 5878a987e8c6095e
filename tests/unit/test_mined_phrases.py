"""Phrases mined whole from MTA sources (lexicon/en.toml, the section 'Mined whole from MTA sources'): each reject
string of the source, as the software prints it, is read right by its words with every wording rule off."""

from __future__ import annotations

import pytest

from probe.diagnosis.catalogue import load
from probe.diagnosis.classifier import diagnose
from probe.diagnosis.codes import parse
from probe.model import Context, Reason


@pytest.mark.parametrize(("text", "context", "reason"), [
    # bare LF in the data, each MTA's words (Postfix cleanup_strerror.c/smtpd.c, Haraka connection.js, chasquid conn.go)
    ("521 5.5.2 mx.example.org Error: bare <LF> received", "after-DATA", Reason.CONTENT_REJECTED),
    ("451 Bare line-feed; see http://haraka.github.io/barelf/", "after-DATA", Reason.CONTENT_REJECTED),
    ("521 5.5.2 Error reading DATA: invalid line ending", "after-DATA", Reason.CONTENT_REJECTED),
    # chasquid internal/smtpsrv/conn.go
    ("501 5.1.7 Sender address too long", "MAIL", Reason.SYNTAX_ERROR),
    ("501 5.1.2 Malformed destination domain (IDNA conversion failed)", "RCPT", Reason.BAD_ADDRESS),
    ("501 5.1.3 Destination address too long", "RCPT", Reason.BAD_ADDRESS),
    # hMailServer SMTPConnection.cpp and RecipientParser.cpp
    ("550 Sender address must be specified.", "MAIL", Reason.SYNTAX_ERROR),
    ("504 Authentication type not specified.", "AUTH", Reason.SYNTAX_ERROR),
    ("550 A valid address is required.", "RCPT", Reason.BAD_ADDRESS),
    ("550 Login credentials no longer valid. Please re-authenticate.", "MAIL", Reason.CREDENTIALS_INVALID),
    ("550 Delivery is not allowed to this address.", "RCPT", Reason.RELAY_DENIED),
    ("554 Your message was received but it could not be saved. Please retry later.", "after-DATA",
     Reason.SYSTEM_ERROR),
    ("421 Excessive amounts of data sent to server.", "after-DATA", Reason.MESSAGE_TOO_BIG),
    ("550 Unsupported ESMTP extension: SMTPUTF8", "MAIL", Reason.NOT_IMPLEMENTED),
    ("550 Distribution list is not active.", "RCPT", Reason.MAILBOX_DISABLED),
    ("550 Recipient not in route list.", "RCPT", Reason.USER_UNKNOWN),
    # Haraka connection.js and its bundled plugins
    ("450 HELO denied", "HELO", Reason.HELO_REJECTED),
    ("501 EHLO requires domain/address - see RFC-2821 4.1.1.1", "EHLO", Reason.SYNTAX_ERROR),
    ("550 I cannot deliver mail for <alice@example.org>", "RCPT", Reason.RELAY_DENIED),
    ("504 Invalid AUTH string", "AUTH", Reason.SYNTAX_ERROR),
    ("550 Mail from domain 'example.net' is not allowed from your host", "RCPT", Reason.SENDER_REJECTED),
    # Exim configure.default and the ACL examples of its specification
    ("550 Restricted characters in address", "RCPT", Reason.BAD_ADDRESS),
    ("550 This address does not send an unsigned reverse path", "RCPT", Reason.POLICY_REJECTED),
    ("550 Can't verify sender", "MAIL", Reason.SENDER_REJECTED),
    ("550 contains blacklisted regex (FREE MONEY)", "after-DATA", Reason.CONTENT_REJECTED),
    # Exim src/src/smtp_in.c
    ("501 Syntactically invalid EHLO argument(s)", "EHLO", Reason.HELO_REJECTED),
    ("503 AUTH command used when not advertised", "AUTH", Reason.NOT_IMPLEMENTED),
    ("503 STARTTLS command used when not advertised", "STARTTLS", Reason.TLS_FAILURE),
    ("501 Invalid value for NOTIFY parameter", "RCPT", Reason.SYNTAX_ERROR),
    ("421 mx.example.org lost input connection", "DATA", Reason.NETWORK_ERROR),
    # Dovecot src/lib-smtp/smtp-server-cmd-rcpt.c and smtp-server-cmd-starttls.c
    ("501 5.5.4 Invalid TO: Missing domain", "RCPT", Reason.BAD_ADDRESS),
    ("502 5.5.1 TLS is already active.", "STARTTLS", Reason.BAD_SEQUENCE),
    # maddy internal/check and internal/endpoint/smtp
    ("501 5.1.8 No domain part in address", "MAIL", Reason.SYNTAX_ERROR),
    ("501 5.1.2 Unable to normalize the recipient address", "RCPT", Reason.BAD_ADDRESS),
    ("553 5.6.7 SMTPUTF8 is required for non-ASCII recipients", "RCPT", Reason.BAD_ADDRESS),
    ("550 5.7.1 TLS conversation required", "MAIL", Reason.TLS_REQUIRED),
    ("451 4.4.5 High load, try again later", "RCPT", Reason.SERVICE_UNAVAILABLE),
    # mox smtpserver/server.go
    ("500 5.6.0 message with non-us-ascii requires 8bitmime extension", "MAIL", Reason.CONTENT_REJECTED),
    ("503 5.5.1 starttls not offered", "STARTTLS", Reason.TLS_FAILURE),
    ("550 5.7.1 message from address must belong to authenticated user", "after-DATA", Reason.SENDER_REJECTED),
    # a Chinese mail system's published reply table (blog.sina.com.cn/s/blog_8dc13ec50101fxxr.html), its glosses
    ("450 database temporary error.", "RCPT", Reason.SYSTEM_ERROR),
    ("451 out of allow RCPT numbers.", "RCPT", Reason.RATE_LIMITED),
    ("451 stray newline", "after-DATA", Reason.CONTENT_REJECTED),
    ("501 please say HELO/EHLO first", "MAIL", Reason.BAD_SEQUENCE),
    ("550 black ip.", "MAIL", Reason.BLOCKLISTED),
    ("551 line parse error", "MAIL", Reason.SYNTAX_ERROR),
    ("553 host denies relay.", "RCPT", Reason.RELAY_DENIED),
    ("555 helohost error.", "HELO", Reason.HELO_REJECTED),
    ("556 remote ip check error.", "MAIL", Reason.SENDER_UNAUTHENTICATED),
    # Outlook.com's bulk-sender authentication requirement (Microsoft's announcement; Sisimai's why-authfailure.go)
    ("550 5.7.515 Access denied, sending domain example.net does not meet the required authentication level.",
     "after-DATA", Reason.SENDER_UNAUTHENTICATED),
    # Postal app/lib/smtp_server/client.rb and Courier courieresmtpd.C
    ("501 RCPT TO should not be empty", "RCPT", Reason.SYNTAX_ERROR),
    ("530 From/Sender name is not valid", "after-DATA", Reason.SENDER_REJECTED),
    ("502 ESMTP command error", "MAIL", Reason.SYNTAX_ERROR),
    # Postfix smtpd_check.c: the sender, not the recipient, not logged in / unlisted
    ("553 5.7.1 <bob@example.net>: Sender address rejected: not logged in", "RCPT", Reason.AUTH_REQUIRED),
    ("550 5.1.0 <bob@example.net>: Sender address rejected: User unknown in relay recipient table", "RCPT",
     Reason.SENDER_REJECTED),
    # maddy internal/check/dns/dns.go: the MAIL FROM domain's null MX is the sender's problem
    ("501 5.7.27 Domain in MAIL FROM has null MX record", "MAIL", Reason.SENDER_REJECTED),
    # Postfix's SASL lead-in yields to the cause it quotes (hMailServer's and Stalwart's AUTH replies)
    ("SASL authentication failed; server mx.example.net[192.0.2.7] said: 504 Authentication mechanism not "
     "supported.", "bounce", Reason.NOT_IMPLEMENTED),
    ("SASL authentication failed; server mx.example.net[192.0.2.7] said: 504 Authentication not enabled.", "bounce",
     Reason.NOT_IMPLEMENTED),
    # Apache James RcptCmdHandler: the recipient address, not the command
    ("553 5.1.3 Syntax error in recipient address", "RCPT", Reason.BAD_ADDRESS),
    # go-smtp conn.go: command order under a 502 5.5.1, which alone says not_implemented
    ("502 5.5.1 Please introduce yourself first.", "MAIL", Reason.BAD_SEQUENCE),
    ("502 5.5.1 Missing MAIL FROM command.", "RCPT", Reason.BAD_SEQUENCE),
    ("502 5.5.1 Missing RCPT TO command.", "DATA", Reason.BAD_SEQUENCE),
    ("502 5.5.1 RCPT not allowed during message transfer", "RCPT", Reason.BAD_SEQUENCE),
    ("502 5.5.1 Already running in TLS", "STARTTLS", Reason.BAD_SEQUENCE),
    # glibc strerror texts of socket errnos, as Postfix quotes them after "connect to"
    ("connect to mx.example.org[192.0.2.1]:25: Cannot assign requested address", "bounce", Reason.NETWORK_ERROR),
    ("connect to mx.example.org[192.0.2.1]:25: Network is down", "bounce", Reason.NETWORK_ERROR),
    ("connect to mx.example.org[192.0.2.1]:25: Host is down", "bounce", Reason.NETWORK_ERROR),
    ("connect to mx.example.org[192.0.2.1]:25: Address family not supported by protocol", "bounce",
     Reason.NETWORK_ERROR),
    # errno names as Node.js prints them (lib/internal/errors.js: "<syscall> <code> <address>:<port>")
    ("Error: connect ECONNREFUSED 192.0.2.1:25", "bounce", Reason.NETWORK_ERROR),
    ("Error: connect ETIMEDOUT 192.0.2.1:25", "bounce", Reason.NETWORK_ERROR),
    ("Error: connect EHOSTUNREACH 192.0.2.1:25", "bounce", Reason.NETWORK_ERROR),
    ("Error: connect ENETUNREACH 2001:db8::1:25", "bounce", Reason.NETWORK_ERROR),
    ("Error: connect EADDRNOTAVAIL 192.0.2.1:25 - Local (0.0.0.0:0)", "bounce", Reason.NETWORK_ERROR),
    ("Error: read ECONNRESET", "bounce", Reason.NETWORK_ERROR),
    ("Error: write EPIPE", "bounce", Reason.NETWORK_ERROR),
    # Node.js dns (c-ares) codes; glibc gai_strerror; dnspython's resolver exceptions
    ("Error: queryMx ESERVFAIL example.org", "bounce", Reason.DNS_ERROR),
    ("Error: queryMx ETIMEOUT example.org", "bounce", Reason.DNS_ERROR),
    ("Error: getaddrinfo ENOTFOUND mx.example.org", "bounce", Reason.DOMAIN_UNKNOWN),
    ("socket.gaierror: [Errno -3] Temporary failure in name resolution", "bounce", Reason.DNS_ERROR),
    ("All nameservers failed to answer the query example.org. IN MX", "bounce", Reason.DNS_ERROR),
    ("The resolution lifetime expired after 5.402 seconds", "bounce", Reason.DNS_ERROR),
    # Exim transport.c, OpenDKIM RequiredHeaders, Haraka's karma plugin
    ("message has lines too long for transport (received 3896, limit 2048)", "bounce", Reason.CONTENT_REJECTED),
    ("550 5.7.1 RFC5322 requirement error: missing From field", "after-DATA", Reason.CONTENT_REJECTED),
    ("550 very bad karma score: -6", "after-DATA", Reason.BAD_REPUTATION),
    ("503 5.5.1 TLS already active", "STARTTLS", Reason.BAD_SEQUENCE),
    # Sendmail cf/m4/proto.m4 check_helo, answered at MAIL or RCPT when the checks are delayed
    ("550 5.7.1 bogus HELO name used: mx.example.org", "MAIL", Reason.HELO_REJECTED),
    ("550 5.7.1 bogus HELO name used: mx.example.org", "RCPT", Reason.HELO_REJECTED),
    # rspamd mime_types (its description); ClamAV's Heuristics.Encrypted.* quoted as a "virus"
    ("554 5.7.1 Encrypted archive in a message", "after-DATA", Reason.CONTENT_REJECTED),
    ("554 5.7.1 Virus found: Heuristics.Encrypted.Zip", "after-DATA", Reason.CONTENT_REJECTED),
])
def test_mined_reject_strings_are_read_by_their_words(text: str, context: str, reason: Reason) -> None:
    d = diagnose(parse(text), Context.parse(context), catalogue=load(rules=""))
    assert d.reason is reason, d.decided_by
    assert d.decided_by is not None and d.decided_by.by == "lexicon", d.decided_by


@pytest.mark.parametrize("reason", [Reason.BAD_REPUTATION])
def test_gmails_reputation_sentence_is_not_read_as_spam_by_its_lead(reason: Reason) -> None:
    """'Our system has detected that this message is' leads Gmail's spam and reputation sentences alike
    (support.google.com/a/answer/3726730): the words after it decide."""
    text = ("550-5.7.1 [192.0.2.7] Our system has detected that this message is likely suspicious due to the very "
            "low reputation of the sending IP address. To protect our users from spam, mail sent from your IP "
            "address has been blocked.")
    assert diagnose(parse(text), Context.AFTER_DATA, catalogue=load(rules="")).reason is reason


def test_a_provider_token_outweighs_a_generic_phrase_with_all_the_code_evidence() -> None:
    """A status token (weight 3) beats one phrase for another reason backed by class, subject and command
    (1 + 3 x 0.5): Spectrum's AUP#I-1330 is a connection limit (go-sisimai rhost/for-spectrum.go, 1300-1340), whatever
    'sender rejected' under 5.1.0 to MAIL says."""
    d = diagnose(parse("550 5.1.0 sender rejected AUP#I-1330"), Context.MAIL, catalogue=load(rules=""))
    assert d.reason is Reason.RATE_LIMITED, d.decided_by


def test_the_sasl_lead_in_alone_still_says_the_credentials() -> None:
    """Postfix's 'SASL authentication failed; server X said:' weighs less than a cause, but alone it still decides."""
    text = "SASL authentication failed; server mx.example.net[192.0.2.7] said: 535 Denied"
    d = diagnose(parse(text), Context.BOUNCE, catalogue=load(rules=""))
    assert d.reason is Reason.CREDENTIALS_INVALID, d.decided_by


def test_a_dns_server_refusing_is_not_read_as_a_refused_connection() -> None:
    """c-ares names an unreachable DNS server ECONNREFUSED (Node's dns.CONNREFUSED): only Node's connect form
    "connect ECONNREFUSED" is a lexicon phrase, so the bare name says nothing about the network."""
    d = diagnose(parse("Error: queryMx ECONNREFUSED example.org"), Context.BOUNCE, catalogue=load(rules=""))
    assert d.reason is not Reason.NETWORK_ERROR, d.decided_by


@pytest.mark.parametrize(("context", "reason"), [("MAIL", Reason.SYNTAX_ERROR), ("after-DATA", Reason.CONTENT_REJECTED)])
def test_a_bare_line_too_long_is_left_to_the_context(context: str, reason: Reason) -> None:
    """'Line too long' answers an over-long command line (OpenSMTPD, hMailServer, Dovecot) and an over-long message
    line alike: no phrase claims it, so the command it answered decides."""
    d = diagnose(parse("500 Line too long"), Context.parse(context), catalogue=load(rules=""))
    assert d.reason is reason, d.decided_by
