"""How fast the app's Overview and Entity pages render on a large database.

Builds (once) a synthetic but realistic database: 12 entities, 20 sources, three years,
100,000 documents with 1,000,000 scored sentences, entity tags at document and sentence level,
near-duplicate clusters and fundamentals; materialises heat and divergence with the pipeline;
then renders each page with Streamlit's AppTest:

* cold: a fresh Python process, empty Streamlit caches (includes the app's own imports);
* warm, uncached: same process, Streamlit caches cleared (the database reads alone);
* warm: same process, caches filled (what a reader sees on every click after the first).

Results go to benchmarks/results/app.json. Run ``python benchmarks/bench_app.py`` (add
``--rebuild`` to regenerate the database, ``--documents N`` for a smaller one).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / "data" / "bench" / "app-bench.db"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "app.json"
MODEL_ID = "bench-model"
MODEL_VERSION = "bench-v1"
START = date(2022, 1, 1)
DAYS = 3 * 365
SENTENCES_PER_DOCUMENT = 10
TARGETS = {"warm_s": 1.0, "cold_s": 3.0}

ENTITIES = [
    ("nvidia", "Nvidia", "company", ["Nvidia"], ["NVDA"], 0.16),
    ("microsoft", "Microsoft", "company", ["Microsoft"], ["MSFT"], 0.10),
    ("tesla", "Tesla", "company", ["Tesla"], ["TSLA"], 0.10),
    ("openai", "OpenAI", "company", ["OpenAI"], [], 0.09),
    ("bitcoin", "Bitcoin", "token", ["Bitcoin"], ["BTC"], 0.12),
    ("ethereum", "Ethereum", "token", ["Ethereum", "Ether"], ["ETH"], 0.08),
    ("solana", "Solana", "token", ["Solana"], ["SOL"], 0.06),
    ("uniswap", "Uniswap", "protocol", ["Uniswap"], ["UNI"], 0.04),
    ("aave", "Aave", "protocol", ["Aave"], ["AAVE"], 0.03),
    ("ai-datacenters", "AI data centers", "theme", ["AI data center", "AI data centers"], [], 0.09),
    ("quantum", "Quantum computing", "theme", ["quantum computing"], [], 0.05),
    (
        "humanoid-robots",
        "Humanoid robots",
        "theme",
        ["humanoid robot", "humanoid robots"],
        [],
        0.08,
    ),
]
SOURCE_NAMES = [
    "Wire One",
    "Global Markets Daily",
    "Tech Ledger",
    "Chain Street",
    "The Compute Report",
    "Silicon Weekly",
    "Crypto Desk",
    "Energy & Grid",
    "Capital Letters",
    "Robotics Review",
    "Market Notes",
    "Founders Post",
    "Data Center Digest",
    "Token Times",
    "AI Briefing",
    "Fintech Journal",
    "Research Wire",
    "Protocol News",
    "Economy Desk",
    "Whitepaper Watch",
]
HYPE = [
    "{name} will change everything and nothing can stop it.",
    "This is a once-in-a-generation opportunity for anyone holding {name}.",
    "{name} is going to the moon and doubters will be left behind.",
    "The {name} revolution has only just begun.",
]
GROWTH = [
    "{name} expects demand to keep growing faster than supply.",
    "Analysts say {name} could double its market within two years.",
]
EVIDENCE = [
    "{name} reported revenue of ${v} billion for the quarter, up {p}% from a year earlier.",
    "According to filings, {name} shipped {v} million units, {p}% fewer than planned.",
]
NEUTRAL = [
    "The announcement came on a {day} morning.",
    "{name} declined to comment on the report.",
    "The meeting was held at the company's headquarters.",
]
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


# --------------------------------------------------------------------------- generation


def hype_level(entity_index: int, day: int) -> float:
    """Each entity's tone follows its own slow cycle, with one hype episode late in the sample."""
    phase = entity_index * 0.7
    cycle = 0.25 + 0.1 * math.sin(day / 120 + phase)
    episode_center = 700 + 30 * entity_index
    episode = 0.3 * math.exp(-(((day - episode_center) / 90) ** 2))
    return min(0.9, cycle + episode)


