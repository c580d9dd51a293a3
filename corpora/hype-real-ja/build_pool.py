"""Build the annotation pool of real Japanese text, and its labelling batches.

    python corpora/hype-real-ja/build_pool.py --sources DIR [--batches DIR]

Every file of the sources folder (``*.txt``) is split into sentences with the tool's own splitter
(:func:`analyzer.scoring.sentences.split_sentences`), and each sentence becomes an annotation:
where it is (a character span of the file, the ``text`` extractor), its sha256, and where the
file comes from. The origin is taken from a ``FILES.tsv`` in the sources folder when it lists the
file (``local_path``, size, sha256, repository, commit, path, as in ``../shared/realdata``);
a file it does not list has no public origin, so the annotation stores ``origin: "local"``,
the file's own sha256 and its path inside the sources folder, nothing more.

No text is written into the repository: ``pool.jsonl`` holds spans and hashes only. With
``--batches DIR`` (keep it outside the repository) the distinct sentences are also written as
labelling batches ``batch-NN.jsonl`` (``{"id", "text", "context"}``), each sentence once (the
founding article carries its body twice: later copies are annotated with ``duplicate_of``
and not labelled twice).

All sentences of one file form one document and share one split (``test``: real Japanese
held out for evaluation).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
SPLIT = "test"
BATCH_SIZE = 200


def read_inventory(sources: Path) -> dict[str, dict[str, str]]:
    """``FILES.tsv`` rows by local path, when the sources folder has one."""
    inventory = sources / "FILES.tsv"
    if not inventory.is_file():
        return {}
    rows: dict[str, dict[str, str]] = {}
    with open(inventory, encoding="utf-8", newline="") as handle:
        for fields in csv.reader(handle, delimiter="\t"):
            if len(fields) >= 6:
                rows[fields[0]] = {
                    "size": fields[1],
                    "sha256": fields[2],
                    "origin_repo": fields[3],
                    "origin_commit": fields[4],
                    "origin_path": fields[5],
                }
    return rows


def locate(raw: str, sentence: str, cursor: int) -> tuple[int, int] | None:
    """The span of ``raw`` from ``cursor`` on holding ``sentence`` up to whitespace.

    The splitter joins soft-wrapped lines (with a space, or with nothing between Japanese
    characters), so the sentence is matched character by character with any whitespace between.
    """
    chars = [ch for ch in sentence if not ch.isspace()]
    if not chars:
        return None
    pattern = re.compile(r"\s*".join(re.escape(ch) for ch in chars))
    match = pattern.search(raw, cursor)
    return (match.start(), match.end()) if match else None


_COUNTER_RE = re.compile(r"\d[\d.,]*\s*[KkMm万]?\s*(?:人気度|views|回)")
_FINAL = "。！？!?」』）)"


def japanese_shape(text: str) -> str:
    """A sampling hint, not a label: ``boilerplate`` (popularity counters), ``prose`` (ends like a
    sentence) or ``heading`` (a short line without final punctuation)."""
    if len(_COUNTER_RE.findall(text)) >= 2:
        return "boilerplate"
    if text[-1] in _FINAL or len(text) > 40:
        return "prose"
    return "heading"


def build(sources: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    from analyzer.scoring.language import detect_language
    from analyzer.scoring.sentences import split_sentences
    from analyzer.training.annotations import (
        LOCAL_ORIGIN,
        annotation_id,
        collapse_whitespace,
        sentence_sha256,
    )

    inventory = read_inventory(sources)
    annotations: list[dict[str, Any]] = []
    batch_items: list[dict[str, Any]] = []
    stats: dict[str, Any] = {"files": {}, "sources": sources.name}
    for path in sorted(sources.glob("*.txt")):
        local_path = path.name
        data = path.read_bytes()
        raw = data.decode("utf-8")
        listed = inventory.get(local_path)
        origin: dict[str, Any]
        if listed:
            origin = {k: listed[k] for k in ("origin_repo", "origin_commit", "origin_path")}
        else:
            origin = {"origin": LOCAL_ORIGIN, "file_sha256": hashlib.sha256(data).hexdigest()}
        sentences = split_sentences(raw)
        first_seen: dict[str, str] = {}
        unlocated = 0
        cursor = 0
        located: list[tuple[int, int, str]] = []
        for sentence in sentences:
            span = locate(raw, sentence, cursor)
            if span is None:
                unlocated += 1
                continue
            start, end = span
            cursor = end
            located.append((start, end, collapse_whitespace(raw[start:end])))
        for index, (start, end, text) in enumerate(located):
            identifier = annotation_id(
                origin.get("origin_repo", LOCAL_ORIGIN),
                origin.get("origin_path", local_path),
                "text",
                None,
                start,
                end,
            )
            record: dict[str, Any] = {
                "id": identifier,
                **origin,
                "local_path": local_path,
                "extractor": "text",
                "start": start,
                "end": end,
                "sha256": sentence_sha256(text),
                "source_type": "article",
                "document": f"{sources.name}/{path.stem}",
                "split": SPLIT,
                "stratum": "all",
                "shape": japanese_shape(text),
                "lang": detect_language(text, default="ja"),
                "index": index,
            }
            if text in first_seen:
                record["duplicate_of"] = first_seen[text]
            else:
                first_seen[text] = identifier
                before = located[index - 1][2] if index > 0 else ""
                after = located[index + 1][2] if index + 1 < len(located) else ""
                batch_items.append(
                    {"id": identifier, "text": text, "context": {"before": before, "after": after}}
                )
            annotations.append(record)
        stats["files"][local_path] = {
            "sentences": len(sentences),
            "annotated": len(located),
            "distinct": len(first_seen),
            "duplicates": len(located) - len(first_seen),
            "unlocated": unlocated,
            "public_origin": bool(listed),
        }
    stats["annotations"] = len(annotations)
    stats["to_label"] = len(batch_items)
    return annotations, batch_items, stats


def write_batches(items: list[dict[str, Any]], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    count = max(1, -(-len(items) // BATCH_SIZE))
    paths = []
    for number in range(count):
        path = directory / f"batch-{number + 1:02d}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for item in items[number * BATCH_SIZE : (number + 1) * BATCH_SIZE]:
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=Path, required=True, help="folder of the original files")
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder for pool.jsonl and pool-stats.json"
    )
    parser.add_argument(
        "--batches", type=Path, help="folder for labelling batches (outside the repository)"
    )
    args = parser.parse_args(argv)
    if not args.sources.is_dir():
        print(f"Error: sources folder {args.sources} does not exist", file=sys.stderr)
        return 1
    from analyzer.training.annotations import write_annotations

    annotations, items, stats = build(args.sources)
    args.out.mkdir(parents=True, exist_ok=True)
    write_annotations(args.out / "pool.jsonl", annotations)
    (args.out / "pool-stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    print(
        f"{stats['annotations']} annotations ({stats['to_label']} distinct sentences) in {args.out / 'pool.jsonl'}"
    )
    if args.batches:
        paths = write_batches(items, args.batches)
        print(f"wrote {len(paths)} labelling batch(es) to {args.batches}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
