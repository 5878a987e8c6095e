"""The general pair layer (probe.diagnosis.pairs, catalogue/pairs/*.toml): WHAT a reply refuses (a subject) and WHAT
it says about it (a predicate), read together within a clause; the tier after the lexicon's phrases and before the
learned words."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from probe.diagnosis.catalogue import default, load
from probe.diagnosis.catalogue.pairwords import build_table, parse_cells, tokens
from probe.diagnosis.classifier import classify, diagnose
from probe.diagnosis.codes import parse
from probe.diagnosis.explain import entry
from probe.diagnosis.pairs import _negated, command_of, find_pairs, judge_pairs
from probe.errors import CatalogueError
from probe.model import Context, Reason

# Real replies from sources that no corpus entry, rule or lexicon phrase cites (checked 2026-12-07): no rule and
# no phrase knows them, and their bare codes say something else.
UNREAD = [
    # Bongo's SMTP agent, github:bongo-project/bongo src/agents/smtp/smtpd.h (MSG572SPAMBOUNCEBLOCK): bounces (the
    # null sender) refused at MAIL: SPEC sender_rejected ('null sender refused'); a bare 572 names nothing
    ("572 Bounces are blocked due to system abuse by spammers", "MAIL", Reason.SENDER_REJECTED,
     ("bounces", "blocked")),
    # smtprelay, github:decke/smtprelay main.go (senderChecker: the sender is not one the relay allows): a 451 to
    # MAIL alone reads as a local processing error
    ("451 Bad sender address", "MAIL", Reason.SENDER_REJECTED, ("sender address", "bad")),
]


@pytest.mark.parametrize(("text", "context", "reason", "words"), UNREAD)
def test_replies_from_sources_nobody_here_read_are_decided_by_what_they_refuse_and_say(
        text: str, context: str, reason: Reason, words: tuple[str, ...]) -> None:
    d = classify(text, context)
    assert d.reason is reason and d.rule is None
    assert d.decided_by is not None and d.decided_by.by == "pair" and d.decided_by.phrases == words
    assert f"the subject '{words[0]}'" in d.decided_by.summary and f"the predicate '{words[1]}'" in d.decided_by.summary
    assert entry(text, context)["decided_by"]["phrases"] == list(words)  # explain says which words decided
    without = diagnose(parse(text), Context.parse(context), use_pairs=False)
    assert without.reason is not reason and without.decided_by is not None and without.decided_by.by in ("code", "class")


# cn-mail-028 (fixtures/corpus/cn-mail.toml; https://www.dbmailserver.com/tui-xin-address-not-exist.htm): no rule
# and no phrase knows "Local User [...] not found"; the words learned from the catalogue lean the same way
LOCAL_USER = "550 Local User [someone@example.com] not found."


def test_the_pairs_come_before_the_learned_words_and_agree_with_what_they_learned() -> None:
    d = classify(LOCAL_USER, "RCPT")
    assert d.reason is Reason.USER_UNKNOWN and d.decided_by is not None and d.decided_by.by == "pair"
    assert d.decided_by.phrases == ("user", "not found")
    assert diagnose(parse(LOCAL_USER), Context.RCPT, use_pairs=False).decided_by.by == "learned"  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "context", "reason", "words"), [
    # Postfix's wrapper (smtpd_check.c, reject_unknown_sender_domain, refused at RCPT under smtpd_delay_reject):
    # the cause after the colon decides, read as the sender's (README: sender domain not found is sender_rejected)
    ("450 4.1.8 <probe@nonexistent.example>: Sender address rejected: Domain not found", "RCPT",
     Reason.SENDER_REJECTED, ("domain", "not found")),
    # the same words under the recipient's wrapper are the recipient domain's (reject_unknown_recipient_domain)
    ("450 4.1.2 <someone@nonexistent.example>: Recipient address rejected: Domain not found", "RCPT",
     Reason.DOMAIN_UNKNOWN, ("domain", "not found")),
])
def test_a_wrapper_before_a_colon_gives_way_to_the_cause_and_says_whose_it_is(
        text: str, context: str, reason: Reason, words: tuple[str, ...]) -> None:
    verdict = judge_pairs(parse(text), Context.parse(context), default())
    assert verdict is not None and verdict.reason is reason and verdict.words == words


def test_a_bounce_names_the_command_the_quoted_reply_answered() -> None:
    """Postfix's '(in reply to MAIL FROM command)' says whose address it was: the rule hmailserver-sender-not-valid's
    example, read with no rule, is the client's own MAIL FROM (syntax_error), not a recipient's (bad_address)."""
    text = "host mail.example.com[192.0.2.25] said: 550 The address is not valid. (in reply to MAIL FROM command)"
    assert command_of(parse(text).normalized, Context.BOUNCE) is Context.MAIL
    assert command_of(parse(text).normalized, Context.RCPT) is Context.RCPT  # a known command stays
    verdict = judge_pairs(parse(text), Context.BOUNCE, default())
    assert verdict is not None and verdict.reason is Reason.SYNTAX_ERROR


@pytest.mark.parametrize(("text", "context", "reason"), [
    # LBBS net_smtp.c handle_rcpt (github:InterLinked1/lbbs): the RCPT command's form, not the recipient's address
    # (README bad_address vs syntax_error: the command malformed is syntax_error)
    ("501 5.1.7 Syntax error in RCPT command", "RCPT", Reason.SYNTAX_ERROR),
    # go-smtp conn.go handleMail (github:emersion/go-smtp): 'MAIL' is the command, and in reply to MAIL there is no
    # message yet whose format could be refused (README sender syntax)
    ("501 5.5.2 Was expecting MAIL arg syntax of FROM:<address>", "MAIL", Reason.SYNTAX_ERROR),
])
def test_the_command_named_by_its_verb_is_the_command(text: str, context: str, reason: Reason) -> None:
    got = diagnose(parse(text), Context.parse(context), catalogue=load(rules=""))
    assert got.reason is reason


def test_words_of_two_clauses_make_no_pair() -> None:
    """Titan's quota refusal (rule titan-domain-quota's example): 'quota exceeded' is no mailbox of the 'rcpt' named
    in Postfix's '(in reply to RCPT TO command)' after it, nor is 'Recipient address' of the wrapper."""
    text = ("550 5.4.7 <someone@example.com>: Recipient address rejected: Recipients Domain Hourly Quota Exceeded "
            "(in reply to RCPT TO command)")
    assert find_pairs(parse(text), Context.BOUNCE, default().pairs) == []


