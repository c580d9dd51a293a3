"""Streaming batch scoring of record files (JSONL, CSV, Parquet).

The loop is three independent pieces, each an iterator, so that it can be extended (resume,
parallel workers, other formats) without touching the others:

``read_records(path)``
    yields :class:`InputRecord` (``id``, ``text``, ``position``) or :class:`RecordProblem`
    (a line that could not be read), never holding the whole file in memory.
``score_records(scorer, records)``
    groups records into chunks, scores all sentences of a chunk together and yields one
    :class:`ScoredRecord` per input, in input order.
``RecordWriter``
    appends rows to a JSONL, CSV or Parquet file chunk by chunk.

:func:`score_file` joins them. Error policy: a record that cannot be parsed (a broken JSONL
line, an undecodable line) is skipped with a warning naming its line, and everything else is
still scored; the summary lists the problems. A record without usable text still gets an output
row, marked ``unscored``. Rows already written stay written if the run is interrupted.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
OUTPUT_COLUMNS = ("id", "hype", "growth", "evidence", "language", "n_sentences", "unscored")
SENTENCE_COLUMNS = ("id", "sentence_index", "text", "hype", "growth", "evidence")
DEFAULT_CHUNK_SIZE = 64
PARQUET_READ_ROWS = 1024
# CSV cells can hold whole articles; the csv module's default limit is 128 KiB.
CSV_FIELD_LIMIT = 256 * 1024 * 1024

ProgressCallback = Callable[[int, int | None], None]


@dataclass
class InputRecord:
    position: int  # 1-based line (JSONL), data row (CSV) or row (Parquet)
    id: Any
    text: Any


@dataclass
class RecordProblem:
    position: int
    message: str


@dataclass
class ScoredRecord:
    position: int
    row: dict[str, Any]
    sentences: list[dict[str, Any]] = field(default_factory=list)
    warning: str | None = None


def detect_format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: unknown format {suffix!r}; use .jsonl, .csv or .parquet")
    return FORMATS[suffix]


# --------------------------------------------------------------------------- reading


def read_records(
    path: str | os.PathLike[str],
    *,
    id_field: str = "id",
    text_field: str = "text",
    progress: ProgressCallback | None = None,
) -> Iterator[InputRecord | RecordProblem]:
    """Stream records from a JSONL, CSV or Parquet file (format from the extension)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    kind = detect_format(path)
    if kind == "jsonl":
        yield from _read_jsonl(path, id_field, text_field, progress)
    elif kind == "csv":
        yield from _read_csv(path, id_field, text_field, progress)
    else:
        yield from _read_parquet(path, id_field, text_field, progress)


def _read_jsonl(path: Path, id_field: str, text_field: str, progress: ProgressCallback | None) -> Iterator[InputRecord | RecordProblem]:
    total = path.stat().st_size
    done = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            if progress and number % 256 == 0:
                progress(done, total)
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield RecordProblem(number, f"line {number}: not valid UTF-8")
                continue
            except json.JSONDecodeError as exc:
                yield RecordProblem(number, f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(value, dict):
                yield RecordProblem(number, f"line {number}: expected a JSON object, got {type(value).__name__}")
                continue
            yield InputRecord(number, value.get(id_field, number), value.get(text_field))
    if progress:
        progress(total, total)


class _CountingReader(io.RawIOBase):
    """A binary reader that counts bytes consumed, for progress over a text wrapper."""

    def __init__(self, raw: Any):
        self.raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer)
        self.consumed += count or 0
        return count


