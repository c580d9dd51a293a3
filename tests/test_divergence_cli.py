"""`analyzer divergence` over a seeded database: JSON records, CSV, flags and clean errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from analysis_seed import add_quarterly_fundamentals, quarter_starts, seed_quarterly_story
from typer.testing import CliRunner

from analyzer.cli import app, main
from analyzer.storage import Store

QUARTERS = quarter_starts(2019, 16)


@pytest.fixture
def seeded_db(tmp_path: Path) -> Path:
    path = tmp_path / "analyzer.db"
    with Store(path) as store:
        seed_quarterly_story(
            store,
            "acme",
            QUARTERS,
            [2] * 8 + [4, 6, 8, 10, 12, 14, 16, 18],
            [0.2] * 8 + [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9],
            seed=1,
        )
        add_quarterly_fundamentals(store, "acme", "revenue", QUARTERS, [100.0] * 16)
        seed_quarterly_story(store, "newco", QUARTERS, [3] * 16, [0.3] * 16, seed=2, source="other")
    return path


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, ["divergence", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_records_have_the_documented_fields(seeded_db: Path) -> None:
    records = json.loads(_invoke("--db", str(seeded_db), "--format", "json"))
    assert isinstance(records, list) and len(records) == 32
    required = {
        "entity",
        "metric",
        "period",
        "heat",
        "fundamental_growth",
        "fundamental_level",
        "divergence",
        "flagged",
    }
    assert all(required <= set(r) for r in records)
    acme = [r for r in records if r["entity"] == "acme"]
    assert {r["metric"] for r in acme} == {"revenue"}
    assert [r["period"] for r in acme] == [q.isoformat() for q in QUARTERS]
    assert all(isinstance(r["flagged"], bool) for r in records)
    assert acme[-1]["flagged"] and acme[-2]["flagged"] and not acme[0]["flagged"]
    assert acme[-1]["divergence"] > 1.0 and acme[-1]["fundamental_growth"] == 0.0
    assert acme[0]["fundamental_growth"] is None  # no year-earlier value yet: null, not NaN
    newco = [r for r in records if r["entity"] == "newco"]
    assert len(newco) == 16
    assert all(r["metric"] is None and r["divergence"] is None and not r["flagged"] for r in newco)


def test_filters_thresholds_and_stored_reads(seeded_db: Path) -> None:
    _invoke("--db", str(seeded_db), "--format", "json")
    only = json.loads(
        _invoke(
            "--db",
            str(seeded_db),
            "--entity",
            "acme",
            "--metric",
            "revenue",
            "--format",
            "json",
            "--no-compute",
        )
    )
    assert {r["entity"] for r in only} == {"acme"} and len(only) == 16
    strict = json.loads(
        _invoke(
            "--db",
            str(seeded_db),
            "--entity",
            "acme",
            "--threshold",
            "100",
            "--format",
            "json",
            "--no-compute",
        )
    )
    assert not any(r["flagged"] for r in strict)
    monthly = json.loads(_invoke("--db", str(seeded_db), "--freq", "month", "--format", "json"))
    assert monthly and all(r["period"].endswith("-01") for r in monthly)


def test_flags_list_their_top_sentences(seeded_db: Path) -> None:
    flags = json.loads(_invoke("--db", str(seeded_db), "--flags", "--format", "json"))
    assert len(flags) == 1
    flag = flags[0]
    assert flag["entity"] == "acme" and flag["metric"] == "revenue"
    assert flag["end"] == QUARTERS[-1].isoformat() and flag["periods"] >= 2
    assert flag["top_sentences"] and flag["top_sentences"][0]["text"].startswith("acme")
    table = _invoke("--db", str(seeded_db), "--flags", "--no-compute")
    assert "acme" in table


def test_csv_and_table_formats(seeded_db: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(_invoke("--db", str(seeded_db), "--format", "csv"))))
    assert len(rows) == 32 and rows[0]["period"] == QUARTERS[0].isoformat()
    assert {"entity", "metric", "heat", "divergence", "flagged"} <= set(rows[0])
    table = _invoke("--db", str(seeded_db), "--no-compute")
    assert "newco" in table and "revenue" in table


def test_bad_input_is_one_clean_error_line(
    seeded_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in (
        (["--entity", "nobody"], "unknown entity 'nobody'"),
        (["--metric", "ebitda"], "no fundamentals named 'ebitda'"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["divergence", "--db", str(seeded_db), *args])
        assert exit_info.value.code == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("Error:") and message in err and "\n" not in err
    missing = seeded_db.parent / "missing.db"
    with pytest.raises(SystemExit):
        main(["divergence", "--db", str(missing), "--no-compute"])
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()