def test_first_and_before_say_something_of_the_subject_before_them_only() -> None:
    """Citadel's 'Need MAIL before RCPT' (github:mingodad/citadel citadel/modules/smtp/serv_smtp.c, smtp_rcpt): it is
    MAIL that must come first, not RCPT; vSMTP's default 530 (github:viridIT/vSMTP src/config/default.rs): STARTTLS
    first."""
    citadel = find_pairs(parse("503 Need MAIL before RCPT"), Context.RCPT, default().pairs)
    assert [(p.subject.text, p.predicate.text) for p in citadel] == []
    verdict = judge_pairs(parse("530 Must issue a STARTTLS command first"), Context.MAIL, default())
    assert verdict is not None and verdict.reason is Reason.TLS_REQUIRED and verdict.words == ("starttls", "first")


def test_a_negated_predicate_says_nothing() -> None:
    table = default().pairs
    assert _negated(list(tokens("is not blocked")), 2, table)
    assert _negated(list(tokens("was never yet blocked")), 3, table)  # one word between at most
    assert not _negated(list(tokens("ip blocked")), 1, table)
    assert not _negated(list(tokens("not because it is blocked")), 4, table)


def test_a_cell_can_be_silent_for_a_command() -> None:
    """'AUTH mechanism must be specified' (rule client-command-syntax's kind of reply) is no request to authenticate:
    in reply to AUTH the auth x required cell says nothing, and the code decides (501: syntax_error)."""
    text = "501 5.5.2 AUTH mechanism must be specified"
    assert judge_pairs(parse(text), Context.AUTH, default()) is None
    verdict = judge_pairs(parse(text), Context.MAIL, default())
    assert verdict is not None and verdict.reason is Reason.AUTH_REQUIRED


