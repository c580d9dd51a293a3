"""Checking claims against what happened: pure functions over DataFrames.

:func:`check_claims` takes claims (as extracted), fundamentals rows (as stored) and a check
date, and says for each claim:

- ``pending`` when the horizon is not reached, or none could be read (the reason says which);
- ``unverifiable`` when no matching fundamental exists, the units contradict each other, or a
  currency would need a rate that was not given (the reason says which);
- ``met`` or ``missed`` otherwise, with the realised change over the claimed period and the
  ratio realised / claimed.

The check is point-in-time: it sees only values filed by the check date (``filed_at``; a
value without a filing date counts as known on its own date), and for each period the last
such filing. The baseline is the claim's own ("from $2 million to $10 million") or the latest
value known at publication. Flows (revenue, capex, fees, electricity sales) are compared as
trailing-year totals, levels (TVL, price, capacity) as the latest value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from analyzer.claims.vocabulary import FLOW_METRICS, FUNDAMENTAL_METRICS
from analyzer.errors import InputError

STATUSES = ("met", "missed", "pending", "unverifiable")
CHECK_COLUMNS = (
    "claim_key",
    "extractor_version",
    "status",
    "status_reason",
    "claimed_change_checked",
    "realised_change",
    "ratio",
    "checked_metric",
    "checked_unit",
    "baseline_checked",
    "baseline_date",
    "realised_value",
    "realised_date",
    "check_date",
)
# Unit families: a claim's unit and a series' unit must share one to be compared.
_UNIT_SCALES: dict[str, tuple[str, float]] = {
    "twh": ("energy", 1.0),
    "gwh": ("energy", 1e-3),
    "mwh": ("energy", 1e-6),
    "kwh": ("energy", 1e-9),
    "million kwh": ("energy", 1e-3),
    "thousand mwh": ("energy", 1e-3),
    "billion kwh": ("energy", 1.0),
    "gw": ("power", 1.0),
    "mw": ("power", 1e-3),
    "kw": ("power", 1e-6),
    "megawatts": ("power", 1e-3),
    "gigawatts": ("power", 1.0),
}
_CURRENCIES = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CNY", "CAD", "AUD", "HKD", "SGD", "TWD", "KRW", "INR", "CHF"}
)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _day(value: Any) -> date | None:
    if _missing(value):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _unit_family(unit: str | None) -> tuple[str, float] | None:
    if not unit:
        return None
    text = unit.strip()
    if text.upper() in _CURRENCIES:
        return ("currency:" + text.upper(), 1.0)
    return _UNIT_SCALES.get(text.lower())


def point_in_time(fundamentals: Any, as_of: date) -> Any:
    """Rows known on ``as_of``: filed by then (or dated by then when no filing date), last filing per period."""
    import pandas as pd

    if fundamentals is None or len(fundamentals) == 0:
        return pd.DataFrame(
            columns=["entity_id", "metric", "date", "value", "unit", "source", "filed_at"]
        )
    frame = fundamentals.copy()
    frame["filed_at"] = frame["filed_at"].where(
        frame["filed_at"].notna() & (frame["filed_at"] != ""), None
    )
    known = frame["filed_at"].fillna(frame["date"]).astype(str).str[:10]
    frame = frame[known <= as_of.isoformat()].copy()
    frame["_known"] = known[known <= as_of.isoformat()]
    frame = frame.sort_values(["entity_id", "metric", "date", "_known"])
    frame = frame.drop_duplicates(["entity_id", "metric", "date", "source"], keep="last")
    return frame.drop(columns="_known")


def _candidate_metrics(metric: str, available: list[str]) -> list[str]:
    wanted = FUNDAMENTAL_METRICS.get(metric, ())
    out: list[str] = []
    for name in wanted:
        if name.endswith("*"):
            out += sorted(m for m in available if m.startswith(name[:-1]) and m not in out)
        elif name in available and name not in out:
            out.append(name)
    return out


def _spacing_days(dates: list[date]) -> float:
    if len(dates) < 2:
        return 365.0
    gaps = sorted((b - a).days for a, b in zip(dates, dates[1:]) if (b - a).days > 0)
    return float(gaps[len(gaps) // 2]) if gaps else 365.0


def _trailing(
    series: list[tuple[date, float]], index: int, flow: bool, spacing: float
) -> float | None:
    """A flow's trailing-year total ending at ``series[index]``, a level's value there."""
    end_date, value = series[index]
    if not flow or spacing >= 300:
        return value
    window = [
        v for d, v in series[: index + 1] if d > end_date - timedelta(days=365 - int(spacing / 2))
    ]
    return float(sum(window)) if len(window) >= round(365 / spacing) else None


# The latest value known at publication may be a year old (an annual series, a slow release);
# older than this it says little about the baseline.
MAX_BASELINE_AGE_DAYS = 400


def _measure(series: list[tuple[date, float]], when: date, flow: bool) -> tuple[float, date] | None:
    """The latest value known at ``when`` (at most a year or so old), as :func:`_trailing`."""
    spacing = _spacing_days([d for d, _ in series])
    upto = [i for i, (d, _) in enumerate(series) if d <= when]
    if not upto or when - series[upto[-1]][0] > timedelta(
        days=max(MAX_BASELINE_AGE_DAYS, int(spacing * 1.5))
    ):
        return None
    value = _trailing(series, upto[-1], flow, spacing)
    return None if value is None else (value, series[upto[-1]][0])


def _measure_near(
    series: list[tuple[date, float]], when: date, flow: bool
) -> tuple[float, date] | None:
    """The value for the period that ends nearest ``when`` (within half a period either side).

    A claim "by the end of 2024" is judged on the period ending on 2024-12-31, or for a fiscal
    calendar the quarter ending nearest it (late January for a January year-end).
    """
    spacing = _spacing_days([d for d, _ in series])
    reach = timedelta(days=int(spacing / 2) + 3)
    near = [i for i, (d, _) in enumerate(series) if abs(d - when) <= reach]
    if not near:
        return None
    index = min(near, key=lambda i: (abs(series[i][0] - when), series[i][0] > when))
    value = _trailing(series, index, flow, spacing)
    return None if value is None else (value, series[index][0])


def is_flow_metric(series_metric: str) -> bool:
    """Whether a fundamentals series is a flow (summed over a year when checked) or a level."""
    return (
        series_metric in FLOW_METRICS
        or series_metric.split("_annual")[0] in FLOW_METRICS
        or series_metric.startswith("electricity_sales")
    )


def measured_series(rows: Any, series_metric: str) -> Any:
    """A fundamentals series as the check measures it: trailing-year totals for a flow, values for a level.

    ``rows`` has ``date`` and ``value`` (one entity and metric, as stored). Returns a DataFrame
    with ``date`` (ISO) and ``value``; a flow's dates without a full year behind them are left
    out. This is the scale of a checked claim's baseline and realised values, so a claimed
    path can be drawn over it.
    """
    import pandas as pd

    if rows is None or len(rows) == 0:
        return pd.DataFrame(columns=["date", "value"])
    series = sorted(
        (d, v)
        for d, v in zip(rows["date"].map(_day), rows["value"].map(_number))
        if d is not None and v is not None
    )
    flow = is_flow_metric(str(series_metric))
    spacing = _spacing_days([d for d, _ in series])
    out = [
        (d.isoformat(), value)
        for index, (d, _) in enumerate(series)
        if (value := _trailing(series, index, flow, spacing)) is not None
    ]
    return pd.DataFrame(out, columns=["date", "value"])


def _years(start: date, end: date) -> float:
    return (end - start).days / 365.25


def check_claim(
    claim: Mapping[str, Any],
    fundamentals: Any,
    check_date: date,
    *,
    fx_rates: Mapping[str, float] | None = None,
    tolerance: float = 0.0,
) -> dict[str, Any]:
    """Check one claim (a mapping of claim fields) against point-in-time fundamentals."""
    claim = {k: (None if _missing(v) else v) for k, v in claim.items()}
    result = _unchecked_result(claim, check_date)

    def done(status: str, reason: str | None) -> dict[str, Any]:
        result["status"], result["status_reason"] = status, reason
        return result

    published = _day(claim.get("published_at"))
    horizon = _day(claim.get("horizon"))
    waiting = _pending_reason(claim, published, horizon, check_date)
    if waiting is not None:
        return done("pending", waiting)
    kind = claim.get("magnitude_kind")
    if kind == "share":
        return done("unverifiable", "a share of a total cannot be checked against one series")
    entity = claim.get("entity_id")
    if _missing(entity):
        return done("unverifiable", "the claim names no entity")
    metric = str(claim.get("metric") or "other")
    if metric == "other" or metric not in FUNDAMENTAL_METRICS:
        return done("unverifiable", f"no fundamentals series measures the metric {metric!r}")

    found = _chosen_series(fundamentals, entity, metric)
    if isinstance(found, str):
        return done("unverifiable", found)
    chosen, series_rows = found
    series_unit = _series_unit(series_rows)
    series = _dated_values(series_rows)
    result["checked_metric"], result["checked_unit"] = chosen, series_unit
    flow = is_flow_metric(chosen)

    target = _number(claim.get("magnitude_value"))
    baseline_explicit = _number(claim.get("baseline_value"))
    if kind == "absolute":
        scale = _unit_scale(claim, chosen, series_unit, fx_rates)
        if isinstance(scale, str):
            return done("unverifiable", scale)
        if target is None:
            return done("unverifiable", "the claim's target value is missing")
        target *= scale
        if baseline_explicit is not None:
            baseline_explicit *= scale

    if baseline_explicit is not None:
        baseline, baseline_date = baseline_explicit, published
    else:
        known = _known_at_publication(series_rows, published, flow)
        if known is None:
            return done(
                "unverifiable",
                f"no {chosen} value for {entity!r} known at publication ({published.isoformat()})",
            )
        baseline, baseline_date = known
    if baseline <= 0:
        return done(
            "unverifiable",
            f"the baseline {chosen} value is {baseline:g}; a change cannot be measured from it",
        )
    realised_at = _measure_near(series, horizon, flow)
    if realised_at is None:
        if check_date - horizon < timedelta(days=200):
            return done(
                "pending",
                f"no {chosen} value for the period ending {horizon.isoformat()} filed by {check_date.isoformat()}",
            )
        return done("unverifiable", f"no {chosen} value near the horizon {horizon.isoformat()}")
    realised_value, realised_date = realised_at
    if realised_date <= baseline_date:
        return done(
            "pending",
            f"no {chosen} value after the baseline ({baseline_date.isoformat()}) filed by {check_date.isoformat()}",
        )

    claimed = _claimed_change(claim, target, baseline, baseline_date, horizon)
    if claimed is None or claimed <= 0:
        return done("unverifiable", "the claimed change could not be computed")
    realised = realised_value / baseline
    result.update(
        claimed_change_checked=claimed,
        realised_change=realised,
        ratio=realised / claimed,
        baseline_checked=baseline,
        baseline_date=baseline_date.isoformat(),
        realised_value=realised_value,
        realised_date=realised_date.isoformat(),
    )
    met = _is_met(claimed, realised, claim.get("direction"), tolerance)
    return done("met" if met else "missed", None)


def _unchecked_result(claim: Mapping[str, Any], check_date: date) -> dict[str, Any]:
    """A check result before anything is known: pending, with only the claim's own numbers."""
    return {
        "claim_key": claim.get("claim_key"),
        "extractor_version": claim.get("extractor_version"),
        "status": "pending",
        "status_reason": None,
        "claimed_change_checked": _number(claim.get("claimed_change")),
        "realised_change": None,
        "ratio": None,
        "checked_metric": None,
        "checked_unit": None,
        "baseline_checked": None,
        "baseline_date": None,
        "realised_value": None,
        "realised_date": None,
        "check_date": check_date.isoformat(),
    }


