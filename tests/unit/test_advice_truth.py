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
