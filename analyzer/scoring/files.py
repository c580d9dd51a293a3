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

:func:`score_file_resumable` joins them. Error policy: a record that cannot be parsed (a broken JSONL
line, an undecodable line) is skipped with a warning naming its line, and everything else is
still scored; the summary lists the problems. A record without usable text still gets an output
row, marked ``unscored``. Rows already written stay written if the run is interrupted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import InputError
from analyzer.scoring.cache import DEFAULT_MAX_ENTRIES, CacheCounter, MemorySentenceCache

if TYPE_CHECKING:  # pragma: no cover
    from analyzer.scoring.protocols import SentenceCache

FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
OUTPUT_COLUMNS = ("id", "hype", "growth", "evidence", "language", "n_sentences", "unscored")
SENTENCE_COLUMNS = ("id", "sentence_index", "text", "kind", "hype", "growth", "evidence")
# Records scored together: all their sentences go to the model in one call, sorted by length,
# so padding is small and the inference streams rarely wait at a chunk's end. 64 records of one
# sentence each cost about 20% more model time than 512 (benchmarks/results/scoring.md).
DEFAULT_CHUNK_SIZE = 512
# ... and at most this much text, so a chunk of long documents stays small in memory.
CHUNK_CHARS = 2_000_000
PARQUET_READ_ROWS = 1024
# CSV cells can hold whole articles; the csv module's default limit is 128 KiB.
CSV_FIELD_LIMIT = 256 * 1024 * 1024

ProgressCallback = Callable[[int, int | None], None]


@dataclass
class InputRecord:
    position: int  # 1-based line (JSONL), data row (CSV) or row (Parquet)
    id: Any
    text: Any
    # Where reading resumes after this record: a byte offset (JSONL) or rows read (CSV, Parquet).
    end: int = 0


