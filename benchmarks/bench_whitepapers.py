"""Non-prose on real whitepapers and the founding article: what is left out, and the hype share.

    python benchmarks/bench_whitepapers.py [--model DIR]

Documents (read at run time from ``../shared``, never copied): the Bitcoin, Solana and Coreum
whitepaper PDFs (text through the ingest step's PDF extraction) and the founding article in
``../shared/seed``. For each: segments by kind, and with the shipped model the share of prose
sentences scoring hype > 0.5 (target for the technical Bitcoin and Solana papers: at most 2%)
and the document hype mean over prose only (distinct segments once) against the mean over
every segment (what the document step did before segment kinds). Writes
``benchmarks/results/whitepapers.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
RESULTS = PROJECT_ROOT / "benchmarks" / "results"
DOCUMENTS = {
    "bitcoin": "realdata/whitepapers/bitcoin/bitcoincore.org/bitcoin.pdf",
    "solana": "realdata/whitepapers/solana/solana-whitepaper-en.pdf",
    "coreum": "realdata/whitepapers/coreum/whitepaper.pdf",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="model directory (default: $ANALYZER_MODEL, else models/hype-default)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "whitepapers.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(PROJECT_ROOT))
    import json

    from analyzer.ingest.articles import extract_pdf
    from analyzer.scoring.scorer import HypeScorer
    from analyzer.scoring.segments import is_prose

    scorer = HypeScorer.from_pretrained(args.model, device="cpu")
    scorer.use_backend("auto")
    documents = {
        name: SHARED / path for name, path in DOCUMENTS.items() if (SHARED / path).is_file()
    }
    seeds = sorted((SHARED / "seed").glob("*.txt")) if (SHARED / "seed").is_dir() else []
    if not documents and not seeds:
        sys.exit(f"no documents found under {SHARED}")
    results: dict[str, object] = {
        "model": {"model_id": scorer.model_id, "model_version": scorer.model_version},
        "documents": {},
    }
    for name, path in documents.items():
        text = extract_pdf(path.read_bytes()).text
        result = scorer.score_document(text, max_sentences=None)
        sentences = result["sentences"]
        prose = [s for s in sentences if is_prose(s["kind"])]
        every = [s["hype"] for s in scorer.score([s["text"] for s in sentences])]
        high = sum(s["hype"] > 0.5 for s in prose)
        results["documents"][name] = {
            "source": DOCUMENTS[name],
            "segments": len(sentences),
            "kinds": dict(Counter(s["kind"] for s in sentences).most_common()),
            "prose": len(prose),
            "distinct_prose": result["n_prose"],
            "prose_hype_above_0.5": high,
            "prose_share_hype_above_0.5": round(high / len(prose), 4) if prose else None,
            "all_segments_share_hype_above_0.5": round(sum(v > 0.5 for v in every) / len(every), 4),
            "document_hype_mean_prose": round(result["hype"], 4)
            if result["hype"] is not None
            else None,
            "document_hype_mean_all_segments": round(sum(every) / len(every), 4),
            "document_hype_top_prose": round(result["hype_top"], 4)
            if result["hype_top"] is not None
            else None,
        }
    for path in seeds:
        text = path.read_text(encoding="utf-8")
        result = scorer.score_document(text, max_sentences=None)
        sentences = result["sentences"]
        prose = [s for s in sentences if is_prose(s["kind"])]
        results["documents"]["founding-article"] = {
            "source": f"seed/{path.name}",
            "segments": len(sentences),
            "kinds": dict(Counter(s["kind"] for s in sentences).most_common()),
            "prose": len(prose),
            "distinct_prose": len({" ".join(s["text"].split()).casefold() for s in prose}),
            "language": result["language"],
            "unscored": result["unscored"],
            "reason": result["reason"],
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, entry in results["documents"].items():
        print(name, json.dumps(entry, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
