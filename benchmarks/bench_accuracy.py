"""Benchmark: classification accuracy on the labelled corpus, development part and sealed part.

Run: python benchmarks/bench_accuracy.py [--sealed] [--misses dev|sealed|all] [--by reason,source,context]
                                        [--sisimai] [--corpus-at REF] [--added-after REF]

The split is fixed by each entry's id (probe.testing.corpus.is_sealed). Tune rules and the lexicon on the
development part only: without --sealed, nothing of the sealed part is classified or printed (the view to tune
with); --sealed adds it, for the final report: `--misses sealed` is for that report, never for tuning.
"sealed, new" counts only the sealed entries added after the split (no rule was tuned on them).
--corpus-at REF adds "sealed @REF": the sealed entries that were already in the corpus at git commit REF, the
strictest figure when rules were later written from the sources that new entries were taken from.
--added-after REF adds "new since @REF" (every entry not in the corpus at REF, dev and sealed alike; without
--sealed, its development entries only) and the same
without the positive replies (2xx/3xx: accepted, will_forward, cannot_verify, which the code alone settles): the
figure for a batch collected after the tuning it is measured against, before anyone tuned on it.

--sisimai also asks Sisimai (Debian's libsisimai-perl) for each line, through benchmarks/sisimai_verdict.pl
(what Sisimai::Data->make does once a bounce is parsed: Sisimai::Rhost for the host, else
Sisimai::Reason->get on a record holding the line, its codes and its command), and scores Sisimai's reasons
mapped to ours by SISIMAI_REASONS, one reason each: Sisimai's own words for them (its Reason::* docs)
decide; those no SPEC reason matches (onhold, undefined, vacation, feedback) map to `unknown`.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe.testing.corpus import Labelled, Score, load_corpus, score

CORPUS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
SISIMAI_SCRIPT = Path(__file__).resolve().parent / "sisimai_verdict.pl"

# Sisimai's reason -> ours. Sisimai 4.25 names first, then those Sisimai 5 added.
SISIMAI_REASONS = {
    "userunknown": "user_unknown",          # the recipient does not exist
    "mailboxfull": "mailbox_full",
    "suspend": "mailbox_disabled",          # the recipient's account is suspended or disabled
    "hasmoved": "has_moved",
    "hostunknown": "domain_unknown",
    "notaccept": "not_accepting_mail",      # the host accepts no mail (null MX, 521/556)
    "norelaying": "relay_denied",
    "blocked": "blocklisted",               # refused for the client's IP address or host name
    "toomanyconn": "rate_limited",
    "rejected": "sender_rejected",          # refused for the envelope sender
    "filtered": "policy_rejected",          # refused by a recipient-side filter
    "policyviolation": "policy_rejected",
    "securityerror": "sender_unauthenticated",  # 4.x: authentication and SPF/DKIM failures land here
    "spamdetected": "spam_detected",
    "virusdetected": "virus_detected",
    "contenterror": "content_rejected",
    "mesgtoobig": "message_too_big",
    "exceedlimit": "message_too_big",       # the message exceeds the recipient's size limit
    "systemerror": "system_error",
    "mailererror": "system_error",          # the local mailer program failed
    "systemfull": "storage_full",
    "networkerror": "network_error",
    "expired": "expired",
    "syntaxerror": "syntax_error",
    "delivered": "accepted",
    "speeding": "rate_limited",
    "badreputation": "bad_reputation",
    "requireptr": "reverse_dns",
    "authfailure": "sender_unauthenticated",
    "notcompliantrfc": "content_rejected",
    "failedstarttls": "tls_failure",
    "emptyrcpt": "syntax_error",
    "onhold": "unknown",                    # Sisimai could not decide
    "undefined": "unknown",
    "vacation": "unknown",                  # an auto-reply, not a bounce
    "feedback": "unknown",                  # an ARF complaint report, not a bounce
}


def _ours(e: Labelled) -> str:
    import probe

    return probe.classify(e.text, e.context, host=e.host).reason.value


def _sisimai(corpus: list[Labelled]) -> dict[str, str]:
    """Sisimai's reason, mapped to ours, for every entry (by id); one Perl process for the whole corpus."""
    if shutil.which("perl") is None:
        raise SystemExit("--sisimai needs perl and Sisimai (apt-get install libsisimai-perl)")
    lines = "".join(json.dumps({"text": e.text, "context": e.context, "host": e.host or ""}) + "\n" for e in corpus)
    done = subprocess.run(["perl", str(SISIMAI_SCRIPT)], input=lines, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"sisimai_verdict.pl failed: {done.stderr.strip().splitlines()[-1:]}")
    verdicts = [json.loads(v)["reason"] for v in done.stdout.splitlines()]
    if len(verdicts) != len(corpus):
        raise SystemExit(f"sisimai_verdict.pl answered {len(verdicts)} of {len(corpus)} lines")
    return {e.id: SISIMAI_REASONS.get(v, "unknown") for e, v in zip(corpus, verdicts, strict=True)}


_POSITIVE = frozenset({"accepted", "will_forward", "cannot_verify"})


