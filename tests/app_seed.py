"""A small, real database and a tiny real model for the app tests.

The model is the classifier tests' tiny head over the packaged encoder (tests/hype_fixtures.py);
the database holds three entities over twelve quarters, scored by that model,
tagged by alias, with fundamentals, and analysed by the same pipeline the CLI runs. Two
divergences are planted, each with enough stories a quarter for the method to trust them:
Nvidia's coverage grows louder in 2024 while its revenue growth stalls, and Solana's coverage
(six to twelve stories every quarter) turns exuberant in the second half of 2024 while the
growth of its total value locked slows, so both are flagged. Solana also has a one-quarter burst
of hype in 2023 Q3 while its TVL grows as usual: a single period. The seed asks flags for a
run of two periods (SEED_MIN_PERIODS), so the burst stays unflagged and the alert tests can
raise it as a new flag with a looser rule; the default rule (one period, chosen by simulation)
would flag it too.
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import date
from pathlib import Path
from typing import Any

# Flags in the seed need two periods in a row, so Solana's one-quarter burst is not one of them.
SEED_MIN_PERIODS = 2

ENTITIES = [
    {
        "id": "nvidia",
        "name": "Nvidia",
        "kind": "company",
        "aliases": ["Nvidia"],
        "tickers": ["NVDA"],
    },
    {"id": "solana", "name": "Solana", "kind": "token", "aliases": ["Solana"], "tickers": ["SOL"]},
    {
        "id": "ai-datacenters",
        "name": "AI data centers",
        "kind": "theme",
        "aliases": ["AI data center", "AI data centers"],
    },
]
SOURCES = ["Daily Wire Desk", "Tech Ledger", "Chain Street", "Market Notes"]
HYPE = [
    "{name} will change everything and nothing can stop it!",
    "This is a once-in-a-generation opportunity: {name} is going to the moon.",
    "Everyone who ignores {name} will regret it forever, this is the future of everything.",
    "{name} is unstoppable and the revolution has only just begun!",
]
GROWTH = [
    "{name} says demand keeps growing faster than anyone expected.",
    "{name} expects its market to double over the next two years.",
]
EVIDENCE = [
    "{name} reported quarterly revenue of $12.4 billion, up 22% from a year earlier, in its audited filing.",
    "According to the filing, {name} shipped 1.2 million units in the quarter, 3% fewer than planned.",
    "Data from the regulator show {name} processed 40 million transactions, a 5% decline.",
]
NEUTRAL = [
    "{name} held its annual meeting in California on Tuesday.",
    "The company named a new chief financial officer for {name}.",
]
BACKGROUND = [
    "The central bank left interest rates unchanged at its meeting.",
    "Retail sales rose 0.4% in the month, in line with forecasts.",
    "A new port terminal opened after two years of construction.",
]
# A title and text that would run script if anything rendered them as HTML.
HOSTILE_TITLE = "<script>alert('owned')</script> Nvidia <b>mania</b>"
HOSTILE_SENTENCE = "Nvidia <img src=x onerror=alert(1)> will change everything forever!"
# An author line that Markdown would turn into a remote image and a link.
HOSTILE_AUTHOR = "![pixel](https://tracker.example/p.png) [Staff](https://evil.example)"

QUARTERS = [date(2022 + i // 4, 1 + 3 * (i % 4), 1) for i in range(12)]


def app_model_dir(tiny_model_dir: Path, out_dir: Path) -> Path:
    """A copy of the classifier tests' tiny model with test metrics beside it (the Model page reads them)."""
    shutil.copytree(tiny_model_dir, out_dir)
    (out_dir / "metrics.json").write_text(
        json.dumps(
            {
                "summary": {"macro_f1": 0.5, "auroc": 0.5, "ece": 0.1},
                "labels": {
                    label: {"macro_f1": 0.5, "auroc": 0.5, "ece": 0.1}
                    for label in ("hype", "growth", "evidence")
                },
            }
        )
    )
    return out_dir


def _quarter_day(quarter: date, index: int) -> str:
    return (
        date(quarter.year, quarter.month + index % 3, 1 + (index * 7) % 27).isoformat()
        + "T09:00:00+00:00"
    )


