"""probe.model.Reply: how a reply is quoted in one line (summaries, findings, advice)."""

from __future__ import annotations

from probe.model import Reply


def test_headline_is_the_code_and_the_first_line_collapsed() -> None:
    # postscreen's teaser and its refusal (Postfix postscreen_smtpd.c), a reply of several lines
    reply = Reply(521, ("5.3.2  Service\tcurrently unavailable", "second line"))
    assert reply.headline == "521 5.3.2 Service currently unavailable"


def test_headline_is_bounded_and_keeps_no_code_a_peer_did_not_send() -> None:
    assert len(Reply(550, ("x" * 300,)).headline) == 100
    assert Reply(-1, ("HTTP/1.1 400 Bad Request",)).headline == "HTTP/1.1 400 Bad Request"
    assert Reply(250, ()).headline == "250"


def test_first_line_quotes_any_reply_text_as_headline_quotes_a_reply() -> None:
    from probe.model import first_line

    assert first_line("550-5.1.1  No such\tuser\n550 5.1.1 here") == "550-5.1.1 No such user"
    assert first_line("x" * 300) == "x" * 100