def generate(path: Path, n_documents: int, seed: int = 11) -> dict[str, Any]:
    """Write the synthetic database with bulk inserts in a few transactions."""
    from analyzer.storage import Store, content_hash, utcnow

    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    store = Store(path)
    conn = store.conn
    now = utcnow()
    with store.transaction():
        for index, name in enumerate(SOURCE_NAMES):
            conn.execute(
                "INSERT INTO sources (id, name, url, kind, created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    index + 1,
                    name,
                    f"https://feeds.example.com/{index}",
                    "whitepaper" if index == 19 else "news",
                    now,
                ),
            )
        for entity_id, name, kind, aliases, tickers, _ in ENTITIES:
            store.upsert_entity(
                {
                    "id": entity_id,
                    "name": name,
                    "kind": kind,
                    "aliases": aliases,
                    "tickers": tickers,
                }
            )
    # Prolific and quiet sources, as in real feeds.
    source_weights = [1.0 / (1 + i) ** 0.8 for i in range(len(SOURCE_NAMES))]
    entity_weights = [e[5] for e in ENTITIES]
    batch = max(1, n_documents // 5)
    totals = {"documents": 0, "sentences": 0, "document_entities": 0, "sentence_entities": 0}
    recent: list[
        tuple[int, int, str]
    ] = []  # (id, day, entity) of recent stories, for syndicated copies
    document_id = 0
    while document_id < n_documents:
        docs, sents, sent_scores, doc_scores, doc_entities, sent_entities = [], [], [], [], [], []
        for _ in range(min(batch, n_documents - document_id)):
            document_id += 1
            day = int(rng.random() * DAYS)
            published = datetime.combine(
                START + timedelta(days=day), datetime.min.time(), timezone.utc
            )
            published += timedelta(minutes=rng.randrange(24 * 60))
            source_id = rng.choices(range(1, len(SOURCE_NAMES) + 1), source_weights)[0]
            tagged = rng.random() < 0.75
            entity_index = rng.choices(range(len(ENTITIES)), entity_weights)[0] if tagged else None
            cluster_id = document_id
            if tagged and recent and rng.random() < 0.05:
                # A syndicated copy of a recent story about the same entity.
                original = recent[-1 - rng.randrange(min(20, len(recent)))]
                if original[2] == ENTITIES[entity_index][0] and abs(original[1] - day) <= 7:
                    cluster_id = original[0]
            name = ENTITIES[entity_index][1] if tagged else "The company"
            level = hype_level(entity_index, day) if tagged else 0.15
            sentences, scores = [], []
            for i in range(SENTENCES_PER_DOCUMENT):
                if rng.random() < level:
                    template, hype = rng.choice(HYPE), rng.betavariate(6, 2)
                else:
                    template = rng.choice(rng.choice([GROWTH, EVIDENCE, NEUTRAL]))
                    hype = rng.betavariate(1.5, 8)
                text = template.format(
                    name=name, v=rng.randint(1, 90), p=rng.randint(1, 60), day=rng.choice(DAY_NAMES)
                )
                growth = rng.betavariate(5, 2) if template in GROWTH else rng.betavariate(1.5, 7)
                evidence = (
                    rng.betavariate(6, 2) if template in EVIDENCE else rng.betavariate(1.5, 6)
                )
                sentences.append(f"{text} ({document_id}.{i})")
                scores.append((hype, growth, evidence))
            body = " ".join(sentences)
            title = f"{name}: {'the hype builds' if level > 0.4 else 'the latest'} ({document_id})"
            docs.append(
                (
                    document_id,
                    f"https://news.example.com/{document_id}",
                    f"https://news.example.com/{document_id}",
                    title,
                    published.isoformat(),
                    now,
                    now,
                    "en",
                    "whitepaper" if source_id == 20 else "news",
                    body,
                    content_hash(body),
                    source_id,
                    cluster_id,
                )
            )
            for i, (sentence, (hype, growth, evidence)) in enumerate(zip(sentences, scores)):
                sents.append((document_id, i, sentence, content_hash(sentence)))
                sent_scores.append(
                    (document_id, i, MODEL_ID, MODEL_VERSION, hype, growth, evidence)
                )
            top = sorted((s[0] for s in scores), reverse=True)[:3]
            doc_scores.append(
                (
                    document_id,
                    MODEL_ID,
                    MODEL_VERSION,
                    sum(s[0] for s in scores) / len(scores),
                    sum(s[1] for s in scores) / len(scores),
                    sum(s[2] for s in scores) / len(scores),
                    sum(top) / len(top),
                    sum(s[0] > 0.5 for s in scores) / len(scores),
                    len(scores),
                    "en",
                    now,
                )
            )
            if tagged:
                entity_id = ENTITIES[entity_index][0]
                doc_entities.append((document_id, entity_id, "alias", name, 1.0))
                for i in rng.sample(range(SENTENCES_PER_DOCUMENT), 4):
                    sent_entities.append((document_id, i, entity_id, name))
                if rng.random() < 0.15:  # a second entity mentioned in passing
                    other = ENTITIES[rng.randrange(len(ENTITIES))][0]
                    if other != entity_id:
                        doc_entities.append((document_id, other, "alias", other, 1.0))
                recent.append((document_id, day, entity_id))
                del recent[:-200]
        with store.transaction():
            conn.executemany(
                "INSERT INTO documents (id, url, canonical_url, title, published_at, fetched_at, updated_at,"
                " language, kind, text, content_hash, source_id, cluster_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                docs,
            )
            conn.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?)", sents)
            conn.executemany(
                "INSERT INTO sentence_scores (document_id, sentence_index, model_id, model_version, hype, growth,"
                " evidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                sent_scores,
            )
            conn.executemany(
                "INSERT INTO scores (document_id, model_id, model_version, hype, growth, evidence, hype_top,"
                " hype_share, n_sentences, language, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                doc_scores,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO document_entities (document_id, entity_id, method, matched, score)"
                " VALUES (?, ?, ?, ?, ?)",
                doc_entities,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO sentence_entities (document_id, sentence_index, entity_id, matched)"
                " VALUES (?, ?, ?, ?)",
                sent_entities,
            )
        totals["documents"] += len(docs)
        totals["sentences"] += len(sents)
        totals["document_entities"] += len(doc_entities)
        totals["sentence_entities"] += len(sent_entities)
        print(f"  {document_id:,} documents written", file=sys.stderr)
    totals["fundamentals"] = store.add_fundamentals(fundamentals_rows(rng))
    store.conn.execute("ANALYZE")
    store.close()
    totals["seconds"] = round(time.perf_counter() - started, 1)
    return totals


