"""Rules narrowed to what their sources say (issue 10): replies from sources nobody here had read, where a rule's
pattern claimed more than its source. The texts are the fresh batches' dev replies named beside each case."""

from __future__ import annotations

import pytest

from probe.diagnosis.catalogue.parsing import parse_rules
from probe.diagnosis.classifier import classify
from probe.errors import CatalogueError
from probe.model import Reason


def _rule(text: str, context: str | None) -> str | None:
    return classify(text, context).decided_by.rule


def test_unrecognized_command_is_starttls_only_in_reply_to_starttls() -> None:
    # fresh-2026-12b-100: a bounce's 'unrecognized command' is some other command's
    text = "500 5.3.3 Unrecognized command 'unknown' [xx.xx.PROD.OUTLOOK.COM 2024-03-03T19:48:24.046Z xx]"
    assert classify(text, "bounce").reason is not Reason.TLS_FAILURE
    assert classify(text, None).reason is not Reason.TLS_FAILURE
    assert _rule("500 unrecognized command", "STARTTLS") == "starttls-not-offered"
    # HELP/EXPN's 'unrecognized' likewise says which command only in reply to it
    assert _rule("502 5.5.2 Error: command not recognized", "bounce") != "postfix-command-not-recognized"
    assert _rule("502 5.5.2 Error: command not recognized", "HELP") == "postfix-command-not-recognized"


def test_other_rules_restricted_to_contexts_still_read_bounces() -> None:
    # measured on dev: rcpt-try-later is right on two of the three bounces it decides (fresh-2026-12c)
    assert _rule("451 This server is currently unavailable, please try later.", "bounce") == "rcpt-try-later"


def test_context_only_needs_contexts() -> None:
    given = ("[[rule]]\nid = 'x'\ncontext_only = true\npatterns = ['y']\nreason = 'user_unknown'\n"
             "meaning = 'm'\nremediation = 'r'\n")
    with pytest.raises(CatalogueError, match="context_only"):
        parse_rules(given)
    assert parse_rules(given.replace("context_only", "contexts = ['RCPT']\ncontext_only"))[0].context_only
