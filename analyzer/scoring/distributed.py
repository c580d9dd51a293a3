"""Batch scoring on a Ray cluster (or a local Ray instance) with Ray Data.

``analyzer score --engine ray --input PATH_OR_URL --output DIR`` reads JSONL or Parquet (a file,
a folder, or any fsspec/pyarrow URL such as ``s3://bucket/news/``), scores the records in a pool
of actors, each holding one loaded model, and writes Parquet files into ``DIR``, one row per
record with the same columns as the local engine (id, hype, growth, evidence, language,
n_sentences, unscored).

* ``address=None`` starts a local Ray instance for the run; ``"auto"`` joins the cluster this
  machine belongs to; ``"ray://head:10001"`` connects a Ray client to a remote cluster.
* Each actor loads the model from the same path, so on a cluster the model directory must be
  readable at that path on every node (a shared file system, or the same image).
* On a cluster with GPUs every actor takes one GPU and uses the torch backend with autocast;
  otherwise actors use the CPU default backend, with the ONNX export built once by the driver
  beforehand.

Ray is an optional extra (``pip install 'analyzer[scale]'``); it is imported only here.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError, InputError

RAY_INSTALL_HINT = "the Ray engine needs the 'scale' extra: pip install 'analyzer[scale]' (or pip install 'ray[data]')"
DEFAULT_RAY_BATCH = 256
MAX_CPUS_PER_ACTOR = 4
OUTPUT_COLUMNS = ("id", "hype", "growth", "evidence", "language", "n_sentences", "unscored")
_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def import_ray() -> Any:
    """``ray`` with Ray Data, or a clear error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is a separate extra of ray
    except ImportError as exc:
        raise AnalyzerError(RAY_INSTALL_HINT) from exc
    return ray


def input_format(path: str, declared: str | None = None) -> str:
    """``jsonl`` or ``parquet`` from ``declared``, the suffix, or the files of a local folder."""
    if declared:
        if declared not in ("jsonl", "parquet"):
            raise InputError(f"unknown input format {declared!r}; use jsonl or parquet")
        return declared
    suffix = Path(path.rstrip("/")).suffix.lower()
    if suffix in _FORMATS:
        return _FORMATS[suffix]
    local = Path(path)
    if "://" not in path and local.is_dir():
        found = {
            _FORMATS[f.suffix.lower()] for f in local.rglob("*") if f.suffix.lower() in _FORMATS
        }
        if len(found) == 1:
            return found.pop()
    raise InputError(
        f"cannot tell the format of {path}; name files .jsonl or .parquet, or pass --input-format"
    )