def fundamentals_rows(rng: random.Random) -> list[dict[str, Any]]:
    """Quarterly revenue for companies (filed a month later), monthly price/TVL/fees for the rest."""
    rows: list[dict[str, Any]] = []
    for index, (entity_id, _, kind, _, _, _) in enumerate(ENTITIES):
        level = 10.0 + index
        if kind == "company":
            for quarter in range(12):
                year, month = 2022 + quarter // 4, 3 * (quarter % 4) + 3
                end = date(year, month, 30 if month in (6, 9) else 31)
                level *= 1 + rng.gauss(0.05 if quarter < 8 else -0.01, 0.03)
                rows.append(
                    {
                        "entity_id": entity_id,
                        "metric": "revenue",
                        "date": end.isoformat(),
                        "value": level * 1e9,
                        "unit": "USD",
                        "source": "sec",
                        "filed_at": (end + timedelta(days=30)).isoformat(),
                    }
                )
        elif kind != "theme":
            metric = "price" if kind == "token" else "tvl"
            for month in range(36):
                day = date(2022 + month // 12, month % 12 + 1, 28)
                level *= 1 + rng.gauss(0.01, 0.08)
                rows.append(
                    {
                        "entity_id": entity_id,
                        "metric": metric,
                        "date": day.isoformat(),
                        "value": level,
                        "unit": "USD",
                        "source": "api",
                    }
                )
                if kind == "protocol":
                    rows.append(
                        {
                            "entity_id": entity_id,
                            "metric": "fees",
                            "date": day.isoformat(),
                            "value": level * 0.01 * (1 + rng.gauss(0, 0.1)),
                            "unit": "USD",
                            "source": "api",
                        }
                    )
    return rows


def materialise(path: Path) -> dict[str, Any]:
    from analyzer.pipeline import compute_divergence
    from analyzer.storage import Store

    started = time.perf_counter()
    with Store(path) as store:
        summary = compute_divergence(store, freq=["quarter", "month"], cluster=False)
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "frequencies": summary["frequencies"],
    }


