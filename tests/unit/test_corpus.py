"""Evidence: the labelled corpus of real replies (fixtures/corpus/*.toml) against probe.classify.

Pure test of the classification core; no I/O besides reading the corpus files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import probe
from probe.model import Context, Reason
from probe.testing.corpus import Labelled, is_sealed, load_corpus

CORPUS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
MIN_ENTRIES = 300
MIN_ACCURACY = 0.95  # on the entries from before the split, which the rules were tuned on
# Regression guards, set at what was measured when the fourth fresh batch joined (dev 95.0 %, sealed 90.6 % over
# 3,221 replies) minus a small margin. Raise them as the catalogue improves; tune only on the dev part.
MIN_DEV_ACCURACY = 0.94
MIN_SEALED_ACCURACY = 0.89
MIN_MISLEADING_SHARE = 1 / 3
# The reply contexts the corpus must cover (probe events such as connect, dns and tls carry no reply), and the
# reasons (protocol_error is a live peer's failure, never in pasted text).
CONTEXTS = {"banner", "EHLO", "HELO", "STARTTLS", "AUTH", "VRFY", "EXPN", "MAIL", "RCPT", "DATA", "after-DATA",
            "QUIT", "HELP", "bounce"}
REASONS = {r.value for r in Reason} - {"protocol_error"}
# Still missing when this test was written: the test fails when anything else goes missing. Empty these sets as
# entries arrive (the goal of issue 10 is full coverage).
NOT_YET_CONTEXTS: set[str] = set()
NOT_YET_REASONS: set[str] = set()


CORPUS = load_corpus(CORPUS_DIR)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= MIN_ENTRIES, f"corpus has {len(CORPUS)} entries, needs {MIN_ENTRIES}"


def test_corpus_has_enough_misleading_replies() -> None:
    share = sum(e.misleading for e in CORPUS) / len(CORPUS)
    assert share >= MIN_MISLEADING_SHARE, f"misleading share {share:.2f} below {MIN_MISLEADING_SHARE:.2f}"


def test_every_entry_is_well_formed() -> None:
    problems: list[str] = []
    reasons = {r.value for r in Reason}
    for e in CORPUS:
        where = f"{e.file}: {e.text[:60]!r}"
        if not e.source.strip():
            problems.append(f"{where}: no source")
        if e.expect not in reasons:
            problems.append(f"{where}: expect {e.expect!r} is not a SPEC.md reason")
        try:
            Context.parse(e.context)
        except ValueError:
            problems.append(f"{where}: bad context {e.context!r}")
        if not e.text.strip():
            problems.append(f"{where}: empty text")
    assert not problems, "\n".join(problems)


def test_every_entry_has_a_unique_id() -> None:
    ids = [e.id for e in CORPUS]
    assert all(ids), "every corpus entry needs an id"
    repeated = sorted(i for i in set(ids) if ids.count(i) > 1)
    assert not repeated, f"repeated ids: {repeated}"


def test_the_split_is_fixed_by_the_id() -> None:
    assert is_sealed("postfix-001") is is_sealed("postfix-001")
    sealed = sum(e.sealed for e in CORPUS)
    assert 0.2 < sealed / len(CORPUS) < 0.4, f"{sealed} of {len(CORPUS)} sealed"


def test_corpus_entries_are_distinct() -> None:
    seen: dict[tuple[str, str, str | None], str] = {}
    duplicates = []
    for e in CORPUS:
        key = (e.text, e.context, e.host)
        if key in seen:
            duplicates.append(f"{e.file} repeats {seen[key]}: {e.text[:60]!r}")
        seen[key] = e.file
    assert not duplicates, "\n".join(duplicates)


def test_corpus_accuracy() -> None:
    """The gate holds on the entries the rules were tuned on before the split (before_split); the entries
    collected since are measured per part by benchmarks/bench_accuracy.py (tuning only on the dev part)."""
    tuned = [e for e in CORPUS if e.before_split]
    misses: list[str] = []
    for e in tuned:
        got = probe.classify(e.text, e.context, host=e.host)
        if got.reason.value != e.expect:
            misses.append(f"  {e.file} [{e.context}] expected {e.expect}, got {got.reason.value} "
                          f"(rule {got.rule}): {e.text[:110]!r}")
    accuracy = 1 - len(misses) / len(tuned)
    print(f"\naccuracy {accuracy:.3f} over the {len(tuned)} replies from before the split; {len(misses)} misses")
    print("\n".join(misses))
    assert accuracy >= MIN_ACCURACY, f"accuracy {accuracy:.3f} below {MIN_ACCURACY}:\n" + "\n".join(misses)


def _accuracy(entries: list[Labelled]) -> float:
    hits = sum(probe.classify(e.text, e.context, host=e.host).reason.value == e.expect for e in entries)
    return hits / len(entries)


def test_dev_accuracy() -> None:
    """The development part: what rules and lexicon are tuned on (benchmarks/bench_accuracy.py --misses dev)."""
    accuracy = _accuracy([e for e in CORPUS if not e.sealed])
    assert accuracy >= MIN_DEV_ACCURACY, f"dev accuracy {accuracy:.3f} below {MIN_DEV_ACCURACY}"


def test_sealed_accuracy() -> None:
    """The sealed part, never tuned on: only its accuracy is reported, never which entries miss."""
    accuracy = _accuracy([e for e in CORPUS if e.sealed])
    assert accuracy >= MIN_SEALED_ACCURACY, f"sealed accuracy {accuracy:.3f} below {MIN_SEALED_ACCURACY}"


def test_corpus_covers_every_context_and_reason() -> None:
    contexts = {Context.parse(e.context).value for e in CORPUS}  # type: ignore[union-attr]
    reasons = {e.expect for e in CORPUS}
    assert not (CONTEXTS - contexts) - NOT_YET_CONTEXTS, f"contexts without a reply: {sorted(CONTEXTS - contexts)}"
    assert not (REASONS - reasons) - NOT_YET_REASONS, f"reasons without a reply: {sorted(REASONS - reasons)}"


def test_misleading_entries_beat_the_codes_alone() -> None:
    """Where the corpus says the codes mislead, the wording must be what decided: a wording rule, a code's
    generic wording, the lexicon's phrases, a subject-predicate pair or learned words (Diagnosis.decided_by). The
    failure names the development entries only; the sealed ones are counted, never shown (issue 10)."""
    undecided, sealed = [], 0
    for e in CORPUS:
        if not e.misleading:
            continue
        got = probe.classify(e.text, e.context, host=e.host)
        assert got.decided_by is not None
        if got.reason.value == e.expect and got.decided_by.by not in ("rule", "wording", "lexicon", "pair", "learned"):
            if e.sealed:
                sealed += 1
            else:
                undecided.append(f"  {e.file}: {e.text[:90]!r}")
    assert len(undecided) + sealed <= len(CORPUS) * 0.02, "labelled misleading but classified by code alone " + \
        f"({sealed} sealed entries not shown):\n" + "\n".join(undecided)


@pytest.mark.parametrize(("text", "reason"), [
    ("550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", Reason.BLOCKLISTED),
    ("550 5.7.1 <someone@example.org>: Relay access denied", Reason.RELAY_DENIED),
    ("550 5.7.1 Unauthenticated email from example.net is not accepted due to domain's DMARC policy. "
     "Please contact the administrator of example.net domain if this was a legitimate mail.",
     Reason.SENDER_UNAUTHENTICATED),
])
def test_550_5_7_1_wording_decides_the_reason(text: str, reason: Reason) -> None:
    got = probe.classify(text, "RCPT")
    assert (got.code, got.enhanced, got.reason) == (550, "5.7.1", reason)


def test_three_550_5_7_1_replies_get_three_reasons_and_three_remedies() -> None:
    texts = [
        "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "550 5.7.1 <someone@example.org>: Relay access denied",
        "550 5.7.1 Unauthenticated email from example.net is not accepted due to domain's DMARC policy.",
    ]
    diagnoses = [probe.classify(t, "RCPT") for t in texts]
    assert len({d.reason for d in diagnoses}) == 3
    assert len({d.remediation for d in diagnoses}) == 3


@pytest.mark.parametrize(("text", "context", "host", "reason"), [
    # Microsoft: 5.1.10 is an unknown user there, a null MX elsewhere (RFC 7505).
    ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "RCPT",
     "example-com.mail.protection.outlook.com", Reason.USER_UNKNOWN),
    ("556 5.1.10 <a@example.org>: Recipient address rejected: Domain example.org does not accept mail (nullMX)",
     "RCPT", None, Reason.NOT_ACCEPTING_MAIL),
    # Directory-based edge blocking vs a plain Postfix access-map rejection.
    ("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "RCPT", None, Reason.USER_UNKNOWN),
    ("554 5.7.1 <mx.example.net[192.0.2.9]>: Client host rejected: Access denied", "RCPT", None,
     Reason.POLICY_REJECTED),
    # Gmail 5.2.1: rate, not disabled.
    ("550-5.2.1 The user you are trying to contact is receiving mail at a rate that\n"
     "550 5.2.1 prevents additional messages from being delivered. - gsmtp", "RCPT", None, Reason.RATE_LIMITED),
    ("550-5.2.1 The email account that you tried to reach is disabled. - gsmtp", "RCPT", None,
     Reason.MAILBOX_DISABLED),
    # Greylisting behind a mailbox-status code.
    ("450 4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see "
     "http://postgrey.schweikert.ch/help/example.org.html", "RCPT", None, Reason.GREYLISTED),
    ("451 4.7.1 Try again later", "RCPT", None, Reason.GREYLISTED),
    ("452 4.5.3 Too many recipients", "RCPT", None, Reason.RATE_LIMITED),
    # Sender verification failure that reads like an unknown user.
    ("550 5.1.0 <a@example.com>: Sender address rejected: User unknown in local recipient table", "RCPT", None,
     Reason.SENDER_REJECTED),
    # Spamhaus error codes: the receiver's DNS setup, not a listing.
    ("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
     "Error: open resolver; https://check.spamhaus.org/returnc/pub/192.0.2.53/", "RCPT", None, Reason.SYSTEM_ERROR),
])
def test_known_traps(text: str, context: str, host: str | None, reason: Reason) -> None:
    assert probe.classify(text, context, host=host).reason is reason


def test_provider_is_recognised_from_mx_host_and_from_text() -> None:
    by_host = probe.classify("550 5.1.1 User unknown", "RCPT", host="alt1.gmail-smtp-in.l.google.com")
    by_text = probe.classify("550 5.4.1 Recipient address rejected: Access denied. "
                             "[DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]", "RCPT")
    assert by_host.provider is not None and "google" in by_host.provider.lower()
    assert by_text.provider is not None and "microsoft" in by_text.provider.lower()


def test_provider_index_finds_the_same_provider_as_trying_every_pattern() -> None:
    from probe.diagnosis.catalogue import default
    from probe.diagnosis.classifier import detect_provider

    providers = default().providers
    for e in CORPUS:
        lowered = e.text.lower()
        brute = next((p.id for p in providers if p.pattern is not None and p.pattern.search(lowered)), None)
        assert detect_provider(None, e.text) == brute, e.text[:80]


def test_every_package_provider_pattern_has_literals() -> None:
    """No provider pattern is searched in every reply: each has literals for the index, two letters at least
    (GoDaddy's 'ib123' error codes: 'ib'), and a reply without them is not searched for it."""
    from probe.diagnosis.catalogue import default

    cat = default()
    assert all(p.literals for p in cat.providers if p.pattern is not None)
    godaddy = next(i for i, p in enumerate(cat.providers) if p.id == "godaddy")
    # the example of rules/26-hosted-mail.toml's CSI rule (GoDaddy's bounce-error help page), without its host
    csi = ("554 IB103. Connection refused. 198.51.100.7 has a poor reputation on Cloudmark Sender Intelligence "
           "(CSI).")
    assert godaddy in cat.provider_index.candidates(csi.lower())
    assert godaddy not in cat.provider_index.candidates("550 5.1.1 user unknown")
    assert probe.classify(csi, "banner").provider == cat.provider_name("godaddy")


def test_classification_is_the_same_in_fresh_interpreters() -> None:
    """No result depends on set or dict order: two interpreters with different hash seeds agree."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, sys, tomllib, glob, probe\n"
        "out = []\n"
        f"for path in sorted(glob.glob({str(CORPUS_DIR)!r} + '/*.toml')):\n"
        "    for r in tomllib.load(open(path, 'rb')).get('reply', []):\n"
        "        out.append(probe.classify(r['text'], r['context'], host=r.get('host')).to_dict())\n"
        "json.dump(out, sys.stdout, sort_keys=True)\n"
    )
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True,
                              timeout=50)
        runs.append(json.loads(done.stdout))
    assert len(runs[0]) == len(CORPUS)
    assert runs[0] == runs[1]


def test_corpus_is_held_out_from_the_rule_examples() -> None:
    """The accuracy gate measures the rules on replies they were not written from."""
    from probe.diagnosis.catalogue import default

    examples = {ex.text for rule in default().rules for ex in (*rule.examples, *rule.not_examples)}
    copies = [f"  {e.file}: {e.text[:90]!r}" for e in CORPUS if e.text in examples]
    assert not copies, "corpus entries copied from rule examples:\n" + "\n".join(copies)


def test_misleading_flags_are_honest() -> None:
    """misleading = the basic and enhanced codes alone (no text at all) give another reason than expected."""
    from probe.diagnosis.classifier import diagnose
    from probe.diagnosis.codes import parse

    wrong = []
    for e in CORPUS:
        parsed = parse(e.text)
        bare = " ".join(str(p) for p in (parsed.code, parsed.enhanced) if p)
        codes_only = diagnose(parse(bare), Context.parse(e.context), use_rules=False).reason.value if bare else None
        if (codes_only != e.expect) != e.misleading:
            wrong.append(f"  {e.file}: misleading={e.misleading} but the codes alone say {codes_only}: {e.text[:80]!r}")
    assert not wrong, "\n".join(wrong)
