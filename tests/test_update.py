"""`analyzer update`: ingest, tag, score, divergence, claims, then alerts, as one command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_seed import ENTITIES, _documents, _fundamentals
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture
from webhook_server import WebhookServer

from analyzer.alerts import add_watch
from analyzer.cli import main
from analyzer.storage import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[WebhookServer]:
    running = WebhookServer()
    yield running
    running.close()


def test_update_runs_every_stage_and_alerts_once(
    tiny_model_dir: Path,  # noqa: F811
    tmp_path: Path,
    server: WebhookServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dump = tmp_path / "news.jsonl"
    dump.write_text("\n".join(json.dumps(d) for d in _documents()) + "\n", encoding="utf-8")
    db = tmp_path / "update.db"
    url = server.plan()
    with Store(db) as store:
        for entity in ENTITIES:
            store.upsert_entity(entity)
        store.add_fundamentals(_fundamentals())
        assert (
            add_watch(store, channel="webhook", target=url, allow_private=True)["baseline_flags"]
            == 0
        )
    argv = [
        "update",
        str(dump),
        "--db",
        str(db),
        "--model",
        str(tiny_model_dir),
        "--freq",
        "quarter",
        "--base-url",
        "https://app.example",
        "--json",
    ]
    main(argv)
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["ingest"]["inserted"] == len(_documents())
    assert summary["tag"]["tagged_documents"] > 0
    assert summary["score"]["documents"] == len(_documents())
    assert (
        summary["divergence"]["frequencies"]["quarter"]["model_version"]
        == summary["score"]["model_version"]
    )
    assert summary["claims"]["extract"]["documents"] == len(_documents())
    assert "check" in summary["claims"]
    with Store(db) as store:
        # Every stored flag is sent once: Nvidia's and Solana's planted divergences, and under
        # the one-period default also Solana's one-quarter burst.
        stored = store.stored_flags("quarter", summary["score"]["model_version"])
    assert len(stored) >= 2
    assert summary["watch"]["sent"] == len(stored) and summary["watch"]["failed"] == 0
    assert "Claims:" in captured.err and f"Alerts: {len(stored)} sent" in captured.err
    entities = {r.json()["entity"] for r in server.at(url)}
    assert entities == {"nvidia", "solana"} == set(stored["entity"])
    assert all(
        r.json()["link"].startswith("https://app.example/entity?entity=") for r in server.at(url)
    )

    main(argv)  # the next scheduled run: nothing new anywhere
    again = json.loads(capsys.readouterr().out)
    assert again["ingest"]["inserted"] == 0 and again["score"]["documents"] == 0
    assert again["watch"]["new_flags"] == 0 and len(server.at(url)) == len(stored)


def test_update_without_sources_says_where_they_come_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANALYZER_SOURCES", raising=False)
    with pytest.raises(SystemExit):
        main(["update", "--db", str(tmp_path / "x.db")])
    assert "no sources to ingest" in capsys.readouterr().err
