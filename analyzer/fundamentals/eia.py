"""EIA API v2: electricity retail sales and prices by state and sector, and generating capacity.

The physical side of the AI story: how much electricity is sold (and at what price) where
data centers cluster, and how much generating capacity there is. Series are named by a short
spec, written in ``entities.yaml`` as ``eia_series`` (comma-separated) or on the command line:

- ``retail-sales:STATE:SECTOR[:FREQUENCY]``: route ``electricity/retail-sales`` (data
  ``sales`` in million kWh and ``price`` in cents per kWh; sectors ``RES``, ``COM``, ``IND``,
  ``TRA``, ``OTH``, ``ALL``; frequency ``monthly`` (default), ``quarterly`` or ``annual``);
- ``capacity:STATE[:SOURCE]``: route ``electricity/state-electricity-profiles/capability``
  (annual net summer capacity in MW, all producers; ``SOURCE`` an energy source id, default
  all sources).

``STATE`` is a two-letter state id or ``US``. Metrics written: ``electricity_sales`` and
``electricity_price`` for US/ALL, else with the state and sector appended
(``electricity_sales_va_com``); ``generating_capacity`` (``generating_capacity_tx``).

The v2 response is ``{"response": {"total": N, "data": [{"period": ..., <column>: value,
"<column>-units": ...}, ...]}}``; values may arrive as strings, ``total`` too, and pages
hold at most 5,000 rows. v2 carries no vintage, so ``filed_at`` is an estimate of when a
period was published: two months after a month or quarter ends, ten months after a year
(the Electric Power Monthly and the annual State Electricity Profiles). A key is required:
``--api-key`` or ``$ANALYZER_EIA_API_KEY`` (free at https://www.eia.gov/opendata/register.php).
"""

from __future__ import annotations

import calendar
import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from analyzer.errors import FetchError, InputError
from analyzer.fundamentals.http import HttpClient, HttpStatusError
from analyzer.fundamentals.values import parse_value

SOURCE_KEY = "eia"
SOURCE_NAME = "EIA"
DEFAULT_BASE_URL = "https://api.eia.gov/v2"
RATE_PER_SECOND = 1.0  # EIA throttles bursts; one request a second stays well inside its limits
API_KEY_ENV = "ANALYZER_EIA_API_KEY"
DEFAULT_ENTITY = "electricity"
PAGE_LENGTH = 5000
MAX_PAGES = 40
SECTORS = ("RES", "COM", "IND", "TRA", "OTH", "ALL")
FREQUENCIES = ("monthly", "quarterly", "annual")
RELEASE_LAG_DAYS = {"monthly": 60, "quarterly": 60, "annual": 300}
UNITS = {
    "million kilowatt hours": "million kWh",
    "million kilowatthours": "million kWh",
    "cents per kilowatt-hour": "cents/kWh",
    "cents per kilowatthour": "cents/kWh",
    "megawatts": "MW",
    "million dollars": "million USD",
}
_STATE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class SeriesSpec:
    """One EIA series request: route, facets, data columns and the metrics they become."""

    kind: str
    state: str
    sector: str = "ALL"
    frequency: str = "monthly"
    energy_source: str = "ALL"

    @property
    def route(self) -> str:
        if self.kind == "retail-sales":
            return "electricity/retail-sales"
        return "electricity/state-electricity-profiles/capability"

    @property
    def columns(self) -> dict[str, str]:
        """EIA data column -> metric name."""
        if self.kind == "retail-sales":
            suffix = (
                ""
                if (self.state, self.sector) == ("US", "ALL")
                else f"_{self.state}_{self.sector}".lower()
            )
            return {"sales": f"electricity_sales{suffix}", "price": f"electricity_price{suffix}"}
        suffix = "" if self.state == "US" else f"_{self.state.lower()}"
        if self.energy_source != "ALL":
            suffix += f"_{self.energy_source.lower()}"
        return {"capability": f"generating_capacity{suffix}"}

    def params(self, api_key: str, offset: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "api_key": api_key,
            "frequency": self.frequency,
            "sort[0][column]": "period",
            "sort[0][direction]": "asc",
            "offset": offset,
            "length": PAGE_LENGTH,
        }
        for index, column in enumerate(self.columns):
            params[f"data[{index}]"] = column
        if self.kind == "retail-sales":
            params["facets[stateid][]"] = self.state
            params["facets[sectorid][]"] = self.sector
        else:
            params["facets[stateId][]"] = self.state
            params["facets[producertypeid][]"] = "TOT"
            if self.energy_source != "ALL":
                params["facets[energysourceid][]"] = self.energy_source
        return params