def _pending_reason(
    claim: Mapping[str, Any], published: date | None, horizon: date | None, check_date: date
) -> str | None:
    """Why the claim cannot be judged yet (its horizon unknown or not reached), or None."""
    if horizon is None:
        reason = claim.get("horizon_error")
        reason = "no horizon stated" if _missing(reason) else reason
        if not _missing(claim.get("horizon")):
            reason = f"unreadable horizon {claim.get('horizon')!r}"
        return str(reason)
    if published is None:
        return "the claim has no publication date"
    if horizon > check_date:
        return f"horizon {horizon.isoformat()} not reached on {check_date.isoformat()}"
    return None


def _chosen_series(fundamentals: Any, entity: Any, metric: str) -> tuple[str, Any] | str:
    """The entity's series that measures ``metric`` and its rows by date, or why there is none."""
    if fundamentals is None or len(fundamentals) == 0:
        return f"entity {entity!r} has no fundamentals"
    rows = fundamentals[fundamentals["entity_id"] == entity]
    if len(rows) == 0:
        return f"entity {entity!r} has no fundamentals"
    candidates = _candidate_metrics(metric, sorted(set(rows["metric"])))
    if not candidates:
        return f"entity {entity!r} has no {metric} series"
    chosen = candidates[0]
    return chosen, rows[rows["metric"] == chosen].sort_values("date")


