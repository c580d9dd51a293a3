"""Crash safety, measured: kill -9 the user's commands at random moments, run them again, and
compare with a run that was never interrupted.

Three workloads, each through the CLI exactly as a user runs it:

* ``ingest``: ``analyzer ingest --db DB dump.jsonl`` (documents, sources, entity links);
* ``score-db``: ``analyzer score --db DB`` on an ingested database (sentences, scores, cache);
* ``score-input``: ``analyzer score --input dump.jsonl --output scores.jsonl`` (resumable file).

Each trial copies the starting state, starts the command, sends SIGKILL after a random delay
drawn over the uninterrupted run's duration, runs the same command again to completion, and
compares the result with the uninterrupted run: rows lost, rows duplicated, rows that differ,
and ``PRAGMA integrity_check``. Results go to ``benchmarks/results/crash.json``.

    python benchmarks/bench_crash.py                 # 50 trials per workload
    python benchmarks/bench_crash.py --trials 5 --documents 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "crash.json"
WORKLOADS = ("ingest", "score-db", "score-input")
WORDS = (
    "revenue margin chip token network demand supply quarter guidance cloud model energy grid "
    "capacity users fees protocol rally valuation investors analysts growth shipment order"
).split()
# Row identities compared between runs: every column except the clock. Scores are compared to
# 4 decimals: a resumed run batches sentences differently, and padding a batch moves float32
# results in the 7th digit, which is not a lost or changed row.
COMPARED = {
    "documents": "SELECT external_id, url, title, published_at, language, kind, text, content_hash,"
    " (SELECT name FROM sources s WHERE s.id = documents.source_id) FROM documents",
    "document_entities": "SELECT d.external_id, de.entity_id, de.method FROM document_entities de"
    " JOIN documents d ON d.id = de.document_id",
    "sentences": "SELECT d.external_id, s.sentence_index, s.text, s.text_hash FROM sentences s"
    " JOIN documents d ON d.id = s.document_id",
    "scores": "SELECT d.external_id, s.model_version, round(s.hype, 4), round(s.growth, 4),"
    " round(s.evidence, 4), s.n_sentences, s.unscored FROM scores s JOIN documents d ON d.id = s.document_id",
    "sentence_scores": "SELECT d.external_id, s.sentence_index, s.model_version, round(s.hype, 4)"
    " FROM sentence_scores s JOIN documents d ON d.id = s.document_id",
    "score_cache": "SELECT text_hash, model_version, round(hype, 4) FROM score_cache",
}


def write_dump(path: Path, n: int, seed: int) -> Path:
    """``n`` JSONL records: distinct stories, some sharing boilerplate sentences, a few entities."""
    rng = random.Random(seed)
    boilerplate = ["Shares were little changed in early trading.", "The company did not comment."]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."
                for _ in range(rng.randint(3, 9))
            ]
            if rng.random() < 0.4:
                sentences.append(rng.choice(boilerplate))
            record = {
                "id": f"doc-{i}",
                "title": f"Story {i}",
                "text": " ".join(sentences),
                "published_at": f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}T10:00:00Z",
                "source": f"Wire {i % 3}",
                "entities": [f"entity-{i % 5}"],
            }
            handle.write(json.dumps(record) + "\n")
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from analyzer.cli import main; main()", *args]


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def run_to_completion(command: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, env=environment(), cwd=PROJECT_ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[3:])} failed: {done.stderr[-2000:]}")
    return time.monotonic() - started


def kill_after(command: list[str], delay: float, started: Callable[[], bool] | None = None) -> bool:
    """Start ``command`` and SIGKILL it ``delay`` seconds after ``started()`` first holds (after
    launch when None); False if it finished first."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment(),
        cwd=PROJECT_ROOT,
    )
    if started is not None:
        # Wait for the first write: on a loaded machine start-up time varies more than the
        # writing does, and a kill before anything is written proves nothing.
        while process.poll() is None and not started():
            time.sleep(0.05)
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def table_rows(db: Path) -> dict[str, Counter[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        return {
            table: Counter(tuple(row) for row in conn.execute(sql))
            for table, sql in COMPARED.items()
        }


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def compare_tables(expected: dict[str, Counter], actual: dict[str, Counter]) -> dict[str, int]:
    lost = duplicated = extra = 0
    for table, rows in expected.items():
        got = actual[table]
        for row, count in rows.items():
            have = got.get(row, 0)
            lost += max(0, count - have)
            duplicated += max(0, have - count)
        extra += sum(count for row, count in got.items() if row not in rows)
    return {"lost": lost, "duplicated": duplicated, "unexpected": extra}


def file_rows(path: Path) -> Counter[str]:
    return Counter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else Counter()


def compare_files(expected: Counter[str], actual: Counter[str]) -> dict[str, int]:
    lost = sum(max(0, c - actual.get(r, 0)) for r, c in expected.items())
    duplicated = sum(max(0, actual.get(r, 0) - c) for r, c in expected.items())
    return {
        "lost": lost,
        "duplicated": duplicated,
        "unexpected": sum(c for r, c in actual.items() if r not in expected),
    }


def prepare(
    work: Path,
    documents: int,
    seed: int,
    ingest_documents: int | None = None,
    workloads: tuple[str, ...] = WORKLOADS,
) -> dict[str, Any]:
    """The starting state and an uninterrupted run of each workload asked for."""
    dump = write_dump(work / "dump.jsonl", documents, seed)
    # Ingest commits every WRITE_BATCH documents; a dump of several batches lets kills land
    # between commits as well as inside one.
    ingest_dump = (
        write_dump(work / "ingest-dump.jsonl", ingest_documents, seed) if ingest_documents else dump
    )
    clean_ingested = work / "clean-ingested.db"
    run_to_completion(cli("ingest", "--db", str(clean_ingested), str(dump)))
    base: dict[str, Any] = {
        "dump": dump,
        "ingest_dump": ingest_dump,
        "ingested": clean_ingested,
        "seconds": {"startup": run_to_completion(cli("stats", "--db", str(clean_ingested)))},
        "expected": {},
    }
    if "ingest" in workloads:
        clean_ingest_run = work / "clean-ingest-run.db"
        base["seconds"]["ingest"] = run_to_completion(
            cli("ingest", "--db", str(clean_ingest_run), str(ingest_dump))
        )
        base["expected"]["ingest"] = table_rows(clean_ingest_run)
    if "score-db" in workloads:
        clean_scored = work / "clean-scored.db"
        shutil.copy(clean_ingested, clean_scored)
        base["seconds"]["score-db"] = run_to_completion(cli("score", "--db", str(clean_scored)))
        base["expected"]["score-db"] = table_rows(clean_scored)
    if "score-input" in workloads:
        clean_output = work / "clean-scores.jsonl"
        base["seconds"]["score-input"] = run_to_completion(
            cli("score", "--input", str(dump), "--output", str(clean_output))
        )
        base["expected"]["score-input"] = file_rows(clean_output)
    return base


def trial(workload: str, base: dict[str, Any], work: Path, rng: random.Random) -> dict[str, Any]:
    # Kills land while the command writes: after the interpreter and imports are up (a kill
    # before the first write proves nothing), up to the end of an uninterrupted run.
    # Kills land while the command writes: a random moment between its first write and the end
    # of an uninterrupted run's writing (approximated by the run's time less the start-up).
    startup = base["seconds"]["startup"]
    delay = rng.uniform(0.0, max(0.5, base["seconds"][workload] - startup))
    if workload == "score-input":
        output = work / "scores.jsonl"
        shutil.rmtree(work / "scores.jsonl.partial", ignore_errors=True)
        output.unlink(missing_ok=True)
        command = cli("score", "--input", str(base["dump"]), "--output", str(output))
        work_files = work / "scores.jsonl.partial"
        killed = kill_after(
            command, delay, lambda: work_files.is_dir() and any(work_files.iterdir())
        )
        partial = sum(1 for _ in (work / "scores.jsonl.partial").glob("*")) if killed else 0
        run_to_completion(command)
        outcome = compare_files(base["expected"][workload], file_rows(output))
        return {
            "delay_s": round(delay, 2),
            "killed": killed,
            "work_files_at_kill": partial,
            **outcome,
            "integrity": "n/a (file output)",
        }
    db = work / "trial.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if workload == "ingest":
        command = cli("ingest", "--db", str(db), str(base["ingest_dump"]))
    else:
        shutil.copy(base["ingested"], db)
        command = cli("score", "--db", str(db))
    killed = kill_after(command, delay, lambda: (_progress(db, workload) or 0) > 0)
    at_kill = _progress(db, workload) if killed else None
    run_to_completion(command)
    outcome = compare_tables(base["expected"][workload], table_rows(db))
    return {
        "delay_s": round(delay, 2),
        "killed": killed,
        "rows_at_kill": at_kill,
        **outcome,
        "integrity": integrity(db),
    }


def retime(workload: str, base: dict[str, Any], work: Path) -> None:
    """Time the start-up and one uninterrupted run of ``workload`` again, from its starting state."""
    db = work / "retime.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    base["seconds"]["startup"] = run_to_completion(cli("stats", "--db", str(base["ingested"])))
    if workload == "ingest":
        command = cli("ingest", "--db", str(db), str(base["ingest_dump"]))
    elif workload == "score-db":
        shutil.copy(base["ingested"], db)
        command = cli("score", "--db", str(db))
    else:
        output = work / "retime.jsonl"
        output.unlink(missing_ok=True)
        shutil.rmtree(work / "retime.jsonl.partial", ignore_errors=True)
        command = cli("score", "--input", str(base["dump"]), "--output", str(output))
    base["seconds"][workload] = run_to_completion(command)


def _progress(db: Path, workload: str) -> int | None:
    if not db.exists():
        return 0
    table = "documents" if workload == "ingest" else "scores"
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return None


def summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    killed = [t for t in trials if t["killed"]]
    return {
        "trials": len(trials),
        "killed_mid_run": len(killed),
        # Killed after some rows (or work files) were written and before the run finished.
        "killed_mid_write": sum(
            1 for t in killed if (t.get("rows_at_kill") or t.get("work_files_at_kill") or 0) > 0
        ),
        "rows_lost": sum(t["lost"] for t in trials),
        "rows_duplicated": sum(t["duplicated"] for t in trials),
        "rows_unexpected": sum(t["unexpected"] for t in trials),
        "integrity_ok": sum(t["integrity"] in ("ok", "n/a (file output)") for t in trials),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=50, help="trials per workload")
    parser.add_argument("--documents", type=int, default=400, help="documents scored")
    parser.add_argument(
        "--ingest-documents",
        type=int,
        default=None,
        help="documents ingested (default: --documents)",
    )
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workloads = [w for w in args.workloads.split(",") if w]
    with tempfile.TemporaryDirectory(prefix="crash-bench-") as tmp:
        work = Path(tmp)
        base = prepare(work, args.documents, args.seed, args.ingest_documents, tuple(workloads))
        results: dict[str, Any] = {
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average_start": os.getloadavg()[0],
            },
            "documents": args.documents,
            "ingest_documents": args.ingest_documents or args.documents,
            "uninterrupted_seconds": {k: round(v, 2) for k, v in base["seconds"].items()},
            "workloads": {},
        }
        for workload in workloads:
            trials = []
            for number in range(args.trials):
                if number and number % 10 == 0:
                    # The machine's load drifts; re-time the window kills are drawn from.
                    retime(workload, base, work)
                outcome = trial(workload, base, work, rng)
                trials.append(outcome)
                print(f"{workload} {number + 1}/{args.trials}: {outcome}", flush=True)
                # Written after every trial, so a long run that is stopped keeps what it measured.
                results["workloads"][workload] = {"summary": summarise(trials), "trials": trials}
                results["machine"]["load_average_end"] = os.getloadavg()[0]
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=2) + "\n")
    for workload, data in results["workloads"].items():
        print(workload, data["summary"])


if __name__ == "__main__":
    main()
