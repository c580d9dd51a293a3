"""CoinGecko market charts: daily price, market cap and volume of a token.

``/coins/{id}/market_chart?vs_currency=usd&days=N`` answers ``prices``, ``market_caps`` and
``total_volumes`` as ``[unix_ms, value]`` pairs. The granularity depends on ``days`` (5-minute
for a day, hourly up to 90 days, daily beyond, with a final "now" point), so every series is
downsampled the same way: the last value of each UTC day.
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import InputError
from analyzer.fundamentals.http import HttpClient, HttpStatusError
from analyzer.fundamentals.values import fundamental_row, utc_day

SOURCE_KEY = "coingecko"
SOURCE_NAME = "CoinGecko"
DEFAULT_BASE_URL = "https://api.coingecko.com/api/v3"
PRO_BASE_URL = "https://pro-api.coingecko.com/api/v3"
RATE_PER_SECOND = 0.5  # the keyless public API allows roughly 30 calls a minute
KEYED_RATE_PER_SECOND = 2.0
DEMO_KEY_HEADER = "x-cg-demo-api-key"
PRO_KEY_HEADER = "x-cg-pro-api-key"
API_KEY_ENV = "ANALYZER_COINGECKO_API_KEY"

SERIES_METRICS = {"prices": "price", "market_caps": "market_cap", "total_volumes": "volume"}


def downsample_daily(points: Any) -> dict[str, float]:
    """The last value of each UTC day from ``[[unix_ms, value], ...]`` (unordered input is fine)."""
    latest: dict[str, tuple[float, float]] = {}
    if not isinstance(points, list):
        return {}
    for point in points:
        try:
            stamp_ms, value = float(point[0]), point[1]
        except (IndexError, TypeError, ValueError):
            continue
        if value is None:
            continue
        day = utc_day(stamp_ms / 1000.0)
        if day not in latest or stamp_ms >= latest[day][0]:
            latest[day] = (stamp_ms, float(value))
    return {day: value for day, (_, value) in sorted(latest.items())}


def parse_market_chart(payload: Any, entity_id: str, *, coin_id: str = "") -> list[dict[str, Any]]:
    """Daily ``price``, ``market_cap`` and ``volume`` rows (USD) from a market_chart response."""
    if not isinstance(payload, dict) or not any(
        isinstance(payload.get(k), list) for k in SERIES_METRICS
    ):
        raise InputError(
            f"CoinGecko: the response for {coin_id!r} has none of {', '.join(SERIES_METRICS)};"
            " expected /coins/{id}/market_chart output"
        )
    rows: list[dict[str, Any]] = []
    for key, metric in SERIES_METRICS.items():
        for day, value in downsample_daily(payload.get(key)).items():
            rows.append(fundamental_row(entity_id, metric, day, value, source=SOURCE_KEY))
    return rows


def client_settings(
    api_key: str | None, pro: bool, base_url: str | None
) -> tuple[str, dict[str, str], float]:
    """Base URL, headers and request rate for the key (if any) the user has."""
    headers = {"accept": "application/json"}
    if api_key:
        headers[PRO_KEY_HEADER if pro else DEMO_KEY_HEADER] = api_key
    if pro and not api_key:
        raise InputError(f"CoinGecko: the pro API needs a key; pass --api-key or set {API_KEY_ENV}")
    default = PRO_BASE_URL if pro else DEFAULT_BASE_URL
    return base_url or default, headers, KEYED_RATE_PER_SECOND if api_key else RATE_PER_SECOND


def fetch_market_chart(
    client: HttpClient, coin_id: str, entity_id: str, *, days: str | int = 365
) -> list[dict[str, Any]]:
    coin_id = coin_id.strip()
    if not coin_id or "/" in coin_id:
        raise InputError(f"CoinGecko: {coin_id!r} is not a coin id (e.g. 'render-token')")
    days_text = str(days).strip().lower()
    if days_text != "max" and not days_text.isdigit():
        raise InputError(f"CoinGecko: days must be a whole number or 'max', got {days!r}")
    try:
        payload = client.get_json(
            f"/coins/{coin_id}/market_chart", {"vs_currency": "usd", "days": days_text}
        )
    except HttpStatusError as exc:
        if exc.status == 404:
            raise HttpStatusError(
                f"CoinGecko: coin {coin_id!r} not found (HTTP 404); use the API id shown on the"
                " coin's page at https://www.coingecko.com (e.g. 'render-token', not 'RENDER')",
                exc.status,
                exc.url,
            ) from exc
        if exc.status in (401, 403):
            raise HttpStatusError(
                f"CoinGecko refused the request (HTTP {exc.status}); check --api-key (demo keys go"
                " to api.coingecko.com, pro keys need --pro) or ask for fewer days",
                exc.status,
                exc.url,
            ) from exc
        raise
    return parse_market_chart(payload, entity_id, coin_id=coin_id)