# --------------------------------------------------------------------------- measuring


def busiest_entity(path: Path) -> str:
    from analyzer.storage import Store

    with Store(path, readonly=True) as store:
        return str(
            store.conn.execute(
                "SELECT entity_id FROM document_entities GROUP BY entity_id ORDER BY COUNT(*) DESC LIMIT 1"
            ).fetchone()[0]
        )


def measure_page(path: Path, page: str, warm_runs: int = 3) -> dict[str, Any]:
    """Render one page in this (fresh) process: cold once, then warm with and without caches."""
    os.environ["ANALYZER_DB"] = str(path)
    started = time.perf_counter()
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import_seconds = time.perf_counter() - started
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=600)
    if page == "entity":
        app.query_params["entity"] = busiest_entity(path)

    def render() -> float:
        began = time.perf_counter()
        if page == "entity":
            app.switch_page("app_pages/entity.py")
        app.run()
        elapsed = time.perf_counter() - began
        if app.exception:
            raise RuntimeError(f"{page} page failed: {[e.value for e in app.exception]}")
        # A page that stopped early (an empty-database notice) would time nothing useful.
        drawn = app.dataframe if page == "overview" else app.get("plotly_chart")
        if not drawn:
            raise RuntimeError(
                f"the {page} page drew no {'table' if page == 'overview' else 'chart'}"
            )
        return elapsed

    cold = render()
    warm = [render() for _ in range(warm_runs)]
    uncached = []
    for _ in range(warm_runs):
        st.cache_data.clear()
        uncached.append(render())
    return {
        "page": page,
        "cold_s": round(cold, 3),
        "warm_s": round(min(warm), 3),
        "warm_uncached_s": round(min(uncached), 3),
        "warm_runs": [round(w, 3) for w in warm],
        "uncached_runs": [round(u, 3) for u in uncached],
        "streamlit_import_s": round(import_seconds, 3),
    }


def measure_in_fresh_process(path: Path, page: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--db", str(path), "--measure", page]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    return json.loads(output.stdout.strip().splitlines()[-1])


def database_summary(path: Path) -> dict[str, Any]:
    from analyzer.storage import Store

    with Store(path, readonly=True) as store:
        counts = {
            t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in (
                "documents",
                "sentences",
                "sentence_scores",
                "scores",
                "document_entities",
                "sentence_entities",
                "entities",
                "sources",
                "fundamentals",
                "heat",
                "divergence",
                "flags",
            )
        }
    counts["file_mb"] = round(path.stat().st_size / 1e6, 1)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument(
        "--rebuild", action="store_true", help="regenerate the database even if it exists"
    )
    parser.add_argument("--measure", choices=["overview", "entity"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    if args.measure:  # child process: one page, printed as JSON
        print(json.dumps(measure_page(args.db, args.measure)))
        return

    result: dict[str, Any] = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")
    }
    existing = None
    if args.db.exists() and not args.rebuild:
        existing = database_summary(args.db)
    if existing is None or existing["documents"] != args.documents or not existing["heat"]:
        print(f"Generating {args.documents:,} documents into {args.db} …", file=sys.stderr)
        result["generation"] = generate(args.db, args.documents)
        print("Materialising heat and divergence …", file=sys.stderr)
        result["materialisation"] = materialise(args.db)
    else:
        # Keep the build timings of the run that generated this database.
        previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
        result["generation"] = previous.get("generation", "reused an existing database")
        result["materialisation"] = previous.get("materialisation")
        result["reused_database"] = True
    result["database"] = database_summary(args.db)
    result["pages"] = {}
    for page in ("overview", "entity"):
        print(f"Measuring the {page} page …", file=sys.stderr)
        result["pages"][page] = measure_in_fresh_process(args.db, page)
    result["targets"] = TARGETS
    result["meets_targets"] = all(
        p["warm_s"] < TARGETS["warm_s"] and p["cold_s"] < TARGETS["cold_s"]
        for p in result["pages"].values()
    )
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["pages"], indent=2))


if __name__ == "__main__":
    main()
