"""What `smtp-probe explain` says about real replies is true of them: an audit of development replies of the corpus
against their cited sources (each test names the source it was checked against)."""

from __future__ import annotations

import pytest

from probe.diagnosis.explain import entry


def test_5_1_7_for_a_sender_domain_without_mx_is_not_called_a_syntax_error() -> None:
    """Apache James (ValidSenderDomainHandler.java) answers a well-formed sender whose domain has no MX with
    '501 5.1.7 sender ... contains a domain with no valid MX records': X.1.7 is not only bad syntax there."""
    e = entry("501 5.1.7 sender bob@example.net contains a domain with no valid MX records", "MAIL")
    assert e["reason"] == "sender_rejected"
    assert "is syntactically invalid" not in e["meaning"]
    assert "domain" in e["meaning"]
    assert "MX records" in e["remediation"]


def test_502_to_starttls_is_not_said_to_answer_vrfy_or_expn() -> None:
    """Dovecot answers STARTTLS on a listener without TLS with '502 5.5.1 TLS support is not enabled.'
    (github:dovecot/core src/lib-smtp/smtp-server-cmd-starttls.c); 'when you see it' spoke of VRFY, EXPN and EHLO."""
    e = entry("502 5.5.1 TLS support is not enabled.", "STARTTLS")
    assert e["reason"] == "tls_failure"
    assert "VRFY" not in e["when"]
    assert "STARTTLS" in e["when"]


def test_spf_permanent_error_is_not_called_an_ip_the_record_does_not_allow() -> None:
    """pypolicyd-spf (debian python3-spf-engine 3.0.4, spf_engine/policyd_spf.py) rejects an SPF 'Permerror' with
    550 5.7.24 (RFC 7372 §3.2: SPF validation error): the record is broken, so adding the IP does not help."""
    e = entry("550 5.7.24 <someone@example.org>: Recipient address rejected: Message rejected due to: SPF Permanent "
              "Error: Unknown mechanism found: moo. Please see http://www.openspf.net/Why?s=mfrom;"
              "id=someone@example.net;ip=192.0.2.10;r=someone@example.org", "RCPT")
    assert e["reason"] == "sender_unauthenticated"
    assert "Permanent Error" in e["meaning"]
    assert "syntax" in e["remediation"]


def test_a_charter_aup_code_is_not_put_down_to_cox() -> None:
    """Charter / Spectrum's codes are AUP#I-nnnn and AUP#O-nnnn (Spectrum's 'Understanding email error codes'); Cox's
    are letters (AUP#CXBL, AUP#CXSNDR: cox.com's email error codes). A Charter bounce was labelled Cox."""
    e = entry("Diagnostic-Code: smtp; 554 impin004.msg.chrl.nc.charter.net cmsmtp blocked. Please see for more "
              "information. AUP#In-1020", "bounce")
    assert e["provider"] == "Charter / Spectrum / Roadrunner"
    assert "Cox" not in e["remediation"]
    assert entry("550 5.1.0 <> sender rejected.  AUP#O-1580", "MAIL")["provider"] == "Charter / Spectrum / Roadrunner"
    assert entry("554 cmsmtp blocked. AUP#CXBL", "banner")["provider"] == "Cox Communications"


def test_a_proofpoint_block_at_rcpt_is_not_called_a_refused_connection() -> None:
    """iCloud's Proofpoint MX answered RCPT TO with '550 5.7.0 Blocked - see https://support.proofpoint.com/...'
    (github:docker-mailserver/docker-mailserver issue 22): the session was open, the mail refused."""
    e = entry("<someone@me.com>: host mx1.mail.icloud.com[192.0.2.91] said: 550 5.7.0 Blocked - see "
              "https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.1: someone@me.com (in reply to RCPT TO "
              "command)", "bounce")
    assert e["reason"] == "blocklisted"
    assert "refused the connection" not in e["meaning"]
    assert "Dynamic Reputation" in e["meaning"]


