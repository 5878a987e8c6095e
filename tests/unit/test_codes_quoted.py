"""probe.diagnosis.codes.parse: the reply a bounce, a log line or a queue listing quotes, taken alone (ParsedReply.quoted),
so that a wording rule written for the reply itself holds for it quoted too.

The quoting texts are Postfix's own: smtp(8)'s "host %s refused to talk to me: %s" and "host %s said: %s (in reply to
%s command)" (src/smtp/smtp_proto.c), its log line's "status=deferred (%s)" and postqueue -p's bracketed reason, as
tests/realmta/test_lab_bounces.py reads them from a real Postfix; the quoted reply is postscreen's deny-list reply
"521 5.3.2 Service currently unavailable" (src/postscreen/postscreen.c) or RFC 5321's and RFC 3463's own words.
Addresses are documentation ones.
"""

from __future__ import annotations

import pytest

from probe import classify
from probe.diagnosis.codes import parse

POSTSCREEN = "521 5.3.2 Service currently unavailable"
TALK = f"host mx.example.net[192.0.2.1] refused to talk to me: {POSTSCREEN}"


@pytest.mark.parametrize("text", [
    TALK,
    # the bounce's recipient paragraph, folded, then the next part of the DSN
    f"<user@example.com>: host mx.example.net[192.0.2.1] refused to talk to\n    me: {POSTSCREEN}\n\n"
    "Reporting-MTA: dns; mx.example.org",
    # the smtp(8) log line
    "Dec  7 23:45:19 mx postfix/smtp[31438]: 206FE26A525: to=<user@example.com>, relay=192.0.2.1[192.0.2.1]:25, "
    f"delay=0.03, delays=0/0.01/0/0.01, dsn=4.3.2, status=deferred ({TALK})",
    # postqueue -p: the reason in brackets, the recipient on the next line
    f"206FE26A525     299 Mon Dec  7 23:45:14  sender@example.org\n({TALK})\n"
    "                                         user@example.com",
])
def test_a_quoted_reply_is_taken_alone(text: str) -> None:
    parsed = parse(text)
    assert (parsed.code, parsed.enhanced, parsed.quoted) == (521, "5.3.2", "521 5.3.2 service currently unavailable")
    # postscreen's deny-list wording is known by a rule written for the reply itself (anchored at both ends)
    assert classify(text, "bounce").rule == "postscreen-denylist"


def test_the_log_lines_bracket_is_not_the_reply_and_the_command_it_answered_is_kept() -> None:
    """The bracket the log line opened before the reply closes after it; Postfix's "(in reply to RCPT TO command)"
    stays: rules read the command there (hMailServer's "550 The address is not valid." is a sender's only in reply
    to MAIL FROM)."""
    text = ("status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 <user@example.com>: Recipient address "
            "rejected: User unknown in local recipient table (in reply to RCPT TO command))")
    assert parse(text).quoted == ("550 5.1.1 <user@example.com>: recipient address rejected: user unknown in local "
                                  "recipient table (in reply to rcpt to command)")


def test_a_reply_that_leads_its_text_is_not_quoted() -> None:
    assert parse(POSTSCREEN).quoted == ""
    assert parse("connect to mx.example.net[192.0.2.1]:25: Connection refused").quoted == ""


def test_a_dsn_fields_type_is_no_word_of_the_reply() -> None:
    """"Diagnostic-Code: smtp; ..." (RFC 3464 §2.3.6): 'smtp' says what kind of text follows. The learned words once
    read it as the reply's, and with 'forwarding' leaned to network_error a reply that said nothing of the network
    (the Exim spec's own :fail: text, "Special items in redirection lists", as Exim answers RCPT with it)."""
    reply = "550 Gone away, no forwarding address"
    alone = classify(reply, "bounce")
    for quoted in (f"Diagnostic-Code: smtp; {reply}", f"Diagnostic-Code: smtp;{reply}"):
        said = classify(quoted, "bounce")
        assert said.reason is alone.reason and said.reason.value != "network_error", said.to_dict()["decided_by"]


def test_the_message_size_in_exims_log_is_no_reply_code() -> None:
    """Exim's main and message logs give the size as S= (the Exim spec's "Summary of fields in log lines"): "S=366"
    is no 3xx reply. A message log pasted whole (exim -Mvl) was read as "accepted (only the reply class (3xx) is known)"."""
    arrival = "2026-12-08 00:02:24 1xaice-00058B-0l <= sender@example.org U=root P=local S=366 id=1@example.org"
    assert parse(arrival).code is None
    message_log = ("2026-12-08 00:02:28 Received from sender@example.org U=root P=local S=370 id=1@example.org\n"
                   "2026-12-08 00:02:28 user@example.com R=dnslookup defer (-1): host lookup did not complete\n")
    said = classify(message_log, "bounce")
    assert said.code is None and said.reason.value == "dns_error"
