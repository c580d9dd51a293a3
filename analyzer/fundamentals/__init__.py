"""Measurable fundamentals from public sources, all written to the one ``fundamentals`` table.

Sources: ``sec`` (EDGAR companyfacts), ``defillama`` (TVL, fees, revenue), ``coingecko`` (price,
market cap, volume) and ``fred`` (macro series), plus CSV import. Each connector parses the
real response shape in a pure function and fetches through :class:`~.http.HttpClient`, which
caches raw responses on disk, paces requests and retries politely.

Metrics written (``unit`` says the currency where one applies):

- sec: quarterly ``revenue``, ``capex``, ``rd`` (R&D), ``operating_income`` and the fiscal years
  as ``<metric>_annual`` (dated at the period end, ``filed_at`` = the filing date, one row per
  filing of a period)
- defillama: ``tvl``, ``fees``, ``protocol_revenue`` (daily, USD)
- coingecko: ``price``, ``market_cap``, ``volume`` (daily, last value of the UTC day, USD)
- fred: the series id, e.g. ``DFF`` (entity ``macro`` unless told otherwise)
- eia: ``electricity_sales``/``electricity_price`` (retail sales by state and sector) and
  ``generating_capacity``, suffixed with state and sector (see :mod:`.eia`; entity
  ``electricity`` unless an entity links the series with ``eia_series``)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import InputError
from analyzer.fundamentals import coingecko, defillama, eia, fred, sec
from analyzer.fundamentals.http import DEFAULT_TIMEOUT_S, HttpClient, source_cache_dir

SOURCES = ("sec", "defillama", "coingecko", "fred", "eia")
SOURCE_NAMES = {m.SOURCE_KEY: m.SOURCE_NAME for m in (sec, defillama, coingecko, fred, eia)}
# The entities.yaml field that names an entity at each source.
IDENTIFIER_FIELDS = {
    "sec": "sec_cik",
    "defillama": "defillama_slug",
    "coingecko": "coingecko_id",
    "fred": None,
    "eia": "eia_series",
}
METRICS = {
    "sec": tuple(name for base in sec.METRIC_TAGS for name in (base, f"{base}_annual")),
    "defillama": ("tvl", *defillama.FEE_METRICS.values()),
    "coingecko": tuple(coingecko.SERIES_METRICS.values()),
    "fred": (),
    "eia": ("electricity_sales*", "electricity_price*", "generating_capacity*"),
}


@dataclass
class FetchOptions:
    """How to reach a source. ``None`` means the source's default."""

    cache_dir: str | os.PathLike[str] | None = None
    refresh: bool = False
    user_agent: str | None = None
    api_key: str | None = None
    pro: bool = False
    base_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    days: str | int = 365
    entity: str | None = None
    rate_per_second: float | None = None
    max_retry_wait: float = 60.0
    fees: bool = True
    allow_private: bool = False  # loopback and private networks (a local mirror or test server)


@dataclass(frozen=True)
class Target:
    entity_id: str
    identifier: str


@dataclass
class FetchReport:
    """What one ``fetch`` did: rows written per target, notes, and errors that did not stop it."""

    source: str
    rows_written: int = 0
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    cache_hits: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_written": self.rows_written,
            "targets": self.targets,
            "notes": self.notes,
            "errors": self.errors,
            "requests": self.requests,
            "cache_hits": self.cache_hits,
        }


def check_source(source: str) -> str:
    key = source.strip().lower()
    if key not in SOURCES:
        raise InputError(
            f"unknown fundamentals source {source!r}; choose one of {', '.join(SOURCES)}"
        )
    return key


def _normalised_identifier(source: str, value: str) -> str:
    if source == "sec":
        return sec.normalise_cik(value)
    return value.strip().lower() if source in ("defillama", "coingecko") else value.strip()


