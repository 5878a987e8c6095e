"""probe.model.Reply: how a reply is quoted in one line (summaries, findings, advice)."""

from __future__ import annotations

from probe.model import Reply


def test_headline_is_the_code_and_the_first_line_collapsed() -> None:
    # postscreen's teaser and its refusal (Postfix postscreen_smtpd.c), a reply of several lines
    reply = Reply(521, ("5.3.2  Service\tcurrently unavailable", "second line"))
    assert reply.headline == "521 5.3.2 Service currently unavailable"


def test_headline_is_bounded_and_keeps_no_code_a_peer_did_not_send() -> None:
    assert Reply(550, ("x" * 300,)).headline == "550 " + "x" * 95 + "…"
    assert Reply(-1, ("HTTP/1.1 400 Bad Request",)).headline == "HTTP/1.1 400 Bad Request"
    assert Reply(250, ()).headline == "250"


def test_first_line_quotes_any_reply_text_as_headline_quotes_a_reply() -> None:
    from probe.model import first_line

    assert first_line("550-5.1.1  No such\tuser\n550 5.1.1 here") == "550-5.1.1 No such user"
    assert first_line("x" * 300) == "x" * 99 + "…"  # one word longer than the quote: cut inside it, marked


# Postfix's reply while reject_unverified_recipient asks the server behind it (verify.c; the catalogue's
# rules/28-filtering-services-more.toml quotes it), 114 characters for this postmaster@
POSTFIX_VERIFYING = ("450 4.1.1 <postmaster@example.com>: Recipient address rejected: unverified address: "
                     "Address verification in progress")


def test_a_long_first_line_is_cut_at_a_word_and_says_it_was_cut() -> None:
    from probe.model import first_line

    quoted = first_line(POSTFIX_VERIFYING)
    assert quoted == ("450 4.1.1 <postmaster@example.com>: Recipient address rejected: unverified address: "
                      "Address…")
    assert len(quoted) <= 100
    assert first_line(POSTFIX_VERIFYING[:100]) == POSTFIX_VERIFYING[:100]  # 100 characters: quoted whole
    assert Reply(450, (POSTFIX_VERIFYING.removeprefix("450 "),)).headline == quoted


def test_the_postmaster_line_quotes_a_long_reply_cut_at_a_word() -> None:
    from probe.model import Reason
    from probe.render.text import render_text

    from sample_reports import MX_HOST, one_mx_report

    report = one_mx_report([], [], reason=Reason.GREYLISTED, postmaster={
        "address": "postmaster@example.com", "host": MX_HOST, "code": 450, "enhanced": "4.1.1",
        "reason": "greylisted", "text": POSTFIX_VERIFYING, "accepted": False,
        "command": "RCPT TO:<postmaster@example.com>"})
    text = " ".join(render_text(report, width=200).split())
    assert "Postmaster RCPT TO:<postmaster@example.com> deferred by mx1.example.com (450 4.1.1" in text
    assert "unverified address: Address…)" in text
    assert "Address veri)" not in text
