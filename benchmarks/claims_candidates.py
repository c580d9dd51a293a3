"""Choose real sentences for the claims labelled set and write them for an independent labeller.

Reads the real material beside the project (``../shared/realdata``: PhraseBank sentences,
SemEval headlines, the 10-K business text, article pages, feeds, whitepapers), splits it into
sentences with the analyzer's own readers, and picks about 600: sentences with a number and a
forward-looking cue (the pool where claims live), hard negatives (a number, no forward cue),
forward cues without a number, and plain sentences. The choice uses cue words only, never the
claim extractor being measured, so the benchmark does not grade the extractor on sentences it
chose itself. Claims outside the cue pool are out of the benchmark's reach; the datasheet says so.

Writes:

- ``<out>/candidates.jsonl``: {id, text, context, published_at, published_at_known} for the
  labeller (outside the repository: the text is not ours to commit);
- ``corpora/claims-real/candidates.index.jsonl``: where each sentence is (origin repository,
  commit, path, reader, unit, character span, sha256), no text.

    python benchmarks/claims_candidates.py --out /path/to/labelling/claims
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
REALDATA = PROJECT.parent / "shared" / "realdata"
INDEX = PROJECT / "corpora" / "claims-real" / "candidates.index.jsonl"
SEED = 20260612
TARGET = {"forward_number": 340, "number_only": 130, "forward_only": 70, "plain": 60}
# A later round draws fresh sentences only (none of an earlier round's), weighted towards the
# pool where claims live, so that a new test set holds enough claims to measure precision on.
ROUNDS = {
    "1": {"prefix": "c", "seed": SEED, "target": TARGET, "index": INDEX},
    "2": {
        "prefix": "d",
        "seed": SEED + 2,
        "target": {"forward_number": 420, "number_only": 50, "forward_only": 20, "plain": 10},
        "index": PROJECT / "corpora" / "claims-real" / "round2" / "candidates.index.jsonl",
    },
    # Round 2 became development material once its figures were reported: round 3 is the next
    # held-out set, drawn like round 2.
    "3": {
        "prefix": "e",
        "seed": SEED + 3,
        "target": {"forward_number": 420, "number_only": 50, "forward_only": 20, "plain": 10},
        "index": PROJECT / "corpora" / "claims-real" / "round3" / "candidates.index.jsonl",
    },
}
# A stand-in reference date for text whose publication date is unknown: relative horizons are
# resolved against it, by the labeller and the extractor alike.
REFERENCE_DATE = "2015-01-01"

FORWARD = re.compile(
    r"\b(will|would|could|may|might|expects?|expected|expecting|forecasts?|forecasted|projects?|projected|"
    r"predicts?|anticipates?|estimates?|aims?|targets?|plans?|intends?|should|guidance|outlook|goal|"
    r"by\s+(?:the\s+end\s+of\s+)?20\d\d|next\s+(?:year|quarter)|within\s+\w+\s+(?:years?|months?)|"
    r"over\s+the\s+next|in\s+the\s+coming)\b",
    re.IGNORECASE,
)
NUMBER = re.compile(
    r"\d|\b(double|triple|quadruple|twofold|threefold|tenfold|half|halve)\b", re.IGNORECASE
)


@dataclass
class Unit:
    """One readable piece of a source file and the sentences found in it."""

    local_path: str
    reader: str
    unit: str
    text: str
    published_at: str | None = None


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def origins() -> dict[str, tuple[str, str, str]]:
    with (REALDATA / "FILES.tsv").open(encoding="utf-8") as handle:
        return {
            r["local_path"]: (r["origin_repo"], r["origin_commit"], r["origin_path"])
            for r in csv.DictReader(handle, delimiter="\t")
        }


def units() -> Iterator[Unit]:
    """Every source unit, read the way the benchmark reads it again (see :func:`read_unit`)."""
    for name in ("Sentences_50Agree.txt",):
        path = f"labeled/financial_phrasebank/data/{name}"
        yield Unit(path, "phrasebank", "file", read_unit(path, "phrasebank", "file"))
    path = "labeled/fiqa_semeval2017/data/en/SemEval2017Task5Headlines.json"
    yield Unit(path, "headlines", "file", read_unit(path, "headlines", "file"))
    path = "financial/sec-edgar/TextLayer-isw-company-similarity/tests/fixtures/entity_storage/sec_data/apple_10k_item1_business.json"
    yield Unit(
        path,
        "10k-json",
        "item1_business_text",
        read_unit(path, "10k-json", "item1_business_text"),
        "2025-10-31",
    )
    for page in sorted(
        (REALDATA / "articles" / "mozilla-readability" / "test" / "test-pages").glob(
            "*/source.html"
        )
    ):
        path = str(page.relative_to(REALDATA))
        try:
            text = read_unit(path, "article", "page")
        except Exception:  # an unreadable page is skipped; the others still count
            continue
        yield Unit(path, "article", "page", text)
    for feed in sorted((REALDATA / "feeds").rglob("*")):
        if feed.suffix.lower() not in (".xml", ".rss", ".atom", ".rdf") or not feed.is_file():
            continue
        path = str(feed.relative_to(REALDATA))
        try:
            from analyzer.ingest.feeds import parse_feed

            parsed = parse_feed(feed.read_bytes())
        except Exception:
            continue
        for index, item in enumerate(parsed.items[:40]):
            if item.text:
                yield Unit(
                    path, "feed", f"item:{index}", item.text, (item.published_at or "")[:10] or None
                )
    for pdf in sorted((REALDATA / "whitepapers").rglob("*.pdf")):
        path = str(pdf.relative_to(REALDATA))
        try:
            yield Unit(path, "pdf", "file", read_unit(path, "pdf", "file"))
        except Exception:
            continue


def read_unit(local_path: str, reader: str, unit: str) -> str:
    """The text of one unit; spans in the index are offsets into this string."""
    path = REALDATA / local_path
    if reader == "phrasebank":
        return path.read_bytes().decode("latin-1")
    if reader == "headlines":
        return "\n".join(
            str(item.get("title", "")) for item in json.loads(path.read_text(encoding="utf-8"))
        )
    if reader == "10k-json":
        return str(json.loads(path.read_text(encoding="utf-8"))[unit])
    if reader == "article":
        from analyzer.ingest.articles import extract_article

        return extract_article(path.read_bytes()).text
    if reader == "feed":
        from analyzer.ingest.feeds import parse_feed

        return parse_feed(path.read_bytes()).items[int(unit.split(":")[1])].text
    if reader == "pdf":
        from analyzer.ingest.articles import extract_pdf

        return extract_pdf(path.read_bytes()).text
    raise ValueError(f"unknown reader {reader!r}")


def sentences_of(unit: Unit) -> Iterator[tuple[int, int, str]]:
    """(start, end, sentence) in the unit's text."""
    if unit.reader == "phrasebank":
        position = 0
        for line in unit.text.splitlines(keepends=True):
            sentence = line.rsplit("@", 1)[0].strip()
            if sentence:
                start = unit.text.index(sentence, position)
                yield start, start + len(sentence), sentence
            position += len(line)
        return
    if unit.reader == "headlines":
        position = 0
        for line in unit.text.split("\n"):
            if line.strip():
                yield position, position + len(line), line
            position += len(line) + 1
        return
    from analyzer.scoring.sentences import iter_sentences

    position = 0
    for sentence in iter_sentences(unit.text):
        start = unit.text.find(sentence, position)
        if start < 0:
            continue  # the splitter rejoined lines; such a sentence has no exact span
        position = start + len(sentence)
        if 30 <= len(sentence) <= 400:
            yield start, start + len(sentence), sentence


