"""Fundamentals CSV import, value parsing and the `analyzer fundamentals` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer import pipeline
from analyzer.cli import app
from analyzer.errors import InputError
from analyzer.fundamentals import resolve_targets
from analyzer.fundamentals.csv_import import parse_fundamentals_csv
from analyzer.fundamentals.sec import normalise_cik, resolve_user_agent
from analyzer.fundamentals.values import normalise_date, parse_value

MIXED_CSV = """entity,metric,date,value,unit,source,filed_at
gridco,revenue,2024-03-31,1250.5,USD,manual,2024-05-02
gridco,revenue,6/30/2024,"1,310",USD,,
gridco,revenue,2024-09-31,1400,USD,,
,revenue,2024-12-31,1500,USD,,
gridco,capex,2024-03-31,lots,USD,,
gridco,capex,2024-06-30,.,USD,,
gridco,capex,2024/9/30,(12.5),USD,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2020-01-31", "2020-01-31"),
        ("1/31/2020", "2020-01-31"),
        ("2016/6/30", "2016-06-30"),
        ("1/5/24", "2024-01-05"),
        ("31.01.2020", "2020-01-31"),
        ("20200131", "2020-01-31"),
        ("2020-01", "2020-01-01"),
        ("2020-01-31T23:30:00-02:00", "2020-02-01"),
        ("Jan 31, 2020", "2020-01-31"),
    ],
)
def test_dates_normalised_to_iso(text, expected):
    assert normalise_date(text) == expected


@pytest.mark.parametrize("text", ["", "2020-02-30", "13/01/2020", "yesterday"])
def test_bad_dates_rejected(text):
    with pytest.raises(ValueError):
        normalise_date(text)


def test_values_parsed_as_float_or_missing():
    assert parse_value("1,234.5") == 1234.5
    assert parse_value("(12)") == -12.0
    assert parse_value("$3") == 3.0
    assert parse_value(".") is None and parse_value("") is None and parse_value("NA") is None
    with pytest.raises(ValueError):
        parse_value("12 apples")


def test_csv_good_rows_kept_bad_rows_reported_with_lines():
    result = parse_fundamentals_csv(MIXED_CSV, origin="mixed.csv")
    assert [(e.line, e.message.split(":")[0]) for e in result.errors] == [
        (4, "date"),
        (5, "entity is empty"),
        (6, "value"),
    ]
    kept = {(r["metric"], r["date"]): r for r in result.rows}
    assert set(kept) == {
        ("revenue", "2024-03-31"),
        ("revenue", "2024-06-30"),
        ("capex", "2024-06-30"),
        ("capex", "2024-09-30"),
    }
    assert kept[("revenue", "2024-06-30")]["value"] == 1310.0
    assert kept[("revenue", "2024-03-31")]["source"] == "manual"
    assert kept[("revenue", "2024-03-31")]["filed_at"] == "2024-05-02"
    assert kept[("revenue", "2024-06-30")]["source"] == "csv"
    assert kept[("capex", "2024-06-30")]["value"] is None
    assert kept[("capex", "2024-09-30")]["value"] == -12.5


def test_csv_missing_column_is_an_input_error():
    with pytest.raises(InputError, match="line 1: missing column.*value"):
        parse_fundamentals_csv("entity,metric,date\nx,y,2020-01-01\n", origin="short.csv")
    with pytest.raises(InputError, match="empty"):
        parse_fundamentals_csv("", origin="empty.csv")


def test_import_stores_good_rows_and_keeps_existing(store, tmp_path):
    store.add_fundamentals(
        [{"entity_id": "gridco", "metric": "tvl", "date": "2020-01-01", "value": 1.0}]
    )
    result = pipeline.import_fundamentals_csv(store, write(tmp_path, "mixed.csv", MIXED_CSV))
    assert len(result.rows) == 4 and len(result.errors) == 3
    stored = store.fundamentals("gridco")
    assert len(stored) == 5
    assert {r["metric"] for r in stored} == {"tvl", "revenue", "capex"}
    with pytest.raises(InputError, match="does not exist"):
        pipeline.import_fundamentals_csv(store, tmp_path / "absent.csv")


def test_cli_import_and_list_point_in_time(tmp_path):
    db = tmp_path / "cli.db"
    csv_text = (
        "entity,metric,date,value,unit,source,filed_at\n"
        "gridco,revenue_annual,2023-12-31,100,USD,filing,2024-02-01\n"
        "gridco,revenue_annual,2023-12-31,90,USD,filing,2025-02-01\n"
        "gridco,revenue_annual,not-a-date,90,USD,filing,2025-02-01\n"
    )
    runner = CliRunner()
    imported = runner.invoke(
        app, ["fundamentals", "import", str(write(tmp_path, "f.csv", csv_text)), "--db", str(db)]
    )
    assert imported.exit_code == 0, imported.output
    assert "Imported 2 row(s)" in imported.output and "line 4" in imported.output

    def values(*extra: str) -> list[float]:
        listed = runner.invoke(app, ["fundamentals", "list", "--db", str(db), "--json", *extra])
        assert listed.exit_code == 0, listed.output
        return [r["value"] for r in json.loads(listed.stdout)]

    assert values() == [90.0]
    assert values("--as-of", "2024-06-30") == [100.0]
    assert values("--as-of", "1/1/2024") == []
    assert values("--entity", "other") == []


def test_cli_fetch_without_user_agent_is_one_clean_line(tmp_path, monkeypatch, capsys):
    from analyzer.cli import main

    monkeypatch.delenv("ANALYZER_SEC_USER_AGENT", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "fundamentals",
                "fetch",
                "sec",
                "320193",
                "--db",
                str(tmp_path / "x.db"),
                "--base-url",
                "http://127.0.0.1:9",
                "--cache-dir",
                str(tmp_path),
            ]
        )
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "SEC requires a User-Agent with contact details" in err


def test_cik_and_user_agent_rules():
    assert normalise_cik(1045810) == "0001045810"
    assert normalise_cik("CIK0000320193") == "0000320193"
    for bad in ("NVDA", "12345678901", "0"):
        with pytest.raises(InputError, match="not a CIK"):
            normalise_cik(bad)
    assert resolve_user_agent("Ana Lyst ana@example.com", environ={}) == "Ana Lyst ana@example.com"
    assert (
        resolve_user_agent(None, environ={"ANALYZER_SEC_USER_AGENT": "B b@example.org"})
        == "B b@example.org"
    )
    with pytest.raises(InputError, match="--user-agent"):
        resolve_user_agent("analyzer/1.0", environ={})


def test_resolve_targets_by_entity_identifier_or_default():
    entities = [
        {"id": "nvidia", "name": "NVIDIA", "aliases": ["Nvidia"], "sec_cik": "0001045810"},
        {"id": "render", "name": "Render", "aliases": ["Render"], "coingecko_id": "render-token"},
    ]
    assert [(t.entity_id, t.identifier) for t in resolve_targets("sec", ["nvidia"], entities)] == [
        ("nvidia", "0001045810")
    ]
    # A raw identifier that belongs to a known entity is stored under that entity.
    assert resolve_targets("sec", ["CIK1045810"], entities)[0].entity_id == "nvidia"
    assert resolve_targets("coingecko", [], entities)[0].identifier == "render-token"
    assert resolve_targets("fred", ["DFF"], entities)[0].entity_id == "macro"
    with pytest.raises(InputError, match="entity 'render' has no sec_cik"):
        resolve_targets("sec", ["render"], entities)
    with pytest.raises(InputError, match="name the series"):
        resolve_targets("fred", [], entities)