def parse_spec(text: str) -> SeriesSpec:
    """``retail-sales:VA:COM``, ``retail-sales:US:ALL:annual``, ``capacity:TX`` -> a spec."""
    parts = [p.strip() for p in text.strip().split(":")]
    kind = parts[0].lower() if parts else ""
    example = "e.g. retail-sales:VA:COM, retail-sales:US:ALL:annual or capacity:TX"
    if kind not in ("retail-sales", "capacity"):
        raise InputError(f"EIA: {text!r} is not a series spec; {example}")
    if len(parts) < 2 or not _STATE.match(parts[1].upper()):
        raise InputError(f"EIA: {text!r} needs a two-letter state id or US; {example}")
    state = parts[1].upper()
    if kind == "retail-sales":
        sector = parts[2].upper() if len(parts) > 2 and parts[2] else "ALL"
        if sector not in SECTORS:
            raise InputError(
                f"EIA: sector {sector!r} in {text!r} is not one of {', '.join(SECTORS)}"
            )
        frequency = parts[3].lower() if len(parts) > 3 else "monthly"
        if frequency not in FREQUENCIES or len(parts) > 4:
            raise InputError(f"EIA: frequency in {text!r} must be one of {', '.join(FREQUENCIES)}")
        return SeriesSpec("retail-sales", state, sector, frequency)
    if len(parts) > 3:
        raise InputError(f"EIA: {text!r} has too many parts; {example}")
    source = parts[2].upper() if len(parts) > 2 and parts[2] else "ALL"
    return SeriesSpec("capacity", state, frequency="annual", energy_source=source)


def parse_specs(text: str) -> list[SeriesSpec]:
    specs = [parse_spec(p) for p in text.split(",") if p.strip()]
    if not specs:
        raise InputError("EIA: no series named; e.g. retail-sales:VA:COM")
    return specs


