"""Input validation: good and bad inputs for every parser, the injection guard, and a property test."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.errors import InputError
from probe.inputs import (
    Address,
    escape_text,
    parse_address,
    parse_domain,
    parse_helo,
    parse_host_port,
    parse_mail_from,
    parse_resolver,
    parse_target,
    target_from_args,
)

LABEL_63 = "a" * 63
LABEL_64 = "a" * 64
NAME_253 = ".".join([LABEL_63, LABEL_63, LABEL_63, "a" * 57, "com"])  # 63*3 + 57 + 3 + 4 dots = 253
NAME_254 = "a" + NAME_253
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def test_length_fixtures_are_what_they_claim() -> None:
    assert len(NAME_253) == 253 and len(NAME_254) == 254


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  example.com ", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("例子.广告", "xn--fsqu00a.xn--4rr70v"),
        ("ＥＸＡＭＰＬＥ。com", "example.com"),  # full-width letters and ideographic full stop (UTS-46)
        ("mx-1.example.test", "mx-1.example.test"),
        (f"{LABEL_63}.com", f"{LABEL_63}.com"),
        (NAME_253, NAME_253),
        ("[192.0.2.1]", "[192.0.2.1]"),
        ("[IPv6:2001:DB8:0::1]", "[IPv6:2001:db8::1]"),
        ("[::1]", "[IPv6:::1]"),
    ],
)
def test_parse_domain_accepts(text: str, expected: str) -> None:
    assert parse_domain(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        (".", "empty"),
        ("example..com", "empty label"),
        (".example.com", "empty label"),
        ("example.com..", "empty label"),
        (f"{LABEL_64}.com", "64 characters"),
        (NAME_254, "too long"),
        ("a" * 300 + ".com", "too long"),
        ("_dmarc.example.com", "underscore"),
        ("my_host.example.com", "underscore"),
        ("exa mple.com", "space"),
        ("-example.com", "invalid label"),
        ("example-.com", "invalid label"),
        ("ab--cd.com", "invalid label"),
        ("xn--zz.com", "invalid label"),
        ("ex!ample.com", "not a valid host name"),
        ("a\u202eb.com", "not a valid host name"),
        ("localhost", "no dot"),
        ("com", "no dot"),
        ("1.2.3", "all-numeric"),
        ("printer.local", "special-use"),
        ("x.invalid", "special-use"),
        ("foo.onion", "special-use"),
        ("1.2.0.192.in-addr.arpa", "special-use"),
        ("192.0.2.1", "--mx 192.0.2.1"),
        ("2001:db8::1", "--mx"),
        ("[300.1.1.1]", "address literal"),
        ("[IPv6:1.2.3.4]", "IPv6 address literal"),
        ("http://example.com/", "looks like a URL, not a mail domain; give just the domain, e.g. smtp-probe example.com"),
        ("HTTPS://Mail.Example.com:443/path", "looks like a URL"),
        ("example.com:25", "looks like HOST:PORT, not a mail domain; to probe that host on that port use "
                           "--mx example.com:25"),
        ("mx.example.com:2525/", "use --mx mx.example.com:2525 with the domain it serves"),
    ],
)
def test_parse_domain_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match="(?i)" + re.escape(fragment)):
        parse_domain(text)


@pytest.mark.parametrize(
    ("text", "smtp_form", "domain", "needs_smtputf8"),
    [
        ("user@example.com", "user@example.com", "example.com", False),
        ("<user@example.com>", "user@example.com", "example.com", False),
        (" <user@Example.COM> ", "user@example.com", "example.com", False),
        ("User.Name+tag@example.com", "User.Name+tag@example.com", "example.com", False),  # local case kept
        ("user@bücher.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example", False),
        ('"john doe"@example.com', '"john doe"@example.com', "example.com", False),
        ('"a@b"@example.com', '"a@b"@example.com', "example.com", False),
        ("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v", "xn--fsqu00a.xn--4rr70v", True),
        ("Üser@example.com", "Üser@example.com", "example.com", True),
        ("user@[192.0.2.1]", "user@[192.0.2.1]", "[192.0.2.1]", False),
        ("user@[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]", False),
        (f"{'x' * 64}@example.com", f"{'x' * 64}@example.com", "example.com", False),
        ("probe@mx.example.test", "probe@mx.example.test", "mx.example.test", False),
        ("user@example.com.", "user@example.com", "example.com", False),  # fully qualified, as a domain
        ("<user@Example.com.>", "user@example.com", "example.com", False),
    ],
)
def test_parse_address_accepts(text: str, smtp_form: str, domain: str, needs_smtputf8: bool) -> None:
    address = parse_address(text)
    assert address.smtp_form == smtp_form and str(address) == smtp_form
    assert address.domain == domain
    assert address.needs_smtputf8 is needs_smtputf8
    assert (address.ascii is None) is needs_smtputf8
    assert address.original == text.strip()


def test_smtputf8_address_keeps_its_parts() -> None:
    address = parse_address("用户@例子.广告")
    assert address == Address(
        original="用户@例子.广告",
        local="用户",
        domain="xn--fsqu00a.xn--4rr70v",
        ascii=None,
        needs_smtputf8=True,
        smtp_form="用户@xn--fsqu00a.xn--4rr70v",
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("<>", "empty"),
        ("   ", "empty"),
        ("user", "no @-sign"),
        ("user@", "not valid"),
        ("@example.com", "not valid"),
        ("user@example", "not valid"),
        ("user@localhost", "not valid"),
        ("user@example..com", "not valid"),
        ("user@ex_ample.com", "not valid"),
        ("us er@example.com", "not valid"),
        ("John <user@example.com>", "not valid"),
        ("<<user@example.com>>", "not valid"),
        ("user@example.com..", "not valid"),
        ("user@[999.1.1.1]", "not valid"),
        (f"{'x' * 250}@example.com", "not valid"),
        ("user@" + NAME_254, "not valid"),
    ],
)
def test_parse_address_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match="(?i)" + re.escape(fragment)):
        parse_address(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("probe.example.net", "probe.example.net"),
        ("Probe.Example.NET.", "probe.example.net"),
        ("localhost", "localhost"),  # not a FQDN, but a host name: the server may say helo_rejected
        ("bücher.example", "xn--bcher-kva.example"),
        ("[192.0.2.1]", "[192.0.2.1]"),
        ("[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]"),
    ],
)
def test_parse_helo_accepts(text: str, expected: str) -> None:
    assert parse_helo(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("my host", "space"),
        (" probe.example.net", "leading or trailing spaces"),
        ("probe.example.net ", "leading or trailing spaces"),
        ("probe_1.example.net", "underscore"),
        ("192.0.2.1", "[192.0.2.1]"),
        ("probe.example.net>", "not a valid host name"),
        ("[probe.example.net]", "address literal"),
        (f"{LABEL_64}.net", "64 characters"),
        ("127.1", "all-numeric"),
    ],
)
def test_parse_helo_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match="(?i)" + re.escape(fragment)):
        parse_helo(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("<>", ""),
        (" <> ", ""),
        ("bounce@example.com", "bounce@example.com"),
        ("<Bounce@Example.com>", "Bounce@example.com"),
        ("rücklauf@bücher.example", "rücklauf@xn--bcher-kva.example"),
    ],
)
def test_parse_mail_from(text: str, expected: str) -> None:
    assert parse_mail_from(text) == expected


def test_parse_mail_from_rejects_a_bad_address_naming_from() -> None:
    with pytest.raises(InputError, match="^--from 'nobody' has no @-sign"):
        parse_mail_from("nobody")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mx.example.com", ("mx.example.com", 25)),
        ("MX.Example.com:2525", ("mx.example.com", 2525)),
        ("localhost:1", ("localhost", 1)),
        ("127.0.0.1", ("127.0.0.1", 25)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 25)),
        ("2001:DB8::1", ("2001:db8::1", 25)),
        ("[::1]", ("::1", 25)),
        ("[::1]:5353", ("::1", 5353)),
        ("[192.0.2.1]:65535", ("192.0.2.1", 65535)),
    ],
)
def test_parse_host_port_accepts(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text, 25) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("mx:0", "invalid port"),
        ("mx:65536", "invalid port"),
        ("mx:", "invalid port"),
        ("mx:25x", "invalid port"),
        ("mx:-1", "invalid port"),
        ("[::1", "no closing"),
        ("[::1]5353", "after the closing bracket"),
        ("[mx.example.com]:25", "no IP address"),
        ("2001:db8::zz", "not a valid IPv6"),
        ("mx_1.example.com", "underscore"),
        ("mx example.com", "space"),
        ("0", "all-numeric"),
        ("127.1:25", "all-numeric"),
    ],
)
def test_parse_host_port_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match="(?i)" + re.escape(fragment)):
        parse_host_port(text, 25, what="--mx")


def test_parse_resolver_wants_an_ip() -> None:
    assert parse_resolver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_resolver("::1") == ("::1", 53)
    with pytest.raises(InputError, match="must be an IP address"):
        parse_resolver("dns.example.com")


def test_parse_target_domain_only() -> None:
    target = parse_target("Example.COM")
    assert (target.domain, target.addresses, target.raw) == ("example.com", [], "Example.COM")


def test_parse_target_address_only_takes_the_domain_from_it() -> None:
    target = parse_target("user@Bücher.example")
    assert target.domain == "xn--bcher-kva.example"
    assert [a.smtp_form for a in target.addresses] == ["user@xn--bcher-kva.example"]


def test_parse_target_domain_and_addresses_keeps_foreign_domains_and_drops_duplicates() -> None:
    target = parse_target("example.com\ta@example.com  b@other.example <a@example.com>")
    assert target.domain == "example.com"
    assert [a.smtp_form for a in target.addresses] == ["a@example.com", "b@other.example"]


def test_parse_target_addresses_of_several_domains_need_the_domain_first() -> None:
    with pytest.raises(InputError, match="different domains"):
        parse_target("a@one.example b@two.example")
    assert parse_target("a@one.example b@one.example").domain == "one.example"


def test_command_line_arguments_follow_the_target_rules() -> None:
    # `smtp-probe a@one.example b@two.example` would ask one.example's MX about two.example: refused
    with pytest.raises(InputError, match="different domains.*relay/backup"):
        target_from_args("a@one.example", ["b@two.example"])
    both = target_from_args("a@one.example", ["<b@one.example>", "a@one.example"])
    assert (both.domain, [a.smtp_form for a in both.addresses]) == ("one.example", ["a@one.example", "b@one.example"])
    relay = target_from_args("one.example", ["b@two.example"])  # a DOMAIN first: a relay/backup check, allowed
    assert (relay.domain, relay.addresses[0].domain) == ("one.example", "two.example")
    with pytest.raises(InputError, match="control character"):
        target_from_args("one.example", ["a@one.example\r\nDATA"])
    with pytest.raises(InputError, match="empty"):
        target_from_args(" ")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("", "empty"),
        (" \t ", "empty"),
        ("example.com nobody", "address 1 in the target"),
        ("example.com a@example.com b@", "address 2 in the target"),
        ("exa_mple.com a@example.com", "the domain in the target"),
        ("example.com " + " ".join(f"u{n}@example.com" for n in range(101)), "at most 100"),
    ],
)
def test_parse_target_rejects(line: str, fragment: str) -> None:
    with pytest.raises(InputError, match="(?i)" + re.escape(fragment)):
        parse_target(line)


# --- the injection guard -------------------------------------------------------------------------

CONTROL_CHARACTERS = [
    *(chr(c) for c in range(0x00, 0x20)),  # C0, including NUL, TAB, LF, CR, ESC
    "\x7f",  # DEL
    *(chr(c) for c in range(0x80, 0xA0)),  # C1, including NEL (\x85) and CSI (\x9b)
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
]
PARSERS: list[tuple[str, Callable[[str], Any], str]] = [
    ("the domain", parse_domain, "example.com{}"),
    ("the address", parse_address, "a@b.com>{}DATA"),
    ("--helo", parse_helo, "x{}MAIL FROM:<a@b>"),
    ("--from", parse_mail_from, "a@b.com{}RCPT TO:<c@d.com>"),
    ("the host", lambda text: parse_host_port(text, 25), "mx.example.com{}:25"),
    ("--resolver", parse_resolver, "127.0.0.1{}"),
    ("the target", parse_target, "example.com a@example.com{}"),
]


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(("what", "parser", "template"), PARSERS, ids=[p[0] for p in PARSERS])
def test_every_control_character_is_refused_everywhere(
    what: str, parser: Callable[[str], Any], template: str, char: str
) -> None:
    if char == "\t" and parser is parse_target:
        pytest.skip("a tab separates the fields of a target line")
    with pytest.raises(InputError) as caught:
        parser(template.format(char))
    message = str(caught.value)
    expected = f"{what} contains a control character ({escape_text(char)}); nothing was sent"
    assert message == expected[:1].upper() + expected[1:]
    assert escape_text(char) in message and char not in message  # shown escaped, never raw


def test_crlf_injection_message_reads_well() -> None:
    with pytest.raises(InputError) as caught:
        parse_helo("x\r\nMAIL FROM:<a@b>")
    assert str(caught.value) == "--helo contains a control character (\\r); nothing was sent"


def test_tab_is_refused_inside_a_target_field() -> None:
    with pytest.raises(InputError, match="control character"):
        parse_address("a\t@example.com")


def test_error_messages_escape_unprintable_characters_from_libraries() -> None:
    with pytest.raises(InputError) as caught:
        parse_domain("a\u202eb.com")  # RIGHT-TO-LEFT OVERRIDE: not a control character, but never shown raw
    assert "\u202e" not in str(caught.value) and "\\u202e" in str(caught.value)


def test_escape_text() -> None:
    assert escape_text("a\r\n\x00\x1b[31m\u2028b") == "a\\r\\n\\x00\\x1b[31m\\u2028b"
    assert escape_text("bücher 用户") == "bücher 用户"


# --- properties ----------------------------------------------------------------------------------

ALL_PARSERS: list[Callable[[str], Any]] = [
    parse_domain,
    parse_address,
    parse_helo,
    parse_mail_from,
    lambda text: parse_host_port(text, 25),
    parse_resolver,
    parse_target,
]
# Mostly input-shaped text, with a good share of control and odd Unicode characters.
INPUT_ALPHABET = st.one_of(
    st.sampled_from(list("abcxyz019.-_@<>[]:\"' \tÜü用户例子.")),
    st.sampled_from(CONTROL_CHARACTERS),
    st.characters(),
)
INPUT_TEXT = st.one_of(st.text(INPUT_ALPHABET, max_size=40), st.text(max_size=40))


def _accepted_strings(value: Any) -> list[str]:
    if isinstance(value, int):
        assert 1 <= value <= 65535
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple):
        return [part for item in value for part in _accepted_strings(item)]
    if isinstance(value, Address):
        return [value.local, value.domain, value.smtp_form, value.ascii or ""]
    return [value.domain, *(part for a in value.addresses for part in _accepted_strings(a))]


@settings(max_examples=300, deadline=None)
@given(text=INPUT_TEXT)
def test_arbitrary_text_raises_only_input_error_and_accepted_output_is_clean(text: str) -> None:
    for parser in ALL_PARSERS:
        try:
            result = parser(text)
        except InputError as exc:
            assert str(exc).isprintable()
            continue
        for accepted in _accepted_strings(result):
            assert not CONTROL.search(accepted)
            assert "\r" not in accepted and "\n" not in accepted


@settings(max_examples=200, deadline=None)
@given(local=st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), char=st.sampled_from(CONTROL_CHARACTERS))
def test_injection_anywhere_in_an_address_is_refused(local: str, char: str) -> None:
    for position in range(len(local) + 1):
        text = f"{local[:position]}{char}{local[position:]}@example.com"
        with pytest.raises(InputError, match="control character"):
            parse_address(text)


# -- the plain-address fast path gives email-validator's verdict ------------------------------------------

ATEXT = "abcXYZ019_!#$%&'*+/=?^`{|}~-"
LABELS = st.one_of(
    st.text(alphabet="abcxyzABZ019-", min_size=1, max_size=8),
    st.sampled_from(["xn--bcher-kva", "ab--cd", "test", "arpa", "local", "localhost", "onion", "invalid",
                     "a" * 63, "b" * 64, "123", "-a", "a-", "com", "COM", "example", "\u212a", "é", "", "x" * 70]),
)
PLAIN_LIKE = st.builds(
    lambda local, labels, at: local + at + ".".join(labels),
    st.text(alphabet=ATEXT + ".", min_size=0, max_size=70) | st.sampled_from(
        ["Postmaster", "ABUSE", "info", "a..b", ".a", "a.", '"a b"', "user", "é", "a" * 64, "a" * 65]),
    st.lists(LABELS, min_size=1, max_size=5) | st.lists(st.just("a" * 63), min_size=4, max_size=5),
    st.sampled_from(["@", "@", "@", "@@", "＠", " @", "@["]),
)
NEAR_VALID = st.builds(  # mostly valid: dot-atoms at LDH names, some too long, reserved or upper-case
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    st.from_regex(r"[A-Za-z0-9_!#$%&'*+/=?^`{|}~-]{1,20}(\.[A-Za-z0-9_!#$%&'*+/=?^`{|}~-]{1,20}){0,3}", fullmatch=True),
    st.lists(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,65}[A-Za-z0-9])?", fullmatch=True), min_size=1, max_size=4),
    st.from_regex(r"[A-Za-z0-9-]{0,5}[A-Za-z]", fullmatch=True) | st.sampled_from(["test", "arpa", "onion", "9"]),
)


def _email_validator_verdict(candidate: str) -> tuple[str, str | None, str] | None:
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(candidate, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=True,
                                 allow_domain_literal=True, allow_display_name=False, test_environment=True)
    except EmailNotValidError:
        return None
    return checked.local_part, checked.ascii_local_part, checked.ascii_domain


@settings(max_examples=500)
@given(candidate=NEAR_VALID | PLAIN_LIKE | st.text(alphabet=ATEXT + ".@ \"<>[]é", max_size=40))
def test_the_plain_address_fast_path_agrees_with_email_validator(candidate: str) -> None:
    from probe.inputs import _plain_address

    plain = _plain_address(candidate)
    if plain is not None:  # whatever the fast path accepts, email-validator accepts with the same parts
        local, domain = plain
        assert _email_validator_verdict(candidate) == (local, local, domain)


@pytest.mark.parametrize("text", ["alice@example.com", "Bob.Smith+tag@Mail.Example.COM", "POSTMASTER@example.org",
                                  "a!#$%&'*+/=?^_`{|}~-@x1.example.net", "alice@bench.test"])
def test_common_addresses_take_the_fast_path_with_email_validators_answer(text: str) -> None:
    from probe.inputs import _plain_address

    verdict = _email_validator_verdict(text)
    assert verdict is not None
    assert _plain_address(text) == (verdict[0], verdict[2])