@dataclass
class RecordProblem:
    position: int
    message: str
    end: int = 0


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
    start: tuple[int, int] = (0, 0),
) -> Iterator[InputRecord | RecordProblem]:
    """Stream records from a JSONL, CSV or Parquet file (format from the extension).

    ``start`` resumes reading at a previous record's ``(end, position)``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    kind = detect_format(path)
    if kind == "jsonl":
        yield from _read_jsonl(path, id_field, text_field, progress, start)
    elif kind == "csv":
        yield from _read_csv(path, id_field, text_field, progress, start[0])
    else:
        yield from _read_parquet(path, id_field, text_field, progress, start[0])


def _read_jsonl(
    path: Path,
    id_field: str,
    text_field: str,
    progress: ProgressCallback | None,
    start: tuple[int, int] = (0, 0),
) -> Iterator[InputRecord | RecordProblem]:
    total = path.stat().st_size
    done, first_line = start
    with open(path, "rb") as handle:
        handle.seek(done)
        for number, raw in enumerate(handle, start=first_line + 1):
            done += len(raw)
            if progress and number % 256 == 0:
                progress(done, total)
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield RecordProblem(number, f"line {number}: not valid UTF-8", done)
                continue
            except json.JSONDecodeError as exc:
                yield RecordProblem(
                    number, f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})", done
                )
                continue
            if not isinstance(value, dict):
                yield RecordProblem(
                    number,
                    f"line {number}: expected a JSON object, got {type(value).__name__}",
                    done,
                )
                continue
            yield InputRecord(number, value.get(id_field, number), value.get(text_field), done)
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


def _read_csv(
    path: Path, id_field: str, text_field: str, progress: ProgressCallback | None, skip: int = 0
) -> Iterator[InputRecord | RecordProblem]:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    total = path.stat().st_size
    with open(path, "rb") as raw:
        counter = _CountingReader(raw)
        handle = io.TextIOWrapper(
            io.BufferedReader(counter), encoding="utf-8-sig", errors="replace", newline=""
        )
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return
        if text_field not in reader.fieldnames:
            raise InputError(
                f"{path}: no {text_field!r} column (columns: {', '.join(reader.fieldnames)})"
            )
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
                if number <= skip:
                    continue
                yield RecordProblem(number, f"line {reader.line_num}: {exc}", number)
                if consecutive_errors >= 100:
                    yield RecordProblem(
                        number,
                        f"line {reader.line_num}: too many CSV errors in a row; stopped reading",
                    )
                    break
                continue
            consecutive_errors = 0
            number += 1
            if progress and number % 256 == 0:
                progress(counter.consumed, total)
            if number <= skip:  # already read by an interrupted run
                continue
            yield InputRecord(
                number,
                row.get(id_field) if id_field in row else number,
                row.get(text_field),
                number,
            )
    if progress:
        progress(total, total)


def _read_parquet(
    path: Path, id_field: str, text_field: str, progress: ProgressCallback | None, skip: int = 0
) -> Iterator[InputRecord | RecordProblem]:
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
    # Row groups wholly before ``skip`` (read by an interrupted run) are not read again.
    groups, number, first_row = [], 0, 0
    for index in range(parquet.metadata.num_row_groups):
        rows = parquet.metadata.row_group(index).num_rows
        if first_row + rows <= skip:
            number += rows
        else:
            groups.append(index)
        first_row += rows
    for batch in parquet.iter_batches(
        batch_size=PARQUET_READ_ROWS, columns=columns, row_groups=groups
    ):
        if number + batch.num_rows <= skip:
            number += batch.num_rows
            continue
        offset = max(0, skip - number)
        data = batch.slice(offset).to_pydict()
        number += offset
        texts = data[text_field]
        ids = data.get(id_field) or [None] * len(texts)
        for identifier, text in zip(ids, texts):
            number += 1
            yield InputRecord(number, identifier if id_field in names else number, text, number)
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
    cache: SentenceCache | None = None,
    counter: CacheCounter | None = None,
) -> Iterator[ScoredRecord]:
    """Score records chunk by chunk; yields one :class:`ScoredRecord` per :class:`InputRecord`.

    Problems from the reader are passed to ``on_problem`` (and produce no output row). A record
    whose text is missing or not a string yields an ``unscored`` row with a ``warning``. Scoring
    is :meth:`HypeScorer.score_documents` with the given sentence ``cache``.
    """
    from analyzer.scoring.scorer import DEFAULT_MAX_SENTENCES

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
            yield from _score_chunk(scorer, chunk, with_sentences, limit, cache, counter)
            chunk = []
    if chunk:
        yield from _score_chunk(scorer, chunk, with_sentences, limit, cache, counter)


def _score_chunk(
    scorer: Any,
    chunk: list[InputRecord],
    with_sentences: bool,
    limit: int,
    cache: SentenceCache | None,
    counter: CacheCounter | None,
) -> Iterator[ScoredRecord]:
    usable = [r for r in chunk if isinstance(r.text, str)]
    results = iter(
        scorer.score_documents(
            [r.text for r in usable], max_sentences=limit, cache=cache, counter=counter
        )
        if usable
        else ()
    )
    for record in chunk:
        if not isinstance(record.text, str):
            kind = "missing" if record.text is None else f"a {type(record.text).__name__}, not text"
            row = {
                "id": record.id,
                "hype": None,
                "growth": None,
                "evidence": None,
                "language": None,
                "n_sentences": 0,
                "unscored": True,
            }
            yield ScoredRecord(
                record.position,
                row,
                [],
                f"record {record.position} (id {record.id!r}): text is {kind}",
            )
            continue
        result = next(results)
        row = {"id": record.id, **{column: result.get(column) for column in OUTPUT_COLUMNS[1:]}}
        sentences = []
        if with_sentences:
            sentences = [
                {
                    "id": record.id,
                    "sentence_index": index,
                    "text": s["text"],
                    "kind": s.get("kind", "prose"),
                    **{label: s.get(label) for label in ("hype", "growth", "evidence")},
                }
                for index, s in enumerate(result["sentences"])
            ]
        yield ScoredRecord(record.position, row, sentences)


# --------------------------------------------------------------------------- writing


class RecordWriter:
    """Append rows with fixed columns to a JSONL, CSV or Parquet file."""

    def __init__(
        self, path: str | os.PathLike[str], columns: Iterable[str], *, parquet_rows: int = 4096
    ):
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
                self._handle.write(
                    json.dumps(
                        {c: row.get(c) for c in self.columns}, ensure_ascii=False, default=str
                    )
                    + "\n"
                )
            self._handle.flush()
        elif self.kind == "csv":
            self._csv.writerows(
                {c: "" if row.get(c) is None else row.get(c) for c in self.columns} for row in rows
            )
            self._handle.flush()
        else:
            self._pending.extend(rows)
            if len(self._pending) >= self._parquet_rows:
                self._flush_parquet()
        self.rows_written += len(rows)

    def _schema(self) -> Any:
        import pyarrow as pa

        types = {
            "id": pa.string(),
            "text": pa.string(),
            "kind": pa.string(),
            "language": pa.string(),
            "hype": pa.float64(),
            "growth": pa.float64(),
            "evidence": pa.float64(),
            "n_sentences": pa.int64(),
            "sentence_index": pa.int64(),
            "unscored": pa.bool_(),
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
        return {
            "records": self.records,
            "unscored": self.unscored,
            "sentences": self.sentences,
            "problems": len(self.problems),
            "problem_details": self.problems[:100],
        }


# --------------------------------------------------------------------------- resumable runs at scale
# score_file_resumable: every record scored into the output, written so that an interrupted run (Ctrl-C,
# kill -9, a crash) can continue where it stopped without losing or duplicating rows, with
# identical sentences scored once per run. Work files live in OUTPUT.partial/ next to the
# output until the run completes; the output then appears in one atomic rename.

CHECKPOINT_FORMAT = 1
CHECKPOINT_FILE = "checkpoint.json"
DEFAULT_CHECKPOINT_RECORDS = 2048
DEFAULT_CHECKPOINT_SECONDS = 30.0
DEFAULT_SENTENCE_CACHE = DEFAULT_MAX_ENTRIES
MAX_PROBLEMS_KEPT = 1000
_FINGERPRINT_BYTES = 1 << 20


def input_fingerprint(path: Path) -> dict[str, Any]:
    """Identity of an input file: size, modification time and a hash of its first MiB."""
    import hashlib

    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_FINGERPRINT_BYTES))
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "head_sha256": digest.hexdigest(),
    }


def _fsync_write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class _LineSink:
    """Rows appended to a JSONL or CSV work file; a commit records its length, a resume truncates to it."""

    def __init__(self, path: Path, kind: str, columns: list[str], committed: dict[str, Any] | None):
        self.path, self.kind, self.columns = path, kind, columns
        if committed is None:
            self.handle = open(path, "wb")
            if kind == "csv":
                self.handle.write(self._csv_bytes([dict(zip(columns, columns))]))
        else:
            self.handle = open(path, "r+b")
            self.handle.truncate(int(committed["bytes"]))  # drop rows written after the last commit
            self.handle.seek(0, os.SEEK_END)

    def _csv_bytes(self, rows: list[dict[str, Any]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, extrasaction="ignore")
        writer.writerows(
            {c: "" if row.get(c) is None else row.get(c) for c in self.columns} for row in rows
        )
        return buffer.getvalue().encode("utf-8")

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.kind == "jsonl":
            data = "".join(
                json.dumps({c: row.get(c) for c in self.columns}, ensure_ascii=False, default=str)
                + "\n"
                for row in rows
            ).encode("utf-8")
        else:
            data = self._csv_bytes(rows)
        self.handle.write(data)

    def commit(self) -> dict[str, Any]:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        return {"bytes": self.handle.tell()}

    def finish(self, target: Path) -> None:
        self.handle.close()
        _finish_artifact(self.path, target)

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.close()


class _PartSink:
    """Parquet rows as numbered part files (one per commit), joined into the output at the end."""

    def __init__(self, directory: Path, columns: list[str], committed: dict[str, Any] | None):
        self.directory, self.columns = directory, columns
        self.directory.mkdir(parents=True, exist_ok=True)
        self.parts = int(committed["parts"]) if committed else 0
        for stray in self.directory.glob("*.parquet"):  # parts after the last commit
            if not stray.name.startswith("part-") or int(stray.stem.split("-")[1]) >= self.parts:
                stray.unlink()
        self.pending: list[dict[str, Any]] = []

    def _part(self, index: int) -> Path:
        return self.directory / f"part-{index:06d}.parquet"

    def write(self, rows: list[dict[str, Any]]) -> None:
        self.pending.extend(rows)

    def commit(self) -> dict[str, Any]:
        if self.pending:
            temporary = self.directory / f"writing-{self.parts:06d}.parquet"
            with RecordWriter(temporary, self.columns) as writer:
                writer.write(self.pending)
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, self._part(self.parts))
            self.parts += 1
            self.pending = []
        return {"parts": self.parts}

    def finish(self, target: Path) -> None:
        _finish_artifact(self.directory, target)

    def close(self) -> None:
        self.pending = []


def _finish_artifact(artifact: Path, target: Path) -> None:
    """Move a finished work file into place, or join a folder of Parquet parts into ``target``.

    Either way the target appears by one atomic rename; the artifact is gone afterwards.
    """
    import shutil

    import pyarrow.parquet as pq

    if not artifact.is_dir():
        os.replace(artifact, target)
        return

    temporary = target.with_name(f".{target.name}.assembling.parquet")
    with RecordWriter(
        temporary, SENTENCE_COLUMNS if artifact.name.startswith("sentences") else OUTPUT_COLUMNS
    ) as empty:
        schema = empty._schema()
    writer = pq.ParquetWriter(temporary, schema)
    try:
        for part_file in sorted(artifact.glob("part-*.parquet")):
            part = pq.ParquetFile(part_file)
            for group in range(part.num_row_groups):  # one row group at a time: bounded memory
                writer.write_table(part.read_row_group(group))
    finally:
        writer.close()
    os.replace(temporary, target)
    shutil.rmtree(artifact, ignore_errors=True)


def _artifact(work: Path, name: str, target: Path) -> Path:
    kind = detect_format(target)
    return work / (f"{name}-parts" if kind == "parquet" else f"{name}.{kind}")


def _open_sink(
    work: Path, name: str, target: Path, columns: list[str], committed: dict[str, Any] | None
) -> Any:
    kind = detect_format(target)
    if kind == "parquet":
        return _PartSink(_artifact(work, name, target), columns, committed)
    return _LineSink(_artifact(work, name, target), kind, columns, committed)


@dataclass
class ResumableSummary(ScoreFileSummary):
    problem_count: int = 0  # all problems; ``problems`` keeps the first MAX_PROBLEMS_KEPT messages
    resumed_at_record: int = 0
    sentence_cache_hits: int = 0
    sentences_computed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **super().as_dict(),
            "problems": self.problem_count,
            "resumed_at_record": self.resumed_at_record,
            "sentence_cache_hits": self.sentence_cache_hits,
            "sentences_computed": self.sentences_computed,
        }


def work_dir_for(output_path: str | os.PathLike[str]) -> Path:
    output_path = Path(output_path)
    return output_path.with_name(output_path.name + ".partial")


def score_file_resumable(
    scorer: Any,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    sentences_path: str | os.PathLike[str] | None = None,
    id_field: str = "id",
    text_field: str = "text",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_sentences: int | None = None,
    resume: bool = True,
    checkpoint_records: int = DEFAULT_CHECKPOINT_RECORDS,
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS,
    sentence_cache: int = DEFAULT_SENTENCE_CACHE,
    cache: SentenceCache | None = None,
    progress: ProgressCallback | None = None,
    on_problem: Callable[[str], None] | None = None,
    on_resume: Callable[[str], None] | None = None,
) -> ResumableSummary:
    """Score ``input_path`` into ``output_path`` resumably, in bounded memory.

    Rows go to ``OUTPUT.partial/``; every ``checkpoint_records`` records (or
    ``checkpoint_seconds``) the work files are synced and ``checkpoint.json`` records how far the
    input was read, how much output is final and the running summary. After an interruption
    the same call continues from the checkpoint (``resume``, the default) when the input file,
    the model version and the settings are unchanged, discarding any output written after it;
    otherwise it starts over. Finished, the output appears by atomic rename and the work
    directory is removed. Memory: one chunk of records, the rows since the last checkpoint for
    Parquet output, and a bounded cache of sentence scores (``sentence_cache`` entries, or the
    given ``cache``, e.g. one that also reads the database's score cache).
    """
    import shutil

    input_path, output_path = Path(input_path), Path(output_path)
    sentences_target = Path(sentences_path) if sentences_path is not None else None
    _check_resumable_paths(input_path, output_path, sentences_target)
    if chunk_size < 1 or checkpoint_records < 1:
        raise InputError("chunk size and checkpoint interval must be at least 1")
    work = work_dir_for(output_path)
    identity = _run_identity(
        scorer.model_version,
        input_path,
        output_path,
        sentences_target,
        {"id_field": id_field, "text_field": text_field, "max_sentences": max_sentences},
    )
    state = _resumable_state(work, identity, resume, on_resume)
    summary = ResumableSummary(**(state["summary"] if state else {}))
    summary.resumed_at_record = state["position"] if state else 0
    if state is not None and state.get("finished"):
        # Interrupted while moving the finished files into place: complete that step only.
        _finish_work(work, {"output": output_path, "sentences": sentences_target})
        return summary

    def problem(item: RecordProblem | str) -> None:
        message = item.message if isinstance(item, RecordProblem) else item
        summary.problem_count += 1
        if len(summary.problems) < MAX_PROBLEMS_KEPT:
            summary.problems.append(message)
        if on_problem:
            on_problem(message)

    sinks = _open_sinks(work, output_path, sentences_target, state["outputs"] if state else {})
    cache = cache if cache is not None else MemorySentenceCache(sentence_cache)
    counter = CacheCounter()
    start = (state["offset"], state["position"]) if state else (0, 0)
    position = {"offset": start[0], "position": start[1]}
    records = read_records(
        input_path, id_field=id_field, text_field=text_field, progress=progress, start=start
    )

    def commit(finished: bool = False) -> None:
        _write_checkpoint(work, {**identity, **position}, sinks, summary, finished)

    since_commit, last_commit = 0, time.monotonic()
    # True while a chunk's rows and counts are being recorded: an interrupt then must not commit
    # a half-recorded chunk (the last checkpoint stays valid instead).
    recording = False
    try:
        # A checkpoint can only fall between chunks, so a chunk never spans more than one interval.
        for scored, skipped, end in _scored_chunks(
            scorer,
            records,
            min(chunk_size, checkpoint_records),
            with_sentences=sentences_target is not None,
            max_sentences=max_sentences,
            cache=cache,
            counter=counter,
        ):
            recording = True
            _record_chunk(scored, skipped, sinks, summary, problem)
            position.update(end)
            recording = False
            since_commit += len(scored)
            if (
                since_commit >= checkpoint_records
                or time.monotonic() - last_commit >= checkpoint_seconds
            ):
                commit()
                since_commit, last_commit = 0, time.monotonic()
        commit(finished=True)
        sinks["output"].finish(output_path)
        if "sentences" in sinks and sentences_target is not None:
            sinks["sentences"].finish(sentences_target)
    except KeyboardInterrupt:
        if not recording:
            commit()  # everything scored so far is kept for the next run
        raise
    except Exception:
        # Failed before anything was kept (e.g. a bad header): nothing to resume from.
        if not (work / CHECKPOINT_FILE).exists():
            for sink in sinks.values():
                sink.close()
            shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        for sink in sinks.values():
            sink.close()
    shutil.rmtree(work, ignore_errors=True)
    summary.sentence_cache_hits = counter.cached
    summary.sentences_computed = counter.computed
    return summary


def _check_resumable_paths(
    input_path: Path, output_path: Path, sentences_target: Path | None
) -> None:
    """Refuse unknown formats, a missing input, and outputs that would overwrite the input."""
    detect_format(input_path)
    for target in (output_path, sentences_target):
        if target is not None:
            detect_format(target)
            if target.resolve() == input_path.resolve():
                raise InputError(f"refusing to overwrite the input file {input_path}")
    if not input_path.is_file():
        raise InputError(f"{input_path} does not exist or is not a file")


def _run_identity(
    model_version: str,
    input_path: Path,
    output_path: Path,
    sentences_target: Path | None,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """What a checkpoint must match to be continued: input, model, settings and output names."""
    return {
        "format": CHECKPOINT_FORMAT,
        "input": input_fingerprint(input_path),
        "model_version": model_version,
        "settings": {
            **settings,
            "output": output_path.name,
            "sentences": sentences_target.name if sentences_target else None,
        },
    }


def _resumable_state(
    work: Path,
    identity: dict[str, Any],
    resume: bool,
    on_resume: Callable[[str], None] | None,
) -> dict[str, Any] | None:
    """The checkpoint to continue from, or None after clearing ``work`` for a fresh start.

    A checkpoint is only continued when ``resume`` is asked for and it was written by the same
    input, model and settings (``identity``).
    """
    import shutil

    state = _load_checkpoint(work)
    if state is not None and (not resume or any(state.get(k) != v for k, v in identity.items())):
        if on_resume:
            why = "--no-resume" if not resume else "the input, model or settings changed"
            on_resume(f"discarding the unfinished run in {work} ({why})")
        state = None
    if state is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    elif on_resume:
        on_resume(
            f"resuming after record {state['position']} ({state['summary']['records']} rows already written)"
        )
    return state


def _finish_work(work: Path, targets: dict[str, Path | None]) -> None:
    """Move each finished work file that is still there into place, then drop ``work``."""
    import shutil

    for name, target in targets.items():
        if target is not None and _artifact(work, name, target).exists():
            _finish_artifact(_artifact(work, name, target), target)
    shutil.rmtree(work, ignore_errors=True)


def _open_sinks(
    work: Path, output_path: Path, sentences_target: Path | None, committed: dict[str, Any]
) -> dict[str, Any]:
    """The output's sink and, when asked for, the sentences' one, each truncated to what
    ``committed`` says is final."""
    sinks = {
        "output": _open_sink(
            work, "output", output_path, list(OUTPUT_COLUMNS), committed.get("output")
        )
    }
    if sentences_target is not None:
        sinks["sentences"] = _open_sink(
            work, "sentences", sentences_target, list(SENTENCE_COLUMNS), committed.get("sentences")
        )
    return sinks


def _scored_chunks(
    scorer: Any,
    records: Iterable[InputRecord | RecordProblem],
    size: int,
    *,
    with_sentences: bool,
    max_sentences: int | None,
    cache: SentenceCache,
    counter: CacheCounter,
) -> Iterator[tuple[list[ScoredRecord], list[RecordProblem], dict[str, int]]]:
    """:func:`_chunks` with each chunk's records scored."""
    for chunk, skipped, end in _chunks(records, size):
        scored = list(
            score_records(
                scorer,
                chunk,
                chunk_size=len(chunk) or 1,
                with_sentences=with_sentences,
                max_sentences=max_sentences,
                cache=cache,
                counter=counter,
            )
        )
        yield scored, skipped, end


def _record_chunk(
    scored: list[ScoredRecord],
    skipped: list[RecordProblem],
    sinks: dict[str, Any],
    summary: ResumableSummary,
    problem: Callable[[RecordProblem | str], None],
) -> None:
    """Report a scored chunk's problems, write its rows and add it to the summary."""
    for item in skipped:
        problem(item)
    for item in scored:
        if item.warning:
            problem(item.warning)
    sinks["output"].write([s.row for s in scored])
    if "sentences" in sinks:
        rows = [row for s in scored for row in s.sentences]
        sinks["sentences"].write(rows)
        summary.sentences += len(rows)
    summary.records += len(scored)
    summary.unscored += sum(bool(s.row.get("unscored")) for s in scored)


def _write_checkpoint(
    work: Path,
    where: dict[str, Any],
    sinks: dict[str, Any],
    summary: ResumableSummary,
    finished: bool,
) -> None:
    """Make the sinks' rows final and record, durably, how far the run got.

    ``where`` is the run's identity and its input position.
    """
    outputs = {name: sink.commit() for name, sink in sinks.items()}
    document = {
        **where,
        "outputs": outputs,
        "finished": finished,
        "summary": {
            "records": summary.records,
            "unscored": summary.unscored,
            "sentences": summary.sentences,
            "problems": summary.problems,
            "problem_count": summary.problem_count,
        },
    }
    _fsync_write(work / CHECKPOINT_FILE, json.dumps(document, ensure_ascii=False))


def _chunks(
    records: Iterable[InputRecord | RecordProblem], size: int
) -> Iterator[tuple[list[InputRecord], list[RecordProblem], dict[str, int]]]:
    """Chunks of ``size`` records (or :data:`CHUNK_CHARS` of text) with the problems met among
    them and the input position after them."""
    chunk: list[InputRecord] = []
    problems: list[RecordProblem] = []
    end: dict[str, int] | None = None
    characters = 0
    for item in records:
        end = {"offset": item.end, "position": item.position}
        if isinstance(item, RecordProblem):
            problems.append(item)
            continue
        chunk.append(item)
        characters += len(item.text) if isinstance(item.text, str) else 0
        if len(chunk) >= size or characters >= CHUNK_CHARS:
            yield chunk, problems, end
            chunk, problems, end, characters = [], [], None, 0
    if end is not None:
        yield chunk, problems, end


def _load_checkpoint(work: Path) -> dict[str, Any] | None:
    try:
        return json.loads((work / CHECKPOINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