class ScoreBatch:
    """Ray Data callable class: one loaded model per actor, scoring Arrow batches."""

    def __init__(
        self,
        model_dir: str,
        *,
        backend: str = "auto",
        device: str = "auto",
        id_field: str = "id",
        text_field: str = "text",
        max_sentences: int | None = None,
        threads: int | None = None,
        onnx_cache: str | None = None,
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from analyzer.scoring.cache import MemorySentenceCache
        from analyzer.scoring.scorer import HypeScorer

        self.scorer = HypeScorer.from_pretrained(model_dir, device=device)
        options: dict[str, Any] = {"threads": threads} if threads else {}
        if backend in ("onnx", "onnx-int8") and onnx_cache:
            options["cache_dir"] = onnx_cache
        self.scorer.use_backend(backend, **options)
        self.cache = MemorySentenceCache()
        self.id_field, self.text_field = id_field, text_field
        self.max_sentences = max_sentences

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        data = batch.to_pydict()
        texts = data.get(self.text_field) or [None] * batch.num_rows
        ids = data.get(self.id_field) or [None] * batch.num_rows
        usable = [i for i, text in enumerate(texts) if isinstance(text, str)]
        results = self.scorer.score_documents(
            [texts[i] for i in usable], max_sentences=self.max_sentences, cache=self.cache
        )
        by_row = dict(zip(usable, results))
        columns: dict[str, list[Any]] = {name: [] for name in OUTPUT_COLUMNS}
        for row, identifier in enumerate(ids):
            result = by_row.get(row)
            columns["id"].append(None if identifier is None else str(identifier))
            for label in ("hype", "growth", "evidence"):
                columns[label].append(result.get(label) if result else None)
            columns["language"].append(result.get("language") if result else None)
            columns["n_sentences"].append(int(result["n_sentences"]) if result else 0)
            columns["unscored"].append(bool(result["unscored"]) if result else True)
        schema = pa.schema(
            [
                ("id", pa.string()),
                ("hype", pa.float64()),
                ("growth", pa.float64()),
                ("evidence", pa.float64()),
                ("language", pa.string()),
                ("n_sentences", pa.int64()),
                ("unscored", pa.bool_()),
            ]
        )
        return pa.Table.from_pydict(columns, schema=schema)


def score_with_ray(
    input_path: str,
    output_dir: str,
    *,
    model: str | os.PathLike[str] | None = None,
    backend: str = "auto",
    address: str | None = None,
    id_field: str = "id",
    text_field: str = "text",
    declared_format: str | None = None,
    batch_size: int = DEFAULT_RAY_BATCH,
    actors: int | None = None,
    cpus_per_actor: int | None = None,
    max_sentences: int | None = None,
    num_cpus: int | None = None,
) -> dict[str, Any]:
    """Score ``input_path`` into Parquet files under ``output_dir`` with Ray Data; returns a summary.

    ``actors`` defaults to one per GPU, or one per ``cpus_per_actor`` CPUs (at most 4 each) of
    the cluster. ``num_cpus`` limits a local instance started for this run. The output
    directory is overwritten.
    """
    from analyzer.scoring.backends import ensure_onnx_model, resolve_backend_name
    from analyzer.scoring.scorer import DEFAULT_MODEL_DIR, MODEL_ENV_VAR, HypeScorer

    ray = import_ray()
    kind = input_format(input_path, declared_format)
    model_dir = (
        Path(model or os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_DIR).expanduser().resolve()
    )
    started = time.perf_counter()
    # The driver loads the model once: it checks the directory and builds the ONNX file, so
    # that actors only read it (no concurrent exports).
    scorer = HypeScorer.from_pretrained(model_dir, device="cpu")
    own_instance = not ray.is_initialized()
    if own_instance:
        init: dict[str, Any] = {
            "include_dashboard": False,
            "ignore_reinit_error": True,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if address:
            init["address"] = address
        elif num_cpus:
            init["num_cpus"] = num_cpus
        ray.init(**init)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        if gpus:
            per_actor_cpus, per_actor_gpus, device = 1, 1, "cuda"
            actors = actors or gpus
        else:
            # One CPU stays free for the read and write tasks, or the pipeline would stall.
            per_actor_cpus = cpus_per_actor or max(1, min(MAX_CPUS_PER_ACTOR, cpus - 1))
            per_actor_gpus, device = 0, "cpu"
            actors = actors or max(1, (cpus - 1) // per_actor_cpus)
        resolved = resolve_backend_name(backend, device)
        onnx_cache = None
        if resolved in ("onnx", "onnx-int8"):
            # Exported once here; actors get the absolute folder (their working directory differs).
            onnx_cache = str(
                ensure_onnx_model(scorer, quantized=resolved == "onnx-int8").parent.resolve()
            )
        if kind == "parquet":
            dataset = ray.data.read_parquet(input_path)
        else:
            dataset = ray.data.read_json(input_path, lines=True)
        names = dataset.schema().names
        if text_field not in names:
            raise InputError(f"{input_path}: no {text_field!r} field (fields: {', '.join(names)})")
        if id_field not in names:
            raise InputError(
                f"{input_path}: no {id_field!r} field; the Ray engine needs record ids (--id-field)"
            )
        scored = dataset.map_batches(
            ScoreBatch,
            fn_constructor_args=(str(model_dir),),
            fn_constructor_kwargs={
                "backend": resolved,
                "device": device,
                "id_field": id_field,
                "text_field": text_field,
                "max_sentences": max_sentences,
                "threads": per_actor_cpus if device == "cpu" else None,
                "onnx_cache": onnx_cache,
            },
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=per_actor_cpus,
            num_gpus=per_actor_gpus,
            udf_modifying_row_count=False,
        )
        scored.write_parquet(output_dir, mode="overwrite")
        rows = ray.data.read_parquet(output_dir).count()
    finally:
        if own_instance:
            ray.shutdown()
    return {
        "engine": "ray",
        "input": input_path,
        "output": output_dir,
        "rows": rows,
        "format": kind,
        "model_id": scorer.model_id,
        "model_version": scorer.model_version,
        "backend": resolved,
        "actors": actors,
        "cpus_per_actor": per_actor_cpus,
        "gpus_per_actor": per_actor_gpus,
        "address": address or "local",
        "seconds": round(time.perf_counter() - started, 2),
    }
