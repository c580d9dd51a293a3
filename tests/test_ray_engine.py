"""`analyzer score --engine ray`: Ray Data end to end on a local Ray instance."""

from __future__ import annotations

import json
from pathlib import Path

import hype_fixtures
import pytest
from hype_fixtures import EVIDENCE, GROWTH, HYPE, NEUTRAL

from analyzer.cli import main
from analyzer.errors import InputError
from analyzer.scoring.scorer import HypeScorer

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="ray is an optional extra (pip install '.[scale]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed")


@pytest.fixture(scope="module")
def local_ray() -> object:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hype_fixtures.tiny_model_dir_for(tmp_path_factory)


def _rows(n: int) -> list[dict[str, object]]:
    pool = HYPE + GROWTH + EVIDENCE + NEUTRAL
    rows: list[dict[str, object]] = [
        {"id": f"r{i}", "text": f"{pool[i % len(pool)]} {pool[(3 * i + 1) % len(pool)]}"}
        for i in range(n)
    ]
    rows[7]["text"] = ""  # no text: an unscored row, not a lost one
    return rows


def test_ray_engine_scores_jsonl_and_parquet_like_the_local_engine(
    local_ray: object, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows(50)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out_dir = tmp_path / "scored"
    main(
        [
            "score",
            "--engine",
            "ray",
            "--input",
            str(source),
            "--output",
            str(out_dir),
            "--model",
            str(model_dir),
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 50 and summary["engine"] == "ray" and summary["address"] == "local"
    scored = {r["id"]: r for r in pq.read_table(out_dir).to_pylist()}
    assert sorted(scored) == sorted(r["id"] for r in rows)
    assert scored["r7"]["unscored"] is True and scored["r7"]["hype"] is None

    local = HypeScorer.from_pretrained(model_dir, device="cpu")
    local.use_backend(summary["backend"])
    for row in rows[:10]:
        if not row["text"]:
            continue
        expected = local.score_document(row["text"])
        assert scored[row["id"]]["n_sentences"] == expected["n_sentences"]
        for label in ("hype", "growth", "evidence"):
            assert scored[row["id"]][label] == pytest.approx(expected[label], abs=1e-5)

    # Parquet in a folder works the same way, through the library function.
    from analyzer.scoring.distributed import score_with_ray

    parquet_dir = tmp_path / "parquet-in"
    parquet_dir.mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:20]), parquet_dir / "part-0.parquet")
    result = score_with_ray(
        str(parquet_dir), str(tmp_path / "scored-parquet"), model=model_dir, batch_size=8
    )
    again = {r["id"]: r for r in pq.read_table(tmp_path / "scored-parquet").to_pylist()}
    assert result["rows"] == 20 and result["format"] == "parquet"
    assert again["r3"]["hype"] == pytest.approx(scored["r3"]["hype"], abs=1e-9)


def test_ray_engine_input_errors_are_clear(
    local_ray: object, model_dir: Path, tmp_path: Path
) -> None:
    from analyzer.scoring.distributed import input_format, score_with_ray

    with pytest.raises(InputError, match="cannot tell the format"):
        input_format(str(tmp_path / "data.txt"))
    source = tmp_path / "no-ids.jsonl"
    source.write_text(json.dumps({"text": HYPE[0]}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs record ids"):
        score_with_ray(str(source), str(tmp_path / "out"), model=model_dir)
