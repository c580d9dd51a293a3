"""Build fixed train/validation/test splits from the labelled parts.

    python corpora/hype/build_splits.py [--parts corpora/hype/parts] [--out corpora/hype]

Every sentence goes to a split by a hash of its normalised text (NFKC, case-folded, whitespace
collapsed, outer quotes and punctuation stripped): about 70% train, 15% validation, 15% test.
The split of a sentence therefore never changes when sentences are added, and two copies of
one sentence (even with different casing or spacing) always land in the same split; only the
first copy (in file order) is kept. Label balance comes from the hash being uniform; the script
fails loudly if a split ends up without a positive or a negative example of some label.

Writes ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` (sorted by ``id``, the first 16
hex digits of the hash) and ``stats.json`` with label counts per split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

LABELS = ("hype", "growth", "evidence")
SPLITS = (("train", 0.70), ("validation", 0.85), ("test", 1.0))  # cumulative upper bounds
HERE = Path(__file__).resolve().parent
FIELDS = ("id", "text", *LABELS, "source", "topic", "lang")


class SplitError(Exception):
    pass


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    return text.strip(" \"'“”‘’「」『』()[]")


def sentence_id(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:16]


def split_of(identifier: str) -> str:
    fraction = int(identifier, 16) / float(16 ** len(identifier))
    for name, upper in SPLITS:
        if fraction < upper:
            return name
    return SPLITS[-1][0]


def read_parts(parts_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All valid rows from ``parts_dir/*.jsonl`` (sorted file order), with a report of what was skipped."""
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {"files": [], "invalid": [], "duplicates": 0, "conflicts": []}
    seen: dict[str, dict[str, Any]] = {}
    files = sorted(parts_dir.glob("*.jsonl"))
    if not files:
        raise SplitError(f"no *.jsonl parts in {parts_dir}")
    for file in files:
        report["files"].append(file.name)
        with open(file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    text = raw["text"].strip()
                    labels = {label: int(raw[label]) for label in LABELS}
                    if not text or any(v not in (0, 1) for v in labels.values()):
                        raise ValueError("empty text or a label other than 0/1")
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    # A part may be mid-write: its last line can be incomplete.
                    report["invalid"].append(f"{file.name}:{number}: {exc}")
                    continue
                identifier = sentence_id(text)
                if identifier in seen:
                    report["duplicates"] += 1
                    if any(seen[identifier][k] != labels[k] for k in LABELS):
                        report["conflicts"].append(f"{file.name}:{number}: {text[:80]}")
                    continue
                row = {
                    "id": identifier,
                    "text": text,
                    **labels,
                    "source": raw.get("source"),
                    "topic": raw.get("topic"),
                    "lang": raw.get("lang") or "en",
                }
                seen[identifier] = row
                rows.append(row)
    return rows, report


def build_splits(parts_dir: Path, out_dir: Path) -> dict[str, Any]:
    rows, report = read_parts(parts_dir)
    splits: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in SPLITS}
    for row in rows:
        splits[split_of(row["id"])].append(row)
    stats: dict[str, Any] = {"total": len(rows), "splits": {}}
    for name, members in splits.items():
        members.sort(key=lambda r: r["id"])
        counts = {label: sum(r[label] for r in members) for label in LABELS}
        for label in LABELS:
            if not members or counts[label] in (0, len(members)):
                raise SplitError(
                    f"split {name!r} has no {'positive' if counts[label] == 0 else 'negative'} "
                    f"{label!r} example; the corpus is too small to split"
                )
        stats["splits"][name] = {
            "sentences": len(members),
            "labels": counts,
            "languages": dict(sorted(Counter(r["lang"] for r in members).items())),
            "sources": dict(sorted(Counter(str(r["source"]) for r in members).items())),
        }
    stats["labels"] = {label: sum(r[label] for r in rows) for label in LABELS}
    stats["languages"] = dict(sorted(Counter(r["lang"] for r in rows).items()))
    stats["topics"] = dict(sorted(Counter(str(r["topic"]) for r in rows).items()))
    stats["parts"] = report["files"]
    stats["duplicates_dropped"] = report["duplicates"]
    stats["label_conflicts"] = report["conflicts"]
    stats["invalid_lines"] = report["invalid"]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, members in splits.items():
        with open(out_dir / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for row in members:
                handle.write(json.dumps({k: row[k] for k in FIELDS}, ensure_ascii=False) + "\n")
    (out_dir / "stats.json").write_text(
        json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parts", type=Path, default=HERE / "parts", help="folder of *.jsonl parts"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder for the split files and stats.json"
    )
    args = parser.parse_args(argv)
    try:
        stats = build_splits(args.parts, args.out)
    except SplitError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for name, info in stats["splits"].items():
        labels = ", ".join(f"{k} {v}" for k, v in info["labels"].items())
        print(f"{name:<10} {info['sentences']:>6} sentences ({labels})")
    if stats["invalid_lines"]:
        print(
            f"skipped {len(stats['invalid_lines'])} invalid line(s), e.g. {stats['invalid_lines'][0]}",
            file=sys.stderr,
        )
    if stats["label_conflicts"]:
        print(
            f"{len(stats['label_conflicts'])} duplicate(s) with conflicting labels kept their first labels",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
