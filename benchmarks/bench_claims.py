"""Claim extraction measured on real sentences labelled by an independent labeller.

Three rounds of labelled candidates:

- round 1 (600 sentences, ``corpora/claims-real/annotations.jsonl``), one labeller, split by id
  hash into ``validation`` and ``test``. Both splits have been reported, so round 1 is now
  development material: the rules are tuned on all of it.
- round 2 (500 fresh sentences, none of round 1's, ``corpora/claims-real/round2/``), two
  independent labelling passes, Cohen's kappa, adjudicated disagreements; held out as the test
  set (``--round 2``), reported once per extractor version. Its figures were reported, so it is
  development material from now on, like round 1.
- round 3 (500 fresh sentences, none of rounds 1-2, ``corpora/claims-real/round3/``), drawn and
  labelled like round 2: the held-out set for the next extractor version (``--round 3``).

    python benchmarks/bench_claims.py import /path/to/labelling/claims/labels.jsonl
        # -> corpora/claims-real/annotations.jsonl (origin, span, sha256, labels; no text)
    python benchmarks/bench_claims.py import-passes --round N A.jsonl B.jsonl ADJUDICATED.jsonl
        # -> roundN/passes/ (labels only), roundN/annotations.jsonl, agreement in roundN/agreement.json
    python benchmarks/bench_claims.py run [--split test|validation|all] [--round 2|3] [--threshold P]
        # -> benchmarks/results/claims.json (one entry per round and split) and a printed table

``run`` rebuilds each sentence from ``../shared/realdata`` with the readers in
:mod:`claims_candidates` and its character span, checks the sha256, and runs the rule
extractor on it (the growth threshold is applied when ``--threshold`` is given: the sentence
is scored with the shipped model). Reported: detection precision, recall and F1; for claims
both the labeller and the extractor found, accuracy on metric, magnitude (kind and value
within 1%) and horizon (same date); and a cue baseline (a digit plus a forward-looking word)
beside the extractor. Splits: ``validation`` (a third of the candidates, by id hash) is for
tuning, ``test`` is reported once. Skips cleanly (exit 0, a note) when the real data or the
labels are absent. Targets: detection precision >= 0.85, recall >= 0.70; field accuracy >= 0.85.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(HERE))

from claims_candidates import FORWARD, INDEX, NUMBER, REALDATA, ROUNDS, read_unit, sha  # noqa: E402

from analyzer.analysis.agreement import cohen_kappa  # noqa: E402

ANNOTATIONS = PROJECT / "corpora" / "claims-real" / "annotations.jsonl"
# Round 1 has one labeller and its own annotations file; every later round has two passes.
HELD_OUT_ROUNDS = tuple(number for number in ROUNDS if number != "1")


def round_folder(number: str) -> Path:
    """Where a two-pass round keeps its index (drawn by claims_candidates), passes and annotations."""
    return ROUNDS[number]["index"].parent


RESULTS = HERE / "results" / "claims.json"
LABEL_FIELDS = (
    "is_claim",
    "metric",
    "direction",
    "magnitude_kind",
    "magnitude_value",
    "magnitude_unit",
    "per_year",
    "baseline_value",
    "horizon",
    "hedge",
    "speaker",
    "multiple",
    "unsure",
)
# The fields compared between passes; a row whose two passes differ on any of them is adjudicated.
PASS_FIELDS = tuple(f for f in LABEL_FIELDS if f not in ("multiple", "unsure"))
TARGETS = {"precision": 0.85, "recall": 0.70, "metric": 0.85, "magnitude": 0.85, "horizon": 0.85}


def split_of(candidate_id: str) -> str:
    return (
        "validation"
        if int(hashlib.sha256(candidate_id.encode()).hexdigest(), 16) % 3 == 0
        else "test"
    )


def import_labels(labels_path: Path, annotations: Path = ANNOTATIONS) -> int:
    """Join the labeller's answers with the candidate index into text-free annotations."""
    index = {
        row["id"]: row for row in map(json.loads, INDEX.read_text(encoding="utf-8").splitlines())
    }
    written, problems = 0, []
    rows = []
    for number, line in enumerate(labels_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            label = json.loads(line)
        except ValueError as exc:
            problems.append(f"line {number}: not JSON ({exc})")
            continue
        candidate = index.get(str(label.get("id")))
        if candidate is None:
            problems.append(f"line {number}: unknown id {label.get('id')!r}")
            continue
        if not isinstance(label.get("is_claim"), bool):
            problems.append(f"line {number}: is_claim must be true or false")
            continue
        kept = {k: label[k] for k in LABEL_FIELDS if k in label}
        rows.append({**candidate, "split": split_of(candidate["id"]), "labels": kept})
        written += 1
    annotations.parent.mkdir(parents=True, exist_ok=True)
    with annotations.open("w", encoding="utf-8") as handle:
        for row in sorted(rows, key=lambda r: r["id"]):
            handle.write(json.dumps(row, sort_keys=True) + "\n")
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"wrote {written} annotation(s) to {annotations}")
    return written


