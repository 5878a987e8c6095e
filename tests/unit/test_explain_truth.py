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
