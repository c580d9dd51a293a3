"""Narrative heat: periods, robust standardisation, EPU-style volume, top-decile language."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from analysis_seed import (
    MODEL_VERSION,
    add_document,
    quarter_starts,
    seed_quarterly_story,
    story_text,
)

from analyzer.analysis.periods import (
    FREQUENCIES,
    day_numbers,
    period_numbers,
    period_start,
    period_starts,
)
from analyzer.analysis.run import heat_from_store
from analyzer.analysis.standardise import robust_z
from analyzer.errors import InputError
from analyzer.pipeline import compute_divergence
from analyzer.storage.analysis import period_sql
from analyzer.views import results

# --------------------------------------------------------------------------- periods

AWKWARD_DAYS = [
    "2024-02-29",
    "2024-03-31",
    "2024-04-01",
    "2023-12-31",
    "2024-01-01",
    "2024-06-30",
    "2024-09-29",
    "2024-09-30",
    "2024-12-31",
    "2021-01-03",
    "2020-12-28",
]


@pytest.mark.parametrize("freq", FREQUENCIES)
def test_sql_and_python_period_starts_agree(store, freq: str) -> None:
    expression = period_sql("?", freq)
    for day in AWKWARD_DAYS:
        for written in (day, f"{day}T23:59:59+09:00", f"{day}T00:00:00Z"):
            from_sql = store.conn.execute(
                f"SELECT {expression}", (written,) * expression.count("?")
            ).fetchone()[0]
            assert from_sql == period_start(written, freq).strftime("%Y-%m-%d"), (freq, written)
    vectorised = period_starts(pd.Series(AWKWARD_DAYS), freq)
    assert [d.strftime("%Y-%m-%d") for d in vectorised] == [
        period_start(d, freq).strftime("%Y-%m-%d") for d in AWKWARD_DAYS
    ]


def test_period_conventions() -> None:
    assert period_start("2024-09-29", "week") == pd.Timestamp(
        "2024-09-23"
    )  # Sunday -> Monday before
    assert period_start("2024-09-30", "week") == pd.Timestamp("2024-09-30")  # a Monday
    assert period_start("2024-11-15", "quarter") == pd.Timestamp("2024-10-01")
    assert period_start("2024-02-29T10:00:00Z", "month") == pd.Timestamp("2024-02-01")


def test_unparsable_dates_have_no_period(store) -> None:
    expression = period_sql("?", "quarter")
    assert (
        store.conn.execute(f"SELECT {expression}", ("soon",) * expression.count("?")).fetchone()[0]
        is None
    )
    assert period_starts(pd.Series(["not a date"]), "month").isna().all()


# --------------------------------------------------------------------------- robust z


def test_robust_z_uses_median_and_mad() -> None:
    z = robust_z([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    # median 4, MAD 2 -> scale 2.9652; mean abs deviation 12/7 -> 2.148: MAD wins.
    assert z[3] == 0.0
    assert z[6] == pytest.approx(3 / (1.4826 * 2))
    assert z[0] == pytest.approx(-z[6])


def test_robust_z_survives_a_long_quiet_spell() -> None:
    # Half the history identical: MAD is 0, the mean absolute deviation is not.
    z = robust_z([0.0] * 10 + [1.0])
    assert z[-1] == pytest.approx(1.0 / (1.2533 * (1.0 / 11)))
    assert np.all(z[:-1] == 0.0)


def test_robust_z_fallbacks_for_short_constant_and_missing() -> None:
    assert robust_z([5.0]).tolist() == [0.0]
    assert robust_z([5.0, 9.0]).tolist() == [0.0, 0.0]
    assert robust_z([2.0, 2.0, 2.0, 2.0]).tolist() == [0.0] * 4
    assert robust_z([]).shape == (0,)
    z = robust_z([1.0, float("nan"), 2.0, 3.0])
    assert math.isnan(z[1]) and z[2] == 0.0
    assert np.isnan(robust_z([float("nan")] * 3)).all()
    assert robust_z([0.0] * 20 + [1e9]).max() == 10.0  # clipped


# --------------------------------------------------------------------------- volume


def test_volume_is_normalised_per_source(store) -> None:
    """A small feed's rising share counts as much as a big feed's flat one (EPU averaging)."""
    quarters = quarter_starts(2022, 6)
    rng = random.Random(5)
    small_counts = [1, 1, 2, 3, 4, 5]
    for i, quarter in enumerate(quarters):
        day = quarter.replace(day=15).isoformat()
        for j in range(100):  # big feed: 10 of 100 stories mention the entity, every quarter
            add_document(
                store,
                story_text(rng),
                f"{day}T00:00:{j % 60:02d}Z",
                source="big",
                entities=["epsilon"] if j < 10 else (),
            )
        for j in range(10):  # small feed: its share rises from 10% to 50%
            add_document(
                store,
                story_text(rng),
                f"{day}T01:00:{j:02d}Z",
                source="small",
                entities=["epsilon"] if j < small_counts[i] else (),
            )
    heat, mix = heat_from_store(store, "quarter", mode="hindsight")
    heat = heat[heat["entity"] == "epsilon"]
    small = np.array(small_counts) / 10
    expected = (1.0 + small / small.std()) / 2  # the big feed is constant: scaled by its mean
    assert heat["volume_index"].to_numpy() == pytest.approx(expected)
    # In real time each source is scaled by its spread so far; the last period knows it all.
    realtime, _ = heat_from_store(store, "quarter")
    realtime = realtime[realtime["entity"] == "epsilon"]
    assert realtime["volume_index"].iloc[-1] == pytest.approx(expected[-1])
    assert realtime["volume_index"].iloc[2] == pytest.approx((1.0 + small[2] / small[:3].std()) / 2)
    pooled = heat["volume_share"].to_numpy()
    assert pooled[-1] / pooled[0] < 1.4  # the big feed drowns the change in a pooled share
    assert heat["volume_index"].iloc[-1] / heat["volume_index"].iloc[0] > 2.0
    assert set(mix["source_id"]) == {store.source_id("big"), store.source_id("small")}
    assert int(mix["stories"].sum()) == int(heat["stories"].sum())


def test_sources_that_never_mention_the_entity_do_not_dilute_it(store) -> None:
    rng = random.Random(6)
    for quarter in quarter_starts(2023, 4):
        day = quarter.replace(day=3).isoformat()
        add_document(store, story_text(rng), f"{day}T00:00:00Z", source="niche", entities=["zeta"])
        add_document(store, story_text(rng), f"{day}T00:00:01Z", source="niche")
        for j in range(5):
            add_document(store, story_text(rng), f"{day}T00:01:{j:02d}Z", source="general")
    heat, _ = heat_from_store(store, "quarter")
    # One mentioning source with a constant 50% share: scaled by its mean to exactly 1.
    assert heat["volume_index"].tolist() == pytest.approx([1.0] * 4)
    assert heat["volume_share"].tolist() == pytest.approx([1 / 7] * 4)


# --------------------------------------------------------------------------- language


def test_top_decile_is_the_mean_of_the_highest_tenth(store) -> None:
    rng = random.Random(7)
    hype = [i / 20 for i in range(20)]  # 0.00 .. 0.95
    rng.shuffle(hype)
    for i, h in enumerate(hype):
        add_document(
            store,
            story_text(rng),
            f"2024-01-{i + 1:02d}T00:00:00Z",
            entities=["eta"],
            hype=h,
            growth=0.1,
            evidence=1.0 - h,
        )
    heat, _ = heat_from_store(store, "quarter")
    row = heat.iloc[0]
    assert row["hype_top"] == pytest.approx((0.95 + 0.90) / 2)  # ceil(20 / 10) = 2 stories
    assert row["hype_mean"] == pytest.approx(np.mean(hype))
    assert row["evidence_top"] == pytest.approx((1.0 + 0.95) / 2)
    assert row["scored"] == 20 and row["stories"] == 20


def test_hype_raises_heat_and_evidence_lowers_it(store) -> None:
    quarters = quarter_starts(2020, 10)
    rising = [0.1 + 0.08 * i for i in range(10)]
    rng = random.Random(8)
    for i, quarter in enumerate(quarters):
        day = quarter.replace(day=5).isoformat()
        for j in range(4):
            add_document(
                store,
                story_text(rng),
                f"{day}T0{j}:00:00Z",
                entities=["hyped"],
                hype=rising[i],
                growth=0.2,
                evidence=0.3,
            )
            add_document(
                store,
                story_text(rng),
                f"{day}T1{j}:00:00Z",
                entities=["proven"],
                hype=0.2,
                growth=0.2,
                evidence=rising[i],
            )
    heat, _ = heat_from_store(store, "quarter", mode="hindsight")
    hyped = heat[heat["entity"] == "hyped"]["heat"].to_numpy()
    proven = heat[heat["entity"] == "proven"]["heat"].to_numpy()
    assert np.all(np.diff(hyped) > 0)
    assert np.all(np.diff(proven) < 0)
    assert hyped[-1] > 1.0 and proven[-1] < -1.0
    # In real time a steady ramp stays unusual against the history so far: hot, not rising.
    heat = results.heat_frame(store, freq="quarter", compute=True)
    hyped = heat[heat["entity"] == "hyped"]["heat"].to_numpy()
    proven = heat[heat["entity"] == "proven"]["heat"].to_numpy()
    assert (hyped[3:] > 1.0).all() and (proven[4:] < -0.5).all()


def test_weights_change_the_index(store) -> None:
    quarters = quarter_starts(2020, 6)
    seed_quarterly_story(store, "theta", quarters, [3] * 6, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    default, _ = heat_from_store(store, "quarter")
    silent, _ = heat_from_store(store, "quarter", weights={"hype": 0.0, "hype_top": 0.0})
    assert default["heat"].iloc[-1] > 1.0
    assert silent["heat"].abs().max() == 0.0  # nothing else moves
    with pytest.raises(InputError):
        heat_from_store(store, "quarter", weights={"sentiment": 1.0})


def test_unscored_entity_gets_volume_only_heat(store) -> None:
    rng = random.Random(9)
    for i, count in enumerate([1, 1, 2, 4, 8]):
        for j in range(count):
            add_document(store, story_text(rng), f"2024-0{i + 1}-10T0{j}:00:00Z", entities=["iota"])
        for j in range(20):  # the corpus: enough stories that a share's binomial error is small
            add_document(store, story_text(rng), f"2024-0{i + 1}-11T00:{j:02d}:00Z")
    heat, _ = heat_from_store(store, "month")
    assert heat["hype_mean"].isna().all() and (heat["scored"] == 0).all()
    assert heat["model_version"].iloc[0] == ""
    assert np.all(np.diff(heat["heat"].to_numpy()) >= 0) and heat["heat"].iloc[-1] > 0


def test_periods_without_the_entity_count_as_zero_volume(store) -> None:
    rng = random.Random(10)
    add_document(store, story_text(rng), "2024-01-10T00:00:00Z", entities=["kappa"], hype=0.5)
    add_document(store, story_text(rng), "2024-02-10T00:00:00Z", hype=0.5)  # corpus only
    add_document(store, story_text(rng), "2024-03-10T00:00:00Z", entities=["kappa"], hype=0.5)
    add_document(
        store, story_text(rng), "2023-06-10T00:00:00Z", hype=0.5
    )  # before kappa's first story
    heat, _ = heat_from_store(store, "month")
    assert [p.strftime("%Y-%m") for p in heat["period"]] == ["2024-01", "2024-02", "2024-03"]
    assert heat["stories"].tolist() == [1, 0, 1]
    assert heat["volume_share"].tolist() == [1.0, 0.0, 1.0]
    assert math.isnan(heat["hype_mean"].iloc[1])


def test_undated_documents_are_left_out(store) -> None:
    add_document(store, "Undated kappa note.", None, entities=["lam"], hype=0.9)  # type: ignore[arg-type]
    heat, _ = heat_from_store(store, "quarter")
    assert heat.empty


def test_model_version_selects_scores(store) -> None:
    add_document(store, "Mu news one.", "2024-01-01T00:00:00Z", entities=["mu"], hype=0.9)
    add_document(
        store,
        "Mu news two.",
        "2024-01-02T00:00:00Z",
        entities=["mu"],
        hype=0.1,
        model_version="other-v2",
    )
    first, _ = heat_from_store(store, "quarter", model_version=MODEL_VERSION)
    second, _ = heat_from_store(store, "quarter", model_version="other-v2")
    assert first["hype_mean"].iloc[0] == pytest.approx(0.9)
    assert second["hype_mean"].iloc[0] == pytest.approx(0.1)
    assert first["stories"].iloc[0] == second["stories"].iloc[0] == 2


def test_materialised_heat_matches_in_memory_heat(store) -> None:
    seed_quarterly_story(store, "nu", quarter_starts(2021, 8), [1, 2, 3, 4, 5, 6, 7, 8], [0.3] * 8)
    in_memory = results.heat_frame(store, "nu", compute=True)
    compute_divergence(store, freq="quarter")
    stored = results.heat_frame(store, "nu")
    pd.testing.assert_frame_equal(
        in_memory.reset_index(drop=True), stored.reset_index(drop=True), check_dtype=False
    )
    mix = results.source_mix(store, "nu")
    assert set(mix["source"]) == {"wire"} and mix["share"].between(0, 1).all()


@pytest.mark.parametrize("freq", ["day", "week", "month", "quarter", "year"])
def test_period_numbers_count_the_calendar_periods(freq: str) -> None:
    days = pd.Series(pd.date_range("2019-12-20", "2021-03-10", freq="D").strftime("%Y-%m-%d"))
    numbers = period_numbers(day_numbers(days), freq)
    starts = [period_start(day, freq) for day in days]
    # Same period start <=> same number, and each new period is the next integer.
    changes = np.r_[False, [a != b for a, b in zip(starts[1:], starts[:-1])]]
    assert (np.diff(numbers) == changes[1:].astype(int)).all()
    assert day_numbers(pd.Series(["not a date", None]))[0] == -1