def test_252_to_expn_is_not_said_to_promise_delivery_to_a_user() -> None:
    """Stalwart answers EXPN with '252 2.4.3 Unable to expand mailing list at this time.' when its directory lookup
    fails, and '252 2.5.1 EXPN is disabled.' (github:stalwartlabs/stalwart crates/smtp/src/inbound/vrfy.rs): no user
    is verified and no message was offered, so 'will accept the message and attempt delivery' is not true of it."""
    e = entry("252 2.4.3 Unable to expand mailing list at this time.", "EXPN")
    assert e["reason"] == "cannot_verify"
    assert "attempt delivery" not in e["meaning"]
    assert "mailing list" in e["meaning"]
    assert "EXPN" in e["when"]


def test_postfix_file_system_imposed_limit_is_an_oversized_size_parameter() -> None:
    """Postfix smtpd.c answers '552 5.3.4 Message size exceeds file system imposed limit' to a MAIL FROM whose SIZE=
    value overflows off_cvt_string(): it is about the declared size, not about a queue file system that is full."""
    e = entry("552 5.3.4 Message size exceeds file system imposed limit", "MAIL")
    assert e["reason"] == "message_too_big"
    assert "cannot hold a file that big" not in e["meaning"]
    assert "SIZE=" in e["meaning"]
    assert "SIZE=" in e["remediation"]


def test_dovecot_not_from_trusted_ip_is_not_explained_as_burl_only() -> None:
    """Dovecot answers the XRCPTFORWARD= RCPT parameter (and XCLIENT) from outside login_trusted_networks with
    '550 5.7.14 ... You are not from trusted IP' (github:dovecot/core src/lmtp/lmtp-commands.c, src/lmtp/lmtp-client.c);
    explain spoke only of BURL and an IMAP server's URLAUTH, which that reply has nothing to do with."""
    e = entry("550 5.7.14 Unacceptable XRCPTFORWARD= parameter: You are not from trusted IP", "RCPT")
    assert e["reason"] == "policy_rejected"
    assert "Dovecot" in e["meaning"]
    assert "login_trusted_networks" in e["remediation"]


@pytest.mark.parametrize(("text", "context"), [
    # Google's table (support.google.com/a/answer/3726730): a permanent refusal of the recipient
    ("550 5.5.3 Too many recipients for this sender. For more information, go to About SMTP error messages and review "
     "RFC 5321 specifications.", "RCPT"),
    # GoDaddy IB510 (github:fm/smtp-codes data/codes/550.json)
    ("550 192.0.2.1> This message has exceded the max number of messages per session. Please open a new session and "
     "try again. IB510", "DATA"),
    # QQ Mail (github:sisimai/set-of-emails maildir/bsd/rhost-tencent-02.eml)
    ("550 Connection frequency limited [Q1YzZ3kxdnRYYnpkbVZ0MAo+QTMzMTMzRjUxNzQ4Cg/MTI3MTY2MDge= Blocked IP "
     "192.0.2.22]. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000722", "after-DATA"),
    # Charter / Spectrum (github:sisimai/set-of-emails maildir/bsd/rhost-spectrum-01.eml)
    ("550 5.1.0 <010001725d8ad4fc-9fe8fb1f-0292-430b-a634-1eba65166dbb-000000@amazonses.com> sender rejected. Please "
     "see https://www.spectrum.net/support/internet/understanding-email-error-codes for more information. "
     "AUP#In-1310", "bounce"),
    # Google's table (support.google.com/a/answer/3726730), decided by the generic excessive-volume rule
    ("550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to "
     "https://support.google.com/a/answer/166852", "MAIL"),
    # Exchange Online's NDR as its senders post it (a bad_reputation rule that also covers the 451 4.7.650 rate limit)
    ("550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please "
     "go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7230)", "RCPT"),
])
def test_a_5xx_rate_or_reputation_limit_is_not_said_to_be_retried_by_the_senders_mta(text: str, context: str) -> None:
    """RFC 5321 §4.2.1: after a 5yz reply the client SHOULD NOT repeat the request, and a sending MTA bounces the
    message (§6.1) rather than queueing it for a retry (§4.5.4.1 is for transient failures)."""
    e = entry(text, context)
    assert e["reason"] in ("rate_limited", "bad_reputation")
    assert "retry later" not in e["remediation"].lower()
    remediation = e["remediation"].lower()
    assert "let your mta retry" not in remediation and "let your server retry" not in remediation
    assert "5xx" in remediation


