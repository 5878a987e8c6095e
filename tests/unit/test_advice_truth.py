"""What the catalogue tells users is true of real servers (each case cites the source it was checked against)."""

from __future__ import annotations

from probe.diagnosis.explain import entry


def test_503_to_mail_is_not_said_to_mean_authentication_required() -> None:
    """RFC 4954 §6: authentication required is 530 5.7.0; Postfix (smtpd.c) and Exim (smtp_in.c) answer MAIL with
    503 only for a missing EHLO, a nested MAIL or, in Postfix, after refusing the client at the greeting."""
    e = entry("503")
    assert "probably wants AUTH" not in e["remediation"]
    assert "530" in e["remediation"]
    assert "access denied" in e["when"]


def test_502_to_vrfy_does_not_name_exchange() -> None:
    """Exchange answers every VRFY with '252 2.1.5 Cannot VRFY user, ...' (Microsoft KB 289521), never 502."""
    e = entry("502", "VRFY")
    assert "Exchange, most providers" not in e["when"]
    assert "most sites" not in e["meaning"]
    assert "252" in e["when"]


def test_550_policy_refusal_is_not_always_the_senders_fault() -> None:
    """X.7.1 also covers recipient-side restrictions (RFC 3463 §3.8: per-recipient filtering)."""
    sender = entry("550")["sender"]
    assert "policy, spam, SPF or a blocklist, the problem is on the sending side" not in sender
    assert "recipient's own setting" in sender


def test_454_to_rcpt_mentions_postfix_default_relay_deferral() -> None:
    """Postfix's default smtpd_relay_restrictions end in defer_unauth_destination: 454 4.7.1 Relay access denied
    (mail_params.h DEF_RELAY_CHECKS; smtpd_check.c)."""
    assert "Relay access denied" in entry("454")["when"]


def test_postscreen_denylist_is_not_said_to_follow_failed_tests() -> None:
    """postscreen.c sends 5.3.2 'Service currently unavailable' only for its deny list; failed tests say 'Protocol
    error' (5.5.1), so 'check that your client waits for the banner' cannot help here."""
    e = entry("550 5.3.2 Service currently unavailable", "RCPT")
    assert "judged it a spambot" not in e["meaning"]
    assert "waits for the banner" not in e["remediation"]
    assert "postscreen_access_list" in e["remediation"]


def test_postfix_not_logged_in_is_not_called_the_wrong_host() -> None:
    """reject_unauthenticated_sender_login_mismatch runs on inbound MX hosts: the MAIL FROM belongs to a local user
    (github:vdukhovni/postfix smtpd_check.c 'Sender address rejected: not logged in')."""
    e = entry("553 5.7.1 <probe@example.net>: Sender address rejected: not logged in", "RCPT")
    assert "MAIL FROM outside the receiving server's domains" in e["remediation"]
    assert "belongs to one of its own users" in e["meaning"]


def test_dnsbl_advice_sends_nobody_to_the_closed_sorbs_site() -> None:
    """SORBS was decommissioned on 5 June 2024 (Proofpoint)."""
    e = entry("550 5.7.1 Service unavailable; client [203.0.113.12] blocked using bl.spamcop.net", "RCPT")
    assert "sorbs.net/lookup" not in e["remediation"]
    assert "SORBS closed" in e["remediation"]


def test_spamhaus_css_is_part_of_the_sbl() -> None:
    """Spamhaus zen 127.0.0.3 is 'SBL CSS' (https://www.spamhaus.org/sbl/query/SBLCSS), not part of the XBL."""
    e = entry("554 5.7.1 Service unavailable; Client host [203.0.113.12] blocked using zen.spamhaus.org", "RCPT")
    assert "XBL/CSS" not in e["meaning"] + e["remediation"]


def test_microsoft_365_login_advice_is_not_app_passwords() -> None:
    """Exchange Online removes Basic authentication from SMTP AUTH (Exchange Team blog, MC786329): OAuth only."""
    e = entry("535 5.7.8 Error: authentication failed: authentication failure", "AUTH")
    assert "for Gmail and Microsoft 365 use an app password" not in e["remediation"]
    assert "OAuth" in e["remediation"]


