"""Entities (companies, tokens, protocols, themes) and finding them in text.

Definitions live in an editable ``entities.yaml``::

    entities:
      - id: render
        name: Render Network
        kind: token                      # company | token | protocol | theme
        aliases: [Render Network, Render]
        exclusions: [render farm, to render, "/\\bRender(?:ed|ing)? (?:the|a|an)\\b/"]
        tickers: [RENDER, RNDR]
        sec_cik: null
        defillama_slug: null
        coingecko_id: render-token
        description: A decentralised GPU rendering and compute network ...

Matching rules (see :func:`match_entities`):

- Aliases match on word boundaries. They are case-insensitive, except acronyms (``AMD``) and
  aliases that are also ordinary words (``Render``, ``Helium``, ``Graph``): those match only as
  written, so "render the scene" is not the Render token.
- Tickers match as standalone tokens: ``$RNDR`` in any case, bare ``RNDR`` only in capitals and
  only for tickers of three or more characters.
- Exclusions veto a match they overlap or touch (within :data:`EXCLUSION_WINDOW` characters,
  so an exclusion ``farm`` vetoes "Render farm" but not a mention further along the sentence).
  A plain exclusion is a case-insensitive phrase; ``/.../`` is a regular expression
  (case-sensitive; add ``i`` after the closing slash to ignore case).
- Optionally, documents are compared with each entity's description by sentence embeddings
  (:class:`EmbeddingMatcher`); that catches themes named without any alias.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from analyzer.errors import InputError

KINDS = ("company", "token", "protocol", "theme")
FIELDS = (
    "id",
    "name",
    "kind",
    "aliases",
    "exclusions",
    "tickers",
    "sec_cik",
    "defillama_slug",
    "coingecko_id",
    "eia_series",
    "description",
)
LIST_FIELDS = ("aliases", "exclusions", "tickers")
IDENTIFIER_FIELDS = ("sec_cik", "defillama_slug", "coingecko_id", "eia_series")
ENTITY_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,11}$")
EXCLUSION_WINDOW = 2
MIN_BARE_TICKER_LENGTH = 3
DEFAULT_EMBEDDING_THRESHOLD = 0.4

# Entity names that are also everyday words; as aliases they match only with the capitals
# they are written with. Lowercase only: compared against alias.lower().
COMMON_WORDS = frozenset(
    """
    render helium graph near compound maker curve balancer flow link sand ocean fetch theta
    harmony oasis cosmos stellar ripple dash core sonic base blast mode scroll polygon optimism
    avalanche constellation snowflake oracle apple amazon meta alphabet arm intel micron lambda
    together anthropic mistral cohere gemini llama golem grass shadow ether tether circle block
    square robinhood gate kraken sky spark jupiter orca marinade drift save hedge carrot echelon
    scallop bucket symmetry superposition rain neptune nirvana soda vertex nebula aurora fuse
    mantra pyth safe frax ondo mask zero one iron beam root lido azure
    """.split()
)


# --------------------------------------------------------------------------- definitions


def _is_acronym(alias: str) -> bool:
    letters = [c for c in alias if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(alias) <= 6


def alias_is_case_sensitive(alias: str) -> bool:
    """Acronyms and everyday words match only as written."""
    return _is_acronym(alias) or alias.lower() in COMMON_WORDS


def _alias_pattern(alias: str) -> str:
    parts = [re.escape(p) for p in alias.split()]
    return r"\s+".join(parts)


def _compile_exclusion(text: str) -> re.Pattern[str]:
    """``/regex/`` or ``/regex/i`` as a regular expression, anything else as a phrase."""
    match = re.fullmatch(r"/(.+)/(i?)", text.strip(), flags=re.DOTALL)
    if match:
        return re.compile(match[1], re.IGNORECASE if match[2] else 0)
    return re.compile(r"(?<!\w)" + _alias_pattern(text.strip()) + r"(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class Entity:
    """One entity definition; lists are tuples so an Entity can be hashed and cached."""

    id: str
    name: str
    kind: str = "theme"
    aliases: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()
    sec_cik: str | None = None
    defillama_slug: str | None = None
    coingecko_id: str | None = None
    description: str | None = None
    eia_series: str | None = (
        None  # EIA series this entity is measured by, e.g. "retail-sales:VA:COM"
    )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Entity:
        """From a stored row or a plain dict (no validation; see :func:`parse_entities_yaml`)."""

        def as_tuple(value: Any) -> tuple[str, ...]:
            if not value:
                return ()
            if isinstance(value, str):
                return (value,)
            return tuple(str(v) for v in value if str(v).strip())

        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            kind=str(data.get("kind") or "theme"),
            aliases=as_tuple(data.get("aliases")),
            exclusions=as_tuple(data.get("exclusions")),
            tickers=tuple(t.lstrip("$").upper() for t in as_tuple(data.get("tickers"))),
            sec_cik=_optional_str(data.get("sec_cik")),
            defillama_slug=_optional_str(data.get("defillama_slug")),
            coingecko_id=_optional_str(data.get("coingecko_id")),
            eia_series=_optional_str(data.get("eia_series")),
            description=_optional_str(data.get("description")),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "aliases": list(self.aliases),
            "exclusions": list(self.exclusions),
            "tickers": list(self.tickers),
            "sec_cik": self.sec_cik,
            "defillama_slug": self.defillama_slug,
            "coingecko_id": self.coingecko_id,
            "eia_series": self.eia_series,
            "description": self.description,
        }

    # Compiled patterns are cached on the instance (frozen dataclasses allow cached_property).
    @cached_property
    def _alias_patterns(self) -> tuple[re.Pattern[str], ...]:
        names = list(dict.fromkeys([*self.aliases]))
        exact = sorted((a for a in names if alias_is_case_sensitive(a)), key=len, reverse=True)
        loose = sorted((a for a in names if not alias_is_case_sensitive(a)), key=len, reverse=True)
        patterns = []
        for group, flags in ((exact, 0), (loose, re.IGNORECASE)):
            if group:
                body = "|".join(_alias_pattern(a) for a in group)
                patterns.append(re.compile(rf"(?<!\w)(?:{body})(?!\w)", flags))
        return tuple(patterns)

    @cached_property
    def _ticker_patterns(self) -> tuple[re.Pattern[str], ...]:
        if not self.tickers:
            return ()
        body = "|".join(re.escape(t) for t in sorted(self.tickers, key=len, reverse=True))
        patterns = [re.compile(rf"(?<![\w$])\$(?:{body})(?![\w])", re.IGNORECASE)]
        bare = [t for t in self.tickers if len(t) >= MIN_BARE_TICKER_LENGTH]
        if bare:
            bare_body = "|".join(re.escape(t) for t in sorted(bare, key=len, reverse=True))
            patterns.append(re.compile(rf"(?<![\w$])(?:{bare_body})(?![\w])"))
        return tuple(patterns)

    @cached_property
    def _exclusion_patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile_exclusion(e) for e in self.exclusions)


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- loading


def _yaml_lines(text: str) -> tuple[int | None, list[tuple[int, dict[str, int], dict[str, str]]]]:
    """Line numbers of the ``entities`` key, of each entity and of each of its fields.

    Also the raw text of scalar fields: YAML 1.1 reads an unquoted ``0000002488`` as an octal
    number, so identifiers are taken as written.
    """
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    entity_lines: list[tuple[int, dict[str, int], dict[str, str]]] = []
    if not isinstance(root, yaml.MappingNode):
        return (root.start_mark.line + 1 if root is not None else None), entity_lines
    for key, value in root.value:
        if getattr(key, "value", None) == "entities" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                fields: dict[str, int] = {}
                raw: dict[str, str] = {}
                if isinstance(item, yaml.MappingNode):
                    for field_key, field_value in item.value:
                        fields[str(field_key.value)] = field_value.start_mark.line + 1
                        if isinstance(field_value, yaml.ScalarNode):
                            raw[str(field_key.value)] = field_value.value
                entity_lines.append((item.start_mark.line + 1, fields, raw))
            return key.start_mark.line + 1, entity_lines
    return root.start_mark.line + 1, entity_lines


def parse_entities_yaml(text: str, origin: str = "entities.yaml") -> list[Entity]:
    """Validate and parse an entities file; errors name the line and field."""
    import yaml

    try:
        data = yaml.safe_load(text)
        root_line, lines = _yaml_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{origin}{where}: not valid YAML ({problem})") from exc
    if not isinstance(data, dict) or "entities" not in data:
        raise InputError(f"{origin}: expected a top-level 'entities:' list")
    items = data["entities"]
    if not isinstance(items, list):
        raise InputError(f"{origin} line {root_line}: 'entities' must be a list of entities")

    entities: list[Entity] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(items):
        line, field_lines, raw = (
            lines[position] if position < len(lines) else (root_line or 0, {}, {})
        )
        if isinstance(item, dict):
            for id_field in IDENTIFIER_FIELDS:
                if isinstance(item.get(id_field), int) and not isinstance(item.get(id_field), bool):
                    item[id_field] = raw.get(id_field, str(item[id_field]))
        entity = _parse_entity(item, _ErrorContext(origin, position, line, field_lines, item))
        if entity.id in seen:
            raise InputError(
                f"{origin} line {field_lines.get('id', line)}: entity {entity.id!r} field 'id':"
                f" duplicate id (first defined on line {seen[entity.id]})"
            )
        seen[entity.id] = line
        entities.append(entity)
    return entities


@dataclass
class _ErrorContext:
    origin: str
    position: int
    line: int
    field_lines: dict[str, int]
    item: Any

    def fail(self, message: str, field_name: str | None = None) -> InputError:
        at = self.field_lines.get(field_name, self.line) if field_name else self.line
        if isinstance(self.item, dict) and self.item.get("id"):
            label = f"entity {self.item.get('id')!r}"
        else:
            label = f"entity #{self.position + 1}"
        where = f" field '{field_name}'" if field_name else ""
        return InputError(f"{self.origin} line {at}: {label}{where}: {message}")


def _parse_entity(item: Any, context: _ErrorContext) -> Entity:
    fail = context.fail
    if not isinstance(item, dict):
        raise fail("must be a mapping with at least 'id' and 'name'")
    unknown = sorted(set(map(str, item)) - set(FIELDS))
    if unknown:
        raise fail(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}", unknown[0]
        )
    entity_id = item.get("id")
    if not isinstance(entity_id, str) or not ENTITY_ID.match(entity_id):
        raise fail(
            "'id' must be lowercase letters, digits, '.', '_' or '-' (e.g. constellation-energy),"
            f" got {entity_id!r}",
            "id",
        )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("'name' is required", "name")
    kind = item.get("kind", "theme")
    if kind not in KINDS:
        raise fail(f"must be one of {', '.join(KINDS)}, got {kind!r}", "kind")
    lists: dict[str, tuple[str, ...]] = {}
    for list_field in LIST_FIELDS:
        value = item.get(list_field) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise fail("must be a list of strings", list_field)
        lists[list_field] = tuple(str(v).strip() for v in value if str(v).strip())
    for alias in lists["aliases"]:
        if alias.lower() in COMMON_WORDS and alias == alias.lower():
            raise fail(
                f"alias {alias!r} is an everyday word, so it matches case-sensitively; write it"
                f" with the capitals it has as a name (e.g. {alias.capitalize()!r})",
                "aliases",
            )
    for exclusion in lists["exclusions"]:
        try:
            _compile_exclusion(exclusion)
        except re.error as exc:
            raise fail(
                f"exclusion {exclusion!r} is not a valid regular expression ({exc})", "exclusions"
            ) from None
    tickers = []
    for ticker in lists["tickers"]:
        normalised = ticker.lstrip("$").upper()
        if not TICKER.match(normalised):
            raise fail(f"ticker {ticker!r} should look like NVDA, RNDR or 2330.TW", "tickers")
        tickers.append(normalised)
    identifiers: dict[str, str | None] = {}
    for id_field in IDENTIFIER_FIELDS:
        value = item.get(id_field)
        if value is not None and not isinstance(value, (str, int)):
            raise fail("must be a string or null", id_field)
        identifiers[id_field] = _optional_str(value)
    if identifiers["sec_cik"] is not None:
        from analyzer.fundamentals.sec import normalise_cik

        try:
            identifiers["sec_cik"] = normalise_cik(identifiers["sec_cik"])
        except InputError as exc:
            raise fail(str(exc), "sec_cik") from None
    description = item.get("description")
    if description is not None and not isinstance(description, str):
        raise fail("must be text", "description")
    return Entity(
        id=entity_id,
        name=name.strip(),
        kind=kind,
        aliases=lists["aliases"],
        exclusions=lists["exclusions"],
        tickers=tuple(tickers),
        description=_optional_str(description),
        **identifiers,
    )


def load_entities_file(path: str | os.PathLike[str]) -> list[Entity]:
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"entities file {file_path} does not exist; pass --file PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read entities file {file_path}: {exc}") from exc
    return parse_entities_yaml(text, origin=str(file_path))


def as_entities(entities: Iterable[Entity | Mapping[str, Any]]) -> list[Entity]:
    return [e if isinstance(e, Entity) else Entity.from_mapping(e) for e in entities]


# --------------------------------------------------------------------------- matching


# --------------------------------------------------------------------------- embeddings
