"""Exim as Debian ships it: exim4-config's template, configured as update-exim4.conf does for an internet site
(tests/realmta/lab_exim.py, start_exim_debian), TLS left as shipped. The probe connects from an address of the
lab's block (source_ip), not 127.0.0.1: update-exim4.conf always adds 127.0.0.1 and ::1 to relay_from_hosts
(dc_relay_nets), whose clients the RCPT ACL accepts before any recipient check."""

from __future__ import annotations

from typing import Any

import pytest

from probe.judge.health import finish_report
from probe.model import DomainStatus, Reason, Report, Verdict
from probe.render.nagios import render_nagios

from lab import Lab, LabProbe
from lab_exim import debian_exim_template

pytestmark = pytest.mark.skipif(debian_exim_template() is None,
                                reason="Debian's exim4-config template missing: sudo bash tests/realmta/install.sh")


async def _probe(lab: Lab, lab_probe: LabProbe, *targets: str, **options: Any) -> Report:
    return await lab_probe(*targets, source_ip=f"{lab.block}.97", **options)


async def test_debian_defaults_what_the_probe_says_is_true(lab: Lab, lab_probe: LabProbe) -> None:
    """postgrey@ is a system account (check_local_user): 250; nobody@ is not: 550; the random address too, so no
    catch-all; VRFY has no ACL (acl_smtp_vrfy unset): Exim's "252 Administrative prohibition" for every address;
    postmaster@ is accepted before any recipient check (acl_check_rcpt's `accept local_parts = postmaster`)."""
    report = await _probe(lab, lab_probe, "postgrey@eximdeb.lab.test", "nobody-x@eximdeb.lab.test")
    assert report.status is DomainStatus.ACCEPTS_MAIL
    known, unknown = report.addresses
    assert (known.verdict, known.catch_all) == (Verdict.DELIVERABLE, False)
    assert (unknown.verdict, unknown.reason, unknown.code) == (Verdict.UNDELIVERABLE, Reason.USER_UNKNOWN, 550)
    for result in (known, unknown):
        assert result.vrfy is not None and (result.vrfy["code"], result.vrfy["reason"]) == (252, "cannot_verify")
    domain = await _probe(lab, lab_probe, domain="eximdeb.lab.test")
    assert domain.status is DomainStatus.ACCEPTS_MAIL and domain.postmaster is not None
    assert domain.postmaster["accepted"] is True


async def test_exims_own_certificate_is_named_and_not_to_renew(lab: Lab, lab_probe: LabProbe) -> None:
    """Debian's template sets no certificate (MAIN_TLS_ENABLE unset), and Exim 4.92+ offers STARTTLS anyway with a
    certificate it makes itself: self-signed, O=Exim Developers, valid two hours (tls-openssl.c,
    tls_install_selfsign). The probe said "expires in 0 day(s) ... renew it before then" (cert-expiring): nobody
    renews it; the fix is to configure a certificate, and the self-signed finding says so."""
    report = await _probe(lab, lab_probe, domain="eximdeb.lab.test")
    ids = {f.id for f in report.findings}
    assert "cert-expiring" not in ids
    (selfsigned,) = [f for f in report.findings if f.id == "cert-self-signed"]
    assert "Exim makes for itself" in selfsigned.message and "tls_certificate" in selfsigned.message
    nagios = render_nagios(report, finish_report(report))
    assert "certificate expires in 0 days" not in nagios
    assert "Exim's own temporary self-signed certificate" in nagios


async def test_debians_restricted_characters_are_said(lab: Lab, lab_probe: LabProbe) -> None:
    """Debian's CHECK_RCPT_LOCAL_LOCALPARTS refuses ` # & ? too ("550 restricted characters in address"): the
    meaning listed only configure.default's @ % ! / | and a leading dot, so a#b@ was refused for a character the
    explanation did not name."""
    report = await _probe(lab, lab_probe, "a#b@eximdeb.lab.test")
    (result,) = report.addresses
    assert (result.text, result.reason, result.verdict) == (
        "550 restricted characters in address", Reason.BAD_ADDRESS, Verdict.UNDELIVERABLE)
    assert "#" in result.meaning and "CHECK_RCPT_LOCAL_LOCALPARTS" in result.meaning