def test_5_2_2_is_not_said_to_be_hopeless() -> None:
    """RFC 3463 §3.3: mailbox full 'should be used as a persistent transient failure'; the recipient can make room."""
    e = entry("5.2.2")
    assert "the server gave up" not in e["remediation"]
    assert "sent again" in e["remediation"]


def test_x_7_10_is_about_the_authentication_mechanism() -> None:
    """IANA registry, RFC 5248: X.7.10 'Encryption Needed' concerns the requested authentication mechanism."""
    assert "authentication mechanism" in entry("5.7.10")["meaning"]


def test_x_7_19_does_not_advise_retrying() -> None:
    """RFC 7293: the timestamp was not recorded; the originator decides whether to resend without RRVS."""
    e = entry("5.7.19")
    assert "retry later" not in e["remediation"].lower()
    assert "without RRVS" in e["remediation"]


def test_530_on_port_25_is_not_answered_with_probe_port_25() -> None:
    """An MX that wants AUTH on port 25 refuses mail from every other server: Exchange's receive connector without
    'Anonymous users' ('530 5.7.1 Client was not authenticated', servolutions.com exchange2007clientnotauth)."""
    for e in (entry("530"), entry("530 5.7.1 Client was not authenticated", "MAIL")):
        assert "Anonymous users" in e["remediation"]


def test_553_to_mail_names_the_mtas_that_send_it() -> None:
    """Sendmail proto.m4: '553 Domain of sender address ... does not exist' (5.1.8); Postfix smtpd_check.c: 553 5.7.1
    'Sender address rejected: not logged in' / 'not owned by user'. No Exchange source sends 553 for these."""
    e = entry("553", "MAIL")
    assert "Exchange" not in e["remediation"]
    assert "Postfix" in e["remediation"] and "Sendmail" in e["remediation"]
    assert "Exchange" not in entry("553")["when"]


def test_5_1_0_is_not_said_to_concern_only_recipients() -> None:
    """Postfix smtpd_check.c: an unknown sender gets 5.1.0, an unknown recipient 5.1.1."""
    assert "Postfix uses it for an unknown sender" in entry("5.1.0")["meaning"]


def test_authentication_advice_says_which_fix_answers_which_check() -> None:
    """SPF (RFC 7208) is checked on the envelope at MAIL/RCPT; DKIM (RFC 6376 §6) and DMARC (RFC 7489) need the
    message, so one undivided 'fix SPF, DKIM and DMARC' text would tell a DKIM refusal to add an IP to SPF."""
    e = entry("550 5.7.1 DKIM signature verification failed", "after-DATA")
    assert "DKIM: sign with a key published in DNS" in e["remediation"]
    assert "include the sending IP in the SPF record, sign with DKIM" not in e["remediation"]
    assert "can only be SPF's" in entry("550 5.7.1 SPF check failed", "RCPT")["remediation"]


def test_spf_failure_advice_covers_forwarding() -> None:
    """RFC 7208 checks the IP of the last hop against the envelope sender's domain, so forwarded mail fails SPF."""
    assert "SRS" in entry("5.7.23")["remediation"]


def test_552_to_mail_does_not_blame_a_size_option_the_probe_lacks() -> None:
    """The probe's MAIL FROM carries no SIZE (probe/smtp/session.py) and there is no option to add one; RFC 1870 §6:
    552 to MAIL answers a declared SIZE over the server's fixed maximum."""
    e = entry("552", "MAIL")
    assert "SIZE parameter you set" not in e["remediation"]
    assert "SIZE=" in e["remediation"]


def test_5_3_2_mentions_postscreen_deny_list() -> None:
    """postscreen.c answers a denylisted client with 521/550 5.3.2: the host does take mail from others."""
    assert "postscreen" in entry("5.3.2")["remediation"]


def test_synchronization_advice_does_not_forbid_pipelined_bdat() -> None:
    """Postfix smtpd.c: 'BDAT commands may be pipelined within a MAIL transaction' (RFC 3030 with RFC 2920)."""
    e = entry("554 5.5.0 Error: SMTP protocol synchronization", "RCPT")
    assert "BDAT" not in e["remediation"]
    assert "RFC 2920" in e["remediation"]


