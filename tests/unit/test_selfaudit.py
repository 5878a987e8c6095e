"""probe.run.selfaudit, pure parts: echoed addresses, DNSBL names and codes, port 25 diagnosis, audit findings."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.errors import InputError
from probe.model import Context, Finding, Reason, Session, Severity, Step
from probe.run.blocklists import DEFAULT_DNSBL_ZONES, KNOWN_BLOCKLISTS
from probe.run.reachability import port25_diagnosis
from probe.run.selfaudit import (
    DnsblResult,
    EchoedAddress,
    SourceAudit,
    dnsbl_meaning,
    dnsbl_query_name,
    dnsbl_status,
    public_address_from_ehlo,
)

# -- the address a server echoes -----------------------------------------------------------------

ECHOES = [
    # Exim / Sendmail
    ("250-mx.example.com Hello host.example [203.0.113.5]\n250-SIZE 52428800\n250 HELP", "203.0.113.5", False),
    ("250-mail.example.org Hello probe.example.net [198.51.100.7], pleased to meet you", "198.51.100.7", False),
    # Gmail, with a public address
    ("250-mx.google.com at your service, [8.8.4.4]\n250-SIZE 157286400\n250 SMTPUTF8", "8.8.4.4", True),
    # Microsoft 365
    ("250-BN8NAM11FT.mail.protection.outlook.com Hello [40.107.1.2]\n250-SIZE 157286400", "40.107.1.2", True),
    # IPv6, with and without the RFC 5321 tag; a public IPv6 address
    ("250-mx.example.com Hello host [IPv6:2001:db8::5]", "2001:db8::5", False),
    ("250-mx.example.com Hello host [2001:db8::5]", "2001:db8::5", False),
    ("250 mx.example.com Hello [IPv6:2a00:1450:4001::1]", "2a00:1450:4001::1", True),
    # an IPv4-mapped IPv6 echo is the IPv4 address
    ("250 mx.example.com Hello [::ffff:8.8.8.8]", "8.8.8.8", True),
    # loopback (tests), and the reply's lines without their codes
    ("localhost Hello [127.0.0.1]", "127.0.0.1", False),
    # Gmail's rejection style: "[address   count]"
    ("421-4.7.0 [8.8.8.8      15] Our system has detected an unusual rate", "8.8.8.8", True),
]


@pytest.mark.parametrize(("text", "address", "is_global"), ECHOES)
def test_echoed_address_is_found_with_its_scope(text: str, address: str, is_global: bool) -> None:
    assert public_address_from_ehlo(text) == EchoedAddress(address, is_global)


@pytest.mark.parametrize("text", [
    "",
    "\n\n",
    "250-mx.example.com\n250-PIPELINING\n250 8BITMIME",  # Postfix: no echo
    "220 mx.google.com ESMTP a1-20020a170906 - gsmtp",
    "250 [192.0.2.1] Hello",  # the server's own address literal is its name, not ours
    "250 mx.example.com Hello host [not-an-address]",
    "250 mx.example.com Hello host [999.1.1.1]",
    "250 mx.example.com Hello [[[[]]]] [\x00\xff]",
    "\x00\x01\x02 garbage \ud800 [",
    "250 mx " + "[" * 10000,
])
def test_no_echo_means_none(text: str) -> None:
    assert public_address_from_ehlo(text) is None


@given(st.text(max_size=400))
def test_any_text_gives_an_address_or_none(text: str) -> None:
    found = public_address_from_ehlo(text)
    assert found is None or str(ipaddress.ip_address(found.address)) == found.address


@given(st.ip_addresses())
def test_every_echoed_address_is_found(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    literal = f"IPv6:{ip.exploded}" if ip.version == 6 else str(ip)
    found = public_address_from_ehlo(f"250-mx.example.com Hello client.example [{literal}]")
    expected = (ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else ip
    assert found == EchoedAddress(str(expected), expected.is_global)


# -- DNSBL questions and answers ----------------------------------------------------------------


def test_dnsbl_query_name_ipv4_reverses_octets() -> None:
    assert dnsbl_query_name("192.0.2.10", "zen.spamhaus.org") == "10.2.0.192.zen.spamhaus.org"
    assert dnsbl_query_name("192.0.2.10", " Zen.Spamhaus.Org. ") == "10.2.0.192.zen.spamhaus.org"


def test_dnsbl_query_name_ipv6_uses_32_nibbles() -> None:
    name = dnsbl_query_name("2001:db8::5", "zen.spamhaus.org")
    assert name == "5." + "0." * 23 + "8.b.d.0.1.0.0.2.zen.spamhaus.org"
    assert dnsbl_query_name("[IPv6:2001:db8::5]", "x.test") == name.replace("zen.spamhaus.org", "x.test")


def test_dnsbl_query_name_refuses_a_non_address() -> None:
    with pytest.raises(InputError):
        dnsbl_query_name("mx.example.com", "zen.spamhaus.org")


@pytest.mark.parametrize(("codes", "status"), [
    ([], "not_listed"),
    (["127.0.0.2"], "listed"),
    (["127.0.0.4", "127.0.0.10"], "listed"),
    (["127.0.1.3"], "listed"),
    (["127.255.254.9"], "listed"),
    (["127.255.255.252"], "refused"),
    (["127.255.255.254"], "refused"),
    (["127.255.255.255"], "refused"),
    (["127.0.0.2", "127.255.255.254"], "refused"),  # an error code spoils the whole answer
    (["127.0.0.1"], "error"),  # "listing the world": a list shutting down
    (["127.0.0.0"], "error"),
    (["92.242.132.24"], "error"),  # an ISP resolver rewriting NXDOMAIN
])
def test_dnsbl_status_of_return_codes(codes: list[str], status: str) -> None:
    assert dnsbl_status(codes)[0] == status


def test_dnsbl_meaning_names_the_spamhaus_list() -> None:
    assert "PBL" in dnsbl_meaning("zen.spamhaus.org", ["127.0.0.10"])
    assert "XBL" in dnsbl_meaning("zen.spamhaus.org", ["127.0.0.4"])
    assert dnsbl_meaning("zen.spamhaus.org", ["127.0.0.4", "127.0.0.5"]).count("XBL") == 1
    assert dnsbl_meaning("other.test", ["127.0.0.3"]) == "listed (return code 127.0.0.3)"


def test_default_zones_are_known_lists_without_sorbs() -> None:
    assert DEFAULT_DNSBL_ZONES[0] == "zen.spamhaus.org"
    assert all(zone in KNOWN_BLOCKLISTS for zone in DEFAULT_DNSBL_ZONES)
    assert not any("sorbs" in zone for zone in DEFAULT_DNSBL_ZONES)
    assert all(KNOWN_BLOCKLISTS[z].removal_url.startswith("https://") for z in DEFAULT_DNSBL_ZONES)


# -- findings of an audit -------------------------------------------------------------------------


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]


def clean(**changes: object) -> SourceAudit:
    audit = SourceAudit("8.8.8.8", True, helo="mail.example.net", ptr=["mail.example.net"], ptr_status="ok",
                        forward_confirmed=True, confirmed_name="mail.example.net", helo_matches_ptr=True,
                        helo_resolves_to_ip=True,
                        dnsbl=[DnsblResult("zen.spamhaus.org", "8.8.8.8.zen.spamhaus.org", "not_listed")])
    for name, value in changes.items():
        setattr(audit, name, value)
    return audit


def test_a_clean_audit_has_no_findings() -> None:
    assert clean().findings() == []


def test_unknown_address_is_one_info_finding() -> None:
    found = SourceAudit(None, error="nobody echoed it").findings()
    assert ids(found) == ["source-address-unknown"] and found[0].message == "nobody echoed it"


def test_private_address_says_audit_the_public_one() -> None:
    found = clean(ip="10.1.2.3", is_global=False).findings()
    assert ids(found) == ["source-not-public"] and "--source-ip" in found[0].message


def test_no_ptr_is_a_warning_naming_who_fixes_it() -> None:
    found = clean(ptr=[], ptr_status="nxdomain", forward_confirmed=None, helo_matches_ptr=False).findings()
    assert ids(found) == ["source-no-ptr"]
    assert found[0].severity is Severity.WARNING and "ISP" in found[0].message


def test_ptr_lookup_failure_is_not_reported_as_missing() -> None:
    found = clean(ptr=[], ptr_status="error", ptr_error="SERVFAIL", forward_confirmed=None).findings()
    assert ids(found) == ["source-ptr-unchecked"] and found[0].severity is Severity.INFO


def test_unconfirmed_ptr_names_the_missing_record() -> None:
    found = clean(forward_confirmed=False, confirmed_name=None).findings()
    assert ids(found) == ["source-ptr-not-confirmed"]
    assert "A/AAAA record for mail.example.net pointing to 8.8.8.8" in found[0].message


def test_helo_mismatch_suggests_the_ptr_name() -> None:
    found = clean(helo="localhost", helo_matches_ptr=False, helo_resolves_to_ip=False).findings()
    assert ids(found) == ["source-helo-mismatch"]
    assert "--helo mail.example.net" in found[0].message and "fully qualified" in found[0].message


def test_helo_that_resolves_to_the_address_is_fine_without_matching_ptr() -> None:
    assert clean(helo="other.example.net", helo_matches_ptr=False, helo_resolves_to_ip=True).findings() == []


def test_helo_lookup_failure_says_so() -> None:
    found = clean(helo="x.example.net", helo_matches_ptr=False, helo_resolves_to_ip=None,
                  helo_error="SERVFAIL from 127.0.0.1:53").findings()
    assert ids(found) == ["source-helo-mismatch"] and "could not be resolved (SERVFAIL" in found[0].message


def test_listing_is_critical_with_meaning_and_removal_url() -> None:
    listed = DnsblResult("zen.spamhaus.org", "q", "listed", ["127.0.0.4"], meaning="a compromised host (XBL)",
                         reason="https://check.spamhaus.org/query/ip/8.8.8.8",
                         removal_url="https://check.spamhaus.org/")
    found = clean(dnsbl=[listed]).findings()
    assert ids(found) == ["source-listed"]
    f = found[0]
    assert f.severity is Severity.CRITICAL and f.subject == "zen.spamhaus.org"
    for part in ("Spamhaus ZEN", "127.0.0.4", "compromised host", "https://check.spamhaus.org/", "query/ip"):
        assert part in f.message


def test_refused_and_failed_lists_are_could_not_check() -> None:
    refused = DnsblResult("zen.spamhaus.org", "q", "refused", ["127.255.255.254"])
    failed = DnsblResult("bl.spamcop.net", "q", "error", error="no answer within 1 s")
    skipped = DnsblResult("bl.spamcop.net", "q", "skipped", error="IPv4 only")
    found = clean(dnsbl=[refused, failed, skipped]).findings()
    assert ids(found) == ["source-dnsbl-refused", "source-dnsbl-failed"]
    assert all(f.severity is Severity.INFO for f in found)
    assert "not a public one" in found[0].message and "no answer within 1 s" in found[1].message


def test_audit_to_dict_is_plain_json() -> None:
    d = clean().to_dict()
    assert d["ip"] == "8.8.8.8" and d["dnsbl"][0]["status"] == "not_listed" and d["forward_confirmed"] is True


# -- port 25 ------------------------------------------------------------------------------------


def step(context: Context, code: int | None = None, text: str = "") -> Step:
    return Step(command=None, context=context, code=code, enhanced=None, text=text, lines=[text] if text else [],
                reason=Reason.NETWORK_ERROR if code is None else Reason.ACCEPTED, severity=Severity.WARNING,
                meaning="", remediation="", rule=None, elapsed_ms=1.0)


def session(outcome: str, host: str = "mx1.example.com", address: str = "192.0.2.1", *,
            connected: bool = False, port: int = 25) -> Session:
    steps = [step(Context.BANNER, 220, "mx1.example.com ESMTP")] if connected else [step(Context.CONNECT)]
    if outcome == "skipped":
        steps = []
    return Session(host=host, address=address, port=port, outcome=outcome, steps=steps)


def test_every_connect_timeout_means_port_25_blocked() -> None:
    found = port25_diagnosis([session("timeout"), session("timeout", "mx2.example.com", "192.0.2.2")])
    assert found is not None and found.id == "port25-blocked" and found.severity is Severity.WARNING
    assert "port 25 looks blocked" in found.message and "--proxy" in found.message
    assert "2 connection attempts to 2 MX hosts" in found.message


def test_blocked_names_the_port_tried() -> None:
    found = port25_diagnosis([session("timeout", port=2525)])
    assert found is not None and "port 2525" in found.message


def test_skipped_sessions_are_not_attempts() -> None:
    found = port25_diagnosis([session("timeout"), session("skipped", "mx2.example.com")])
    assert found is not None and found.id == "port25-blocked" and "1 connection attempt to 1 MX host" in found.message
    assert port25_diagnosis([session("skipped")]) is None
    assert port25_diagnosis([]) is None


def test_a_banner_timeout_is_not_a_blocked_port() -> None:
    # the server accepted the connection and then stayed silent (tarpit, greet delay)
    assert port25_diagnosis([session("timeout", connected=True)]) is None
    assert port25_diagnosis([session("timeout"), session("completed", connected=True)]) is None


def test_all_refused_is_not_blocked_by_you() -> None:
    found = port25_diagnosis([session("refused"), session("refused", "mx2.example.com")])
    assert found is not None and found.id == "mx-all-refused" and "not what is blocking" in found.message


def test_all_reset_points_at_a_middlebox_or_the_server() -> None:
    found = port25_diagnosis([session("reset", connected=True)])
    assert found is not None and found.id == "mx-all-reset" and "appliance" in found.message


def test_mixed_failures_say_what_the_mix_means() -> None:
    found = port25_diagnosis([session("timeout"), session("refused", "mx2.example.com")])
    assert found is not None and found.id == "mx-no-connection"
    assert "1 timed out" in found.message and "1 refused" in found.message
    assert "not blocked wholesale" in found.message


def test_timeouts_with_unreachable_ipv6_still_hint_at_blocking() -> None:
    found = port25_diagnosis([session("timeout"), session("unreachable", address="2001:db8::1")])
    assert found is not None and found.id == "mx-no-connection"
    assert "may be blocked" in found.message and "1 unreachable" in found.message


def test_any_successful_connection_means_no_diagnosis() -> None:
    assert port25_diagnosis([session("refused"), session("rejected", "mx2.example.com", connected=True)]) is None


def test_all_unreachable_points_at_this_machines_network() -> None:
    found = port25_diagnosis([session("unreachable", address="2001:db8::1")])
    assert found is not None and found.id == "mx-no-connection" and "no route" in found.message
    assert "-4" in found.message and "may be blocked" not in found.message


def test_a_host_without_an_address_is_no_connection_attempt() -> None:
    # `-4` and an MX with only AAAA: nothing was sent, so no "no route ... force IPv4 with -4" hint
    no_address = Session(host="mx6.example.com", address="", port=25, outcome="unreachable",
                         steps=[step(Context.DNS)])
    assert port25_diagnosis([no_address]) is None
    found = port25_diagnosis([no_address, session("refused")])
    assert found is not None and found.id == "mx-all-refused" and "1 connection attempt to 1 MX host" in found.message