def _read_csv(path: Path, id_field: str, text_field: str, progress: ProgressCallback | None) -> Iterator[InputRecord | RecordProblem]:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    total = path.stat().st_size
    with open(path, "rb") as raw:
        counter = _CountingReader(raw)
        handle = io.TextIOWrapper(io.BufferedReader(counter), encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return
        if text_field not in reader.fieldnames:
            raise InputError(f"{path}: no {text_field!r} column (columns: {', '.join(reader.fieldnames)})")
        number = 0
        consecutive_errors = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                number += 1
                consecutive_errors += 1
                yield RecordProblem(number, f"line {reader.line_num}: {exc}")
                if consecutive_errors >= 100:
                    yield RecordProblem(number, f"line {reader.line_num}: too many CSV errors in a row; stopped reading")
                    break
                continue
            consecutive_errors = 0
            number += 1
            if progress and number % 256 == 0:
                progress(counter.consumed, total)
            yield InputRecord(number, row.get(id_field) if id_field in row else number, row.get(text_field))
    if progress:
        progress(total, total)


def _read_parquet(path: Path, id_field: str, text_field: str, progress: ProgressCallback | None) -> Iterator[InputRecord | RecordProblem]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = parquet.schema_arrow.names
    if text_field not in names:
        raise InputError(f"{path}: no {text_field!r} column (columns: {', '.join(names)})")
    columns = [text_field] + ([id_field] if id_field in names else [])
    total = parquet.metadata.num_rows
    number = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_READ_ROWS, columns=columns):
        data = batch.to_pydict()
        texts = data[text_field]
        ids = data.get(id_field) or [None] * len(texts)
        for identifier, text in zip(ids, texts):
            number += 1
            yield InputRecord(number, identifier if id_field in names else number, text)
        if progress:
            progress(number, total)


# --------------------------------------------------------------------------- scoring


def score_records(
    scorer: Any,
    records: Iterable[InputRecord | RecordProblem],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    with_sentences: bool = False,
    max_sentences: int | None = None,
    on_problem: Callable[[RecordProblem], None] | None = None,
) -> Iterator[ScoredRecord]:
    """Score records chunk by chunk; yields one :class:`ScoredRecord` per :class:`InputRecord`.

    Problems from the reader are passed to ``on_problem`` (and produce no output row). A record
    whose text is missing or not a string yields an ``unscored`` row with a ``warning``.
    """
    from .model import DEFAULT_MAX_SENTENCES

    if chunk_size < 1:
        raise InputError("chunk size must be at least 1")
    limit = DEFAULT_MAX_SENTENCES if max_sentences is None else max_sentences
    chunk: list[InputRecord] = []
    for item in records:
        if isinstance(item, RecordProblem):
            if on_problem:
                on_problem(item)
            continue
        chunk.append(item)
        if len(chunk) >= chunk_size:
            yield from _score_chunk(scorer, chunk, with_sentences, limit)
            chunk = []
    if chunk:
        yield from _score_chunk(scorer, chunk, with_sentences, limit)


def _score_chunk(scorer: Any, chunk: list[InputRecord], with_sentences: bool, limit: int) -> Iterator[ScoredRecord]:
    usable = [r for r in chunk if isinstance(r.text, str)]
    results = iter(scorer.score_documents([r.text for r in usable], max_sentences=limit)) if usable else iter(())
    for record in chunk:
        if not isinstance(record.text, str):
            kind = "missing" if record.text is None else f"a {type(record.text).__name__}, not text"
            row = {"id": record.id, "hype": None, "growth": None, "evidence": None,
                   "language": None, "n_sentences": 0, "unscored": True}
            yield ScoredRecord(record.position, row, [], f"record {record.position} (id {record.id!r}): text is {kind}")
            continue
        result = next(results)
        row = {"id": record.id, **{column: result.get(column) for column in OUTPUT_COLUMNS[1:]}}
        sentences = []
        if with_sentences:
            sentences = [
                {"id": record.id, "sentence_index": index, "text": s["text"],
                 **{label: s.get(label) for label in ("hype", "growth", "evidence")}}
                for index, s in enumerate(result["sentences"])
            ]
        yield ScoredRecord(record.position, row, sentences)


# --------------------------------------------------------------------------- writing