def test_a_gmx_block_at_rcpt_without_a_url_is_not_sent_to_the_url_in_the_reply() -> None:
    """GMX answers RCPT TO with '550 <example@example.com>: IP address is block listed' (github:fm/smtp-codes
    data/codes/550.json): no connection was refused and the reply carries no case URL to follow."""
    e = entry("550 <example@example.com>: IP address is block listed", "RCPT")
    assert e["reason"] == "blocklisted"
    assert "refuse the connection" not in e["meaning"]
    assert "Follow the URL in the reply" not in e["remediation"]
    assert "postmaster.gmx.net/en/error-messages" in e["remediation"]


def test_a_godaddy_session_limit_is_not_explained_as_cox() -> None:
    """GoDaddy answers '421 Connection refused, too many sessions from ... IB007' (github:fm/smtp-codes
    data/codes/421.json); explain gave Cox's AUP#CXCNCT meaning and 'open at most a few connections to Cox'."""
    e = entry("421 Connection refused, too many sessions from 192.0.2.1. Please lower the number of concurrent "
              "sessions. IB007 <https://www.secureserver.net/help/fix-rejected-email-with-a-bounce-error-40685?"
              "pl_id=3153&prog_id=3153#rlb", "banner")
    assert e["reason"] == "rate_limited"
    assert "Cox" not in e["meaning"] and "Cox" not in e["remediation"]


def test_lost_connection_advice_names_postfix_parameters_that_exist() -> None:
    """Postfix has no parameter smtp_connection_cache (postconf.proto: smtp_connection_cache_on_demand,
    _destinations, _time_limit; smtp_connection_reuse_time_limit; smtp_destination_concurrency_limit)."""
    e = entry("lost connection with mx1.example.com[198.51.100.7] while sending DATA command", "bounce")
    assert e["reason"] == "network_error"
    assert "smtp_connection_cache " not in e["remediation"]
    assert "smtp_connection_reuse_time_limit" in e["remediation"]
    assert "smtp_destination_concurrency_limit" in e["remediation"]


def test_a_block_that_names_no_list_is_not_sent_to_the_list_the_reply_names() -> None:
    """'550 5.1.1 <someone@example.com> sender is blacklisted' (wiki.aspone.cz, corpus cz-isps-003) names no
    list and blocks a sender address, not an IP: 'look the sending IP up on the list the reply names' cannot be done."""
    e = entry("550 5.1.1 <someone@example.com> sender is blacklisted", "bounce")
    assert e["reason"] == "blocklisted"
    assert not e["remediation"].startswith("Bounce: Look the sending IP up on the list the reply names")
    assert "names none" in e["remediation"]
    assert "sender address" in e["meaning"]


def test_a_5xx_service_unavailable_is_not_said_to_be_retried_by_the_mta() -> None:
    """SurfControl's '554 Service currently unavailable' (github:sisimai/set-of-emails maildir/bsd/
    lhost-surfcontrol-02.eml) bounced the message: after a 5yz the client does not repeat the request (RFC 5321
    §4.2.1), so 'a normal MTA does so by itself' is not true of it."""
    e = entry("554 Service currently unavailable", "bounce")
    assert e["reason"] == "service_unavailable"
    assert "a normal MTA does so by itself" not in e["remediation"]
    assert "5xx" in e["remediation"]


def test_gmail_suspicious_spf_entries_are_not_fixed_by_adding_the_ip_alone() -> None:
    """Gmail's '550 5.7.24 The SPF record of the sending domain has one or more suspicious entries' (Google's SMTP
    error table, support.google.com/a/answer/3726730): 5.7.24 is an SPF validation error (RFC 7372 §3.2), a fault of
    the record, so the advice must say to fix the record's entries, not only to add the sending IP."""
    e = entry("550 5.7.24 The SPF record of the sending domain has one or more suspicious entries. For more "
              "information, go to Email sender guidelines.", "MAIL")
    assert e["reason"] == "sender_unauthenticated"
    assert "suspicious" in e["remediation"]
    assert "fix those entries" in e["remediation"]


