"""Language routing on real English financial text: how many sentences would come back unscored.

    python benchmarks/bench_language.py [--model DIR]

Sentences: Financial PhraseBank (``Sentences_50Agree.txt``) and the SemEval-2017 Task 5
headlines from ``../shared/realdata/labeled`` (distinct texts: 5,798), each scored as one
record, as ``analyzer score --input`` would. For each the document step is run without the
model call (:meth:`HypeScorer.prepare_document`: split, segment kinds, language routing), so
the benchmark says which records would be unscored and why. The previous detector (py3langid's
unrestricted top language) is measured on the same texts for comparison. A control set of
non-English sentences (readability's test pages whose metadata says ``fr``, ``es``, ``de``,
``cs`` or ``pt``; sentences of eight words or more) checks that English is not simply forced:
it reports how many of them are routed to their own language (and so left unscored).

Results go to ``benchmarks/results/language.json``; no text of the originals is written, only
counts, languages and, for an unscored record, its line number and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared" / "realdata"
RESULTS = PROJECT_ROOT / "benchmarks" / "results"
PHRASEBANK = "labeled/financial_phrasebank/data/Sentences_50Agree.txt"
HEADLINES = "labeled/fiqa_semeval2017/data/en/SemEval2017Task5Headlines.json"
READABILITY = "articles/mozilla-readability/test/test-pages"


def english_sentences(root: Path) -> list[tuple[str, str, str]]:
    """(source, position, text): PhraseBank lines (Latin-1, ``sentence@label``) and headlines."""
    items: list[tuple[str, str, str]] = []
    for number, line in enumerate(
        (root / PHRASEBANK).read_text(encoding="latin-1").splitlines(), start=1
    ):
        text, separator, label = line.rpartition("@")
        if separator and label.strip() in ("positive", "negative", "neutral") and text.strip():
            items.append((PHRASEBANK, f"line {number}", text.strip()))
    for index, entry in enumerate(json.loads((root / HEADLINES).read_text(encoding="utf-8"))):
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("title"), str)
            and entry["title"].strip()
        ):
            items.append((HEADLINES, f"entry {index}", entry["title"].strip()))
    seen: set[str] = set()
    unique = []
    for item in items:
        if item[2] not in seen:
            seen.add(item[2])
            unique.append(item)
    return unique


def foreign_sentences(root: Path) -> list[tuple[str, str]]:
    """(declared language, sentence) from readability's non-English test pages."""
    from analyzer.scoring.sentences import split_sentences

    out = []
    for page in sorted((root / READABILITY).iterdir()):
        meta_file = page / "expected-metadata.json"
        if not meta_file.is_file() or not (page / "expected.html").is_file():
            continue
        lang = str(json.loads(meta_file.read_text(encoding="utf-8")).get("lang") or "").lower()[:2]
        if lang not in ("fr", "es", "de", "cs", "pt"):
            continue
        text = html.unescape(
            re.sub(
                r"<[^>]+>",
                "\n",
                (page / "expected.html").read_text(encoding="utf-8", errors="replace"),
            )
        )
        out += [(lang, s) for s in split_sentences(text) if len(s.split()) >= 8]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="model directory (default: $ANALYZER_MODEL, else models/hype-default)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "language.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(PROJECT_ROOT))
    if not (SHARED / PHRASEBANK).is_file() or not (SHARED / HEADLINES).is_file():
        sys.exit(f"shared real data not found under {SHARED}")

    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from analyzer.scoring.scorer import HypeScorer

    scorer = HypeScorer.from_pretrained(args.model, device="cpu")
    english = english_sentences(SHARED)
    started = time.perf_counter()
    prepared = [scorer.prepare_document(text) for _, _, text in english]
    seconds = time.perf_counter() - started
    unscored = [
        {
            "source": source,
            "position": position,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "language": p["language"],
            "reason": p["reason"],
        }
        for (source, position, text), p in zip(english, prepared)
        if p["reason"] is not None
    ]
    old = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    old_languages = Counter(str(old.classify(text)[0]) for _, _, text in english)
    routes = Counter(scorer.route_language(text).method for _, _, text in english)
    kinds = Counter(kind for p in prepared for kind in p["kinds"])
    controls = foreign_sentences(SHARED) if (SHARED / READABILITY).is_dir() else []
    control_routes = [(lang, scorer.route_language(text)) for lang, text in controls]
    results = {
        "model": {
            "model_id": scorer.model_id,
            "model_version": scorer.model_version,
            "languages": scorer.languages,
        },
        "english": {
            "sources": [PHRASEBANK, HEADLINES],
            "sentences": len(english),
            "unscored": len(unscored),
            "unscored_by_reason": dict(Counter(u["reason"] for u in unscored)),
            "unscored_records": unscored,
            "routed_languages": dict(Counter(p["language"] for p in prepared).most_common()),
            "route_methods": dict(routes.most_common()),
            "segment_kinds": dict(kinds.most_common()),
            "seconds_for_all": round(seconds, 3),
            "previous_detector": {
                "rule": "py3langid top language, unrestricted (the detector before routing)",
                "not_english": sum(v for k, v in old_languages.items() if k != "en"),
                "languages": dict(old_languages.most_common()),
            },
        },
        "non_english_control": {
            "source": READABILITY
            + " (pages whose metadata lang is fr, es, de, cs or pt; sentences of 8+ words)",
            "sentences": len(controls),
            "routed_to_declared_language": sum(r.language == lang for lang, r in control_routes),
            "routed_to_english": sum(r.language == "en" for _, r in control_routes),
            "by_language": {
                lang: {
                    "sentences": sum(1 for x, _ in control_routes if x == lang),
                    "own_language": sum(
                        1 for x, r in control_routes if x == lang and r.language == lang
                    ),
                    "english": sum(
                        1 for x, r in control_routes if x == lang and r.language == "en"
                    ),
                }
                for lang in sorted({x for x, _ in control_routes})
            },
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    e = results["english"]
    c = results["non_english_control"]
    print(
        f"{e['sentences']} English sentences: {e['unscored']} unscored {e['unscored_by_reason']} "
        f"(previous detector: {e['previous_detector']['not_english']} not English); "
        f"control: {c['routed_to_declared_language']}/{c['sentences']} non-English sentences routed to their "
        f"language, {c['routed_to_english']} to English. Written to {args.out}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
