"""Rules narrowed to what their sources say (issue 10): replies from sources nobody here had read, where a rule's
pattern claimed more than its source. The texts are the fresh batches' dev replies named beside each case."""

from __future__ import annotations

import pytest

from probe.diagnosis.catalogue.parsing import parse_rules
from probe.diagnosis.classifier import classify
from probe.errors import CatalogueError
from probe.model import Reason


def _rule(text: str, context: str | None) -> str | None:
    return classify(text, context).decided_by.rule


def test_unrecognized_command_is_starttls_only_in_reply_to_starttls() -> None:
    # fresh-2026-12b-100: a bounce's 'unrecognized command' is some other command's
    text = "500 5.3.3 Unrecognized command 'unknown' [xx.xx.PROD.OUTLOOK.COM 2024-03-03T19:48:24.046Z xx]"
    assert classify(text, "bounce").reason is not Reason.TLS_FAILURE
    assert classify(text, None).reason is not Reason.TLS_FAILURE
    assert _rule("500 unrecognized command", "STARTTLS") == "starttls-not-offered"
    # HELP/EXPN's 'unrecognized' likewise says which command only in reply to it
    assert _rule("502 5.5.2 Error: command not recognized", "bounce") != "postfix-command-not-recognized"
    assert _rule("502 5.5.2 Error: command not recognized", "HELP") == "postfix-command-not-recognized"


def test_other_rules_restricted_to_contexts_still_read_bounces() -> None:
    # measured on dev: rcpt-try-later is right on two of the three bounces it decides (fresh-2026-12c)
    assert _rule("451 This server is currently unavailable, please try later.", "bounce") == "rcpt-try-later"


def test_context_only_needs_contexts() -> None:
    given = ("[[rule]]\nid = 'x'\ncontext_only = true\npatterns = ['y']\nreason = 'user_unknown'\n"
             "meaning = 'm'\nremediation = 'r'\n")
    with pytest.raises(CatalogueError, match="context_only"):
        parse_rules(given)
    assert parse_rules(given.replace("context_only", "contexts = ['RCPT']\ncontext_only"))[0].context_only


def test_server_wide_is_true_or_false_and_marks_exims_smtp_accept_max() -> None:
    given = ("[[rule]]\nid = 'x'\nserver_wide = 'yes'\npatterns = ['y']\nreason = 'rate_limited'\n"
             "meaning = 'm'\nremediation = 'r'\n")
    with pytest.raises(CatalogueError, match="server_wide"):
        parse_rules(given)
    assert parse_rules(given.replace("'yes'", "true"))[0].server_wide
    assert not parse_rules(given.replace("server_wide = 'yes'\n", ""))[0].server_wide
    from probe.diagnosis.catalogue import default
    # Exim's spec: smtp_accept_max counts every client's connections; smtp_accept_max_per_host is per client
    assert default().server_wide("exim-smtp-accept-max") and not default().server_wide("microsoft-concurrent-connections")
    assert not default().server_wide(None) and default().rule("no-such-rule") is None


def test_resolver_send_size_limit_is_a_size_limit_not_a_delivery_restriction() -> None:
    # fresh-2026-12b-025; Microsoft's NDR table: 5.2.3 RESOLVER.RST.SendSizeLimit / RecipSizeLimit
    text = "550 5.2.3 RESOLVER.RST.SendSizeLimit.Org; message too large for this organization"
    assert classify(text, "bounce").reason is Reason.MESSAGE_TOO_BIG


def test_message_size_exceeding_remaining_quota_is_not_a_size_limit() -> None:
    # fresh-2026-12c-133: the mailbox's quota, not the server's message size limit
    assert classify("Message size exceeds remaining quota", "bounce").reason is Reason.MAILBOX_FULL
    assert _rule("552 5.3.4 Message size exceeds fixed limit", "after-DATA") == "message-too-big"


def test_access_denied_followed_by_its_reason_lets_the_reason_decide() -> None:
    # fresh-2026-12b-140: Sendmail's 'Access denied - <reason>', like 'Access denied, <reason>'
    text = "550 5.7.1 user123@example.com... Access denied - bogus HELO [1] ..."
    assert _rule(text, "RCPT") != "client-host-access-denied"
    assert classify(text, "RCPT").reason is Reason.HELO_REJECTED


def test_coremail_user_locked_is_the_recipient_not_the_client_login() -> None:
    # fresh-2026-12c-012: Microsoft 365's AUTH reply; Coremail's 'user is locked' answers RCPT (its source)
    text = ("535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults "
            "policy. Contact your administrator.")
    assert classify(text, "AUTH").reason is Reason.CREDENTIALS_INVALID
    assert _rule("550 user is locked. (in reply to RCPT TO command)", "bounce") == "coremail-user-locked"


@pytest.mark.parametrize("text", [
    # fresh-2026-12c-091, -002: 'recipient rejected' followed by its reason
    "550 5.1.1 anna.a@example.com recipient rejected, account administratively disabled (in reply to RCPT TO command)",
    "550 Recipient Not Authorised [recipient rejected due to no authorised destination groups]",
])
def test_recipient_rejected_with_a_reason_is_not_an_unknown_user(text: str) -> None:
    assert _rule(text, "bounce") != "user-unknown"