def test_zoho_spam_flag_at_rcpt_does_not_blame_the_content() -> None:
    """Zoho answered RCPT TO with '554 5.7.1 Email cannot be delivered. Reason: Email flagged as Spam.'
    (github:sisimai/set-of-emails maildir/bsd/rhost-zoho-03.eml): the content is sent only after RCPT (RFC 5321
    §3.3), so 'review content, links' cannot be what Zoho judged."""
    e = entry("554 5.7.1 Email cannot be delivered. Reason: Email flagged as Spam.", "RCPT")
    assert e["reason"] == "spam_detected"
    assert not e["remediation"].startswith("RCPT reply: Review content")
    assert "reputation" in e["remediation"]
    assert "RCPT TO" in e["meaning"]


def test_qq_permanent_problem_is_not_put_down_to_exit_code_31() -> None:
    """notqmail qmail.c qmail_close(): exit code 31 is 'mail server permanently rejected message (#5.3.0)'; 'qq
    permanent problem (#5.3.0)' is the default for the other codes from 11 to 40 (11 has a text of its own too)."""
    e = entry("554 qq permanent problem (#5.3.0)", "after-DATA")
    assert e["reason"] == "system_error"
    assert "31-ish" not in e["remediation"]
    assert "between 12 and 40" in e["remediation"]


def test_a_generic_ptr_name_is_not_called_a_missing_one() -> None:
    """'554 Refused. Your reverse DNS entry contains your IP address and a country code.' (sitepackage.de's table of
    bounce texts): the PTR exists and resolves; the receiver refuses its generic, IP-derived name."""
    e = entry("554 Refused. Your reverse DNS entry contains your IP address and a country code.", "banner")
    assert e["reason"] == "reverse_dns"
    assert "generic" in e["meaning"]
    assert "not one built from the IP address" in e["remediation"]


def test_a_postfix_that_queries_barracudas_list_is_not_called_barracuda_email_security() -> None:
    """Postfix's default_rbl_reply names the DNSBL zone and appends its TXT record (mail_params.h DEF_DEF_RBL_REPLY:
    'blocked using $rbl_domain${rbl_reason?; $rbl_reason}'); the BRBL's TXT is a barracudanetworks.com link. The
    receiving server is whoever queries the list, not Barracuda's service; the appliance itself says 'blocked using
    Barracuda Reputation' (zone-mta config/bounces.txt)."""
    e = entry("554 5.7.1 Service unavailable; Client host [203.0.113.12] blocked using b.barracudacentral.org; "
              "http://www.barracudanetworks.com/reputation/?pr=1&ip=203.0.113.12", "RCPT")
    assert e["reason"] == "blocklisted"
    assert e["provider"] is None
    assert "Barracuda Email Security" not in e["remediation"]
    assert entry("554-Service unavailable; Client host [mta.example.com] blocked using Barracuda Reputation; "
                 "http://www.barracudanetworks.com/reputation/?r=1&ip=198.51.100.17", "RCPT")["provider"] \
        == "Barracuda Email Security"


@pytest.mark.parametrize(("text", "context", "command"), [
    # Haraka's helo.checks plugin (github:haraka/haraka-plugin-helo.checks index.js)
    ("550 HELO host name invalid", "EHLO", "EHLO"),
    # Exim smtp_in.c: '550 <%s> is not deliverable' to VRFY
    ("550 <someone@example.org> is not deliverable", "VRFY", "VRFY"),
    # OpenSMTPD smtp_session.c, to a command it does not implement
    ("500 5.5.1 Invalid command: Command unrecognized", "EXPN", "EXPN"),
])
def test_when_you_see_it_speaks_of_the_command_the_reply_answered(text: str, context: str, command: str) -> None:
    """A context entry without its own 'when' fell back to the code's general one, which for 550 speaks only of RCPT,
    MAIL and DATA, and for 500 of EHLO and AUTH: not where these replies were seen."""
    e = entry(text, context)
    assert command in e["when"]
    assert not e["when"].startswith("In reply to RCPT TO for unknown users")


def test_a_501_to_a_size_parameter_is_not_said_to_be_a_badly_written_address() -> None:
    """Zimbra's '501 5.5.4 Syntax error in SIZE parameter' (github:Zimbra/zm-mailbox LmtpReply.java): 501 is any
    argument the server cannot parse (RFC 5321 §4.2.2), so 'If your mail bounced with it' must not say the address
    was written wrong."""
    e = entry("501 5.5.4 Syntax error in SIZE parameter")
    assert e["sender"] is not None
    assert not e["sender"].startswith("The address was written in a form the server rejects")
    assert "parameter" in e["sender"]