def test_successes_are_never_judged() -> None:
    assert judge_pairs(parse("250 2.1.0 Sender ok"), Context.MAIL, default()) is None


# The data

def _catalogue_texts() -> list[tuple[str, ...]]:
    cat = default()
    return [tokens(ex.text.lower()) for r in cat.rules for ex in r.examples] + [tokens(p.text) for p in cat.lexicon]


def test_the_shipped_data_validates_and_every_cell_names_its_reason_and_why() -> None:
    cat = default().validate()
    table = cat.pairs
    assert len(table.cells) >= 60 and len(table.words) >= 300
    languages = {w.language for w in table.words}
    assert {"en", "de", "fr", "es", "pt", "it", "ru", "zh", "ja"} <= languages
    for cell in table.cells.values():
        assert cell.why and cell.reason in cat.reason_texts
    assert table.wrappers == {"sender": Context.MAIL, "recipient": Context.RCPT, "helo": Context.HELO}


def test_every_word_occurs_in_the_catalogues_own_real_texts() -> None:
    """No word is made up: each subject and predicate word occurs (as whole tokens, in order) in a rule's example
    or a lexicon phrase, texts seen in the cited sources."""
    texts = _catalogue_texts()

    def occurs(word: tuple[str, ...]) -> bool:
        n = len(word)
        return any(t[i:i + n] == word for t in texts for i in range(len(t) - n + 1))

    missing = [(w.language, w.text) for w in default().pairs.words if not occurs(w.tokens)]
    assert missing == []


def test_load_without_pairs_has_none() -> None:
    cat = load(pairs="")
    assert cat.pairs.cells == {} and judge_pairs(parse(LOCAL_USER), Context.RCPT, cat) is None


WORDS = 'language = "en"\nnegations = ["not"]\n[subject]\nsender = ["sender"]\n[predicate]\nblocked = ["blocked"]\n'
CELL = '[[cell]]\nsubject = "sender"\npredicate = "blocked"\nreason = "sender_rejected"\nwhy = "README"\n'
SCORING = "[scoring]\nwindow = 5\nweight = 1\nthreshold = 0.5\n"


@pytest.mark.parametrize(("cells", "words", "problem"), [
    (SCORING + CELL.replace('"blocked"', '"unknown"'), WORDS, "predicate kind 'unknown'"),
    (SCORING + CELL + CELL, WORDS, "duplicate cell"),
    (SCORING + CELL.replace('"sender_rejected"', '"accepted"'), WORDS, "given by reply codes"),
    (SCORING + CELL.replace('"sender_rejected"', '"nonsense"'), WORDS, "unknown reason"),
    (SCORING + CELL + 'contexts = { MAIL = "syntax_error" }\nsilent = ["MAIL"]\n', WORDS, "either in 'contexts'"),
    (SCORING + CELL + 'readings = ["unknown"]\n', WORDS, "'readings': unknown is given by reply codes"),
    (SCORING + CELL + 'readings = ["sender_rejected"]\n', WORDS, "not the cell's own"),
    (SCORING + CELL + 'readings = ["nonsense"]\n', WORDS, "unknown reason 'nonsense'"),
    (SCORING + '[wrappers]\nhelo = "HELO"\n' + CELL, WORDS, "subject kind 'helo'"),
    ('after_subject = ["order"]\n' + SCORING + CELL, WORDS, "predicate kind(s) ['order']"),
    (SCORING.replace("window = 5", "window = 2.5") + CELL, WORDS, "whole number"),
    (SCORING + CELL, WORDS.replace('["blocked"]', '["blocked", "sender"]'), "both subject sender and predicate"),
    (SCORING + CELL, WORDS + 'other = ["blocked"]\n', "both predicate blocked and predicate other"),
    (SCORING + CELL, WORDS.replace('"blocked"', '"Blocked"'), "lower-case"),
    (SCORING + CELL, WORDS.replace('"blocked"', '"blocked!"'), "letters and digits"),
])
def test_bad_data_is_refused_naming_the_place(cells: str, words: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=re.escape(problem)):
        build_table(cells, [("pairs/en.toml", words)])


