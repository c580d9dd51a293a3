"""Divergence, flags, point-in-time fundamentals, lead-lag and Granger on synthetic scenarios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from analysis_seed import (
    MODEL_VERSION,
    add_document,
    add_quarterly_fundamentals,
    quarter_starts,
    seed_quarterly_story,
)

from analyzer.analysis.divergence import (
    divergence_rows,
    fundamental_series,
    growth_rate,
    native_frequency,
)
from analyzer.analysis.flags import flag_runs
from analyzer.analysis.statistics import cross_correlation, granger_test
from analyzer.errors import InputError
from analyzer.pipeline import compute_divergence
from analyzer.views import results

QUARTERS = quarter_starts(2018, 24)
CALM, RAMP = 12, 12
MENTIONS = [2] * CALM + [2 + 2 * (i + 1) for i in range(RAMP)]
HYPE = [0.2] * CALM + [0.2 + 0.04 * (i + 1) for i in range(RAMP)]


def _revenue_with_yoy_growth(growth: list[float]) -> list[float]:
    """Quarterly revenue whose year-over-year growth in quarter t is ``growth[t]`` (t >= 4)."""
    values = [100.0] * 4
    for t in range(4, len(growth)):
        values.append(values[t - 4] * (1.0 + growth[t]))
    return values


@pytest.fixture
def scenario(store):
    """hot: heat rises, revenue flat. together: same heat, revenue growth accelerates with it.
    quiet: covered steadily, no fundamentals."""
    seed_quarterly_story(store, "hot", QUARTERS, MENTIONS, HYPE, seed=1, source="feed-a")
    add_quarterly_fundamentals(store, "hot", "revenue", QUARTERS, [100.0] * len(QUARTERS))
    seed_quarterly_story(store, "together", QUARTERS, MENTIONS, HYPE, seed=2, source="feed-b")
    # Growth follows the same shape as the coverage ramp.
    growth = [0.0] * CALM + [0.06 * (i + 1) for i in range(RAMP)]
    add_quarterly_fundamentals(
        store, "together", "revenue", QUARTERS, _revenue_with_yoy_growth(growth)
    )
    seed_quarterly_story(
        store,
        "quiet",
        QUARTERS,
        [3] * len(QUARTERS),
        [0.3] * len(QUARTERS),
        seed=3,
        source="feed-c",
    )
    compute_divergence(store, freq="quarter")
    return store


def test_heat_rising_over_flat_fundamentals_is_flagged(scenario) -> None:
    frame = results.divergence_frame(scenario, "hot", "revenue")
    assert len(frame) == len(QUARTERS)
    late = frame.tail(4)
    assert late["flagged"].all()
    assert (late["divergence"] > 1.0).all()
    assert not frame.head(CALM)["flagged"].any()
    flags = results.flags(scenario, "hot")
    assert len(flags) == 1
    flag = flags.iloc[0]
    assert flag["end"] == pd.Timestamp(QUARTERS[-1])
    assert flag["periods"] >= 2
    assert flag["peak_value"] == pytest.approx(frame["divergence"].max())


def test_heat_and_growth_rising_together_is_not_flagged(scenario) -> None:
    frame = results.divergence_frame(scenario, "together", "revenue")
    assert not frame["flagged"].any()
    # Growth is read exactly while heat needs a few periods of stories to rise above its
    # sampling noise, so early in the ramp heat lags; once both have moved they agree.
    assert (frame["divergence_low"].dropna() <= 1.0).all()
    assert frame["divergence"].tail(6).abs().max() < 1.0
    # Both series really do rise: the test would be vacuous otherwise.
    assert frame["heat"].iloc[-1] > 1.5
    assert frame["fundamental_growth"].iloc[-1] == pytest.approx(0.72)
    assert results.flags(scenario, "together").empty


def test_entity_without_fundamentals_keeps_heat_rows(scenario) -> None:
    frame = results.divergence_frame(scenario, "quiet")
    assert len(frame) == len(QUARTERS)
    assert frame["metric"].isna().all()
    assert frame["heat"].notna().all()
    assert frame["divergence"].isna().all()
    assert not frame["flagged"].any()


def test_threshold_and_min_periods_reflag_on_read(scenario) -> None:
    default = results.divergence_frame(scenario, "hot", "revenue")
    strict = results.divergence_frame(scenario, "hot", "revenue", threshold=50.0)
    assert default["flagged"].any() and not strict["flagged"].any()
    long_runs = results.flags(scenario, "hot", min_periods=len(QUARTERS) + 1)
    assert long_runs.empty


def test_flag_carries_the_highest_hype_sentences_of_the_span(store) -> None:
    seed_quarterly_story(store, "hot", QUARTERS, MENTIONS, HYPE, seed=4)
    add_quarterly_fundamentals(store, "hot", "revenue", QUARTERS, [100.0] * len(QUARTERS))
    last = QUARTERS[-1].replace(day=20).isoformat()
    loud = "Hot will change everything and revenue could grow a thousandfold."
    other = "Rival Corp is the most revolutionary company that ever existed."
    add_document(
        store,
        f"{loud} {other} Sales were flat.",
        last,
        entities=["hot"],
        hype=0.9,
        sentences=[loud, other, "Sales were flat."],
        sentence_hype=[0.97, 0.99, 0.05],
    )
    # The rival sentence belongs to another entity: only sentence 0 is about "hot".
    store.conn.execute(
        "DELETE FROM sentence_entities WHERE entity_id = 'hot' AND sentence_index != 0"
        " AND document_id = (SELECT MAX(id) FROM documents)"
    )
    compute_divergence(store, freq="quarter")
    flags = results.flags(store, "hot")
    assert len(flags) == 1
    sentences = flags.iloc[0]["top_sentences"]
    assert sentences[0]["text"] == loud
    assert all(s["text"] != other for s in sentences)
    assert sentences[0]["hype"] >= max(s["hype"] for s in sentences)
    frame = results.top_sentences(store, "hot", QUARTERS[-1])
    assert frame.iloc[0]["text"] == loud


def test_top_sentences_fall_back_to_document_tags(store) -> None:
    day = "2024-02-10T09:00:00Z"
    doc = add_document(
        store,
        "Alpha. Beta.",
        day,
        hype=0.5,
        sentences=["Alpha is transformative.", "Beta."],
        sentence_hype=[0.8, 0.1],
    )
    store.upsert_entity({"id": "solo", "name": "Solo"})
    store.tag_document(doc, "solo", method="alias")  # no sentence indices
    frame = results.top_sentences(store, "solo", "2024-01-01", model_version=MODEL_VERSION)
    assert list(frame["text"]) == ["Alpha is transformative.", "Beta."]


# --------------------------------------------------------------------------- point in time


def _rows(values: list[tuple[str, float, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"id": i, "date": d, "value": v, "filed_at": f} for i, (d, v, f) in enumerate(values)]
    )


def test_late_filings_are_not_seen_before_they_are_filed() -> None:
    periods = pd.DatetimeIndex(
        pd.to_datetime(["2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01"])
    )
    rows = _rows(
        [
            ("2019-12-31", 90.0, "2020-02-10"),
            ("2020-03-31", 100.0, "2020-05-10"),
            ("2020-06-30", 110.0, "2020-08-10"),
            ("2020-09-30", 121.0, "2020-11-10"),
        ]
    )
    known, basis = fundamental_series(rows, periods, "quarter", kind="flow", basis="pop")
    assert basis == "pop"
    # Each quarter sees the previous quarter's report, filed during the quarter.
    assert known["level"].tolist() == [90.0, 100.0, 110.0, 121.0]
    assert known.loc["2020-10-01", "growth"] == pytest.approx(0.10)
    hindsight, _ = fundamental_series(
        rows, periods, "quarter", kind="flow", basis="pop", point_in_time=False
    )
    assert hindsight["level"].tolist() == [100.0, 110.0, 121.0, 121.0]


def test_restatements_apply_only_from_their_filing_date() -> None:
    periods = pd.date_range("2020-04-01", "2020-09-01", freq="MS")
    rows = _rows(
        [
            ("2019-12-31", 90.0, "2020-01-20"),
            ("2020-03-31", 100.0, "2020-04-20"),
            ("2020-03-31", 150.0, "2020-08-15"),  # Q1 restated in August
            ("2020-06-30", 165.0, "2020-07-20"),
        ]
    )
    known, _ = fundamental_series(
        rows, pd.DatetimeIndex(periods), "month", kind="flow", basis="pop"
    )
    assert known.loc["2020-04-01", "level"] == 100.0
    assert known.loc["2020-04-01", "growth"] == pytest.approx(100 / 90 - 1)
    assert known.loc["2020-06-01", "level"] == 100.0  # Q2 not filed yet
    # July: Q2 is in, measured against Q1 as first reported.
    assert known.loc["2020-07-01", "level"] == 165.0
    assert known.loc["2020-07-01", "growth"] == pytest.approx(165 / 100 - 1)
    # From August the restated Q1 is the base.
    assert known.loc["2020-08-01", "growth"] == pytest.approx(165 / 150 - 1)
    assert known.loc["2020-09-01", "growth"] == pytest.approx(165 / 150 - 1)


@pytest.mark.parametrize("kind", ["flow", "level"])
def test_each_period_sees_exactly_what_was_filed_by_its_end(kind: str) -> None:
    # Point in time means: a period's value is the whole-history reading of the rows filed by
    # that period's end (the reporting frequency and growth basis stay those of the series). Quarterly reports with random delays and restatements, on a monthly grid.
    rng = np.random.default_rng(7)
    records = []
    for quarter in pd.date_range("2019-03-31", periods=14, freq="QE"):
        value = float(rng.normal(100, 15))
        filed = quarter + pd.Timedelta(days=int(rng.integers(10, 70)))
        records.append((quarter.strftime("%Y-%m-%d"), value, filed.strftime("%Y-%m-%d")))
        if rng.random() < 0.3:
            restated = filed + pd.Timedelta(days=int(rng.integers(30, 200)))
            records.append(
                (quarter.strftime("%Y-%m-%d"), value * 1.1, restated.strftime("%Y-%m-%d"))
            )
    rows = _rows(records)
    periods = pd.DatetimeIndex(pd.date_range("2019-06-01", "2022-12-01", freq="MS"))
    known, basis = fundamental_series(rows, periods, "month", kind=kind)
    assert known["level"].notna().sum() > 30
    for period, end in zip(periods, periods + pd.offsets.MonthEnd(0)):
        filed_by_then = rows[rows["filed_at"] <= end.strftime("%Y-%m-%d")]
        if filed_by_then["date"].nunique() < 3:
            continue  # too few reports to read a reporting frequency from them alone
        expected, _ = fundamental_series(
            filed_by_then, periods, "month", kind=kind, basis=basis, point_in_time=False
        )
        for column in ("level", "growth"):
            want, got = expected.loc[period, column], known.loc[period, column]
            assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want)


def test_flows_sum_and_levels_take_the_last_value_within_a_period() -> None:
    days = pd.date_range("2024-01-01", "2024-04-10", freq="D")
    periods = pd.DatetimeIndex(
        pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"])
    )
    fees = _rows([(d.strftime("%Y-%m-%d"), 1.0, None) for d in days])
    summed, basis = fundamental_series(fees, periods, "month", kind="flow")
    assert basis == "pop"  # daily data: period over period
    assert summed["level"].tolist()[:3] == [31.0, 29.0, 31.0]
    # April holds only 10 of ~30 days: not summed into a fake collapse; March stands in.
    assert summed.loc["2024-04-01", "level"] == 31.0
    prices = _rows([(d.strftime("%Y-%m-%d"), float(i), None) for i, d in enumerate(days)])
    last, _ = fundamental_series(prices, periods, "month", kind="level")
    assert last.loc["2024-01-01", "level"] == 30.0
    assert last.loc["2024-02-01", "level"] == 59.0
    assert last.loc["2024-04-01", "level"] == float(len(days) - 1)


def test_quarterly_reports_on_a_monthly_grid_use_the_latest_report() -> None:
    periods = pd.date_range("2021-01-01", "2021-12-01", freq="MS")
    rows = _rows(
        [
            (f"{y}-{m:02d}-{d}", 100.0 + 10 * i, None)
            for i, (y, m, d) in enumerate(
                [
                    (2020, 3, 31),
                    (2020, 6, 30),
                    (2020, 9, 30),
                    (2020, 12, 31),
                    (2021, 3, 31),
                    (2021, 6, 30),
                    (2021, 9, 30),
                    (2021, 12, 31),
                ]
            )
        ]
    )
    known, basis = fundamental_series(rows, pd.DatetimeIndex(periods), "month", kind="flow")
    assert basis == "yoy"
    assert known.loc["2021-02-01", "level"] == 130.0  # Q4 2020 until March's report
    assert known.loc["2021-03-01", "level"] == 140.0
    assert known.loc["2021-03-01", "growth"] == pytest.approx(140 / 100 - 1)


def test_growth_rate_uses_the_absolute_base() -> None:
    values = pd.Series([-10.0, -5.0, 0.0, 4.0])
    growth = growth_rate(values, 1)
    assert growth.iloc[1] == pytest.approx(0.5)
    assert growth.iloc[2] == pytest.approx(1.0)
    assert math.isnan(growth.iloc[3])  # zero base


def test_native_frequency_is_guessed_from_the_gaps() -> None:
    assert native_frequency(pd.Series(["2024-01-01", "2024-01-02", "2024-01-03"])) == "day"
    assert native_frequency(pd.Series(["2024-01-31", "2024-02-29", "2024-03-31"])) == "month"
    assert native_frequency(pd.Series(["2023-03-31", "2023-06-30", "2023-09-30"])) == "quarter"
    assert native_frequency(pd.Series(["2024-01-01"])) == "unknown"


# --------------------------------------------------------------------------- edge cases


def test_irregular_dates_gaps_and_missing_values_give_defined_results(store) -> None:
    # Documents on irregular days, a whole empty quarter, a fundamental with a missing value.
    days = [
        "2021-01-03",
        "2021-02-17",
        "2021-05-30",
        "2021-06-01",
        "2021-12-24",
        "2022-01-01",
        "2022-03-31",
        "2022-08-15",
    ]
    for i, day in enumerate(days):
        add_document(
            store,
            f"Gamma story number {i} about many things {i * 7}",
            f"{day}T12:00:00Z",
            entities=["gamma"],
            hype=0.1 * (i % 5),
        )
    store.add_fundamentals(
        [
            {"entity_id": "gamma", "metric": "revenue", "date": "2021-03-31", "value": 10.0},
            {"entity_id": "gamma", "metric": "revenue", "date": "2021-06-30", "value": None},
            {"entity_id": "gamma", "metric": "revenue", "date": "2021-12-31", "value": 12.0},
            {"entity_id": "gamma", "metric": "revenue", "date": "2022-06-30", "value": 15.0},
        ]
    )
    compute_divergence(store, freq=["quarter", "month", "week", "day"])
    quarterly = results.divergence_frame(store, "gamma", freq="quarter")
    # 2021-Q3 has no documents at all: it is absent rather than invented.
    assert pd.Timestamp("2021-07-01") not in set(quarterly["period"])
    assert np.isfinite(quarterly["heat"]).all()
    assert quarterly["flagged"].dtype == bool
    for freq in ("month", "week", "day"):
        frame = results.divergence_frame(store, "gamma", freq=freq)
        assert len(frame) == len(results.heat_frame(store, "gamma", freq=freq))
        assert np.isfinite(frame["heat"]).all()


def test_a_single_period_is_defined(store) -> None:
    add_document(
        store, "Delta launches a thing.", "2024-05-05T00:00:00Z", entities=["delta"], hype=0.9
    )
    store.add_fundamentals(
        [{"entity_id": "delta", "metric": "tvl", "date": "2024-05-01", "value": 5.0}]
    )
    summary = compute_divergence(store, freq="quarter")
    assert summary["frequencies"]["quarter"]["heat"] == 1
    frame = results.divergence_frame(store, "delta")
    assert len(frame) == 1
    assert frame["heat"].iloc[0] == 0.0  # nothing to compare against: neutral
    assert frame["fundamental_level"].iloc[0] == 5.0
    assert not frame["flagged"].iloc[0]
    stats = results.explosiveness(store, "delta")
    assert stats["statistic"] is None and "needs at least" in stats["reason"]
    ll = results.lead_lag(store, "delta", "tvl")
    assert ll["best_lag"] is None and ll["granger_heat_to_growth"]["p_value"] is None


def test_reads_before_anything_is_materialised_compute_only_when_asked(store) -> None:
    seed_quarterly_story(store, "hot", QUARTERS, MENTIONS, HYPE, seed=9)
    add_quarterly_fundamentals(store, "hot", "revenue", QUARTERS, [100.0] * len(QUARTERS))
    with pytest.raises(results.NotMaterialised, match="analyzer divergence"):
        results.divergence_frame(store, "hot", "revenue")
    frame = results.divergence_frame(store, "hot", "revenue", compute=True)
    assert frame["flagged"].tail(3).all()
    assert store.conn.execute("SELECT COUNT(*) FROM divergence").fetchone()[0] == 0
    overview = results.entity_overview(store, compute=True)
    assert overview.set_index("entity").loc["hot", "flagged_now"]


def test_entity_recompute_keeps_other_entities(scenario) -> None:
    before = results.divergence_frame(scenario, "together")
    compute_divergence(scenario, freq="quarter", entity="hot", threshold=0.5)
    after = results.divergence_frame(scenario, "together")
    pd.testing.assert_frame_equal(before, after)
    overview = results.entity_overview(scenario).set_index("entity")
    assert overview.loc["hot", "flags"] >= 1 and overview.loc["quiet", "flags"] == 0
    assert overview.loc["quiet", "metrics"] == []


def test_divergence_rows_of_an_empty_corpus_is_empty() -> None:
    heat = pd.DataFrame(columns=["entity", "freq", "model_version", "period", "heat"])
    frame = divergence_rows(heat, pd.DataFrame(), "quarter")
    assert frame.empty and "divergence" in frame.columns


def test_unknown_frequency_is_an_input_error(store) -> None:
    with pytest.raises(InputError):
        results.heat_frame(store, freq="hour")


# --------------------------------------------------------------------------- runs, lead-lag, Granger


def test_flag_runs_need_consecutive_periods_above_threshold() -> None:
    values = [0.5, 1.2, 1.3, 0.9, 1.5, 1.6, 1.7, float("nan"), 2.0, 2.0, 1.1]
    assert flag_runs(values, 1.0, 2) == [(1, 2), (4, 6), (8, 10)]
    assert flag_runs(values, 1.0, 3) == [(4, 6), (8, 10)]
    assert flag_runs(values, 1.55, 2) == [(5, 6), (8, 9)]
    assert flag_runs([], 1.0, 2) == []
    with pytest.raises(InputError):
        flag_runs(values, 1.0, 0)


@pytest.mark.parametrize("lag", [-2, 0, 3])
def test_lead_lag_recovers_a_known_lag(lag: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal(80)
    y = np.full(80, np.nan)
    if lag >= 0:
        y[lag:] = x[: 80 - lag]
    else:
        y[:lag] = x[-lag:]
    y = y + 0.2 * rng.standard_normal(80)
    result = cross_correlation(x, y, max_lag=5)
    assert result.best_lag == lag
    assert result.best_correlation > 0.9


def test_lead_lag_through_the_api_on_stored_series(store) -> None:
    rng = np.random.default_rng(3)
    quarters = quarter_starts(2012, 40)
    mentions = [int(m) for m in rng.integers(1, 12, size=40)]
    seed_quarterly_story(store, "lagged", quarters, mentions, [0.3] * 40, background=12, seed=11)
    compute_divergence(store, freq="quarter", statistics=False)
    heat = results.heat_frame(store, "lagged")["heat"].to_numpy()
    # Revenue growth (period over period) echoes heat two quarters later.
    growth = np.concatenate([[0.0, 0.0], 0.05 * heat[:-2]]) + 0.001 * rng.standard_normal(40)
    revenue = [100.0]
    for g in growth[1:]:
        revenue.append(revenue[-1] * (1 + g))
    add_quarterly_fundamentals(store, "lagged", "revenue", quarters, revenue)
    compute_divergence(store, freq="quarter", growth_basis={"revenue": "pop"})
    result = results.lead_lag(store, "lagged", "revenue", max_lag=4)
    assert result["best_lag"] == 2
    assert result["granger_heat_to_growth"]["p_value"] < 0.01
    assert set(result["correlations"]["lag"]) == set(range(-4, 5))
    assert "spurious" in result["caveat"]


def test_granger_guards_small_samples_and_constant_series() -> None:
    small = granger_test(np.arange(10.0), np.arange(10.0) ** 2, max_lag=2)
    assert small["p_value"] is None and "needs at least" in small["reason"]
    flat = granger_test(np.ones(40), np.arange(40.0), max_lag=2)
    assert flat["p_value"] is None and flat["reason"] == "a series is constant"
    rng = np.random.default_rng(1)
    cause = rng.standard_normal(120)
    effect = np.concatenate([[0.0], cause[:-1]]) + 0.3 * rng.standard_normal(120)
    forward = granger_test(cause, effect, max_lag=2)
    assert forward["p_value"] < 1e-6
    holes = cause.copy()
    holes[50] = np.nan
    partial = granger_test(holes, effect, max_lag=2)
    assert partial["n"] == 69  # the longest stretch without a hole


def test_point_in_time_is_used_by_default_in_the_pipeline(store) -> None:
    seed_quarterly_story(store, "late", QUARTERS[:8], [3] * 8, [0.3] * 8, seed=5)
    add_quarterly_fundamentals(
        store, "late", "revenue", QUARTERS[:8], [100.0 + i for i in range(8)], filed_lag_days=40
    )
    compute_divergence(store, freq="quarter")
    frame = results.divergence_frame(store, "late", "revenue")
    # Filed 40 days after quarter end: each quarter shows the previous quarter's revenue.
    assert frame["fundamental_level"].iloc[1] == 100.0
    assert frame["fundamental_level"].iloc[-1] == 106.0
    with pytest.raises(InputError, match="real-time"):
        compute_divergence(store, freq="quarter", point_in_time=False)
    compute_divergence(store, freq="quarter", mode="hindsight")
    hindsight = results.divergence_frame(store, "late", "revenue")
    assert hindsight["fundamental_level"].iloc[-1] == 107.0
    assert set(hindsight["mode"]) == {"hindsight"}


def test_real_daily_tvl_series_on_a_monthly_heat(store, realdata) -> None:
    """A real DeFiLlama TVL history (daily points plus an intraday last point) as a level metric."""
    import json
    from datetime import datetime, timezone

    path = (
        realdata
        / "financial/defillama/bma-d-defillama-extract/api-cache/protocols/drift-trade.json"
    )
    if not path.is_file():
        pytest.skip("DeFiLlama sample not present")
    points = json.loads(path.read_text(encoding="utf-8"))["tvl"]
    rows = [
        {
            "entity_id": "drift",
            "metric": "tvl",
            "source": "defillama",
            "unit": "USD",
            "date": datetime.fromtimestamp(p["date"], tz=timezone.utc).strftime("%Y-%m-%d"),
            "value": float(p["totalLiquidityUSD"]),
        }
        for p in points
    ]
    store.add_fundamentals(rows)
    months = pd.date_range(rows[0]["date"][:7] + "-01", rows[-1]["date"][:10], freq="MS")
    for i, month in enumerate(months):
        add_document(
            store,
            f"Drift update number {i}: volumes, vaults and perps {i * 13}.",
            f"{month.strftime('%Y-%m')}-15T12:00:00Z",
            entities=["drift"],
            hype=0.2 + 0.01 * (i % 7),
        )
    compute_divergence(store, freq="month")
    frame = results.divergence_frame(store, "drift", "tvl", freq="month")
    assert len(frame) == len(months)
    assert set(frame["growth_basis"]) == {"pop"}
    by_day = {r["date"]: r["value"] for r in rows}  # the last point of a day wins
    month = frame.iloc[len(frame) // 2]
    in_month = sorted(d for d in by_day if d.startswith(month["period"].strftime("%Y-%m")))
    assert month["fundamental_level"] == pytest.approx(by_day[in_month[-1]])
    assert frame["fundamental_growth"].iloc[1:].notna().mean() > 0.9
    stats = results.explosiveness(store, "drift", "tvl", freq="month")
    assert stats["n"] == len(months) and (stats["statistic"] is None) == (len(months) < 20)


# --------------------------------------------------------------------------- synthetic scenarios with known answers
# Stories are simulated directly (the pure functions need no database): one row per story with
# its source and scores; the corpus has BACKGROUND other stories per source and quarter.

SIM_QUARTERS = pd.date_range("2021-01-01", periods=12, freq="QS")
BACKGROUND = 60


def _stories(
    entity: str,
    counts: list[int],
    hype: list[float],
    evidence: list[float],
    rng: np.random.Generator,
    sources: int = 2,
) -> pd.DataFrame:
    rows = []
    for period, n, h, e in zip(SIM_QUARTERS, counts, hype, evidence):
        for _ in range(n):
            rows.append(
                {
                    "entity_id": entity,
                    "period": period,
                    "source_id": int(rng.integers(1, sources + 1)),
                    "documents": 1,
                    "hype": float(np.clip(rng.normal(h, 0.12), 0, 1)),
                    "growth": float(np.clip(rng.normal(0.25, 0.1), 0, 1)),
                    "evidence": float(np.clip(rng.normal(e, 0.12), 0, 1)),
                }
            )
    return pd.DataFrame(rows)


def _totals(
    stories: pd.DataFrame, periods: pd.DatetimeIndex = SIM_QUARTERS, sources: int = 2
) -> pd.DataFrame:
    own = stories.groupby(["source_id", "period"]).size()
    rows = [
        {"source_id": s, "period": p, "total": BACKGROUND + int(own.get((s, p), 0))}
        for s in range(1, sources + 1)
        for p in periods
    ]
    return pd.DataFrame(rows)


def _revenue(entity: str, values: list[float], filed_lag_days: int = 30) -> list[dict[str, object]]:
    rows = []
    for i, (period, value) in enumerate(zip(SIM_QUARTERS, values)):
        end = period + pd.offsets.QuarterEnd(0)
        rows.append(
            {
                "id": i,
                "entity_id": entity,
                "metric": "revenue",
                "date": end.strftime("%Y-%m-%d"),
                "value": value,
                "unit": "USD",
                "source": "sim",
                "filed_at": (end + pd.Timedelta(days=filed_lag_days)).strftime("%Y-%m-%d"),
            }
        )
    return rows


def _steady_revenue(rng: np.random.Generator) -> list[float]:
    values = [100.0]
    for _ in range(len(SIM_QUARTERS) - 1):
        values.append(values[-1] * (1.08 + rng.normal(0, 0.01)))
    return values


def _analyse(
    stories: pd.DataFrame,
    fundamentals: list[dict[str, object]],
    mode: str = "realtime",
    resamples: int = 200,
) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    from analyzer.analysis.flags import detect_flags
    from analyzer.analysis.heat import compute_heat

    heat, _ = compute_heat(
        None, _totals(stories), "quarter", "sim", stories=stories, mode=mode, resamples=resamples
    )
    frame = pd.DataFrame(fundamentals)
    frame["id"] = range(len(frame))
    divergence = divergence_rows(heat, frame, "quarter", mode=mode)
    flagged, found = detect_flags(divergence)
    divergence["flagged"] = flagged
    return heat, divergence, found


@pytest.fixture(scope="module")
def simulated_run():
    """Twelve quarters: 12 steady growers (8%/quarter +-1%, one sober mix, 8 stories a quarter),
    6 flat and sober null entities, and one entity whose coverage turns exuberant over its last
    four quarters while revenue stays flat."""
    rng = np.random.default_rng(11)
    parts, fundamentals = [], []
    for i in range(12):
        parts.append(_stories(f"steady{i}", [8] * 12, [0.2] * 12, [0.5] * 12, rng))
        fundamentals += _revenue(f"steady{i}", _steady_revenue(rng))
    for i in range(6):
        parts.append(
            _stories(
                f"flat{i}", [int(n) for n in rng.integers(6, 14, 12)], [0.2] * 12, [0.5] * 12, rng
            )
        )
        fundamentals += _revenue(f"flat{i}", [100.0 * (1 + rng.normal(0, 0.01)) for _ in range(12)])
    parts.append(
        _stories(
            "hyped", [8] * 8 + [12, 14, 16, 18], [0.2] * 8 + [0.7] * 4, [0.5] * 8 + [0.2] * 4, rng
        )
    )
    fundamentals += _revenue("hyped", [100.0] * 12)
    stories = pd.concat(parts, ignore_index=True)
    return (stories, fundamentals, *_analyse(stories, fundamentals))


def test_a_steady_grower_with_small_noise_never_diverges_by_more_than_two(simulated_run) -> None:
    _, _, _, divergence, found = simulated_run
    steady = divergence[divergence["entity"].str.startswith("steady")]
    assert steady["divergence"].notna().sum() > 12 * 6  # growth known from the second year on
    assert steady["divergence"].abs().max() <= 2.0
    assert not steady["flagged"].any()
    assert not [f for f in found if f.entity.startswith(("steady", "flat"))]


def test_a_sober_to_exuberant_entity_over_flat_revenue_is_flagged_above_every_null(
    simulated_run,
) -> None:
    _, _, _, divergence, found = simulated_run
    hyped = divergence[divergence["entity"] == "hyped"].sort_values("period")
    assert hyped["flagged"].tail(2).all() and not hyped["flagged"].head(8).any()
    nulls = divergence[divergence["entity"] != "hyped"]
    assert hyped["divergence"].max() > nulls["divergence"].max()
    (flag,) = [f for f in found if f.entity == "hyped"]
    assert flag.end == "2023-10-01" and flag.mode == "realtime"
    assert 0.5 < flag.confidence <= 1.0
    assert flag.peak_low is not None and flag.peak_low < flag.peak_value < flag.peak_high


def test_bands_widen_as_story_counts_fall() -> None:
    rng = np.random.default_rng(5)
    counts = [40, 2, 20, 5, 10, 40, 2, 20, 5, 10, 40, 2]
    stories = _stories("fading", counts, [0.3] * 12, [0.4] * 12, rng)
    for mode in ("hindsight", "realtime"):
        heat, _ = compute_heat_for(stories, mode=mode)
        width = pd.Series((heat["heat_high"] - heat["heat_low"]).to_numpy()[2:])
        by_count = width.groupby(np.asarray(counts[2:])).mean()
        assert by_count.index.tolist() == [2, 5, 10, 20, 40]
        # Volume's binomial error grows with the share, so neighbouring counts can swap; the
        # language scores' error dominates across the range.
        assert by_count.idxmax() == 2 and by_count[2] > by_count[10] > by_count[40], (
            mode,
            by_count,
        )
        assert heat["reliable"].tolist() == [n >= 5 for n in counts]
        assert (heat["heat_low"] <= heat["heat"]).all() and (
            heat["heat"] <= heat["heat_high"]
        ).all()


def compute_heat_for(stories: pd.DataFrame, **kwargs: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    from analyzer.analysis.heat import compute_heat

    periods = pd.DatetimeIndex(sorted(stories["period"].unique()))
    return compute_heat(
        None, _totals(stories, periods), "quarter", "sim", stories=stories, **kwargs
    )


def test_bands_are_seeded_and_deterministic() -> None:
    stories = _stories("e", [6] * 12, [0.3] * 12, [0.4] * 12, np.random.default_rng(2))
    first, _ = compute_heat_for(stories)
    again, _ = compute_heat_for(stories)
    other, _ = compute_heat_for(stories, seed=7)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["heat_low"], other["heat_low"])
    assert np.allclose(
        first["heat"], other["heat"]
    )  # the point estimate does not depend on the seed


def test_realtime_values_do_not_change_when_later_periods_arrive_and_hindsight_ones_do() -> None:
    rng = np.random.default_rng(9)
    stories = pd.concat(
        [
            _stories(
                "a",
                [int(n) for n in rng.integers(4, 12, 12)],
                list(rng.uniform(0.1, 0.6, 12)),
                [0.4] * 12,
                rng,
            ),
            _stories(
                "b", [6] * 8 + [12, 14, 16, 18], [0.2] * 8 + [0.7] * 4, [0.5] * 8 + [0.2] * 4, rng
            ),
        ],
        ignore_index=True,
    )
    fundamentals = _revenue("a", _steady_revenue(rng)) + _revenue("b", [100.0] * 12)
    early = stories[stories["period"] < SIM_QUARTERS[8]]
    early_fundamentals = [r for r in fundamentals if r["date"] < "2023-01-01"]
    columns = [
        "heat",
        "heat_low",
        "heat_high",
        "growth_z",
        "divergence",
        "divergence_low",
        "divergence_high",
    ]
    for mode in ("realtime", "hindsight"):
        _, full, _ = _analyse_periods(stories, fundamentals, mode)
        _, part, _ = _analyse_periods(early, early_fundamentals, mode)
        merged = part.merge(full, on=["entity", "metric", "period"], suffixes=("_part", "_full"))
        assert len(merged) == len(part) == 16
        same = all(
            np.allclose(merged[f"{c}_part"], merged[f"{c}_full"], equal_nan=True) for c in columns
        )
        if mode == "realtime":
            assert same, "a real-time value changed when later periods were added"
        else:
            assert not same, "hindsight should revise earlier periods once later ones arrive"


def _analyse_periods(stories: pd.DataFrame, fundamentals: list[dict[str, object]], mode: str):
    from analyzer.analysis.flags import detect_flags

    heat, _ = compute_heat_for(stories, mode=mode)
    frame = pd.DataFrame(fundamentals)
    frame["id"] = range(len(frame))
    divergence = divergence_rows(heat, frame, "quarter", mode=mode)
    flagged, found = detect_flags(divergence)
    return heat, divergence.assign(flagged=flagged), found


def test_short_histories_are_neither_wild_nor_pinned_at_zero() -> None:
    """A new entity's first periods borrow the pooled reference of the others (empirical Bayes)."""
    rng = np.random.default_rng(4)
    parts = [_stories(f"old{i}", [8] * 12, [0.2] * 12, [0.5] * 12, rng) for i in range(5)]
    newcomer = _stories(
        "new", [0] * 9 + [10, 10, 10], [0.2] * 9 + [0.75] * 3, [0.5] * 9 + [0.2] * 3, rng
    )
    heat, _ = compute_heat_for(pd.concat([*parts, newcomer], ignore_index=True))
    new = heat[heat["entity"] == "new"]
    assert len(new) == 3
    # Loud against how everyone else sounds, not pinned at 0; once its own history is long
    # enough, its own level becomes its reference.
    assert (new["heat"].head(2) > 1.0).all() and new["z_hype"].iloc[0] > 0.5
    assert new["heat"].abs().max() < 10.0  # and never a z from a scale estimated on two points
    assert np.isfinite(new[["heat", "heat_low", "heat_high"]].to_numpy()).all()


def test_an_entity_without_fundamentals_and_a_single_period_give_defined_bands() -> None:
    rng = np.random.default_rng(3)
    lone = _stories("lone", [7] + [0] * 11, [0.4] * 12, [0.4] * 12, rng)
    heat, divergence, found = _analyse(lone, [])
    assert len(heat) == 12 and heat["heat"].iloc[0] == 0.0
    assert np.isfinite(heat[["heat", "heat_low", "heat_high"]].to_numpy()).all()
    assert divergence["metric"].isna().all() and divergence["divergence"].isna().all() and not found