def test_an_ip_blocked_without_a_list_is_left_to_the_pairs() -> None:
    # fresh-2026-12-160: a provider's own IP block (SPEC: provider bans are blocklisted); the pairs read 'your ip'
    # + 'blocked' so. The rule 'client-ip-blocked' gave policy_rejected, citing a source without these words.
    assert classify("421 Your IP is temporarily blocked, please try again later", "banner").reason is Reason.BLOCKLISTED
    assert classify("550 Your IP is blocked", "RCPT").reason is Reason.BLOCKLISTED


def test_an_invalid_authentication_mechanism_is_no_refused_password() -> None:
    # fresh-2026-12c-060; Postfix xsasl_dovecot_server.c 'Invalid authentication mechanism' behind
    # smtpd_sasl_glue.c's 'authentication failed: %s'
    text = "535 5.7.8 Error: authentication failed: Invalid authentication mechanism"
    assert _rule(text, "AUTH") is None
    assert classify(text, "AUTH").reason is Reason.NOT_IMPLEMENTED
    assert _rule("535 5.7.8 Error: authentication failed: authentication failure", "AUTH") == "credentials-invalid"


@pytest.mark.parametrize(("text", "context", "reason"), [
    # lexicon phrases whose own words a broad rule claimed for another reason (each phrase's source in en.toml)
    ("sender access denied", "bounce", Reason.SENDER_REJECTED),  # pykolab
    ("relaying access denied", "bounce", Reason.RELAY_DENIED),  # CiviCRM's bounce patterns
    ("access denied (in reply to mail from command)", "bounce", Reason.SENDER_REJECTED),  # Sisimai Rejected.pm
    ("throttling quota exceeded", "bounce", Reason.RATE_LIMITED),  # iRedAPD
    ("account disabled temporarly for exceeding receiving limits", "bounce", Reason.RATE_LIMITED),  # Sisimai
    ("blacklisted sender", "bounce", Reason.SENDER_REJECTED),  # MailCleaner
    ("blacklisted recipient", "bounce", Reason.POLICY_REJECTED),  # MailCleaner
    # MailCleaner's Exim ACL text, under Exim's default 550 for a deny
    ("550 This domain does not accept mail from itself (spoofing)", "MAIL", Reason.SENDER_REJECTED),
])
def test_broad_rules_leave_other_sources_words_to_the_lexicon(text: str, context: str, reason: Reason) -> None:
    assert _rule(text, context) is None
    assert classify(text, context).reason is reason


def test_try_later_that_names_its_cause_is_not_greylisting() -> None:
    # qpsmtpd's '451 Internal error - try again later - <msg>' (lib/Qpsmtpd/SMTP.pm; lexicon system_error)
    text = "451 Internal error - try again later - "
    assert _rule(text, "RCPT") != "rcpt-try-later"
    assert classify(text, "RCPT").reason is Reason.SYSTEM_ERROR
    assert _rule("450 Please try again later.", "RCPT") == "rcpt-try-later"


def test_content_rejected_as_spam_is_not_the_generic_content_rule() -> None:
    # fresh-2026-12c-064: the reply calls the content spam, as ', UBE' does
    text = "558 5.7.1 Message content rejected due to suspected spam. IB704x"
    assert _rule(text, "bounce") != "provider-content-rejected"
    assert _rule("550 5.7.1 message content rejected (in reply to end of DATA command)", "bounce") \
        == "provider-content-rejected"


def test_not_allowed_to_send_is_not_client_host_access_denied() -> None:
    # fresh-2026-12d-074 (Tiscali, Cloudmark's reset-request page): client-host-access-denied cites Postfix's
    # 'Client host rejected: Access denied' (smtpd_check.c), Exim's 'Administrative prohibition' (acl.c) and
    # access(5), none of which says 'not allowed to send'; the words of the reply decide
    text = ("554 cmgw-1.mail.tiscali.it Tu5K1y00L1wtCLS01 IP: 192.0.2.90, You are not allowed to send mail. "
            "Please see http://csi.cloudmark.com/reset-request/?ip=192.0.2.90")
    assert _rule(text, "bounce") != "client-host-access-denied"
    assert classify(text, "bounce").reason is Reason.BLOCKLISTED
    # the sources that say it: Stalwart's sender refusal (mail.rs), Sisimai AuthFailure's SPF failure
    assert classify("You are not allowed to send from this address", "bounce").reason is Reason.SENDER_REJECTED
    assert classify("550 5.7.1 192.0.2.1 is not allowed to send mail.", "RCPT").reason \
        is Reason.SENDER_UNAUTHENTICATED
    assert _rule("554 5.7.1 <mx.example.net[203.0.113.12]>: Client host rejected: Access denied", "RCPT") \
        == "postfix-client-access-denied"  # Postfix's default words for an access(5) REJECT have a rule of their own