def test_a_word_of_one_kind_per_role_and_the_cells_of_a_good_table() -> None:
    table = build_table(SCORING + CELL, [("pairs/en.toml", WORDS)])
    assert table.cells[("sender", "blocked")].reason is Reason.SENDER_REJECTED
    assert table.subject_keys == {"sender": {"sender"}} and table.predicate_keys == {"blocked": {"blocked"}}
    assert table.partners == {"sender": {"blocked"}} and table.negation_ends == {"not"}
    read = build_table(SCORING + CELL + 'readings = ["policy_rejected"]\n', [("pairs/en.toml", WORDS)])
    cell = read.cells[("sender", "blocked")]
    assert cell.readings == {Reason.POLICY_REJECTED} and cell.read(Context.RCPT, Reason.POLICY_REJECTED) \
        is Reason.POLICY_REJECTED and cell.read(Context.RCPT, Reason.USER_UNKNOWN) is Reason.SENDER_REJECTED
    _, numbers, wrappers, after_subject = parse_cells(SCORING + CELL)
    assert numbers == {"window": 5.0, "weight": 1.0, "threshold": 0.5} and wrappers == {} and after_subject == set()


def test_explaining_a_bare_code_never_reads_the_pairs() -> None:
    """`smtp-probe explain 252` start-up: neither the pair words nor their module are loaded."""
    script = ("import sys, probe.diagnosis.explain as e; from probe.diagnosis.catalogue import default; "
              "e.entry('252'); cat = default(); "
              "print('probe.diagnosis.pairs' in sys.modules, 'pairs' in cat._parsed)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


class _CountingCells(dict):  # type: ignore[type-arg]
    """The cell table, counting how often a subject-predicate combination is looked up."""

    lookups = 0

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        _CountingCells.lookups += 1
        return super().get(key, default)


@pytest.mark.parametrize("hostile", [
    "550 " + "sender blocked " * 1000,  # subjects and predicates side by side, one clause of 2,000 words
    "550 " + "sender " * 1000 + "blocked " * 1000,  # all subjects first, then all predicates
])
def test_a_hostile_clause_costs_its_length_not_its_square(hostile: str) -> None:
    """A server may send a reply of 8 kB in one clause: each subject is weighed only against the predicates within
    the window, not against every predicate of the clause (1,000 x 1,000 lookups before)."""
    from dataclasses import replace

    table = default().pairs
    counting = replace(table, cells=_CountingCells(table.cells))
    _CountingCells.lookups = 0
    pairs = find_pairs(parse(hostile), Context.RCPT, counting)
    assert pairs and all(p.reason is Reason.SENDER_REJECTED for p in pairs)
    assert _CountingCells.lookups <= 1000 * (2 * table.window + 4)


@pytest.mark.parametrize(("text", "by"), [("unknown local user", "lexicon"), (UNREAD[0][0][4:], "pair")])
def test_use_lexicon_false_turns_off_every_word_tier_for_text_without_a_code(text: str, by: str) -> None:
    """diagnose(use_lexicon=False) means no lexicon, no pairs and no learned words, for pasted words as for replies
    (Exim's cannot_route_message 'unknown local user'; Bongo's 572 without its code)."""
    assert diagnose(parse(text), None).decided_by.by == by
    assert diagnose(parse(text), None, use_lexicon=False).decided_by.by == "nothing"
