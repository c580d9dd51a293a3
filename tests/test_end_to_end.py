"""End to end through the CLI: ingest JSONL -> import fundamentals -> score -> divergence as JSON.

The scenario has a known answer: the story about `acme` turns exuberant while its revenue stays
flat (a divergence), while `steady` is covered in the same neutral voice throughout.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hype_fixtures import EVIDENCE, GROWTH, HYPE, NEUTRAL, tiny_model_dir  # noqa: F401
from typer.testing import CliRunner

from analyzer.cli import app

QUARTERS = [date(2023 + q // 4, 1 + 3 * (q % 4), 15) for q in range(10)]


def _documents() -> list[dict[str, object]]:
    docs = []
    for q, day in enumerate(QUARTERS):
        exuberant = q >= 6
        for n in range(6):  # at least MIN_RELIABLE_STORIES stories a quarter
            if exuberant:
                body = [
                    HYPE[(q + n) % len(HYPE)],
                    GROWTH[(q * 3 + n) % len(GROWTH)],
                    HYPE[(q + n + 3) % len(HYPE)],
                ]
            else:
                body = [EVIDENCE[(q + n) % len(EVIDENCE)], NEUTRAL[(q * 2 + n) % len(NEUTRAL)]]
            docs.append(
                {
                    "id": f"acme-{q}-{n}",
                    "url": f"https://news.test/acme/{q}/{n}",
                    "title": f"Acme update {q}.{n}",
                    "text": " ".join(body) + f" Reference {q}-{n}.",
                    "published": day.isoformat(),
                    "source": f"wire-{n % 2}",
                    "entities": ["acme"],
                }
            )
            docs.append(
                {
                    "id": f"steady-{q}-{n}",
                    "url": f"https://news.test/steady/{q}/{n}",
                    "title": f"Steady note {q}.{n}",
                    "text": f"{EVIDENCE[(q + n + 4) % len(EVIDENCE)]} {NEUTRAL[(q + n + 1) % len(NEUTRAL)]} Reference {q}-{n}.",
                    "published": day.isoformat(),
                    "source": f"wire-{n % 2}",
                    "entities": ["steady"],
                }
            )
    return docs


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_ingest_fundamentals_score_divergence(tmp_path: Path, tiny_model_dir: Path) -> None:  # noqa: F811
    db = str(tmp_path / "e2e.db")
    dump = tmp_path / "docs.jsonl"
    dump.write_text("\n".join(json.dumps(d) for d in _documents()) + "\n", encoding="utf-8")
    csv = tmp_path / "fundamentals.csv"
    lines = ["entity,metric,date,value,unit"]
    for year in (2022, 2023, 2024, 2025):
        for month, day in ((3, 31), (6, 30), (9, 30), (12, 31)):
            lines.append(f"acme,revenue,{year}-{month:02d}-{day},100,USD")
            lines.append(f"steady,revenue,{year}-{month:02d}-{day},100,USD")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    ingested = json.loads(_invoke("ingest", "--db", db, "--json", str(dump)))
    assert ingested["inserted"] == len(_documents())
    _invoke("fundamentals", "import", "--db", db, str(csv))
    _invoke("score", "--db", db, "--model", str(tiny_model_dir))
    records = json.loads(_invoke("divergence", "--db", db, "--freq", "quarter", "--format", "json"))

    assert records, "divergence returned no records"
    for key in (
        "entity",
        "metric",
        "period",
        "heat",
        "fundamental_growth",
        "divergence",
        "flagged",
        "heat_low",
        "heat_high",
        "divergence_low",
        "divergence_high",
        "reliable",
        "mode",
    ):
        assert key in records[0]
    assert {r["mode"] for r in records} == {"realtime"}
    banded = [r for r in records if r["heat_low"] is not None]
    assert banded and all(r["heat_low"] <= r["heat"] <= r["heat_high"] for r in banded)
    assert all(r["reliable"] for r in records)  # six stories a quarter
    flagged_rows = [r for r in records if r["flagged"]]
    assert all(r["divergence_low"] > 1.0 for r in flagged_rows)
    acme = [r for r in records if r["entity"] == "acme" and r["metric"] == "revenue"]
    steady = [r for r in records if r["entity"] == "steady" and r["metric"] == "revenue"]
    assert acme and steady
    flagged_periods = {r["period"] for r in acme if r["flagged"]}
    assert flagged_periods, "heat rising over flat revenue was not flagged"
    assert min(flagged_periods) >= QUARTERS[6].replace(day=1).isoformat()[:7]
    assert not any(r["flagged"] for r in steady)
    late_heat = [r["heat"] for r in acme if r["period"] >= "2024-07-01" and r["heat"] is not None]
    early_heat = [r["heat"] for r in acme if r["period"] < "2024-07-01" and r["heat"] is not None]
    assert min(late_heat) > max(early_heat)
