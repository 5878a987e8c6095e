"""probe.diagnosis.codes: reply text -> code, enhanced code, lines, normalised text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe import classify
from probe.diagnosis.codes import parse, split_enhanced


def test_multiline_reply() -> None:
    p = parse("550-5.1.1 The email account that you tried to reach does not exist.\n"
              "550-5.1.1 Please try double-checking the recipient's email\n550 5.1.1 address. gsmtp")
    assert (p.code, p.enhanced) == (550, "5.1.1")
    assert len(p.lines) == 3 and p.lines[0].startswith("5.1.1 The email")
    assert p.normalized == ("550 5.1.1 the email account that you tried to reach does not exist. "
                            "please try double-checking the recipient's email address. gsmtp")


@pytest.mark.parametrize(
    ("text", "code", "enhanced"),
    [
        ("252", 252, None),
        ("250 OK", 250, None),
        ("Diagnostic-Code: smtp; 550 5.1.1 <a@example.com>: Recipient address rejected", 550, "5.1.1"),
        ("Remote server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'", 550, "5.1.10"),
        ("host mx.example.com[192.0.2.1] said: 554 5.7.1 Service unavailable (in reply to RCPT TO command)", 554, "5.7.1"),
        ("Status: 5.1.1", None, "5.1.1"),
        ("5.7.26", None, "5.7.26"),
        ("550 4.1.1 class disagrees", 550, None),  # enhanced class must equal the code's
        ("421 4.7.0 try again in 300 seconds", 421, "4.7.0"),
        ("999 nonsense", None, None),
        ("hello 10.5.1.1 and 2.4.1", None, None),  # an IP address or a version is not a status code
        ("550 blocked 192.5.1.1", 550, None),
        ("550 blocked x5.1.1 and _4.7.1", 550, None),  # glued to a word: no status code either
        ("5.1.1: mailbox unknown", None, "5.1.1"),  # at the very start, nothing before it
        ("", None, None),
        ("HTTP/1.1 400 Bad Request", None, None),
        # Exim's sender verification quotes the sender's server: its 5.1.1 is that reply's, not this one's
        ("550-Verification failed for <x@example.org>\n550-Response: 550 5.1.1 <x@example.org>: User unknown\n"
         "550 Sender verify failed", 550, None),
        # a quoted reply that is the line's text (Exim's recipient callout) is about this recipient: it stands
        ("550-Callout verification failed:\n550 550 5.1.1 <x@example.org>: Recipient address rejected", 550, "5.1.1"),
    ],
)
def test_codes_found(text: str, code: int | None, enhanced: str | None) -> None:
    p = parse(text)
    assert (p.code, p.enhanced) == (code, enhanced)


def test_normalized_collapses_whitespace_and_case() -> None:
    assert parse("451   4.7.1  Greylisted,\tPLEASE  retry").normalized == "451 4.7.1 greylisted, please retry"


def test_split_enhanced() -> None:
    assert split_enhanced("5.1.10") == (5, 1, 10)
    assert split_enhanced("3.1.1") is None and split_enhanced("5.1") is None


@given(st.text(max_size=400))
def test_parse_never_raises_and_codes_are_valid(text: str) -> None:
    p = parse(text)
    assert p.code is None or 200 <= p.code <= 599
    if p.code is not None and p.enhanced is not None:
        assert p.enhanced[0] == str(p.code)[0]


def test_typographic_quotes_are_folded_to_ascii_so_pasted_text_matches_what_the_server_sent() -> None:
    # a bounce copied from a web page or a word processor carries U+2019 where the server wrote '
    assert parse("550 Sorry, I couldn’t find any host named example.org").normalized == \
        "550 sorry, i couldn't find any host named example.org"
    assert parse("550 5.7.1 “Message rejected”").normalized == '550 5.7.1 "message rejected"'
    curly = classify("550 Sorry, I couldn’t find any host named example.org (#5.1.2)")
    assert curly.reason is classify("550 Sorry, I couldn't find any host named example.org (#5.1.2)").reason
    assert curly.rule == "qmail-remote-no-host"