def _series_unit(rows: Any) -> str | None:
    """The first unit the series' rows state."""
    return next((str(u) for u in rows["unit"] if u is not None and str(u) not in ("", "nan")), None)


def _dated_values(rows: Any) -> list[tuple[date, float]]:
    """(date, value) pairs of fundamentals rows, leaving out undated or non-numeric ones."""
    return [
        (d, float(v))
        for d, v in zip(rows["date"].map(_day), rows["value"])
        if d is not None and _number(v) is not None
    ]


def _known_at_publication(
    series_rows: Any, published: date, flow: bool
) -> tuple[float, date] | None:
    """The series' value as known when the claim was published, the baseline of a claim without one."""
    early = _dated_values(point_in_time(series_rows, published))
    return _measure(early, published, flow) if early else None


def _unit_scale(
    claim: Mapping[str, Any],
    chosen: str,
    series_unit: str | None,
    fx_rates: Mapping[str, float] | None,
) -> float | str:
    """The factor taking an absolute claim's numbers into the series' unit, or why none exists.

    The target must be in the series' unit family; a currency needs an exchange rate.
    """
    claim_unit = claim.get("currency") or claim.get("magnitude_unit")
    baseline_unit = claim.get("baseline_unit")
    if (
        _number(claim.get("baseline_value")) is not None
        and baseline_unit
        and claim.get("magnitude_unit")
        and baseline_unit != claim.get("magnitude_unit")
    ):
        return (
            f"contradictory units: {baseline_unit} baseline, {claim.get('magnitude_unit')} target"
        )
    claim_family, series_family = _unit_family(claim_unit), _unit_family(series_unit)
    if claim_family is None or series_family is None:
        return f"cannot compare {claim_unit or 'a unitless number'} with the {chosen} series ({series_unit or 'no unit'})"
    if claim_family[0] == series_family[0]:
        return claim_family[1] / series_family[1]
    if claim_family[0].startswith("currency:") and series_family[0].startswith("currency:"):
        source_currency = claim_family[0].split(":")[1]
        target_currency = series_family[0].split(":")[1]
        rates = {k.upper(): float(v) for k, v in (fx_rates or {}).items()}
        if source_currency not in rates or target_currency not in rates:
            return f"no exchange rate from {source_currency} to {target_currency}"
        return rates[source_currency] / rates[target_currency]
    return (
        f"contradictory units: the claim is in {claim_unit}, the {chosen} series in {series_unit}"
    )