def test_a_450_for_the_senders_reverse_dns_does_not_send_the_sender_to_the_recipients_admin() -> None:
    """Postfix's '450 4.7.1 Client host rejected: cannot find your hostname, [...]' (smtpd_check.c,
    reject_unknown_client_hostname) blames the sending IP's reverse DNS: the sender's own setup, not the
    recipient's."""
    e = entry("450 4.7.1 Client host rejected: cannot find your hostname, [198.51.100.23]")
    assert e["reason"] == "reverse_dns"
    assert e["sender"] is not None
    assert not e["sender"].endswith("if it persists for days, contact the recipient's administrator.")
    assert "reverse DNS" in e["sender"]


def test_a_spamhaus_open_resolver_bounce_is_not_said_to_mean_the_ip_is_listed() -> None:
    """Spamhaus: a receiver querying its public mirrors through an open resolver gets an error return code and
    reports 'blocked using zen.spamhaus.org' for an IP that is not listed (spamhaus.org 'using our public mirrors?
    check your return codes now'). The meaning says so; 'If your mail bounced with it' said 'your IP is listed'."""
    e = entry("554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org; Error: "
              "excessive number of queries; https://check.spamhaus.org/returnc/vol/203.0.113.53/")
    assert e["reason"] == "system_error"
    assert "not listed" in e["meaning"]
    assert e["sender"] is not None and "IP is listed" not in e["sender"]


def test_chasquids_sender_without_domain_is_not_explained_as_exim() -> None:
    """chasquid answers a MAIL FROM without '@' with '501 5.1.8 Sender address must contain a domain'
    (github:albertito/chasquid internal/smtpsrv/conn.go); explain said 'Exim could not parse the MAIL FROM address'."""
    e = entry("501 5.1.8 Sender address must contain a domain", "MAIL")
    assert e["reason"] == "syntax_error"
    assert not e["meaning"].startswith("Exim could not parse")
    assert "chasquid" in e["meaning"]


def test_the_unreachable_host_advice_names_the_probes_real_family_options() -> None:
    """The probe forces an address family with -4 / -6 (smtp-probe --help); it has no --family option."""
    from probe.diagnosis.classifier import diagnose_event

    d = diagnose_event("connect-unreachable", detail="Network is unreachable")
    assert "--family" not in d.remediation
    assert "-4 or -6" in d.remediation


@pytest.mark.parametrize(("text", "context"), [
    # Google's SMTP error table (support.google.com/a/answer/3726730)
    ("552 5.7.0 This message was blocked because its content presents a potential security issue. To review our "
     "message content and attachment content guidelines, go to File types blocked in Gmail.", "after-DATA"),
    # github:fm/smtp-codes data/codes/552.json
    ("552-5.7.0 Our system detected an illegal attachment on your message. Please visit "
     "http://mail.google.com/support/bin/answer.py?answer=6590 to review our attachment guidelines.", "after-DATA"),
])
def test_a_gmail_attachment_block_is_not_called_a_header_fault(text: str, context: str) -> None:
    """Gmail's attachment and security blocks were explained as 'The message headers do not meet RFC 5322' with
    'exactly one valid From address, one Message-ID'."""
    e = entry(text, context)
    assert e["reason"] == "content_rejected"
    assert not e["meaning"].startswith("The message headers do not meet RFC 5322")
    assert "attachment" in e["meaning"] and "attachment" in e["remediation"]


def test_a_relay_service_refusing_the_sender_domain_is_told_to_register_it() -> None:
    """Google Workspace's SMTP relay answers MAIL FROM with '550 5.7.0 Mail relay denied [...]. Invalid credentials for
    relay for one of the domains in: ... Email is being sent from a domain or IP address which isn't registered in
    your Workspace account.' (support.google.com/a/answer/6140680): no recipient has been named yet, and the fix is
    to register the IP and domain or authenticate."""
    e = entry("550 5.7.0 Mail relay denied [203.0.113.12]. Invalid credentials for relay for one of the domains in: "
              "example.net (as obtained from HELO and MAIL FROM). Email is being sent from a domain or IP address "
              "which isn't registered in your Workspace account.", "MAIL")
    assert e["reason"] == "relay_denied"
    assert "sender domain" in e["meaning"]
    assert "register the sending IP and sender domain" in e["remediation"]