def _documents() -> list[dict[str, Any]]:
    """Every seeded document: entity stories whose tone and volume follow a plan, plus background."""
    rng = random.Random(7)
    plan = {
        # entity: per-quarter (documents, share of hype sentences). Reliable periods need at
        # least MIN_RELIABLE_STORIES (5) stories; Nvidia's quiet years have fewer (unreliable,
        # never flagged), Solana's never do.
        "nvidia": [(3, 0.1)] * 8 + [(5, 0.5), (8, 0.7), (10, 0.8), (12, 0.9)],
        # Solana: a one-quarter burst in 2023 Q3, then exuberance from 2024 Q3.
        "solana": [(6, 0.2), (7, 0.2)] * 3
        + [(12, 0.9), (7, 0.2), (7, 0.2), (8, 0.3), (11, 0.8), (12, 0.9)],
        "ai-datacenters": [(2, 0.2)] * 6 + [(3, 0.3)] * 6,
    }
    names = {e["id"]: e["name"] for e in ENTITIES}
    documents = []
    for entity, quarters in plan.items():
        name = names[entity]
        for q, (count, hype_share) in enumerate(quarters):
            for i in range(count):
                sentences = []
                for _ in range(5):
                    pool = (
                        HYPE
                        if rng.random() < hype_share
                        else rng.choice([GROWTH, EVIDENCE, NEUTRAL])
                    )
                    sentences.append(rng.choice(pool).format(name=name))
                title = f"{name}: {'the hype builds' if hype_share > 0.5 else 'quarterly update'} ({q}-{i})"
                documents.append(
                    {
                        "title": title,
                        "text": " ".join(dict.fromkeys(sentences)) + f" Report {q}-{i}.",
                        "published_at": _quarter_day(QUARTERS[q], i),
                        "source": SOURCES[(q + i) % len(SOURCES)],
                        "url": f"https://news.example.com/{entity}/{q}/{i}",
                        "language": "en",
                        "kind": "news",
                    }
                )
    for q in range(len(QUARTERS)):
        for i in range(2):
            documents.append(
                {
                    "title": f"Markets wrap {q}-{i}",
                    "text": f"{rng.choice(BACKGROUND)} Wrap {q}-{i}.",
                    "published_at": _quarter_day(QUARTERS[q], i + 1),
                    "source": SOURCES[i],
                    "url": f"https://news.example.com/wrap/{q}/{i}",
                    "language": "en",
                    "kind": "news",
                }
            )
    documents.append(
        {
            "title": HOSTILE_TITLE,
            "text": f"{HOSTILE_SENTENCE} Nvidia revenue rose 5% in the quarter.",
            "author": HOSTILE_AUTHOR,
            "published_at": _quarter_day(QUARTERS[-1], 5),
            "source": SOURCES[0],
            "url": "https://news.example.com/nvidia/hostile",
            "language": "en",
            "kind": "news",
        }
    )
    documents.append(
        {
            "title": "Solana whitepaper",
            "kind": "whitepaper",
            "language": "en",
            "text": "Solana processes transactions with proof of history. Validators stake SOL tokens.",
            "published_at": _quarter_day(QUARTERS[3], 0),
            "source": "Chain Street",
            "url": "https://docs.example.com/solana.pdf",
        }
    )
    return documents


def _fundamentals() -> list[dict[str, Any]]:
    rows = []
    # Nvidia's revenue grows fast, then stalls in the last four quarters while the coverage heats
    # up. Solana's TVL grows steadily (about 38-40% a year), then slows to 28% and 23% a year in
    # 2024 Q3-Q4, when its coverage heats up.
    revenue = [6.0, 6.7, 7.5, 8.4, 9.4, 10.5, 11.8, 13.2, 13.3, 13.1, 13.0, 12.8]
    tvl = [4.0, 4.3, 4.7, 5.0, 5.5, 6.0, 6.5, 7.0, 7.6, 7.9, 8.3, 8.6]
    for quarter, rev, locked in zip(QUARTERS, revenue, tvl):
        month = quarter.month + 2
        end = date(quarter.year, month, 30 if month in (6, 9) else 31).isoformat()
        rows.append(
            {
                "entity_id": "nvidia",
                "metric": "revenue",
                "date": end,
                "value": rev * 1e9,
                "unit": "USD",
                "source": "csv",
            }
        )
        rows.append(
            {
                "entity_id": "solana",
                "metric": "tvl",
                "date": end,
                "value": locked * 1e9,
                "unit": "USD",
                "source": "csv",
            }
        )
    return rows


def seed_database(path: Path, model_dir: Path) -> dict[str, Any]:
    """Build the seeded database at ``path`` with the model in ``model_dir``; returns a summary."""
    from analyzer.pipeline import compute_divergence, tag_entities
    from analyzer.scoring.scorer import HypeScorer
    from analyzer.storage import DocumentRecord, Store

    scorer = HypeScorer.from_pretrained(model_dir, device="cpu")
    documents = _documents()
    with Store(path) as store:
        for entity in ENTITIES:
            store.upsert_entity(entity)
        ids = []
        for doc in documents:
            record = DocumentRecord(
                text=doc["text"],
                title=doc["title"],
                url=doc["url"],
                canonical_url=doc["url"],
                published_at=doc["published_at"],
                language=doc["language"],
                kind=doc["kind"],
                source=doc["source"],
                author=doc.get("author"),
            )
            ids.append(store.upsert_document(record).document_id)
        results = scorer.score_documents([d["text"] for d in documents])
        for document_id, result in zip(ids, results):
            store.save_document_scores(
                document_id,
                model_id=scorer.model_id,
                model_version=scorer.model_version,
                document_scores=result,
                sentences=[s["text"] for s in result["sentences"]],
                sentence_scores=[
                    {k: s[k] for k in ("hype", "growth", "evidence")} for s in result["sentences"]
                ],
            )
        tag_entities(store)
        store.add_fundamentals(_fundamentals())
        compute_divergence(store, freq="quarter", min_periods=SEED_MIN_PERIODS)
        flagged = store.query("SELECT entity_id, metric, start_period, end_period FROM flags")
    return {
        "path": path,
        "model_version": scorer.model_version,
        "documents": len(documents),
        "flags": flagged,
    }


