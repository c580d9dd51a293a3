"""Scoring benchmark over real sentences: every inference path, alternated, in one run.

    python benchmarks/bench_scoring.py [--model DIR] [--n 2000] [--repeats 3] [--device cpu|cuda]
        [--no-end-to-end] [--compare-checkout LABEL=DIR ...]

Sentences: real financial news sentences from ``../shared/realdata/labeled`` when that folder
is present (Financial PhraseBank, then FiQA posts and SemEval-2017 headlines), else the
bundled corpus test split. Results go to ``benchmarks/results/scoring.json`` and the summary
table to ``benchmarks/results/scoring.md``; see ``analyzer.scoring.benchmark`` for the method.
Unless ``--no-end-to-end``, the same sentences also go through ``analyzer score --input`` from
this checkout (and from each ``--compare-checkout``, e.g. an export of the previous commit),
in the same rounds, for the end-to-end marginal throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_LABELED = PROJECT_ROOT.parent / "shared" / "realdata" / "labeled"
CORPUS_TEST = PROJECT_ROOT / "corpora" / "hype" / "test.jsonl"
RESULTS = PROJECT_ROOT / "benchmarks" / "results"


def phrasebank_sentences(folder: Path) -> list[str]:
    """``sentence@label`` lines, Latin-1 encoded; lines without a label (a stray ``1``) are skipped."""
    path = folder / "financial_phrasebank" / "data" / "Sentences_50Agree.txt"
    if not path.is_file():
        return []
    sentences = []
    for line in path.read_text(encoding="latin-1").splitlines():
        text, separator, label = line.rpartition("@")
        if separator and label.strip() in ("positive", "negative", "neutral") and text.strip():
            sentences.append(text.strip())
    return sentences


def fiqa_sentences(folder: Path) -> list[str]:
    base = folder / "fiqa_semeval2017" / "data" / "en"
    sentences: list[str] = []
    posts = base / "FiQA_post.json"
    if posts.is_file():
        sentences += [
            v["sentence"].strip()
            for v in json.loads(posts.read_text(encoding="utf-8")).values()
            if isinstance(v, dict) and isinstance(v.get("sentence"), str)
        ]
    headlines = base / "SemEval2017Task5Headlines.json"
    if headlines.is_file():
        sentences += [
            v["title"].strip()
            for v in json.loads(headlines.read_text(encoding="utf-8"))
            if isinstance(v, dict) and isinstance(v.get("title"), str)
        ]
    return [s for s in sentences if s]


def benchmark_sentences(n: int, source: str) -> tuple[list[str], str]:
    from analyzer.scoring.benchmark import read_sentences

    if source in ("auto", "realdata") and SHARED_LABELED.is_dir():
        pool = list(
            dict.fromkeys(phrasebank_sentences(SHARED_LABELED) + fiqa_sentences(SHARED_LABELED))
        )
        if pool:
            return pool[:n], "Financial PhraseBank + FiQA/SemEval-2017 (shared real data)"
    if source == "realdata":
        sys.exit(f"shared real data not found at {SHARED_LABELED}")
    path = CORPUS_TEST if source in ("auto", "corpus") else Path(source)
    return read_sentences(path, n), path.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="model directory (default: $ANALYZER_MODEL, else models/hype-default)"
    )
    parser.add_argument("--n", type=int, default=2000, help="number of sentences")
    parser.add_argument("--repeats", type=int, default=3, help="alternated timing rounds")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--paths", help="comma-separated subset of the paths")
    parser.add_argument(
        "--source", default="auto", help="auto, realdata, corpus or a sentences file"
    )
    parser.add_argument("--in-process", action="store_true", help="all paths in one process")
    parser.add_argument(
        "--no-end-to-end", action="store_true", help="skip the analyzer score --input timing"
    )
    parser.add_argument(
        "--compare-checkout",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also time analyzer score --input from this project checkout",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "scoring.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS / "scoring.md")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(PROJECT_ROOT))

    from analyzer.scoring.benchmark import PATHS, markdown_table, run_benchmark, write_results

    sentences, source = benchmark_sentences(args.n, args.source)
    paths = [p.strip() for p in args.paths.split(",")] if args.paths else list(PATHS)
    end_to_end: dict[str, str | Path] | None = None
    if not args.no_end_to_end:
        end_to_end = {"this checkout": PROJECT_ROOT}
        for item in args.compare_checkout:
            label, separator, folder = item.partition("=")
            if not separator or not Path(folder).is_dir():
                sys.exit(f"--compare-checkout wants LABEL=DIR with an existing DIR, got {item!r}")
            end_to_end[label] = Path(folder)
    started = time.perf_counter()
    results = run_benchmark(
        sentences,
        model=args.model,
        paths=paths,
        repeats=args.repeats,
        device=args.device,
        source=source,
        isolate=not args.in_process,
        end_to_end=end_to_end,
        progress=lambda message: print(
            f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True
        ),
    )
    write_results(results, args.out, args.markdown)
    print(markdown_table(results))
    print(f"Results written to {args.out} and {args.markdown}.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
