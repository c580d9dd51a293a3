"""The divergence flags on seeded simulations with known answers (benchmarks/divergence_sim.py).

Small panels, the analysis stage's own functions, default threshold and run length, real-time
mode. The full calibration (hundreds of entities, power curves, the grid) is
benchmarks/bench_divergence.py; these tests pin its qualitative findings so that a regression
of the method shows up here.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_seed import add_document, story_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import divergence_sim as sim  # noqa: E402

from analyzer.analysis import flags as flag_rules  # noqa: E402

THRESHOLD = flag_rules.DEFAULT_THRESHOLD
MIN_PERIODS = flag_rules.DEFAULT_MIN_PERIODS
SIZES = (0.5, 1.5, 3.0)
LADDER = 4  # planted profiles, each at every size (paired: same seed, same noise)
NULLS = 10
# Share of null entity-years with a flagged period allowed on this small panel (30
# entity-years). The benchmark measures about 5% at the defaults over 870 entity-years; a
# 10-entity panel needs a looser bound (0.25 is 7 of 30), which still fails when flags stop
# requiring the band's lower bound above the threshold (the old rule flagged 30% here).
NULL_BOUND = 0.25


def _ladder_specs() -> list[sim.EntitySpec]:
    specs = []
    for i in range(LADDER):
        direction = sim.DIRECTIONS[i % 2]
        for size in SIZES:
            specs.append(
                sim.EntitySpec(
                    f"ladder-{i}-{size:g}",
                    seed=1000 + i,
                    periods=12,
                    base_stories=20.0,
                    fundamentals=("steady", "flat")[i % 2],
                    planted=sim.Planted(start=6, length=4, size=size, direction=direction),
                )
            )
    return specs


@pytest.fixture(scope="module")
def panel() -> sim.Panel:
    nulls = [sim.EntitySpec(f"null-{i}", seed=500 + i, periods=12) for i in range(NULLS)]
    return sim.simulate_panel(nulls + _ladder_specs(), seed=11)


@pytest.fixture(scope="module")
def realtime(panel: sim.Panel) -> pd.DataFrame:
    return sim.method_divergence(panel, "realtime")


@pytest.fixture(scope="module")
def flags(realtime: pd.DataFrame) -> pd.DataFrame:
    return sim.method_flags(realtime, THRESHOLD, MIN_PERIODS)


def _window(frame: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    start = pd.Timestamp(truth["start_period"])
    end = start + pd.DateOffset(months=3 * (truth["length"] - 1))
    rows = frame[frame["entity"] == truth["entity"]]
    return rows[(rows["period"] >= start) & (rows["period"] <= end)]


# --------------------------------------------------------------------------- the simulator


def test_simulator_is_seeded_and_realistic() -> None:
    specs = sim.null_specs(6, seed=3) + sim.planted_specs((2.0,), (3,), 1, seed=3)
    first, second = sim.simulate_panel(specs, seed=3), sim.simulate_panel(specs, seed=3)
    pd.testing.assert_frame_equal(first.stories, second.stories)
    pd.testing.assert_frame_equal(first.fundamentals, second.fundamentals)
    counts = first.stories.groupby(["entity_id", "period"]).size()
    assert counts.min() >= 2 and counts.median() <= 40
    assert first.stories["source_id"].nunique() > 3
    for name in sim.SCORES:
        assert first.stories[name].between(0, 1).all()
    # A quarter's revenue is filed after the quarter ends.
    assert (first.fundamentals["filed_at"] > first.fundamentals["date"]).all()
    other = sim.simulate_panel(specs, seed=4)
    assert not other.totals["total"].equals(first.totals["total"])


def test_planted_entity_equals_its_null_twin_before_the_window() -> None:
    planted = sim.EntitySpec("twin", seed=77, periods=14, planted=sim.Planted(7, 3, 2.0, "lag"))
    null = sim.with_planted(planted, None)
    a, b = sim.simulate_panel([planted], seed=1), sim.simulate_panel([null], seed=1)
    offset = sim.CALENDAR_PERIODS - planted.periods
    before = lambda frame: frame[frame["t"] < offset + 7].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(before(a.stories), before(b.stories))
    assert not a.stories.equals(b.stories)
    # Growth falls from the quarter reported at the planted start: earlier reports are equal.
    fa, fb = a.fundamentals.set_index("date")["value"], b.fundamentals.set_index("date")["value"]
    changed = fa.index[~np.isclose(fa, fb)]
    assert len(changed) and pd.Timestamp(changed.min()) > pd.Timestamp(
        a.truth["start_period"].iloc[0]
    ) - pd.DateOffset(months=6)


def test_simulated_stories_are_what_the_store_reads_back(store) -> None:
    """Stories written as real documents come back from the store exactly as simulated."""
    specs = [
        sim.EntitySpec(f"store-{i}", seed=40 + i, periods=4, base_stories=6.0) for i in range(2)
    ]
    panel = sim.simulate_panel(specs, seed=5)
    rng = random.Random(5)
    names = {s["id"]: s["name"] for s in sim.SOURCES}
    for story in panel.stories.itertuples():
        day = pd.Timestamp(story.period) + pd.Timedelta(days=int(story.day))
        add_document(
            store,
            story_text(rng, topic=story.entity_id),
            f"{day.date()}T12:00:00+00:00",
            source=names[story.source_id],
            entities=[story.entity_id],
            hype=story.hype,
            growth=story.growth,
            evidence=story.evidence,
            model_version=sim.MODEL_VERSION,
        )
    stored = store.entity_story_scores(sim.FREQ, sim.MODEL_VERSION)
    # Source ids are the store's own; compare through the source's share of each period instead.
    keys = ["entity_id", "period", "hype", "growth", "evidence"]
    expected = panel.stories.assign(documents=1)
    ordered = lambda frame: frame.sort_values(keys)[keys].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(ordered(stored), ordered(expected), check_dtype=False, atol=1e-12)
    per_source = lambda frame: sorted(frame.groupby(["entity_id", "period", "source_id"]).size())  # noqa: E731
    assert per_source(stored) == per_source(expected)
    assert (stored["documents"] == 1).all()


# --------------------------------------------------------------------------- the method


def test_null_entities_rarely_flag(
    panel: sim.Panel, realtime: pd.DataFrame, flags: pd.DataFrame
) -> None:
    result = sim.false_flags(realtime, flags, panel.truth)
    assert result["entity_years"] >= 30
    assert result["rate"] <= NULL_BOUND, result
    # The bound bites: flags on the point estimate (no band) one period above 0.5 break it.
    pointwise = realtime.drop(columns=["divergence_low", "divergence_high"])
    loose = sim.false_flags(realtime, sim.method_flags(pointwise, 0.5, 1), panel.truth)
    assert loose["rate"] > NULL_BOUND, loose


def test_planted_three_sigma_four_quarters_is_detected(
    panel: sim.Panel, realtime: pd.DataFrame, flags: pd.DataFrame
) -> None:
    truth = panel.truth[panel.truth["planted"] & np.isclose(panel.truth["size"], 3.0)]
    table = sim.detections(flags, truth, MIN_PERIODS)
    # The benchmark catches about two thirds of 3-sigma, 3-quarter divergences; these four
    # profiles have 20 stories a quarter, and at least three of them are caught.
    assert table["detected"].sum() >= 3, table
    nulls = realtime[realtime["entity"].str.startswith("null-")]["divergence"].dropna()
    # Those caught stand out: their window's peak exceeds the null entities' 95th percentile.
    caught = truth[truth["entity"].isin(table.loc[table["detected"], "entity"])]
    for spec in caught.itertuples():
        window = _window(realtime, pd.Series(spec._asdict()))
        assert window["divergence"].max() > nulls.quantile(0.95), spec.entity


def test_detection_rises_with_size(
    panel: sim.Panel, realtime: pd.DataFrame, flags: pd.DataFrame
) -> None:
    truth = panel.truth[panel.truth["planted"]]
    table = sim.detections(flags, truth, MIN_PERIODS)
    rate = table.groupby("size")["detected"].mean()
    assert rate[3.0] > rate[0.5]
    assert rate[3.0] >= rate[1.5] >= rate[0.5]
    # Paired profiles: the mean divergence over the planted window grows with the planted size.
    means = {}
    for size in SIZES:
        rows = truth[np.isclose(truth["size"], size)]
        means[size] = np.mean(
            [
                _window(realtime, pd.Series(r._asdict()))["divergence"].mean()
                for r in rows.itertuples()
            ]
        )
    assert means[0.5] < means[1.5] < means[3.0], means