def resolve_targets(
    source: str,
    ids: Iterable[str],
    entities: Iterable[Mapping[str, Any]],
    *,
    entity: str | None = None,
) -> list[Target]:
    """Turn what the user typed (entity ids or source identifiers) into (entity, identifier) pairs.

    With no ids, every entity that has an identifier for the source is fetched.
    """
    source = check_source(source)
    field_name = IDENTIFIER_FIELDS[source]
    known = {str(e["id"]): e for e in entities}
    wanted = [i.strip() for i in ids if i and i.strip()]
    if not wanted:
        if field_name is None:
            raise InputError(
                "FRED: name the series to fetch, e.g. `analyzer fundamentals fetch fred DFF M2SL`"
            )
        targets = [
            Target(entity or eid, str(e[field_name]))
            for eid, e in known.items()
            if e.get(field_name)
        ]
        if not targets:
            raise InputError(
                f"{SOURCE_NAMES[source]}: no entity has a {field_name}; add one to entities.yaml"
                " and run `analyzer entities`, or name identifiers on the command line"
            )
        return targets
    if field_name is None:
        return [Target(entity or fred.DEFAULT_ENTITY, w) for w in wanted]

    by_identifier: dict[str, str] = {}
    for eid, e in known.items():
        if e.get(field_name):
            try:
                by_identifier[_normalised_identifier(source, str(e[field_name]))] = eid
            except InputError:
                continue
    targets = []
    for item in wanted:
        # An entity created bare by an earlier fetch or import (name == id, no aliases) says
        # nothing about the source, so its id is read as the identifier itself.
        bare = item in known and known[item].get("name") == item and not known[item].get("aliases")
        if item in known and not (bare and not known[item].get(field_name)):
            if not known[item].get(field_name):
                raise InputError(
                    f"{SOURCE_NAMES[source]}: entity {item!r} has no {field_name}; add it to"
                    " entities.yaml or pass the identifier itself"
                )
            targets.append(Target(entity or item, str(known[item][field_name])))
            continue
        key = _normalised_identifier(source, item)
        unmapped = eia.DEFAULT_ENTITY if source == "eia" else item
        targets.append(Target(entity or by_identifier.get(key, unmapped), item))
    return targets


def make_client(source: str, options: FetchOptions) -> HttpClient:
    source = check_source(source)
    cache_dir = source_cache_dir(source, options.cache_dir)
    headers: dict[str, str] = {}
    if source == "sec":
        headers["User-Agent"] = sec.resolve_user_agent(options.user_agent)
        base, rate = options.base_url or sec.DEFAULT_BASE_URL, sec.RATE_PER_SECOND
    elif source == "defillama":
        base, rate = options.base_url or defillama.DEFAULT_BASE_URL, defillama.RATE_PER_SECOND
    elif source == "coingecko":
        key = options.api_key or os.environ.get(coingecko.API_KEY_ENV) or None
        base, cg_headers, rate = coingecko.client_settings(key, options.pro, options.base_url)
        headers.update(cg_headers)
    elif source == "eia":
        base, rate = options.base_url or eia.DEFAULT_BASE_URL, eia.RATE_PER_SECOND
    else:
        base, rate = options.base_url or fred.DEFAULT_BASE_URL, fred.RATE_PER_SECOND
    return HttpClient(
        source=SOURCE_NAMES[source],
        base_url=base,
        cache_dir=Path(cache_dir),
        refresh=options.refresh,
        timeout=options.timeout,
        rate_per_second=options.rate_per_second or rate,
        headers=headers,
        max_retry_wait=options.max_retry_wait,
        allow_private=options.allow_private,
        secret_params=("api_key",) if source == "eia" else (),
    )


def fetch_target(
    source: str, client: HttpClient, target: Target, options: FetchOptions
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows and notes for one (entity, identifier); raises FetchError/InputError on failure."""
    if source == "sec":
        return sec.fetch_companyfacts(client, target.identifier, target.entity_id), []
    if source == "defillama":
        return defillama.fetch_protocol(
            client, target.identifier, target.entity_id, fees=options.fees
        )
    if source == "coingecko":
        rows = coingecko.fetch_market_chart(
            client, target.identifier, target.entity_id, days=options.days
        )
        return rows, []
    if source == "eia":
        return eia.fetch_series(
            client, target.identifier, target.entity_id, api_key=options.api_key
        )
    return fred.fetch_series(client, target.identifier, target.entity_id)


__all__ = [
    "SOURCES",
    "METRICS",
    "FetchOptions",
    "FetchReport",
    "Target",
    "check_source",
    "fetch_target",
    "make_client",
    "resolve_targets",
]