_BUILT: dict[str, dict[str, Any]] = {}


def seeded(tmp_path_factory: Any, tiny_model_dir: Path) -> dict[str, Any]:
    """The tiny model and the seeded database, built once per test session."""
    if "seed" not in _BUILT:
        root = tmp_path_factory.mktemp("app")
        model_dir = app_model_dir(tiny_model_dir, root / "model")
        info = seed_database(root / "seeded.db", model_dir)
        info["model_dir"] = model_dir
        _BUILT["seed"] = info
    return _BUILT["seed"]


# --------------------------------------------------------------------------- claims

# Claims with horizons in the past, checked against the seeded fundamentals: Nvidia's revenue
# grew about 57% over 2023 (trailing-year totals) and 16% over 2024; Solana's TVL went from 5.0
# to 7.0 (billion) over 2023 and from 5.5 at the end of 2023 Q1 to 8.6 at the end of 2024.
CLAIM_DOCUMENTS = [
    (
        "2023-01-15T09:00:00+00:00",
        "Nvidia sets a goal for 2023",
        "Nvidia expects its revenue to grow 30% by the end of 2023, the company said.",
    ),
    (
        "2024-01-20T09:00:00+00:00",
        "Nvidia's bold forecast",
        "Nvidia will double its revenue by the end of 2024, one analyst predicts.",
    ),
    (
        "2023-01-10T09:00:00+00:00",
        "Solana's locked value",
        "Solana's total value locked will triple by the end of 2023, its backers say.",
    ),
    (
        "2023-06-15T09:00:00+00:00",
        "Solana keeps growing",
        "Solana's total value locked could rise 50% by the end of 2024, a fund manager says.",
    ),
    (
        "2023-02-20T09:00:00+00:00",
        "AI data centers and power",
        "AI data centers will double their electricity use by the end of 2024, planners say.",
    ),
    (
        "2024-11-20T09:00:00+00:00",
        "<b>Nvidia</b> to the moon",
        "Nvidia <script>alert('claim')</script> revenue will triple by 2030, a promoter claims.",
    ),
]
CLAIMS_CHECKED_ON = "2025-06-30"
HOSTILE_CLAIM_MARKUP = "<script>alert('claim')</script>"


def seed_claims(source: Path, path: Path, model_dir: Path) -> dict[str, Any]:
    """A copy of the seeded database at ``path`` with claim-bearing documents, the claims ledger
    extracted from them (every sentence read) and checked on :data:`CLAIMS_CHECKED_ON`."""
    import sqlite3

    from analyzer.claims.ledger import check_store, extract_store
    from analyzer.pipeline import compute_divergence, tag_entities
    from analyzer.scoring.scorer import HypeScorer
    from analyzer.storage import DocumentRecord, Store

    with sqlite3.connect(source) as original, sqlite3.connect(path) as target:
        original.backup(target)
    scorer = HypeScorer.from_pretrained(model_dir, device="cpu")
    with Store(path) as store:
        ids = []
        for number, (published, title, text) in enumerate(CLAIM_DOCUMENTS):
            url = f"https://news.example.com/claims/{number}"
            record = DocumentRecord(
                text=text,
                title=title,
                url=url,
                canonical_url=url,
                published_at=published,
                language="en",
                kind="news",
                source=SOURCES[number % len(SOURCES)],
            )
            ids.append(store.upsert_document(record).document_id)
        for document_id, result in zip(
            ids, scorer.score_documents([text for _, _, text in CLAIM_DOCUMENTS])
        ):
            store.save_document_scores(
                document_id,
                model_id=scorer.model_id,
                model_version=scorer.model_version,
                document_scores=result,
                sentences=[s["text"] for s in result["sentences"]],
                sentence_scores=[
                    {k: s[k] for k in ("hype", "growth", "evidence")} for s in result["sentences"]
                ],
            )
        tag_entities(store)
        compute_divergence(store, freq="quarter")
        extracted = extract_store(store, growth_threshold=0.0, document_ids=ids)
        statuses = check_store(store, as_of=CLAIMS_CHECKED_ON)
    return {
        "path": path,
        "document_ids": ids,
        "extracted": extracted.as_dict(),
        "statuses": statuses,
    }
