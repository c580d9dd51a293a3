"""The sources file: a YAML list of feeds (and pages, PDFs or local files) to ingest.

.. code-block:: yaml

    - name: Example Tech News
      url: https://example.com/feed.xml
      kind: news            # news | whitepaper | filing | other
      language: en          # used when a document's language cannot be detected
      entities: [nvidia]    # hints for entity tagging, stored on the source
      enabled: true

A top-level mapping with a ``sources:`` key holding that list is accepted too. A ``url``
without a scheme is a path relative to the sources file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.ingest.urls import is_http_url
from analyzer.storage import DOCUMENT_KINDS

MAX_SOURCES_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class SourceSpec:
    name: str
    url: str
    kind: str = "news"
    language: str | None = None
    entity_hints: list[str] = field(default_factory=list)
    enabled: bool = True

    @property
    def is_remote(self) -> bool:
        return is_http_url(self.url)


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (
        "yes",
        "true",
        "on",
        "1",
        "no",
        "false",
        "off",
        "0",
    ):
        return value.strip().lower() in ("yes", "true", "on", "1")
    if isinstance(value, int):
        return bool(value)
    raise InputError(f"{where}: 'enabled' must be true or false, not {value!r}")


def parse_source_entry(entry: Any, where: str, base_dir: Path | None = None) -> SourceSpec:
    """Validate one entry of a sources file; raises :class:`InputError` naming what is wrong."""
    if not isinstance(entry, dict):
        raise InputError(f"{where}: each source must be a mapping with at least 'url'")
    url = entry.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"{where}: missing 'url'")
    url = url.strip()
    if "://" in url:
        if not is_http_url(url):
            raise InputError(f"{where}: only http(s) URLs or local paths are allowed, not {url!r}")
    elif base_dir is not None and not Path(url).is_absolute():
        url = str(base_dir / url)
    name = entry.get("name")
    name = str(name).strip() if name is not None and str(name).strip() else url
    kind = str(entry.get("kind") or "news").strip().lower()
    if kind not in DOCUMENT_KINDS:
        raise InputError(f"{where}: unknown kind {kind!r}; use one of {', '.join(DOCUMENT_KINDS)}")
    language = entry.get("language")
    language = str(language).strip().lower() or None if language is not None else None
    hints = entry.get("entities", entry.get("entity_hints", entry.get("entity_ids", [])))
    if isinstance(hints, str):
        hints = [hints]
    if not isinstance(hints, list) or not all(isinstance(h, (str, int)) for h in hints):
        raise InputError(f"{where}: 'entities' must be a list of entity ids")
    enabled = _as_bool(entry.get("enabled", True), where)
    return SourceSpec(
        name=name,
        url=url,
        kind=kind,
        language=language,
        entity_hints=[str(h).strip() for h in hints if str(h).strip()],
        enabled=enabled,
    )


def _read_entries(path: Path) -> list[Any]:
    import yaml

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    if size > MAX_SOURCES_FILE_BYTES:
        raise InputError(f"sources file {path} is larger than {MAX_SOURCES_FILE_BYTES} bytes")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"sources file {path} is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise InputError(f"sources file {path} is nested too deeply") from exc
    if isinstance(document, dict) and "sources" in document:
        document = document["sources"]
    if not isinstance(document, list):
        raise InputError(f"sources file {path} must hold a list of sources")
    return document


def read_sources(path: str | Path) -> tuple[list[SourceSpec], list[str]]:
    """The valid sources of a file and a message for each invalid entry.

    Raises :class:`InputError` only when the file as a whole is unusable.
    """
    path = Path(path)
    specs: list[SourceSpec] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(_read_entries(path)):
        where = f"{path}: source {index + 1}"
        try:
            spec = parse_source_entry(entry, where, base_dir=path.parent)
        except InputError as exc:
            problems.append(str(exc))
            continue
        if spec.name in seen:
            problems.append(f"{where}: source name {spec.name!r} is used more than once")
            continue
        seen.add(spec.name)
        specs.append(spec)
    return specs, problems


def load_sources(path: str | Path) -> list[SourceSpec]:
    """Read and validate a sources file; raises :class:`InputError` on any invalid entry."""
    specs, problems = read_sources(path)
    if problems:
        raise InputError(
            problems[0] + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else "")
        )
    return specs