def _claimed_change(
    claim: Mapping[str, Any],
    target: float | None,
    baseline: float,
    baseline_date: date,
    horizon: date,
) -> float | None:
    """The claimed ratio of the horizon's value to the baseline.

    An absolute target is divided by the baseline, a yearly rate compounded from the baseline's
    date to the horizon; otherwise the claim's own change stands.
    """
    kind = claim.get("magnitude_kind")
    if kind == "absolute":
        return target / baseline if target is not None else None
    if kind == "percent" and claim.get("per_year"):
        rate = _number(claim.get("magnitude_value"))
        sign = -1 if claim.get("direction") == "down" else 1
        return (
            (1 + sign * rate / 100.0) ** max(_years(baseline_date, horizon), 0.0)
            if rate is not None
            else None
        )
    return _number(claim.get("claimed_change"))


def _is_met(claimed: float, realised: float, direction: Any, tolerance: float) -> bool:
    """Whether the realised change reaches the claimed one, ``tolerance`` of the way short."""
    if claimed < 1 or direction == "down":
        return realised <= claimed * (1 + tolerance)
    return realised >= 1 + (claimed - 1) * (1 - tolerance)


def check_claims(
    claims: Any,
    fundamentals: Any,
    *,
    as_of: str | date | None = None,
    fx_rates: Mapping[str, float] | None = None,
    tolerance: float = 0.0,
) -> Any:
    """Check every claim; returns one row per claim with :data:`CHECK_COLUMNS`.

    ``fundamentals`` holds the stored rows (entity_id, metric, date, value, unit, source,
    filed_at); only those known on ``as_of`` (default today) are used. ``fx_rates`` maps a
    currency to its value in a common unit (e.g. USD per unit) for claims in another currency.
    ``tolerance`` (0..1) lets a claim count as met when it reached that much less than the
    claimed growth (0: the full change is needed).
    """
    import pandas as pd

    if not 0.0 <= tolerance < 1.0:
        raise InputError(f"tolerance must be in [0, 1), got {tolerance}")
    if as_of is None:
        check_date = date.today()
    elif isinstance(as_of, date):
        check_date = as_of
    else:
        check_date = _day(as_of)  # type: ignore[assignment]
        if check_date is None:
            raise InputError(f"check date {as_of!r} is not an ISO date (YYYY-MM-DD)")
    if not isinstance(claims, pd.DataFrame):
        raise InputError(f"claims must be a pandas DataFrame, got {type(claims).__name__}")
    if fundamentals is not None and not isinstance(fundamentals, pd.DataFrame):
        fundamentals = pd.DataFrame(list(fundamentals))
    visible = point_in_time(fundamentals, check_date)
    rows = [
        check_claim(claim, visible, check_date, fx_rates=fx_rates, tolerance=tolerance)
        for claim in claims.to_dict("records")
    ]
    return pd.DataFrame(rows, columns=list(CHECK_COLUMNS))


