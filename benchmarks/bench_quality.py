"""Classifier quality against the targets: every test set on its own, plus whole documents.

    python benchmarks/bench_quality.py [--model models/hype-default] [--sources ../shared/realdata]
                                       [--out data/eval/quality] [--no-zero-shot] [--device cpu]

1. **Test sets** (:func:`analyzer.training.evaluation.standard_sets`): the written corpus's test
   split, the real English set's test split (materialised from ``--sources``), the real
   Japanese set when it is labelled, each with the cue baselines, the breakdown by source type
   and the worst errors, exactly as ``analyzer evaluate`` reports them.
2. **Technical whitepapers**: the Bitcoin and Solana PDFs, read as ingestion reads a PDF
   (:func:`analyzer.ingest.articles.extract_pdf`) and scored with ``score_document``; the share
   of *prose* sentences with hype > 0.5. Prose is what the document step marks as prose
   (segment kinds, when the scorer returns them), else the shape heuristic of
   :func:`analyzer.training.pool.sentence_shape`; which rule applied is recorded.
3. **Document ranking**: the promotional Coreum whitepaper against the technical Bitcoin and
   Solana ones on document hype (the mean over scored sentences, ``score_document``'s
   ``hype``). The demo's two token whitepapers (written for the project) are listed beside
   them for information, outside the target.

Targets: real English AUROC >= 0.90 per label and >= 0.10 above the best cue baseline for
hype and growth, ECE <= 0.05 on the real split; written AUROC >= 0.97; at most 2% of prose
sentences of each technical whitepaper above 0.5 hype; every promotional document above every
technical one; Japanese AUROC >= 0.90.

Writes ``benchmarks/results/quality.json`` (ids, hashes and figures: no text written by
others) and the full local evaluation, sentences included, into ``--out`` (keep it
git-ignored). Parts whose data is absent are skipped with a note.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

RESULTS = PROJECT / "benchmarks" / "results" / "quality.json"
SHARED = PROJECT.parent / "shared"
WHITEPAPER_SHARE_TARGET = 0.02
TECHNICAL = {
    "bitcoin": "whitepapers/bitcoin/bitcoincore.org/bitcoin.pdf",
    "solana": "whitepapers/solana/solana-whitepaper-en.pdf",
}
PROMOTIONAL = {"coreum": "whitepapers/coreum/whitepaper.pdf"}
DEMO_PROMOTIONAL = {
    "orrery (demo)": "corpora/demo/whitepapers_src/orrery-compute-whitepaper.txt",
    "wattline (demo)": "corpora/demo/whitepapers_src/wattline-energy-whitepaper.txt",
}


def prose_flags(document: dict[str, Any]) -> tuple[list[bool], str]:
    """Which sentences of a scored document are prose, and the rule that said so."""
    sentences = document["sentences"]
    if sentences and "kind" in sentences[0]:
        from analyzer.scoring import segments  # the document step's own marking

        return [
            segments.is_prose(s["kind"]) for s in sentences
        ], "segment kinds of the document step"
    from analyzer.training import pool

    return (
        [pool.sentence_shape(s["text"]) in pool.PROSE_SHAPES for s in sentences],
        "analyzer.training.pool.sentence_shape (the document step marks no kinds)",
    )


def document_figures(scorer: Any, text: str) -> dict[str, Any]:
    document = scorer.score_document(text, max_sentences=None)
    prose, rule = prose_flags(document)
    scored = [(s, p) for s, p in zip(document["sentences"], prose) if s.get("hype") is not None]
    prose_scores = [s["hype"] for s, p in scored if p]
    all_scores = [s["hype"] for s, _ in scored]
    over = [
        {
            "index": i,
            "sha256": hashlib.sha256(s["text"].encode("utf-8")).hexdigest(),
            "hype": round(s["hype"], 4),
        }
        for i, (s, p) in enumerate(zip(document["sentences"], prose))
        if p and s.get("hype") is not None and s["hype"] > 0.5
    ]
    over.sort(key=lambda e: -e["hype"])
    return {
        "sentences": len(document["sentences"]),
        "prose_sentences": sum(prose),
        "prose_rule": rule,
        "prose_hype_share": (sum(v > 0.5 for v in prose_scores) / len(prose_scores))
        if prose_scores
        else None,
        "all_sentences_hype_share": (sum(v > 0.5 for v in all_scores) / len(all_scores))
        if all_scores
        else None,
        "document_hype_mean": document.get("hype"),
        "document_hype_top": document.get("hype_top"),
        "unscored": document.get("unscored"),
        "prose_over_0_5": over[:10],  # positions and hashes only: the text stays with its authors
    }


def read_document(path: Path) -> str:
    from analyzer.ingest.articles import extract_pdf

    if path.suffix.lower() == ".pdf":
        return extract_pdf(path.read_bytes()).text
    return path.read_text(encoding="utf-8")


def documents_part(scorer: Any, sources: Path) -> dict[str, Any]:
    out: dict[str, Any] = {
        "technical": {},
        "promotional": {},
        "demo_promotional": {},
        "skipped": {},
    }
    for group, table, base in (
        ("technical", TECHNICAL, sources),
        ("promotional", PROMOTIONAL, sources),
        ("demo_promotional", DEMO_PROMOTIONAL, PROJECT),
    ):
        for name, relative in table.items():
            path = base / relative
            if not path.is_file():
                out["skipped"][name] = f"{relative} not found"
                continue
            figures = document_figures(scorer, read_document(path))
            figures["path"] = relative
            out[group][name] = figures
    technical = [
        v["document_hype_mean"]
        for v in out["technical"].values()
        if v["document_hype_mean"] is not None
    ]
    promotional = [
        v["document_hype_mean"]
        for v in out["promotional"].values()
        if v["document_hype_mean"] is not None
    ]
    out["ranking"] = {
        "order": sorted(
            (
                (name, v["document_hype_mean"])
                for g in ("technical", "promotional")
                for name, v in out[g].items()
            ),
            key=lambda item: -(item[1] or 0.0),
        ),
        "promotional_above_technical": (min(promotional) > max(technical))
        if technical and promotional
        else None,
    }
    return out


def targets(metrics: dict[str, Any], documents: dict[str, Any]) -> list[dict[str, Any]]:
    rows = list(metrics.get("target_results") or [])
    for name, figures in documents["technical"].items():
        value = figures["prose_hype_share"]
        rows.append(
            {
                "target": "prose sentences with hype > 0.5",
                "set": f"{name} whitepaper",
                "label": "hype",
                "value": value,
                "required": f"<= {WHITEPAPER_SHARE_TARGET}",
                "met": None if value is None else value <= WHITEPAPER_SHARE_TARGET,
            }
        )
    rows.append(
        {
            "target": "promotional above technical (document hype mean)",
            "set": "whitepapers",
            "label": "hype",
            "value": None,
            "required": "every promotional > every technical",
            "met": documents["ranking"]["promotional_above_technical"],
        }
    )
    return rows


def compact(set_metrics: dict[str, Any]) -> dict[str, Any]:
    """What quality.json keeps of one set: figures, baselines, breakdowns and error ids."""
    keep = (
        "name",
        "description",
        "text_public",
        "data",
        "summary",
        "baselines",
        "best_cue",
        "by_source_type",
        "by_language",
        "worst_errors",
        "notes",
    )
    out = {k: set_metrics[k] for k in keep if k in set_metrics}
    out["labels"] = {
        label: {k: v for k, v in values.items() if k != "reliability"}
        for label, values in set_metrics["labels"].items()
    }
    out["worst_errors"] = {
        label: {
            kind: [
                {k: e[k] for k in ("id", "sha256", "source_type", "probability")} for e in entries
            ]
            for kind, entries in kinds.items()
        }
        for label, kinds in set_metrics["worst_errors"].items()
    }
    return out


def main(argv: list[str] | None = None) -> int:
    from analyzer.scoring.scorer import HypeScorer
    from analyzer.training.evaluation import (
        evaluate_sets,
        public_metrics,
        standard_sets,
        update_readme,
        write_evaluation,
        write_model_card,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=PROJECT / "models" / "hype-default")
    parser.add_argument("--sources", type=Path, default=SHARED / "realdata")
    parser.add_argument("--real-corpus", type=Path, default=None, help="default: corpora/hype-real")
    parser.add_argument("--ja-corpus", type=Path, default=None)
    parser.add_argument("--ja-sources", type=Path, default=SHARED / "seed")
    parser.add_argument("--out", type=Path, default=PROJECT / "data" / "eval" / "quality")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-zero-shot", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--update-card",
        action="store_true",
        help="also write the model's card, metrics.json and report.md from this evaluation (as analyzer evaluate --update-card)",
    )
    parser.add_argument(
        "--readme", type=Path, default=None, help="rewrite this README's model-figures block"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    scorer = HypeScorer.from_pretrained(args.model, device=args.device)
    sets = standard_sets(
        sources=args.sources,
        real_corpus=args.real_corpus,
        ja_corpus=args.ja_corpus,
        ja_sources=args.ja_sources,
    )
    metrics = evaluate_sets(scorer, sets, zero_shot=not args.no_zero_shot, progress=print)
    print("scoring whitepapers")
    documents = documents_part(scorer, args.sources)
    rows = targets(metrics, documents)
    # The card and metrics.json carry the whole-document figures and targets too.
    metrics["documents"] = documents
    metrics["target_results"] = rows
    write_evaluation(metrics, args.out, local=True)
    if args.update_card:
        write_evaluation(metrics, args.model, local=False)
        write_model_card(args.model, metrics, scorer.config)
    if args.readme:
        update_readme(
            args.readme,
            public_metrics(metrics),
            "models/hype-default/metrics.json"
            if args.model.resolve() == (PROJECT / "models" / "hype-default").resolve()
            else str(args.model / "metrics.json"),
        )
    public = public_metrics(metrics)
    measured = [r for r in rows if r["met"] is not None]
    result = {
        "command": "python benchmarks/bench_quality.py"
        + (" --no-zero-shot" if args.no_zero_shot else ""),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
        "model": public["model"],
        "selection": public["selection"],
        "protocol": public["protocol"],
        "sets": {name: compact(m) for name, m in public["sets"].items()},
        "skipped": public["skipped"],
        "documents": documents,
        "targets": rows,
        "targets_met": f"{sum(bool(r['met']) for r in measured)} of {len(measured)} measured",
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )

    for row in rows:
        value = "n/a" if row["value"] is None else f"{row['value']:.3f}"
        met = "not measured" if row["met"] is None else ("met" if row["met"] else "NOT met")
        print(
            f"{row['set']:<22} {str(row['label']):<9} {row['target']:<48} {value:>7} {row['required']:<36} {met}"
        )
    for group in ("technical", "promotional", "demo_promotional"):
        for name, figures in documents[group].items():
            share = figures["prose_hype_share"]
            print(
                f"{group:<17} {name:<16} prose {figures['prose_sentences']:>4}/{figures['sentences']:<4} "
                f"hype>0.5 {'n/a' if share is None else f'{share:.1%}'}  document hype mean "
                f"{figures['document_hype_mean'] or float('nan'):.3f}"
            )
    print(f"targets met: {result['targets_met']}; wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
