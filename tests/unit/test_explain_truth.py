"""What `smtp-probe explain` says about real replies is true of them: an audit of development replies of the corpus
against their cited sources (each test names the source it was checked against)."""

from __future__ import annotations

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
