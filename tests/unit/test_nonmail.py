"""probe.smtp.facts.NonMailBudget: non-mail commands counted as Exim counts them (github:Exim/exim
src/src/smtp_in.c: cmd_list's is_mail_cmd, reset in smtp_setup_msg and after STARTTLS)."""

from __future__ import annotations

from probe.smtp.facts import NONMAIL_LIMIT, NonMailBudget


def test_the_first_ehlo_starttls_and_rset_are_free_and_mail_commands_never_count() -> None:
    budget = NonMailBudget()
    budget.spend(["EHLO probe.test", "STARTTLS", "MAIL FROM:<>", "RCPT TO:<a@x.test>", "RSET", "QUIT"])
    assert (budget.used, budget.left) == (0, NONMAIL_LIMIT)


def test_vrfy_noop_and_second_helo_rset_or_starttls_count() -> None:
    budget = NonMailBudget()
    budget.spend(["HELO probe.test", "EHLO probe.test", "RSET", "RSET", "NOOP", "VRFY a@x.test", "vrfy b@x.test"])
    assert budget.used == 5  # EHLO after HELO, the second RSET, NOOP and two VRFY (any case)


def test_starttls_makes_the_next_ehlo_free_again() -> None:
    budget = NonMailBudget()
    budget.spend(["EHLO a", "STARTTLS"])
    budget.after_tls()
    budget.spend(["EHLO a"])
    assert budget.used == 0
    budget.spend(["EHLO a"])
    assert budget.used == 1


def test_cost_looks_ahead_without_spending() -> None:
    budget = NonMailBudget(limit=3)
    assert budget.cost(["RSET", "VRFY a", "RSET"]) == 2  # the first RSET free, the second not
    assert (budget.used, budget.left) == (0, 3)
    budget.spend(["VRFY a"] * 3)
    assert budget.left == 0