class RecordWriter:
    """Append rows with fixed columns to a JSONL, CSV or Parquet file."""

    def __init__(self, path: str | os.PathLike[str], columns: Iterable[str], *, parquet_rows: int = 4096):
        self.path = Path(path)
        self.columns = list(columns)
        self.kind = detect_format(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows_written = 0
        self._parquet_rows = parquet_rows
        self._pending: list[dict[str, Any]] = []
        self._parquet_writer: Any = None
        self._handle: Any = None
        self._csv: Any = None
        if self.kind == "jsonl":
            self._handle = open(self.path, "w", encoding="utf-8")
        elif self.kind == "csv":
            self._handle = open(self.path, "w", encoding="utf-8", newline="")
            self._csv = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="ignore")
            self._csv.writeheader()

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self.kind == "jsonl":
            for row in rows:
                self._handle.write(json.dumps({c: row.get(c) for c in self.columns}, ensure_ascii=False, default=str) + "\n")
            self._handle.flush()
        elif self.kind == "csv":
            self._csv.writerows({c: "" if row.get(c) is None else row.get(c) for c in self.columns} for row in rows)
            self._handle.flush()
        else:
            self._pending.extend(rows)
            if len(self._pending) >= self._parquet_rows:
                self._flush_parquet()
        self.rows_written += len(rows)

    def _schema(self) -> Any:
        import pyarrow as pa

        types = {
            "id": pa.string(), "text": pa.string(), "language": pa.string(),
            "hype": pa.float64(), "growth": pa.float64(), "evidence": pa.float64(),
            "n_sentences": pa.int64(), "sentence_index": pa.int64(), "unscored": pa.bool_(),
        }
        return pa.schema([(c, types.get(c, pa.string())) for c in self.columns])

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending and self._parquet_writer is not None:
            return
        schema = self._schema()
        data = {}
        for column in self.columns:
            values = [row.get(column) for row in self._pending]
            if schema.field(column).type == pa.string():
                values = [None if v is None else str(v) for v in values]
            data[column] = values
        table = pa.Table.from_pydict(data, schema=schema)
        if self._parquet_writer is None:
            self._parquet_writer = pq.ParquetWriter(self.path, schema)
        self._parquet_writer.write_table(table)
        self._pending = []

    def close(self) -> None:
        if self.kind == "parquet":
            self._flush_parquet()
            if self._parquet_writer is not None:
                self._parquet_writer.close()
                self._parquet_writer = None
        elif self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- the whole loop


@dataclass
class ScoreFileSummary:
    records: int = 0
    unscored: int = 0
    sentences: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "unscored": self.unscored, "sentences": self.sentences,
                "problems": len(self.problems), "problem_details": self.problems[:100]}


def score_file(
    scorer: Any,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    sentences_path: str | os.PathLike[str] | None = None,
    id_field: str = "id",
    text_field: str = "text",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_sentences: int | None = None,
    progress: ProgressCallback | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> ScoreFileSummary:
    """Score every record of ``input_path`` into ``output_path`` (and per-sentence rows into ``sentences_path``)."""
    input_path, output_path = Path(input_path), Path(output_path)
    detect_format(input_path)
    detect_format(output_path)
    if sentences_path is not None:
        detect_format(sentences_path)
    for target in (output_path, sentences_path):
        if target is not None and Path(target).resolve() == input_path.resolve():
            raise InputError(f"refusing to overwrite the input file {input_path}")
    summary = ScoreFileSummary()

    def problem(item: RecordProblem | str) -> None:
        message = item.message if isinstance(item, RecordProblem) else item
        summary.problems.append(message)
        if on_problem:
            on_problem(message)

    records = read_records(input_path, id_field=id_field, text_field=text_field, progress=progress)
    sentence_writer = RecordWriter(sentences_path, SENTENCE_COLUMNS) if sentences_path else None
    try:
        with RecordWriter(output_path, OUTPUT_COLUMNS) as writer:
            buffer: list[ScoredRecord] = []
            for scored in score_records(
                scorer, records, chunk_size=chunk_size, with_sentences=sentence_writer is not None,
                max_sentences=max_sentences, on_problem=problem,
            ):
                if scored.warning:
                    problem(scored.warning)
                buffer.append(scored)
                if len(buffer) >= chunk_size:
                    _write(buffer, writer, sentence_writer, summary)
                    buffer = []
            _write(buffer, writer, sentence_writer, summary)
    finally:
        if sentence_writer is not None:
            sentence_writer.close()
    return summary


def _write(buffer: list[ScoredRecord], writer: RecordWriter, sentence_writer: RecordWriter | None, summary: ScoreFileSummary) -> None:
    writer.write(s.row for s in buffer)
    summary.records += len(buffer)
    summary.unscored += sum(bool(s.row.get("unscored")) for s in buffer)
    if sentence_writer is not None:
        rows = [row for s in buffer for row in s.sentences]
        sentence_writer.write(rows)
        summary.sentences += len(rows)