def period_end(period: str, frequency: str) -> date:
    """``2024-03`` -> 2024-03-31, ``2024-Q1`` -> 2024-03-31, ``2024`` -> 2024-12-31."""
    text = str(period).strip()
    if match := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(match[1]), int(match[2])
    elif match := re.fullmatch(r"(\d{4})-?Q([1-4])", text, re.IGNORECASE):
        year, month = int(match[1]), int(match[2]) * 3
    elif match := re.fullmatch(r"(\d{4})", text):
        year, month = int(match[1]), 12
    else:
        raise ValueError(f"period {period!r} is not YYYY, YYYY-MM or YYYY-Qn")
    if not 1 <= month <= 12:
        raise ValueError(f"period {period!r} has no month {month}")
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_response(
    payload: Any, spec: SeriesSpec, entity_id: str
) -> tuple[list[dict[str, Any]], int, list[str]]:
    """Rows from one page of a v2 response, the ``total`` it announces, and notes on skipped rows.

    Rows are aggregated per period: the capability route answers one row per energy source
    when no source is named, and those are summed only when ``ALL`` is absent.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("response"), dict):
        error = payload.get("error") if isinstance(payload, dict) else None
        if error:
            raise FetchError(f"EIA: the API answered with an error: {error}")
        raise InputError(
            "EIA: the response has no 'response' object; is --base-url an EIA API v2 host?"
        )
    response = payload["response"]
    data = response.get("data")
    if not isinstance(data, list):
        raise InputError("EIA: the response has no 'response.data' list")
    try:
        total = int(str(response.get("total", len(data))))
    except ValueError:
        total = len(data)
    notes: list[str] = []
    values: dict[tuple[str, str], float] = {}
    units: dict[str, str | None] = {}
    source_rows: dict[str, dict[str, float]] = {}
    for number, row in enumerate(data):
        if not isinstance(row, dict):
            notes.append(f"row {number}: not an object")
            continue
        try:
            day = period_end(str(row.get("period", "")), spec.frequency).isoformat()
        except ValueError as exc:
            notes.append(f"row {number}: {exc}")
            continue
        for column, metric in spec.columns.items():
            try:
                value = parse_value(row.get(column))
            except ValueError as exc:
                notes.append(f"row {number}, {column}: {exc}")
                continue
            if value is None:
                continue
            raw_unit = row.get(f"{column}-units")
            units[metric] = (
                UNITS.get(str(raw_unit).strip().lower(), str(raw_unit).strip())
                if raw_unit
                else None
            )
            if spec.kind == "capacity" and spec.energy_source == "ALL":
                source = str(
                    row.get("energysourceid") or row.get("energySourceId") or "ALL"
                ).upper()
                source_rows.setdefault(day, {})[source] = (
                    source_rows.get(day, {}).get(source, 0.0) + value
                )
                continue
            values[(metric, day)] = values.get((metric, day), 0.0) + value
    for day, by_source in source_rows.items():
        metric = next(iter(spec.columns.values()))
        values[(metric, day)] = by_source["ALL"] if "ALL" in by_source else sum(by_source.values())
    lag = RELEASE_LAG_DAYS[spec.frequency]
    rows = [
        {
            "entity_id": entity_id,
            "metric": metric,
            "date": day,
            "value": value,
            "unit": units.get(metric),
            "source": SOURCE_KEY,
            "filed_at": (date.fromisoformat(day) + timedelta(days=lag)).isoformat(),
        }
        for (metric, day), value in sorted(values.items())
    ]
    return rows, total, notes


def resolve_api_key(api_key: str | None) -> str:
    key = (api_key or os.environ.get(API_KEY_ENV) or "").strip()
    if not key:
        raise InputError(
            f"EIA: an API key is required; register for a free one at"
            f" https://www.eia.gov/opendata/register.php and pass --api-key or set ${API_KEY_ENV}"
        )
    return key


def _redacted(exc: Exception, key: str) -> str:
    return str(exc).replace(key, "***")


def fetch_series(
    client: HttpClient, specs_text: str, entity_id: str, *, api_key: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every page of every series named in ``specs_text`` (comma-separated specs)."""
    key = resolve_api_key(api_key)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for spec in parse_specs(specs_text):
        offset, pages = 0, 0
        while True:
            try:
                payload = client.get_json(f"/{spec.route}/data/", spec.params(key, offset))
            except HttpStatusError as exc:
                if exc.status in (401, 403):
                    raise HttpStatusError(
                        f"EIA: the API key was refused (HTTP {exc.status}); check --api-key or ${API_KEY_ENV}",
                        exc.status,
                        client.public_url(exc.url),
                    ) from None
                if exc.status in (400, 404):
                    raise HttpStatusError(
                        f"EIA: the API rejected the request for {spec.kind}:{spec.state} (HTTP {exc.status});"
                        " check the state, sector and frequency in the series spec",
                        exc.status,
                        client.public_url(exc.url),
                    ) from None
                raise HttpStatusError(
                    _redacted(exc, key), exc.status, client.public_url(exc.url)
                ) from None
            except FetchError as exc:
                raise FetchError(_redacted(exc, key)) from None
            page, total, page_notes = parse_response(payload, spec, entity_id)
            rows += page
            notes += [f"{spec.kind}:{spec.state}: {n}" for n in page_notes[:10]]
            count = len(payload["response"]["data"])
            offset += count
            pages += 1
            if count == 0 or offset >= total:
                break
            if pages >= MAX_PAGES:
                notes.append(
                    f"{spec.kind}:{spec.state}: stopped after {pages} pages of {PAGE_LENGTH} rows"
                )
                break
        if not any(r for r in rows if r["metric"] in spec.columns.values()):
            notes.append(f"{spec.kind}:{spec.state}: no observations")
    return rows, notes