def _read_labels(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            label = json.loads(line)
        except ValueError as exc:
            raise SystemExit(f"{path}:{number}: not JSON ({exc})") from exc
        if not isinstance(label.get("is_claim"), bool):
            raise SystemExit(f"{path}:{number}: is_claim must be true or false")
        rows[str(label["id"])] = {k: label[k] for k in ("id", *LABEL_FIELDS) if k in label}
    return rows


def import_passes(first: Path, second: Path, adjudicated: Path, folder: Path) -> dict[str, Any]:
    """Two independent passes and the adjudication of their disagreements -> annotations.

    Rows where both passes agree on every field keep that label; every other row takes the
    adjudicated one (a disagreement left unadjudicated is an error). The raw passes are kept
    (ids and labels only) beside the annotations, with the agreement figures.
    """
    index = {
        row["id"]: row
        for row in map(
            json.loads, (folder / "candidates.index.jsonl").read_text(encoding="utf-8").splitlines()
        )
    }
    a, b, decided = _read_labels(first), _read_labels(second), _read_labels(adjudicated)
    missing = sorted(set(index) - set(a) | set(index) - set(b))
    if missing:
        raise SystemExit(f"{len(missing)} candidate(s) lack a label in a pass, e.g. {missing[:3]}")
    ids = sorted(index)
    both = [i for i in ids if a[i]["is_claim"] and b[i]["is_claim"]]
    agreement: dict[str, Any] = {
        "candidates": len(ids),
        "claims_pass_a": sum(a[i]["is_claim"] for i in ids),
        "claims_pass_b": sum(b[i]["is_claim"] for i in ids),
        "kappa_is_claim": cohen_kappa(
            [a[i]["is_claim"] for i in ids], [b[i]["is_claim"] for i in ids]
        ),
        "claims_in_both": len(both),
        "field_agreement_on_claims_in_both": {
            f: (
                sum(str(a[i].get(f)) == str(b[i].get(f)) for i in both) / len(both)
                if both
                else None
            )
            for f in PASS_FIELDS[1:]
        },
    }
    rows, adjudicated_ids = [], []
    for cid in ids:
        same = all(a[cid].get(f) == b[cid].get(f) for f in PASS_FIELDS)
        if same:
            label = dict(a[cid])
            label["unsure"] = bool(a[cid].get("unsure") and b[cid].get("unsure"))
        elif cid in decided:
            label = dict(decided[cid])
            adjudicated_ids.append(cid)
        else:
            raise SystemExit(f"{cid}: the passes disagree and {adjudicated} has no decision")
        label.pop("id", None)
        if not label.get("unsure"):
            label.pop("unsure", None)
        rows.append({**index[cid], "split": "test", "labels": label})
    agreement["adjudicated"] = len(adjudicated_ids)
    agreement["claims_after_adjudication"] = sum(r["labels"]["is_claim"] for r in rows)
    passes = folder / "passes"
    passes.mkdir(parents=True, exist_ok=True)
    for name, labels in (("a", a), ("b", b), ("adjudicated", decided)):
        with (passes / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for cid in sorted(labels):
                handle.write(json.dumps(labels[cid], sort_keys=True) + "\n")
    with (folder / "annotations.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
    (folder / "agreement.json").write_text(
        json.dumps(agreement, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return agreement


def sentence_for(row: dict[str, Any], cache: dict[tuple[str, str, str], str]) -> str | None:
    key = (row["local_path"], row["reader"], row["unit"])
    if key not in cache:
        try:
            cache[key] = read_unit(*key)
        except Exception:
            cache[key] = ""
    text = cache[key][row["char_start"] : row["char_end"]]
    return text if text and sha(text) == row["sha256"] else None


def _same_value(a: Any, b: Any) -> bool:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return math.isclose(x, y, rel_tol=0.01, abs_tol=1e-9)


def evaluate(
    split: str, threshold: float | None, annotations: Path = ANNOTATIONS
) -> dict[str, Any]:
    from analyzer.claims.extract import SentenceContext, extract_sentence

    rows = [
        json.loads(line)
        for line in annotations.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rows = [r for r in rows if split == "all" or r["split"] == split]
    cache: dict[tuple[str, str, str], str] = {}
    items = []
    missing = 0
    for row in rows:
        text = sentence_for(row, cache)
        if text is None:
            missing += 1
            continue
        items.append((row, text))
    growth: dict[str, float] = {}
    if threshold is not None and items:
        from analyzer.scoring.scorer import HypeScorer

        scorer = HypeScorer.from_pretrained()
        scores = scorer.sentence_scores([t for _, t in items])
        growth = {row["id"]: s["growth"] for (row, _), s in zip(items, scores)}
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    baseline = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    fields = {"metric": [0, 0], "magnitude": [0, 0], "horizon": [0, 0]}
    unsure = 0
    for row, text in items:
        labels = row["labels"]
        if labels.get("unsure"):
            unsure += 1
            continue
        truth = bool(labels["is_claim"])
        published = date.fromisoformat(row["published_at"][:10])
        found = extract_sentence(
            text,
            SentenceContext(
                published=published, published_known=bool(row.get("published_at_known", True))
            ),
        )
        if threshold is not None and growth.get(row["id"], 0.0) < threshold:
            found = []
        predicted = bool(found)
        cue = bool(FORWARD.search(text) and NUMBER.search(text))
        for tally, guess in ((counts, predicted), (baseline, cue)):
            key = ("tp" if truth else "fp") if guess else ("fn" if truth else "tn")
            tally[key] += 1
        if truth and predicted:
            claim = found[0]
            fields["metric"][1] += 1
            fields["metric"][0] += int(claim["metric"] == labels.get("metric"))
            fields["magnitude"][1] += 1
            fields["magnitude"][0] += int(
                claim["magnitude_kind"] == labels.get("magnitude_kind")
                and _same_value(claim["magnitude_value"], labels.get("magnitude_value"))
            )
            fields["horizon"][1] += 1
            fields["horizon"][0] += int(
                (claim["horizon"] or None) == (labels.get("horizon") or None)
            )

    def rates(tally: dict[str, int]) -> dict[str, float | None]:
        precision = tally["tp"] / (tally["tp"] + tally["fp"]) if tally["tp"] + tally["fp"] else None
        recall = tally["tp"] / (tally["tp"] + tally["fn"]) if tally["tp"] + tally["fn"] else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
        return {"precision": precision, "recall": recall, "f1": f1, **tally}

    return {
        "split": split,
        "threshold": threshold,
        "sentences": len(items),
        "unreadable": missing,
        "unsure": unsure,
        "extractor": rates(counts),
        "cue_baseline": rates(baseline),
        "fields": {
            k: {"accuracy": (v[0] / v[1] if v[1] else None), "n": v[1]} for k, v in fields.items()
        },
        "targets": TARGETS,
    }


def save_result(result: dict[str, Any], path: Path = RESULTS, key: str | None = None) -> None:
    """Keep one result per round and split in ``path`` (``key``, default the split's name)."""
    kept: dict[str, Any] = {}
    if path.is_file():
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            kept = {}
    if "split" in kept:  # a single result of an older run
        kept = {kept["split"]: kept}
    kept[key or result["split"]] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="turn the labeller's labels.jsonl into annotations")
    imp.add_argument("labels", type=Path)
    two = sub.add_parser(
        "import-passes", help="two independent passes plus adjudication -> round 2 annotations"
    )
    two.add_argument("first", type=Path)
    two.add_argument("second", type=Path)
    two.add_argument("adjudicated", type=Path)
    two.add_argument("--round", choices=HELD_OUT_ROUNDS, default="2")
    run = sub.add_parser("run", help="measure the extractor on the annotations")
    run.add_argument("--split", choices=("test", "validation", "all"), default="test")
    run.add_argument(
        "--threshold", type=float, default=None, help="also require this growth probability"
    )
    run.add_argument(
        "--round",
        choices=("1", *HELD_OUT_ROUNDS),
        default="1",
        help="1: round 1's splits; 2 or 3: a two-pass round (its one split is test)",
    )
    for command in (imp, run):
        command.add_argument(
            "--annotations", type=Path, default=ANNOTATIONS, help="annotations file"
        )
    args = parser.parse_args(argv)
    if args.command == "import-passes":
        agreement = import_passes(
            args.first, args.second, args.adjudicated, round_folder(args.round)
        )
        print(json.dumps(agreement, indent=2, sort_keys=True))
        return 0
    if args.command == "run" and args.round != "1" and args.annotations == ANNOTATIONS:
        args.annotations = round_folder(args.round) / "annotations.jsonl"
    if args.command == "import":
        if not args.labels.is_file():
            print(f"no labels at {args.labels}; nothing imported")
            return 0
        import_labels(args.labels, args.annotations)
        return 0
    if not REALDATA.is_dir():
        print(f"skipped: the real data ({REALDATA}) is not here")
        return 0
    if not args.annotations.is_file():
        print(
            f"skipped: no labels yet ({args.annotations}); import them with `bench_claims.py import labels.jsonl`"
        )
        return 0
    result = evaluate(args.split, args.threshold, args.annotations)
    result["round"] = args.round
    result["command"] = (
        "python benchmarks/bench_claims.py run --split "
        + args.split
        + (f" --round {args.round}" if args.round != "1" else "")
        + (f" --threshold {args.threshold}" if args.threshold is not None else "")
    )
    save_result(result, key=f"round{args.round}-{args.split}" if args.round != "1" else None)
    ex, cue = result["extractor"], result["cue_baseline"]

    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print(
        f"split {result['split']}: {result['sentences']} sentences ({result['unreadable']} unreadable, {result['unsure']} unsure)"
    )
    print(f"{'':14s}{'precision':>10s}{'recall':>10s}{'f1':>10s}")
    for name, r in (("extractor", ex), ("cue baseline", cue)):
        print(f"{name:14s}{show(r['precision']):>10s}{show(r['recall']):>10s}{show(r['f1']):>10s}")
    for name, f in result["fields"].items():
        print(
            f"{name:14s} accuracy {show(f['accuracy'])} on {f['n']} detected claims (target {TARGETS[name]})"
        )
    print(f"results in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