def test_spam_refused_to_the_data_command_is_not_said_to_come_after_the_data() -> None:
    """'451 SPAM not accepted', 'SMTP error from remote mail server after DATA' (Exim's words for the reply to the DATA
    command itself; github:cfortune/PHP-Bounce-Handler eml/29.eml): no content had been sent, so 'refused it after
    the data was sent' is not true of it."""
    e = entry("451 SPAM not accepted", "DATA")
    assert e["reason"] == "spam_detected"
    assert "refused it after the data was sent" not in e["meaning"]
    assert "before any content was sent" in e["meaning"]


def test_encryption_required_for_auth_says_starttls_before_auth() -> None:
    """Postfix answers AUTH with a plaintext mechanism before TLS with '504 5.5.4 Encryption required for requested
    authentication mechanism' (smtpd_sasl_proto.c): the STARTTLS must come before AUTH, not only before MAIL FROM."""
    e = entry("504 5.5.4 Encryption required for requested authentication mechanism", "AUTH")
    assert e["reason"] == "tls_required"
    assert "before AUTH" in e["remediation"]


def test_too_many_messages_on_the_server_is_a_count_quota_not_storage() -> None:
    """'550 Benutzer hat zuviele Mails auf dem Server. / User has too many messages on the server.' (sitepackage.de's
    table of bounce texts) is a quota on the number of messages, not on storage."""
    e = entry("550 Benutzer hat zuviele Mails auf dem Server. / User has too many messages on the server.", "RCPT")
    assert e["reason"] == "mailbox_full"
    assert "number of messages" in e["meaning"]


def test_stalwarts_session_message_limit_is_not_put_down_to_godaddy() -> None:
    """Stalwart answers '452 4.4.5 Maximum number of messages per session exceeded.' (github:stalwartlabs/stalwart
    crates/smtp/src/inbound/data.rs); explain said 'GoDaddy limits messages per SMTP session'."""
    e = entry("452 4.4.5 Maximum number of messages per session exceeded.", "MAIL")
    assert e["reason"] == "rate_limited"
    assert not e["meaning"].startswith("GoDaddy")
    assert "Stalwart" in e["meaning"]


def test_an_on_premises_send_as_refusal_is_not_called_exchange_online() -> None:
    """Exchange Server 2013 answers '550 5.7.1 Client does not have permissions to send as this sender' to an
    authenticated relay without Send As (geekswithblogs.net, authenticated SMTP relaying in Exchange 2013): no
    Exchange Online involved."""
    e = entry("550 5.7.1 Client does not have permissions to send as this sender", "after-DATA")
    assert e["reason"] == "sender_rejected"
    assert not e["meaning"].startswith("Exchange Online")
    assert "Exchange Server" in e["meaning"]


def test_a_dmarc_failure_elsewhere_is_not_put_down_to_stalwarts_arc_check() -> None:
    """Forpsi's '552 cmg1.fe.forpsi.com bizsmtp ... DMARC validation failed' (wiki.aspone.cz) matched Stalwart's rule
    for 'ARC validation failed' (crates/smtp/src/inbound/data.rs) inside the word 'DMARC', and was explained as
    'Stalwart refused ...'."""
    e = entry("552 cmg1.fe.forpsi.com bizsmtp 0bqv1i0054rvCQt01 DMARC validation failed", "after-DATA")
    assert e["reason"] == "sender_unauthenticated"
    assert "Stalwart" not in e["meaning"]
    assert entry("451 4.7.29 ARC validation failed.", "after-DATA")["rule"] == "stalwart-authentication-results"


def test_exims_expn_refusal_is_said_to_refuse_only_expn() -> None:
    """Exim answers EXPN with '550 Administrative prohibition' when no acl_smtp_expn accepts it (acl.c 'ACL is NULL:
    implicit DENY', smtp_in.c smtp_handle_acl_fail); the advice spoke only of refused clients, PTR and blocklists."""
    e = entry("550 Administrative prohibition", "EXPN")
    assert e["reason"] == "policy_rejected"
    assert "acl_smtp_expn" in e["remediation"]
    assert "nothing to fix" in e["remediation"]


