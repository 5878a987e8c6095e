"""probe.diagnosis.explain and its renderer: entries, comparisons, JSON Lines, safe terminal text."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from probe.diagnosis.classifier import classify, diagnose_event
from probe.diagnosis.explain import compare, entry, explain_stream
from probe.errors import InputError
from probe.model import Context, Reason
from probe.render.explain import render_comparison, render_entry
from probe.render.safe import printable

SPEC_FIELDS = {"code", "enhanced", "class", "reason", "severity", "meaning", "when", "remediation"}


@pytest.mark.parametrize("item", ["252", "5.7.26", "550 5.1.1",
                                  "550-5.1.1 The email account that you tried to reach does not exist."])
def test_entry_has_the_spec_fields(item: str) -> None:
    e = entry(item)
    assert set(e) >= SPEC_FIELDS
    assert all(e[k] for k in ("class", "reason", "severity", "meaning", "when", "remediation"))
    json.dumps(e)


def test_entry_252() -> None:
    e = entry("252")
    assert (e["code"], e["class"], e["reason"], e["severity"]) == (252, "positive", "cannot_verify", "info")
    assert e["title"].startswith("Cannot verify user")
    assert "VRFY" in e["contexts"] and e["sender"]


def test_entry_enhanced_only() -> None:
    e = entry("5.7.26")
    assert (e["code"], e["enhanced"], e["class"]) == (None, "5.7.26", "permanent")
    assert e["reason"] == "sender_unauthenticated" and "Multiple authentication" in e["title"]


def test_entry_with_context_uses_the_context() -> None:
    assert entry("550", "MAIL")["reason"] == "sender_rejected"
    assert entry("550", "VRFY")["reason"] == "user_unknown"  # RFC 5321 3.5.3: no mailbox matched the name
    rcpt = entry("550", "RCPT")  # a bare 550 names no cause (RFC 5321 4.2.2): not "the user does not exist"
    assert rcpt["reason"] == "unknown" and "postmaster" in rcpt["remediation"]


@pytest.mark.parametrize("bad", ["999", "", "  ", "1.2.3", "5.1"])
def test_bad_input_is_one_line_input_error(bad: str) -> None:
    with pytest.raises(InputError) as info:
        entry(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "reason", "by"), [
    # Postfix's stock relay refusal, its code cut off (github:vdukhovni/postfix/postfix/src/smtpd/smtpd_check.c)
    ("Relay access denied", "relay_denied", "rule"),
    # Sisimai's unknown-user phrases as Domino words them in French (github:sisimai/p5-sisimai/lib/Sisimai/Lhost/Domino.pm)
    ("non répertorié dans l'annuaire Domino", "user_unknown", "lexicon"),
    ("hello", "unknown", "nothing"),
])
def test_text_without_a_code_is_explained_by_its_words(text: str, reason: str, by: str) -> None:
    """Issue 10 (1): pasted words without a code are judged by their words, never protocol_error."""
    e = entry(text)
    assert (e["code"], e["reason"], e["decided_by"]["by"]) == (None, reason, by)
    assert "protocol" not in e["reason"]


def test_unknown_context_is_input_error() -> None:
    with pytest.raises(InputError, match="unknown reply context"):
        entry("250", "SEND")


def test_compare_252_521_like_the_seed() -> None:
    c = compare(["252", "521"])
    assert c["differences"][0] == ("252 is a 2xx Positive Completion response, while 521 is a 5xx "
                                   "Permanent Negative response.")
    assert any("SMTP 521: The host does not accept mail at all" in d for d in c["differences"])
    assert "For 252" in c["which_applies"] and "For 521" in c["which_applies"]
    assert [e["code"] for e in c["entries"]] == [252, 521]


def test_compare_same_class_and_three_items() -> None:
    assert compare(["550", "554"])["differences"][0] == "Both 550 and 554 are 5xx Permanent Negative responses."
    first = compare(["250", "450", "550"])["differences"][0]
    assert first.startswith("250 is a 2xx") and "and 550 is a 5xx" in first


def test_compare_needs_two() -> None:
    with pytest.raises(InputError):
        compare(["252"])


def test_render_entry_sections() -> None:
    text = render_entry(entry("252"), color=False)
    for heading in ("Meaning", "When you see it", "How to resolve", "If your mail bounced with it", "By command"):
        assert f"\n{heading}\n" in text
    assert "\x1b" not in text
    assert "\x1b[1m" in render_entry(entry("252"), color=True)


def test_render_comparison_sections() -> None:
    text = render_comparison(compare(["252", "521"]), color=False)
    assert "SMTP 252 vs 521" in text and "Key differences" in text and "Which applies when" in text


def test_server_text_is_escaped_when_rendered() -> None:
    text = render_entry(entry("550 5.1.1 \x1b[2J\x07gone\u202e"), color=False)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2J" in text and "\\u202e" in text


def test_printable() -> None:
    assert printable("a\nb") == "a\nb"
    assert printable("\x00\x9b\r\t") == "\\x00\\x9b\\x0d\\x09"
    assert printable("\u2066x\u2069 ok é") == "\\u2066x\\u2069 ok é"


def test_explain_stream_never_stops() -> None:
    lines = ['{"context": "RCPT", "reply": "550 5.1.1 no such user"}', "not json", '{"reply": 5}',
             "", '{"context": "SEND", "reply": "250 ok"}', '{"reply": "252"}']
    out = list(explain_stream(lines))
    assert [o.get("line") for o in out] == [1, 2, 3, 5, 6]
    assert out[0]["reason"] == "user_unknown" and out[0]["context"] == "RCPT"
    assert all("error" in o for o in out[1:4]) and out[4]["reason"] == "cannot_verify"


def test_explain_does_not_import_the_network_stack() -> None:
    code = ("import sys, probe.diagnosis.explain as e, probe.render.explain as r; r.render_entry(e.entry('252'), color=False);"
            "e.entry('550 5.1.1 x'); bad = [m for m in ('asyncio', 'ssl', 'socket', 'dns', 'click', 'aiosmtplib')"
            " if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_null_mx_advice_only_where_a_null_mx_is_meant() -> None:
    banner = classify("521 5.3.2 mx.example.com does not accept mail", "banner")
    assert banner.reason is Reason.NOT_ACCEPTING_MAIL and "null MX" not in banner.remediation
    for text in ("556 5.1.10 <a@example.org>: Recipient address rejected: Domain example.org does not accept mail",
                 "550 5.1.10 <a@example.org>: Recipient address rejected: Domain example.org does not accept mail"):
        assert "null MX" in classify(text, "RCPT").remediation, text
    assert "null MX" in diagnose_event("null-mx", Context.DNS, detail="example.org").meaning


def test_enhanced_code_alone_has_no_basic_code_note() -> None:
    e = entry("5.9.99")
    assert not any("None" in n for n in e["notes"])
    assert "5.9.99 is not a registered enhanced status code" in e["notes"][0]


@pytest.mark.parametrize(("item", "reason"), [("4.3.6", "system_error"), ("5.1.9", "bad_address"),
                                              ("2.1.1", "accepted")])
def test_enhanced_code_under_an_unregistered_class_follows_class_and_subject(item: str, reason: str) -> None:
    e = entry(item)
    assert e["reason"] == reason
    assert "registered for use with" in e["notes"][0] and "subject X." in e["notes"][0]


def test_code_less_bounce_text_is_explained_gracefully() -> None:
    d = classify("Remote server returned: mailbox unavailable, user unknown", "bounce").to_dict()
    text = render_entry(d, color=False)
    assert d["reason"] == "user_unknown"
    assert not text.startswith("SMTP \n") and text.splitlines()[0] == "Text without an SMTP reply code"
    assert "Never from a working SMTP server" not in text and "bounce" in d["when"]
    odd = classify("Remote server returned: something odd", "bounce")
    assert odd.reason is Reason.UNKNOWN and "not an SMTP reply" not in odd.meaning


def test_printable_escapes_lone_surrogates_so_any_utf8_stream_can_print_them() -> None:
    shown = printable("caf\udce9 ok\n")
    assert shown == "caf\\udce9 ok\n"
    shown.encode("utf-8")  # would raise UnicodeEncodeError if a surrogate were left in


def test_the_bounce_advice_is_left_out_when_the_words_give_another_reason_than_the_code() -> None:
    # 552's own advice speaks of size and full mailboxes; a 552 whose words say 'Virus found' is neither
    assert "too large" in (entry("552")["sender"] or "")
    worded = entry("552 Virus found.")
    assert worded["reason"] == "virus_detected" and worded["sender"] is None
    assert entry("552 5.3.4 Message size exceeds fixed limit")["sender"]  # the words agree with the code
    # 550's advice names the usual causes itself, so it fits whatever the words say
    assert entry("550 5.7.1 Client host blocked using zen.spamhaus.org")["sender"]


def test_when_a_rule_overrides_a_code_that_names_no_cause_the_text_says_so() -> None:
    when = classify("550 user is locked.", "RCPT").when
    assert "a bare 550 names no cause" in when and "(unknown)" not in when
    assert "not what a bare 552 usually means (message too big)" in classify("552 Virus found.").when


def test_a_file_cited_twice_is_listed_once() -> None:
    """postscreen's 521: the rule cites postscreen.c by its GitHub URL, the enhanced code 5.3.2 by 'github:...' with
    the lines it quotes; explain lists the file once, in the form that says what is there."""
    refs = entry("521 5.3.2 Service currently unavailable")["references"]
    postscreen = [r for r in refs if "postscreen.c" in r]
    assert len(postscreen) == 1 and "PSC_ACL_ACT_DENYLIST" in postscreen[0], refs
    assert refs.index(postscreen[0]) < refs.index("RFC 3463 §3.4")  # where the file was first cited


def test_what_decided_is_said_once_and_the_meaning_is_plain_words() -> None:
    """Words no rule knows decide this reply: explain says which on its 'decided by' line; the meaning (which the
    probe's report prints too) is the reason's plain text, without the phrases and their scores again."""
    e = entry("DNS Error: DNS type 'mx' lookup of example.com responded with code SERVFAIL")
    assert e["decided_by"]["by"] == "lexicon" and "score" in e["decided_by"]["summary"]
    assert "score" not in e["meaning"] and "Decided by" not in e["meaning"]
    assert render_entry(e, color=False).lower().count("decided by") == 1