def scorecard(claims: Any, *, as_of: str | date | None = None) -> Any:
    """Per-entity record: claims made, due, met, missed, pending, unverifiable and reliability.

    ``claims`` holds checked claims (``entity_id``, ``horizon``, ``status``). The same sentence
    republished (a syndicated copy, a repeated quote: same ``sentence_hash`` and entity) counts
    once, at its first publication. Reliability is met / (met + missed): the share of
    checkable claims that came true (NaN with none).
    """
    import pandas as pd

    columns = [
        "entity_id",
        "made",
        "due",
        "met",
        "missed",
        "pending",
        "unverifiable",
        "reliability",
    ]
    if claims is None or len(claims) == 0:
        return pd.DataFrame(columns=columns)
    today = (as_of if isinstance(as_of, date) else _day(as_of)) if as_of else date.today()
    frame = claims.copy()
    frame["entity_id"] = frame["entity_id"].fillna("(none)")
    if "sentence_hash" in frame.columns:
        order = ["published_at"] if "published_at" in frame.columns else []
        frame = (
            frame.sort_values(order).drop_duplicates(["entity_id", "sentence_hash"], keep="first")
            if order
            else frame.drop_duplicates(["entity_id", "sentence_hash"])
        )
    frame["_due"] = frame["horizon"].map(lambda h: (d := _day(h)) is not None and d <= today)
    grouped = frame.groupby("entity_id")
    out = pd.DataFrame(
        {
            "made": grouped.size(),
            "due": grouped["_due"].sum(),
            **{
                s: grouped["status"].apply(lambda col, s=s: int((col == s).sum())) for s in STATUSES
            },
        }
    ).reset_index()
    checked = out["met"] + out["missed"]
    out["reliability"] = (out["met"] / checked).where(checked > 0)
    out["due"] = out["due"].astype(int)
    return (
        out[columns]
        .sort_values(["made", "entity_id"], ascending=[False, True])
        .reset_index(drop=True)
    )