def test_exim_is_not_said_to_leave_help_unrecognized() -> None:
    """Exim smtp_in.c answers HELP with '214-Commands supported:' whatever the configuration."""
    assert "Exim without HELP text" not in entry("500 unrecognized command", "HELP")["meaning"]


def test_postfix_bare_lf_is_a_setting_not_every_postfix() -> None:
    """postfix mail_params.h: DEF_SMTPD_FORBID_BARE_LF is 'normalize'; the refusal needs smtpd_forbid_bare_newline = reject."""
    e = entry("521 5.5.2 smtp.example.com Error: bare <LF> received", "DATA")
    assert "= reject" in e["meaning"]


def test_rspamd_greylisting_is_not_placed_at_rcpt() -> None:
    """rspamd's greylisting hashes the message body and soft-rejects at end of message (rspamd issue 1776)."""
    e = entry("451 4.7.1 Try again later", "RCPT")
    assert "to RCPT is rspamd's" not in e["meaning"]
    assert "end of DATA" in e["meaning"]


def test_access_denied_advice_follows_the_part_postfix_names() -> None:
    """Postfix's '<%s>: %s rejected: Access denied' names the refused part (smtpd_dsn_fix.h reply classes); a refused
    recipient is no sign of a missing PTR record or a listed IP."""
    e = entry("554 5.7.1 <a@example.org>: Recipient address rejected: Access denied", "RCPT")
    assert "'Recipient address rejected' the recipient" in e["remediation"]
    assert "Ask the recipient's mail administrator why your IP or sender is refused" not in e["remediation"]


def test_policyd_weight_advice_does_not_send_to_sorbs() -> None:
    """SORBS was decommissioned on 5 June 2024 (Proofpoint)."""
    e = entry("550 5.7.1 <postmaster@example.org>: Recipient address rejected: Your MTA is listed in too many DNSBLs; "
              "check http://www.robtex.com/rbl/198.51.100.7.html", "RCPT")
    assert "Barracuda, SORBS" not in e["remediation"]


def test_exim_service_not_available_is_not_the_connect_acl() -> None:
    """Exim smtp_in.c: a connect ACL denying without text answers 'Administrative prohibition', not 'SMTP service not
    available' (that is host_reject_connection, or IP options)."""
    e = entry("host mx1.example.com[198.51.100.7] refused to talk to me: 554 SMTP service not available", "bounce")
    assert "connect ACL" not in e["meaning"]


def test_a_bare_454_to_rcpt_or_mail_is_not_a_tls_failure() -> None:
    """454 is STARTTLS's (RFC 3207 §4) and AUTH's (RFC 4954 §6); Postfix answers 454 to STARTTLS only with 'TLS not
    available due to local problem' (smtpd.c) and to RCPT with its relay check's words (smtpd_check.c). A code-only
    454 to RCPT or MAIL was diagnosed tls_failure, with TLS advice: the code alone says nothing of the cause."""
    from probe import classify
    from probe.model import Reason

    for context in ("RCPT", "MAIL"):
        d = classify("454", context)
        assert d.reason is Reason.UNKNOWN, context
        assert "no TLS failure" in d.meaning and "STARTTLS keeps failing" not in d.remediation
    assert classify("454", "STARTTLS").reason is Reason.TLS_FAILURE
    assert classify("454 4.7.0 TLS not available due to local problem", "STARTTLS").reason is Reason.TLS_FAILURE
    assert classify("454 4.7.1 <a@example.com>: Relay access denied", "RCPT").reason is Reason.RELAY_DENIED


def test_exims_per_host_connection_limit_is_not_read_as_its_total() -> None:
    """Exim's smtp_accept_max_per_host refusal names this client ('from this IP address', daemon.c): the rule for
    its total (smtp_accept_max) leaves it to the general rate-limit reading."""
    from probe import classify

    d = classify("421 Too many concurrent SMTP connections from this IP address; please try again later.", "banner")
    assert d.rule != "exim-smtp-accept-max" and d.reason.value == "rate_limited"
    assert classify("421 Too many concurrent SMTP connections; please try again later.", "banner").rule == (
        "exim-smtp-accept-max")
