"""Build the candidate pool of the real-text labelled set, and the labelling batches.

    python corpora/hype-real/build_pool.py --sources DIR [--seed 10] [--batches DIR]
    python corpora/hype-real/build_pool.py --sources DIR --supplement hype=300,growth=200 --round s1 [--batches DIR]

DIR is a folder of the unmodified originals with their ``FILES.tsv`` inventory. Writes
``pool.jsonl`` (annotations without labels: origin, span, sha256, source type, document, split,
stratum) and ``pool-stats.json`` beside this script. With ``--batches``, also writes the
sentences for labellers (text included, so point it outside the repository) as
``batch-NN.jsonl``. ``--supplement`` appends more likely positives of the named labels to the
existing pool (nothing already there changes) when a label comes out short after labelling,
and numbers its batches after the existing ones. Model scores are cached in
``data/cache/hype-real-scores.json``. See README.md for the method; the work is done by
:mod:`analyzer.training.pool`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from analyzer.errors import AnalyzerError  # noqa: E402
from analyzer.training.annotations import materialize, read_annotations  # noqa: E402
from analyzer.training.pool import (  # noqa: E402
    append_supplement,
    build_pool,
    build_supplement,
    write_batches,
    write_pool,
)


def parse_wants(text: str) -> dict[str, int]:
    wants: dict[str, int] = {}
    for item in text.split(","):
        label, _, count = item.partition("=")
        if not count.strip().isdigit():
            raise SystemExit(f"--supplement expects LABEL=COUNT[,LABEL=COUNT], got {item!r}")
        wants[label.strip()] = int(count)
    return wants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sources", type=Path, required=True, help="folder of the originals, with FILES.tsv"
    )
    parser.add_argument(
        "--seed", type=int, default=10, help="sampling seed (the committed pool used 10)"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder for pool.jsonl and pool-stats.json"
    )
    parser.add_argument(
        "--batches",
        type=Path,
        default=None,
        help="folder for the labelling batches (keep it outside the repository)",
    )
    parser.add_argument("--batch-size", type=int, default=550, help="sentences per batch (about)")
    parser.add_argument(
        "--score-cache", type=Path, default=ROOT / "data" / "cache" / "hype-real-scores.json"
    )
    parser.add_argument(
        "--supplement", default=None, help="LABEL=COUNT[,...]: append likely positives to the pool"
    )
    parser.add_argument(
        "--round", default="s1", help="name of the supplement round (prefixes its strata)"
    )
    parser.add_argument(
        "--top",
        action="store_true",
        help="with --supplement: take each source type's highest-scoring sentences instead of a draw across score bands",
    )
    parser.add_argument(
        "--selector",
        choices=("model", "lexical"),
        default="model",
        help="with --supplement: rank by the current model (model) or by a word/character n-gram "
        "logistic regression fitted on the labelled train split (lexical)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr)

    try:
        if args.supplement:
            return _supplement(args, progress)
        result = build_pool(
            args.sources, seed=args.seed, score_cache=args.score_cache, progress=progress
        )
    except AnalyzerError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    write_pool(result, args.out)
    stats = result.stats
    print(
        f"pool: {stats['pool_sentences']} sentences from {stats['unique_sentences']} unique located sentences"
    )
    for source_type, info in stats["by_source_type"].items():
        strata = ", ".join(f"{k} {v}" for k, v in info["strata"].items())
        print(f"  {source_type:<10} {info['pool']:>5} ({strata})")
    print(f"splits: {stats['splits']}")
    if args.batches:
        paths = write_batches(
            result.selected, args.batches, seed=args.seed, batch_size=args.batch_size
        )
        print(f"wrote {len(paths)} labelling batches to {args.batches}")
    return 0


def _labelled_train(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The labelled train-split annotations with their text, rebuilt from the originals."""
    annotations = [
        row
        for row in read_annotations(args.out / "annotations.jsonl")
        if row.get("split") == "train"
    ]
    rows, problems = materialize(annotations, args.sources)
    if problems:
        print(
            f"note: {len(problems)} labelled sentences could not be rebuilt and are left out",
            file=sys.stderr,
        )
    return rows


def _supplement(args: argparse.Namespace, progress: Callable[[str], None]) -> int:
    existing = read_annotations(args.out / "pool.jsonl")
    result = build_supplement(
        args.sources,
        existing,
        parse_wants(args.supplement),
        seed=args.seed,
        round_name=args.round,
        score_cache=args.score_cache,
        progress=progress,
        top=args.top,
        labelled=_labelled_train(args) if args.selector == "lexical" else None,
    )
    if args.batches:
        numbers = [
            int(p.stem.split("-")[1])
            for p in args.batches.glob("batch-*.jsonl")
            if p.stem.split("-")[1].isdigit()
        ]
        paths = write_batches(
            result.selected,
            args.batches,
            seed=args.seed,
            batch_size=args.batch_size,
            first_number=max(numbers, default=0) + 1,
        )
        print(f"wrote {len(paths)} labelling batches to {args.batches}")
    append_supplement(result, existing, args.out)
    print(
        f"supplement {args.round}: {result.stats['sentences']} sentences {result.stats['by_source_type']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