def bucket(sentence: str) -> str:
    forward, number = bool(FORWARD.search(sentence)), bool(NUMBER.search(sentence))
    if forward and number:
        return "forward_number"
    if number:
        return "number_only"
    if forward:
        return "forward_only"
    return "plain"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for candidates.jsonl (outside the repository)",
    )
    parser.add_argument(
        "--round",
        choices=sorted(ROUNDS),
        default="1",
        help="which candidate round to draw (a later round excludes every earlier one)",
    )
    args = parser.parse_args(argv)
    plan = ROUNDS[args.round]
    target: dict[str, int] = plan["target"]
    index_path: Path = plan["index"]
    if not REALDATA.is_dir():
        print(f"no real data at {REALDATA}; nothing to do", file=sys.stderr)
        return 0
    sys.path.insert(0, str(PROJECT))
    where = origins()
    pools: dict[str, list[dict]] = {name: [] for name in target}
    seen: set[str] = set()
    for name, earlier in ROUNDS.items():
        if int(name) < int(args.round) and earlier["index"].is_file():
            seen |= {
                json.loads(line)["sha256"]
                for line in earlier["index"].read_text(encoding="utf-8").splitlines()
                if line.strip()
            }
    for unit in units():
        origin = where.get(unit.local_path)
        if origin is None:
            continue
        found = list(sentences_of(unit))
        for position, (start, end, sentence) in enumerate(found):
            digest = sha(sentence)
            if digest in seen:
                continue
            seen.add(digest)
            # PhraseBank lines and headlines stand alone: their neighbours come from other articles.
            standalone = unit.reader in ("phrasebank", "headlines")
            context = (
                ""
                if standalone
                else " ".join(
                    s for _, _, s in found[max(0, position - 1) : position + 2] if s != sentence
                )
            )
            pools[bucket(sentence)].append(
                {
                    "text": sentence,
                    "context": context[:600],
                    "published_at": unit.published_at,
                    "index": {
                        "origin_repo": origin[0],
                        "origin_commit": origin[1],
                        "origin_path": origin[2],
                        "local_path": unit.local_path,
                        "reader": unit.reader,
                        "unit": unit.unit,
                        "char_start": start,
                        "char_end": end,
                        "sha256": digest,
                    },
                }
            )
    rng = random.Random(plan["seed"])
    chosen: list[dict] = []
    for name, count in target.items():
        # Round-robin over readers, so every kind of source (the 10-K, pages, feeds, PhraseBank)
        # is represented rather than the most numerous one filling the bucket.
        by_reader: dict[str, list[dict]] = {}
        for item in pools[name]:
            by_reader.setdefault(item["index"]["reader"], []).append(item)
        for items in by_reader.values():
            rng.shuffle(items)
        order = sorted(by_reader)
        taken: list[dict] = []
        while len(taken) < count and any(by_reader.values()):
            for reader in order:
                if by_reader[reader] and len(taken) < count:
                    taken.append(by_reader[reader].pop())
        chosen += [{**item, "bucket": name} for item in taken]
    rng.shuffle(chosen)
    args.out.mkdir(parents=True, exist_ok=True)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        (args.out / "candidates.jsonl").open("w", encoding="utf-8") as candidates,
        index_path.open("w", encoding="utf-8") as index,
    ):
        for number, item in enumerate(chosen, 1):
            cid = f"{plan['prefix']}{number:04d}"
            known = item["published_at"] is not None
            candidates.write(
                json.dumps(
                    {
                        "id": cid,
                        "text": item["text"],
                        "context": item["context"],
                        "published_at": item["published_at"] or REFERENCE_DATE,
                        "published_at_known": known,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            index.write(
                json.dumps(
                    {
                        "id": cid,
                        **item["index"],
                        "bucket": item["bucket"],
                        "published_at": item["published_at"] or REFERENCE_DATE,
                        "published_at_known": known,
                    }
                )
                + "\n"
            )
    sizes = {name: len(pool) for name, pool in pools.items()}
    print(f"wrote {len(chosen)} candidates to {args.out / 'candidates.jsonl'} (pool sizes {sizes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