@pytest.mark.parametrize(("text", "context", "host"), [
    # SpamExperts' outbound filter (pastebin.com/jkRvWMuH): a rule of its own exists for it
    ("SMTP error from remote mail server after end of data: 550 5.7.1 [CSR] Our system has detected an unusual amount "
     "of unsolicited email originating from your address. Contact your service provider for support", "bounce", None),
    # ImprovMX (github:fm/smtp-codes data/codes/551.json)
    ("551 5.7.1 Due to the very low reputation of the sending domain, this message has been blocked (Code 2).",
     "after-DATA", "mx1.improvmx.com"),
])
def test_gmail_like_reputation_words_from_other_services_are_not_explained_as_gmail(
        text: str, context: str, host: str | None) -> None:
    """Both were explained as 'Gmail judged the traffic from your IP ...' with 'watch Postmaster Tools'."""
    from probe.diagnosis.classifier import classify

    d = classify(text, context, host=host)
    assert d.reason.value == "bad_reputation"
    assert "Gmail" not in d.meaning
    assert "postmaster.google.com" not in d.remediation


def test_a_loop_is_not_answered_with_check_reachability_and_retry() -> None:
    """Postal's '550 Loop detected' (github:postalserver/postal app/lib/smtp_server/client.rb) was told to 'check
    that the destination host is reachable on port 25 ... and retry': the host answered, and a retry loops again."""
    e = entry("550 Loop detected", "after-DATA")
    assert e["reason"] == "network_error"
    assert not e["remediation"].startswith("Reply to the end of DATA: Check that the destination host is reachable")
    assert "For a loop, fix the forwarding or MX routing" in e["remediation"]


GREYLISTED = ("450 4.2.0 <bob@example.net>: Recipient address rejected: Greylisted, see "
              "http://postgrey.schweikert.ch/help/example.net.html")  # postgrey's greylist_text


def test_a_greylisting_reply_in_a_bounce_is_not_told_there_is_nothing_to_fix() -> None:
    """Mail that bounced with a greylisting reply was not retried as the greylist expects (or the report is only a
    delay warning, RFC 3464 §2.3.3 'Action: delayed'); 'nothing to fix: a real MTA retries' was all it was told."""
    e = entry(GREYLISTED, "bounce")
    assert e["reason"] == "greylisted"
    assert "nothing to fix" not in e["remediation"].lower()
    bounced = e["sender"]
    assert "Action: delayed" in bounced and "same IP" in bounced and "retries 4xx" in bounced



def test_552_too_many_recipients_is_said_to_be_treated_as_temporary() -> None:
    """RFC 5321 §4.5.3.1.10: RFC 821 listed 552 for 'too many recipients'; clients SHOULD treat it as temporary
    (real Exim with recipients_max_reject answers the RCPT past the limit so). It was told 'a 5xx bounced the
    message'."""
    e = entry("552 too many recipients", "RCPT")
    assert e["reason"] == "rate_limited"
    assert "4.5.3.1.10" in e["remediation"] and "552 'too many recipients' too" in e["remediation"]


def test_googles_smtp_relay_host_is_google() -> None:
    """smtp-relay.gmail.com (Google Workspace's SMTP relay service, support.google.com/a/answer/176600) was no
    provider at all, so its refusals got no Google advice."""
    from probe.diagnosis.classifier import detect_provider

    assert detect_provider("smtp-relay.gmail.com", "550 5.7.0 Mail relay denied") == "google"
    assert detect_provider("smtp.gmail.com", "") == "google"


def test_a_relay_refusal_in_a_bounce_is_not_told_it_was_probing() -> None:
    """The relay rule's advice opens 'If you are probing the domain's MX'; someone whose mail bounced with it gets
    the reasons that apply to a delivery: a typo or stale MX, or a relay that wants authentication."""
    e = entry("554 5.7.1 <bob@example.net>: Relay access denied", "bounce")
    assert e["reason"] == "relay_denied"
    assert "MX records" in e["sender"] and "authenticate" in e["sender"] and "probing" not in e["sender"]