def _ids_at(ref: str) -> set[str]:
    """The ids of the corpus entries at git commit `ref` (its fixtures/corpus, unpacked to a temporary folder)."""
    root = CORPUS_DIR.parents[1]
    done = subprocess.run(["git", "-C", str(root), "archive", ref, "fixtures/corpus"], capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"--corpus-at {ref}: {done.stderr.decode(errors='replace').strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        return {e.id for e in load_corpus(Path(tmp) / "fixtures" / "corpus")}


def _table(title: str, parts: dict[str, Score], attr: str) -> None:
    keys = sorted({k for s in parts.values() for k in getattr(s, attr).totals})
    names = list(parts)
    print(f"\n{title:<28}" + "".join(f"{n:>18}" for n in names))
    for k in keys:
        cells = []
        for n in names:
            tally = getattr(parts[n], attr)
            t = tally.totals[k]
            cells.append(f"{tally.accuracy(k) * 100:6.1f}% of {t:<5}" if t else f"{'-':>12}      ")
        print(f"  {k:<26}" + "".join(f"{c:>18}" for c in cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sealed", action="store_true",
                    help="also score and print the sealed part (for the final report, never while tuning)")
    ap.add_argument("--misses", choices=["none", "dev", "sealed", "all"], default="none")
    ap.add_argument("--by", default="reason,source,context", help="tables to print: reason,source,context")
    ap.add_argument("--sisimai", action="store_true", help="also score Sisimai (libsisimai-perl) on the same lines")
    ap.add_argument("--corpus-at", metavar="REF", help="also score the sealed entries already in the corpus at REF")
    ap.add_argument("--added-after", metavar="REF", help="also score every entry added to the corpus after REF")
    args = ap.parse_args()
    if args.misses in ("sealed", "all") and not args.sealed:
        ap.error(f"--misses {args.misses} prints sealed entries: add --sealed (never while tuning)")
    if args.corpus_at and not args.sealed:
        ap.error("--corpus-at scores sealed entries: add --sealed (never while tuning)")

    corpus = load_corpus(CORPUS_DIR)
    if not args.sealed:  # the tuning view: sealed entries are not even classified
        corpus = [e for e in corpus if not e.sealed]
    tables = {"reason": "by_reason", "source": "by_source", "context": "by_context"}
    parts = {"dev": score([e for e in corpus if not e.sealed], _ours)}
    if args.sealed:
        parts["sealed"] = score([e for e in corpus if e.sealed], _ours)
        parts["sealed, new"] = score([e for e in corpus if e.sealed and not e.before_split], _ours)
    if args.corpus_at:
        older = _ids_at(args.corpus_at)
        parts[f"sealed @{args.corpus_at}"] = score([e for e in corpus if e.sealed and e.id in older], _ours)
    if args.added_after:
        known = _ids_at(args.added_after)
        added = [e for e in corpus if e.id not in known]
        parts[f"new since @{args.added_after}"] = score(added, _ours)
        parts["  of them refusals"] = score([e for e in added if e.expect not in _POSITIVE], _ours)
    print(f"corpus: {len(corpus)} replies, {len({e.file for e in corpus})} source families"
          + ("" if args.sealed else " (the development part only: --sealed adds the sealed part)"))
    for name, s in parts.items():
        print(f"  {name:<12} {s.accuracy * 100:6.2f}%  ({s.hits} of {s.total})" if s.total else f"  {name:<12}  none")
    if args.sealed:
        gap = (parts["dev"].accuracy - parts["sealed"].accuracy) * 100
        print(f"  dev - sealed: {gap:+.2f} points")
    wanted_tables = [tables[b.strip()] for b in args.by.split(",") if b.strip() in tables]
    theirs: dict[str, Score] = {}
    if args.sisimai:
        verdicts = _sisimai(corpus)
        theirs = {"dev": score([e for e in corpus if not e.sealed], lambda e: verdicts[e.id])}
        if args.sealed:
            theirs["sealed"] = score([e for e in corpus if e.sealed], lambda e: verdicts[e.id])
            theirs["sealed, new"] = score([e for e in corpus if e.sealed and not e.before_split],
                                          lambda e: verdicts[e.id])
        print("Sisimai on the same lines (reasons mapped by SISIMAI_REASONS):")
        for name, s in theirs.items():
            ours = parts[name].accuracy * 100
            print(f"  {name:<12} {s.accuracy * 100:6.2f}%  ({s.hits} of {s.total})   ours {ours:6.2f}%")
    for attr in wanted_tables:
        _table(f"accuracy by {attr[3:]}", parts, attr)
        if theirs:
            _table(f"Sisimai, accuracy by {attr[3:]}", theirs, attr)
    if args.misses != "none":
        wanted = ["dev", "sealed"] if args.misses == "all" else [args.misses]
        for name in wanted:
            print(f"\nmisses, {name}:")
            for e, got in parts[name].misses:
                print(f"  {e.id} [{e.context}] expected {e.expect}, got {got}: {e.text[:140]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
