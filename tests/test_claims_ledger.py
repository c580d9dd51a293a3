"""The claims ledger over a real SQLite file: idempotent storage, failures, the CLI and reads."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer import pipeline
from analyzer.claims.extract import EXTRACTOR_VERSION
from analyzer.claims.ledger import claims_scorecard, entity_claims, extract_store
from analyzer.cli import app
from analyzer.storage import DocumentRecord, Store

SENTENCES = [
    ("Acme reported a solid quarter.", 0.1),
    ("Acme expects its revenue to double by 2024.", 0.9),
    ("Acme will triple revenue by the end of 2024, its chief executive said.", 0.8),
    ("Acme aims to reach 10 million users by 2030.", 0.7),
]


def seed(store: Store, *, model_version: str = "m1", text_suffix: str = "") -> int:
    text = " ".join(s for s, _ in SENTENCES) + text_suffix
    result = store.upsert_document(
        DocumentRecord(
            text=text,
            title="Acme outlook",
            url="https://example.test/acme",
            canonical_url="https://example.test/acme",
            published_at="2023-02-15T10:00:00+00:00",
            language="en",
        )
    )
    sentences = [s for s, _ in SENTENCES] + ([text_suffix.strip()] if text_suffix else [])
    scores = [{"hype": 0.1, "growth": g, "evidence": 0.1} for _, g in SENTENCES] + (
        [{"hype": 0.1, "growth": 0.9, "evidence": 0.1}] if text_suffix else []
    )
    store.save_document_scores(
        result.document_id,
        model_id="test",
        model_version=model_version,
        document_scores={"hype": 0.1, "growth": 0.5, "evidence": 0.1, "language": "en"},
        sentences=sentences,
        sentence_scores=scores,
    )
    store.upsert_entity({"id": "acme", "name": "Acme"})
    store.tag_document(
        result.document_id,
        "acme",
        method="alias",
        matched="Acme",
        score=1.0,
        sentence_indices=range(len(sentences)),
    )
    quarters = [
        ("2022-03-31", 100),
        ("2022-06-30", 100),
        ("2022-09-30", 100),
        ("2022-12-31", 100),
        ("2023-03-31", 150),
        ("2023-06-30", 150),
        ("2023-09-30", 150),
        ("2023-12-31", 150),
        ("2024-03-31", 250),
        ("2024-06-30", 250),
        ("2024-09-30", 250),
        ("2024-12-31", 250),
    ]
    store.add_fundamentals(
        {
            "entity_id": "acme",
            "metric": "revenue",
            "date": d,
            "value": v,
            "unit": "USD",
            "source": "test",
            "filed_at": None,
        }
        for d, v in quarters
    )
    return result.document_id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    with Store(path) as store:
        seed(store)
        pipeline.run_claims(store, as_of="2025-06-01")
    return path


def test_extraction_stores_claims_once_and_checks_them(db: Path) -> None:
    with Store(db) as store:
        claims = store.claims()
        assert [c["sentence_index"] for c in sorted(claims, key=lambda c: c["sentence_index"])] == [
            1,
            2,
            3,
        ]
        by_index = {c["sentence_index"]: c for c in claims}
        assert by_index[1]["status"] == "met" and by_index[1]["ratio"] == pytest.approx(2.5 / 2.0)
        assert by_index[2]["status"] == "missed"
        assert by_index[3]["status"] == "pending"  # 2030 is not here yet
        assert all(
            c["extractor_version"] == EXTRACTOR_VERSION and c["method"] == "rules" for c in claims
        )

        # Nothing new to read, and reading everything again keeps the same rows.
        assert extract_store(store).documents == 0
        again = extract_store(store, refresh=True)
        assert again.documents == 1 and again.claims == 3
        assert len(store.claims()) == 3
        assert store.claims(status="met")[0]["status"] == "met"  # the earlier check survives


def test_rescoring_with_a_new_model_version_does_not_duplicate(db: Path) -> None:
    with Store(db) as store:
        document_id = store.query("SELECT id FROM documents")[0]["id"]
        keys = {c["claim_key"] for c in store.claims()}
        store.save_document_scores(
            document_id,
            model_id="test",
            model_version="m2",
            document_scores={"hype": 0.1, "growth": 0.5, "evidence": 0.1},
            sentences=[s for s, _ in SENTENCES],
            sentence_scores=[{"hype": 0.1, "growth": 0.95, "evidence": 0.1}] * 4,
        )
        report = extract_store(store, model_version="m2")
        assert report.documents == 1
        assert {c["claim_key"] for c in store.claims()} == keys


def test_changed_text_replaces_that_documents_claims(db: Path) -> None:
    with Store(db) as store:
        seed(store, text_suffix=" Acme expects fees to rise 50% next year.")
        extract_store(store)
        sentences = sorted(c["sentence"] for c in store.claims())
        assert len(sentences) == 4 and any("fees" in s for s in sentences)


def test_a_failing_extraction_keeps_scores_and_claims(db: Path) -> None:
    class Broken:
        extractor_version = EXTRACTOR_VERSION

        def extract(self, sentences: object, documents: object, **_: object) -> object:
            raise ValueError("extractor exploded")

    with Store(db) as store:
        before_scores = store.query("SELECT COUNT(*) AS n FROM sentence_scores")[0]["n"]
        report = extract_store(store, extractor=Broken(), refresh=True)
        assert report.failed and "extractor exploded" in report.failed[0]["error"]
        assert store.query("SELECT COUNT(*) AS n FROM sentence_scores")[0]["n"] == before_scores
        assert len(store.claims()) == 3
        assert store.claim_extraction_errors()[0]["error"].startswith("ValueError")


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, ["claims", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_json_has_the_documented_fields(db: Path) -> None:
    records = json.loads(_cli("--db", str(db), "--format", "json"))
    assert isinstance(records, list) and len(records) == 3
    required = {
        "entity",
        "metric",
        "claimed_change",
        "horizon",
        "published_at",
        "status",
        "realised_change",
        "sentence",
        "document_id",
    }
    assert all(required <= set(r) for r in records)
    met = next(r for r in records if r["status"] == "met")
    assert met["entity"] == "acme" and met["metric"] == "revenue" and met["claimed_change"] == 2.0
    assert met["horizon"] == "2024-12-31" and met["published_at"] == "2023-02-15"
    assert met["realised_change"] == pytest.approx(2.5)
    pending = next(r for r in records if r["status"] == "pending")
    assert pending["realised_change"] is None


def test_cli_filters_and_csv(db: Path) -> None:
    assert len(json.loads(_cli("--db", str(db), "--status", "missed", "--format", "json"))) == 1
    assert (
        len(json.loads(_cli("--db", str(db), "--due-before", "2025-01-01", "--format", "json")))
        == 2
    )
    assert json.loads(_cli("--db", str(db), "--entity", "nobody", "--format", "json")) == []
    rows = list(csv.DictReader(io.StringIO(_cli("--db", str(db), "--format", "csv"))))
    assert len(rows) == 3 and "claimed_change" in rows[0]
    assert "acme" in _cli("--db", str(db))


def test_cli_bad_status_is_one_clean_line(db: Path) -> None:
    from analyzer.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["claims", "--db", str(db), "--status", "maybe"])
    assert exit_info.value.code == 1


def test_cli_extract_check_and_scorecard(tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    with Store(path) as store:
        seed(store)
    summary = json.loads(_cli("extract", "--db", str(path), "--as-of", "2025-06-01", "--json"))
    assert summary["extract"]["claims"] == 3 and summary["check"] == {
        "met": 1,
        "missed": 1,
        "pending": 1,
    }
    assert json.loads(_cli("check", "--db", str(path), "--as-of", "2023-06-01", "--json")) == {
        "pending": 3
    }
    _cli("check", "--db", str(path), "--as-of", "2025-06-01")
    card = json.loads(
        _cli("scorecard", "--db", str(path), "--as-of", "2025-06-01", "--format", "json")
    )
    assert card == [
        {
            "entity_id": "acme",
            "made": 3,
            "due": 2,
            "met": 1,
            "missed": 1,
            "pending": 1,
            "unverifiable": 0,
            "reliability": 0.5,
        }
    ]


def test_reads_for_the_app(db: Path) -> None:
    with Store(db, readonly=True) as store:
        card = claims_scorecard(store, as_of="2025-06-01")
        assert card.loc[0, "entity_id"] == "acme" and card.loc[0, "reliability"] == pytest.approx(
            0.5
        )
        frame = entity_claims(store, "acme")
        met = frame[frame["status"] == "met"].iloc[0]
        dates = [p["date"] for p in met["series"]]
        assert "2022-12-31" in dates and "2024-12-31" in dates
        assert entity_claims(store, "nobody").empty
