"""DefiLlama: protocol TVL, daily fees and daily revenue.

``/protocol/{slug}`` returns a top-level ``tvl`` series of ``{date, totalLiquidityUSD}``, one
point per UTC midnight plus, at the end, an intraday point for "now". Its ``chainTvls`` and
``currentChainTvls`` also hold keys such as ``borrowed``, ``staking``, ``pool2`` and
``Chain-borrowed`` that are *not* part of TVL; summing every key double-counts. So the stored
series is the top-level ``tvl``, with the intraday point dropped (it would overwrite that
day's midnight value with a partial one).

``/summary/fees/{slug}?dataType=dailyFees|dailyRevenue`` returns ``totalDataChart`` as
``[[unix_seconds, usd], ...]``; a point for today is incomplete and is dropped too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from analyzer.errors import InputError
from analyzer.fundamentals.http import HttpClient, HttpStatusError
from analyzer.fundamentals.values import fundamental_row, is_utc_midnight, utc_day

SOURCE_KEY = "defillama"
SOURCE_NAME = "DefiLlama"
DEFAULT_BASE_URL = "https://api.llama.fi"
RATE_PER_SECOND = 5.0

# chainTvls keys that are views on TVL rather than parts of it.
NON_TVL_KEYS = frozenset(
    {
        "borrowed",
        "staking",
        "pool2",
        "vesting",
        "offers",
        "treasury",
        "doublecounted",
        "liquidstaking",
        "dcandlsoverlap",
    }
)
FEE_METRICS = {"dailyFees": "fees", "dailyRevenue": "protocol_revenue"}


def is_tvl_key(key: str) -> bool:
    """True for a plain chain name ("Solana"), false for "borrowed" or "Solana-borrowed"."""
    if key.lower() in NON_TVL_KEYS:
        return False
    _, dash, suffix = key.rpartition("-")
    return not (dash and suffix.lower() in NON_TVL_KEYS)


def current_tvl(payload: dict[str, Any]) -> float:
    """Today's TVL from ``currentChainTvls``, counting each chain once and no borrowed/staking."""
    chains = payload.get("currentChainTvls") or {}
    return float(sum(v for k, v in chains.items() if is_tvl_key(k) and isinstance(v, (int, float))))


def parse_protocol_tvl(
    payload: Any, entity_id: str, *, slug: str = ""
) -> tuple[list[dict[str, Any]], int]:
    """Daily ``tvl`` rows from a ``/protocol/{slug}`` response, and how many intraday points were dropped."""
    if not isinstance(payload, dict) or not isinstance(payload.get("tvl"), list):
        raise InputError(
            f"DefiLlama: the response for protocol {slug!r} has no 'tvl' list; is the slug a"
            " protocol (not a chain)? Check it at https://defillama.com"
        )
    by_day: dict[str, float] = {}
    dropped = 0
    for point in payload["tvl"]:
        if not isinstance(point, dict):
            continue
        try:
            stamp = float(point["date"])
            value = float(point["totalLiquidityUSD"])
        except (KeyError, TypeError, ValueError):
            continue
        if not is_utc_midnight(stamp):
            dropped += 1
            continue
        by_day[utc_day(stamp)] = value
    rows = [
        fundamental_row(entity_id, "tvl", day, value, source=SOURCE_KEY)
        for day, value in sorted(by_day.items())
    ]
    return rows, dropped


def parse_fees_summary(
    payload: Any, entity_id: str, data_type: str, *, slug: str = "", today: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Daily ``fees`` or ``protocol_revenue`` rows from ``/summary/fees/{slug}``; drops today's partial point."""
    metric = FEE_METRICS.get(data_type)
    if metric is None:
        raise InputError(
            f"DefiLlama: unknown dataType {data_type!r}; use one of {sorted(FEE_METRICS)}"
        )
    if not isinstance(payload, dict) or not isinstance(payload.get("totalDataChart"), list):
        raise InputError(
            f"DefiLlama: the {data_type} response for {slug!r} has no 'totalDataChart' list"
        )
    today = today or datetime.now(timezone.utc).date().isoformat()
    by_day: dict[str, float] = {}
    dropped = 0
    for point in payload["totalDataChart"]:
        try:
            stamp, value = float(point[0]), float(point[1])
        except (IndexError, TypeError, ValueError):
            continue
        day = utc_day(stamp)
        if day >= today:
            dropped += 1
            continue
        by_day[day] = value
    return [
        fundamental_row(entity_id, metric, day, value, source=SOURCE_KEY)
        for day, value in sorted(by_day.items())
    ], dropped


def _not_found(what: str, slug: str) -> Callable[[HttpStatusError], HttpStatusError]:
    def explain(exc: HttpStatusError) -> HttpStatusError:
        return HttpStatusError(
            f"DefiLlama: {what} {slug!r} not found (HTTP {exc.status}); check the slug at"
            " https://defillama.com",
            exc.status,
            exc.url,
        )

    return explain


def fetch_protocol(
    client: HttpClient, slug: str, entity_id: str, *, fees: bool = True
) -> tuple[list[dict[str, Any]], list[str]]:
    """TVL (and, when listed, fees and revenue) for one protocol; returns rows and notes."""
    slug = slug.strip()
    if not slug or "/" in slug:
        raise InputError(
            f"DefiLlama: {slug!r} is not a protocol slug; check it at https://defillama.com"
        )
    notes: list[str] = []
    try:
        payload = client.get_json(f"/protocol/{slug}")
    except HttpStatusError as exc:
        # DefiLlama answers an unknown slug with 400 or 404 depending on the endpoint version.
        if exc.status in (400, 404):
            raise _not_found("protocol", slug)(exc) from exc
        raise
    rows, dropped = parse_protocol_tvl(payload, entity_id, slug=slug)
    if dropped:
        notes.append(f"{slug}: dropped {dropped} intraday TVL point(s)")
    if not fees:
        return rows, notes
    for data_type in FEE_METRICS:
        try:
            summary = client.get_json(f"/summary/fees/{slug}", {"dataType": data_type})
        except HttpStatusError as exc:
            # Many protocols have TVL but no fee adapter; that is not an error.
            if exc.status in (400, 404):
                notes.append(f"{slug}: no {FEE_METRICS[data_type]} data on DefiLlama")
                continue
            raise
        fee_rows, _ = parse_fees_summary(summary, entity_id, data_type, slug=slug)
        rows.extend(fee_rows)
    return rows, notes
