"""Every stage leaves a row in ``runs``: what ran, with which arguments, how it ended."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from analysis_seed import add_quarterly_fundamentals, quarter_starts, seed_quarterly_story

from analyzer import pipeline
from analyzer.errors import InputError
from analyzer.storage import Store


def runs(store: Store) -> list[dict]:
    return store.query("SELECT command, status, args, stats FROM runs ORDER BY id")


def test_a_run_records_success_failure_and_interruption(store: Store) -> None:
    with store.run("demo-stage", {"n": 1}) as run:
        run.stats["done"] = 3
    with pytest.raises(InputError), store.run("demo-stage") as run:
        run.stats["done"] = 1
        raise InputError("bad input")
    with pytest.raises(KeyboardInterrupt), store.run("demo-stage"):
        raise KeyboardInterrupt
    rows = runs(store)
    assert [r["status"] for r in rows] == ["ok", "failed", "interrupted"]
    assert json.loads(rows[0]["args"]) == {"n": 1} and json.loads(rows[0]["stats"]) == {"done": 3}
    failed = json.loads(rows[1]["stats"])
    assert failed["done"] == 1 and "bad input" in failed["error"]


def test_tag_fundamentals_and_divergence_are_recorded(store: Store, tmp_path: Path) -> None:
    quarters = quarter_starts(2022, 8)
    seed_quarterly_story(store, "acme", quarters, [3] * 8, [0.4] * 8)
    add_quarterly_fundamentals(store, "acme", "revenue", quarters, [100.0 + i for i in range(8)])
    csv = tmp_path / "more.csv"
    csv.write_text("entity,metric,date,value\nacme,capex,2023-03-31,5\nacme,capex,not-a-date,6\n")
    pipeline.tag_entities(store, [{"id": "acme", "name": "Acme", "aliases": ["Acme"]}])
    pipeline.import_fundamentals_csv(store, csv)
    pipeline.compute_divergence(store, freq=(f for f in ["quarter"]))
    rows = runs(store)
    assert [(r["command"], r["status"]) for r in rows] == [
        ("tag", "ok"),
        ("fundamentals", "ok"),
        ("divergence", "ok"),
    ]
    assert json.loads(rows[1]["stats"]) == {"rows": 1, "errors": 1}
    assert json.loads(rows[2]["args"])["freq"] == ["quarter"]
    assert json.loads(rows[2]["stats"])["frequencies"]["quarter"]["heat"] > 0
