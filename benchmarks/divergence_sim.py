"""Seeded simulation of entity histories for calibrating the divergence flags.

Each simulated entity has, per quarter, a number of stories spread over a few sources, one
document-level hype, growth-language and evidence score per story, and quarterly revenue with
realistic filing delays. The output has exactly the shapes the analysis stage reads from the store
(:meth:`analyzer.storage.Store.entity_story_scores`, ``source_totals`` and
``fundamentals_frame``), so the real pipeline functions run on it unchanged.

**Null entities** have no divergence: their narrative moves with its own persistent noise, its
bursts of coverage, its seasonality and slow trends, and in some entities with the growth of
the business; fundamentals are steady growers with small noise, lumpy seasonal revenue, flat or
declining. **Planted** entities are null entities with a divergence added over ``length``
periods, of ``size`` sigma:

* ``lead``: the narrative heats up at the planted start and stays up; the fundamentals catch up
  ``length`` periods later (narrative leading the numbers);
* ``lag``: growth falls at the planted start while the narrative stays where it was and only
  cools ``length`` periods later (narrative lagging behind the numbers).

Either way heat minus growth is raised over the planted periods and about level outside them.

Sigma units. On the narrative side, one sigma is one null standard deviation of the entity's
heat composite: every heat component (volume share, mean hype, mean growth language, mean
evidence (downwards), top-decile hype) is shifted by the same number of its own null robust
standard deviations, chosen so that their weighted sum moves by ``size`` of its null robust
standard deviations. The scales come from the entity's own null twin (the same seed without
the divergence), so they do not depend on the method being calibrated. On the fundamentals
side, one sigma is the entity's null robust standard deviation of year-over-year growth, but at
least ``GROWTH_SIGMA_FLOOR`` (5 percentage points): a 2-point wobble in a steady grower is not
a divergence anyone should flag.

Timing. A quarter's revenue is filed 20-50 days after the quarter ends, so a period sees the
previous quarter's report. Planted fundamentals changes are placed so that the change is first
visible (point in time) at the planted start for ``lag`` and at the end of the window for
``lead``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

FREQ = "quarter"
MODEL_VERSION = "sim"
FIRST_QUARTER = pd.Timestamp("2019-01-01")  # first period of the narrative calendar
CALENDAR_PERIODS = 20  # narrative calendar: 2019Q1 .. 2023Q4
FUNDAMENTAL_LEAD_IN = 8  # quarters of revenue before an entity's coverage starts
GROWTH_SIGMA_FLOOR = 0.05
HEAT_WEIGHTS = {"volume": 1.0, "hype": 1.0, "growth": 1.0, "evidence": -1.0, "hype_top": 1.0}
SCORES = ("hype", "growth", "evidence")
FUNDAMENTAL_KINDS = ("steady", "lumpy", "flat", "declining")
FUNDAMENTAL_SHARES = (0.35, 0.25, 0.2, 0.2)
DIRECTIONS = ("lead", "lag")

# Sources: background stories per quarter and house tone (logit offsets for hype, growth
# language and evidence). A wire is sober, a promotional blog breathless, a trade journal dense
# with evidence.
SOURCES: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "wire", "size": 9000, "hype": -0.5, "growth": -0.2, "evidence": 0.4},
    {"id": 2, "name": "business-daily", "size": 5000, "hype": -0.2, "growth": 0.1, "evidence": 0.3},
    {"id": 3, "name": "tech-blog", "size": 3000, "hype": 0.5, "growth": 0.3, "evidence": -0.3},
    {
        "id": 4,
        "name": "promo-newsletter",
        "size": 800,
        "hype": 1.0,
        "growth": 0.6,
        "evidence": -0.7,
    },
    {"id": 5, "name": "trade-journal", "size": 1500, "hype": -0.6, "growth": 0.0, "evidence": 0.8},
    {"id": 6, "name": "regional-paper", "size": 2500, "hype": 0.0, "growth": -0.1, "evidence": 0.0},
    {"id": 7, "name": "analyst-notes", "size": 600, "hype": -0.3, "growth": 0.4, "evidence": 0.6},
    {"id": 8, "name": "aggregator", "size": 12000, "hype": 0.2, "growth": 0.1, "evidence": -0.1},
)

# How the narrative state moves the story scores (logit units) and the coverage (log rate).
LOADING = {"hype": 0.25, "growth": 0.2, "evidence": -0.15, "volume": 0.15}


@dataclass(frozen=True)
class Planted:
    """A divergence raised over periods ``start .. start + length - 1`` of the entity's history."""

    start: int
    length: int
    size: float
    direction: str = "lead"


@dataclass(frozen=True)
class EntitySpec:
    entity: str
    seed: int
    periods: int = 16  # quarters of coverage, ending at the calendar's last quarter
    planted: Planted | None = None
    fundamentals: str | None = None  # one of FUNDAMENTAL_KINDS; drawn when None
    base_stories: float | None = None  # mean stories per quarter; drawn (3-30) when None


@dataclass
class Panel:
    """Simulated entities in the shapes the analysis stage reads."""

    totals: pd.DataFrame  # as Store.source_totals
    fundamentals: pd.DataFrame  # as Store.fundamentals_frame
    stories: pd.DataFrame  # as Store.entity_story_scores, plus t (period index) and day
    truth: pd.DataFrame  # one row per entity: spec, drawn profile, planted window and scales
    calendar: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([]))


def calendar(periods: int = CALENDAR_PERIODS) -> pd.DatetimeIndex:
    return pd.date_range(FIRST_QUARTER, periods=periods, freq="QS")


def robust_sd(values: np.ndarray) -> float:
    """The larger of 1.4826 * MAD and 1.2533 * mean absolute deviation (normal-consistent)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 3:
        return 0.0
    deviations = np.abs(x - np.median(x))
    return float(max(1.4826 * np.median(deviations), 1.2533 * np.mean(deviations)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """A stationary AR(1) path with unit variance."""
    out = np.empty(n)
    out[0] = rng.normal()
    innovations = rng.normal(size=n) * np.sqrt(1.0 - rho**2)
    for t in range(1, n):
        out[t] = rho * out[t - 1] + innovations[t]
    return out


# --------------------------------------------------------------------------- one entity


@dataclass
class _Profile:
    """Everything about an entity drawn once from its seed (identical for its null twin)."""

    kind: str
    base_rate: float
    season_amp: float
    season_phase: int
    volume_trend: float
    tone_trend: float
    bursts: np.ndarray  # multiplier per period
    gamma: np.ndarray  # negative-binomial mixing per period
    mix: np.ndarray  # periods x sources probabilities
    tone: dict[str, float]
    rho: float
    tracking: float
    state: np.ndarray  # narrative state per period (null)
    revenue: np.ndarray  # true quarterly revenue, lead-in + periods (null)
    growth_path: np.ndarray  # yoy growth parameter per quarter (null)
    obs_noise: np.ndarray  # multiplicative observation noise per quarter
    seed_levels: np.ndarray
    filing_delay: np.ndarray  # days after quarter end


def _draw_profile(spec: EntitySpec) -> _Profile:
    rng = np.random.default_rng([spec.seed, 0])
    n = spec.periods
    q = FUNDAMENTAL_LEAD_IN + n
    kind = spec.fundamentals or str(rng.choice(FUNDAMENTAL_KINDS, p=FUNDAMENTAL_SHARES))
    base = spec.base_stories or float(np.exp(rng.uniform(np.log(3.0), np.log(30.0))))
    season_amp = float(rng.uniform(0.0, 0.25))
    season_phase = int(rng.integers(4))
    volume_trend = float(rng.normal(0.0, 0.02))
    tone_trend = float(rng.normal(0.0, 0.02))
    bursts = np.ones(n)
    t = 0
    while t < n:
        if rng.random() < 0.07:
            span = 1 if rng.random() < 0.7 else 2
            bursts[t : t + span] = rng.uniform(1.8, 3.5)
            t += span
        t += 1
    gamma = rng.gamma(8.0, 1.0 / 8.0, size=n)
    chosen = rng.choice(len(SOURCES), size=int(rng.integers(2, 6)), replace=False)
    weights = np.zeros(len(SOURCES))
    weights[chosen] = rng.dirichlet(np.full(len(chosen), 2.0))
    mix = np.zeros((n, len(SOURCES)))
    for t in range(n):
        mix[t, chosen] = rng.dirichlet(50.0 * weights[chosen] + 1e-3)
    tone = {
        "hype": float(rng.normal(-1.0, 0.4)),
        "growth": float(rng.normal(-0.8, 0.4)),
        "evidence": float(rng.normal(-0.5, 0.5)),
    }
    rho = float(rng.uniform(0.3, 0.8))
    tracking = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.3, 0.7))

    # Fundamentals: true revenue follows R_t = R_{t-4} * (1 + G_t); the first four quarters
    # carry the seasonal pattern; reports carry multiplicative noise.
    if kind == "steady":
        qoq, g_sd, e_sd, s_amp = (
            rng.uniform(0.01, 0.08),
            rng.uniform(0.005, 0.015),
            rng.uniform(0.003, 0.01),
            rng.uniform(0.0, 0.05),
        )
    elif kind == "lumpy":
        qoq, g_sd, e_sd, s_amp = (
            rng.uniform(0.0, 0.05),
            rng.uniform(0.02, 0.05),
            rng.uniform(0.06, 0.15),
            rng.uniform(0.1, 0.3),
        )
    elif kind == "flat":
        qoq, g_sd, e_sd, s_amp = (
            rng.uniform(-0.005, 0.005),
            rng.uniform(0.01, 0.03),
            rng.uniform(0.01, 0.04),
            rng.uniform(0.0, 0.1),
        )
    else:
        qoq, g_sd, e_sd, s_amp = (
            rng.uniform(-0.05, -0.01),
            rng.uniform(0.01, 0.03),
            rng.uniform(0.01, 0.04),
            rng.uniform(0.0, 0.1),
        )
    season = 1.0 + s_amp * np.cos(2 * np.pi * (np.arange(4) - rng.integers(4)) / 4)
    seed_levels = 100.0 * (1.0 + qoq) ** np.arange(4) * season
    drift = np.cumsum(rng.normal(0.0, 0.005, size=q))
    growth_path = (1.0 + qoq) ** 4 - 1.0 + drift + g_sd * _ar1(rng, q, 0.5)
    obs_noise = rng.normal(0.0, e_sd, size=q + 4)
    filing_delay = rng.uniform(20, 50, size=q + 4)
    revenue = _revenue(seed_levels, growth_path)

    own = _ar1(rng, n, rho)
    growth_tail = growth_path[FUNDAMENTAL_LEAD_IN:]
    scale = np.std(growth_tail - growth_tail.mean())
    tracked = (growth_tail - growth_tail.mean()) / scale if scale > 1e-9 else np.zeros(n)
    state = tracking * tracked + np.sqrt(1.0 - tracking**2) * own + tone_trend * np.arange(n)
    return _Profile(
        kind,
        base,
        season_amp,
        season_phase,
        volume_trend,
        tone_trend,
        bursts,
        gamma,
        mix,
        tone,
        rho,
        tracking,
        state,
        revenue,
        growth_path,
        obs_noise,
        seed_levels,
        filing_delay,
    )


def _revenue(seed_levels: np.ndarray, growth_path: np.ndarray) -> np.ndarray:
    levels = list(seed_levels)
    for g in growth_path:
        levels.append(levels[-4] * max(1.0 + g, 0.05))
    return np.asarray(levels)


def _stories(
    spec: EntitySpec,
    profile: _Profile,
    state: np.ndarray,
    volume_shift: np.ndarray,
    logit_shift: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Stories of one entity; each period draws from its own seeded stream."""
    n = spec.periods
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "source", "day", *SCORES)}
    for t in range(n):
        rng = np.random.default_rng([spec.seed, 1, t])
        quarter = (FIRST_QUARTER.quarter - 1 + CALENDAR_PERIODS - n + t) % 4
        season = 1.0 + profile.season_amp * np.cos(2 * np.pi * (quarter - profile.season_phase) / 4)
        rate = (
            profile.base_rate
            * season
            * profile.bursts[t]
            * profile.gamma[t]
            * np.exp(profile.volume_trend * t + LOADING["volume"] * state[t])
            * volume_shift[t]
        )
        count = max(int(rng.poisson(rate)), 2)
        source = rng.choice(len(SOURCES), size=count, p=profile.mix[t])
        story = rng.normal(size=count)
        noise = rng.normal(size=(3, count))
        house = {name: np.array([SOURCES[s][name] for s in source]) for name in SCORES}
        logits = {
            "hype": profile.tone["hype"]
            + house["hype"]
            + LOADING["hype"] * state[t]
            + 0.7 * story
            + 0.6 * noise[0],
            "growth": profile.tone["growth"]
            + house["growth"]
            + LOADING["growth"] * state[t]
            + 0.5 * story
            + 0.7 * noise[1],
            "evidence": profile.tone["evidence"]
            + house["evidence"]
            + LOADING["evidence"] * state[t]
            - 0.3 * story
            + 0.8 * noise[2],
        }
        columns["t"].append(np.full(count, t))
        columns["source"].append(source + 1)
        columns["day"].append(rng.integers(0, 89, size=count))
        for name in SCORES:
            columns[name].append(_sigmoid(logits[name] + logit_shift[name][t]))
    return {k: np.concatenate(v) for k, v in columns.items()}


def _components(
    stories: dict[str, np.ndarray], n: int, background: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-period heat inputs of one entity, as the heat stage would see them (for the scales)."""
    t = stories["t"]
    counts = np.bincount(t, minlength=n).astype(float)
    out = {"volume": counts / background}
    for name in SCORES:
        out[name] = np.bincount(t, weights=stories[name], minlength=n) / counts
    tops = np.empty(n)
    for period in range(n):
        values = np.sort(stories["hype"][t == period])[::-1]
        tops[period] = values[: int(np.ceil(len(values) / 10))].mean()
    out["hype_top"] = tops
    return out


def _scales(components: dict[str, np.ndarray]) -> tuple[dict[str, float], float]:
    """Null robust sd per component and of the weighted composite of their robust z-scores."""
    scales = {k: max(robust_sd(v), 1e-9) for k, v in components.items()}
    composite = sum(HEAT_WEIGHTS[k] * (v - np.median(v)) / scales[k] for k, v in components.items())
    return scales, max(robust_sd(composite), 1e-9)


def simulate_entity(
    spec: EntitySpec, background: np.ndarray
) -> tuple[dict[str, np.ndarray], pd.DataFrame, dict[str, Any]]:
    """Stories, revenue rows and the truth record of one entity.

    ``background`` holds the corpus' stories per period over the entity's periods (for the
    volume share behind the sigma scales).
    """
    profile = _draw_profile(spec)
    n = spec.periods
    zeros = {name: np.zeros(n) for name in SCORES}
    null_stories = _stories(spec, profile, profile.state, np.ones(n), zeros)
    growth = profile.growth_path.copy()
    truth: dict[str, Any] = {
        "entity": spec.entity,
        "seed": spec.seed,
        "periods": n,
        "fundamentals": profile.kind,
        "base_stories": profile.base_rate,
        "tracking": profile.tracking,
        "planted": spec.planted is not None,
        "start": None,
        "length": 0,
        "size": 0.0,
        "direction": None,
        "growth_sigma": None,
        "narrative_step": None,
    }
    stories = null_stories
    if spec.planted is not None:
        plant = spec.planted
        if not (1 <= plant.length and 1 <= plant.start and plant.start + plant.length <= n):
            raise ValueError(f"planted window {plant} does not fit {n} periods")
        if plant.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}")
        components = _components(null_stories, n, background)
        scales, composite_sd = _scales(components)
        # Equal z-shift ``step`` in every component moves the composite by step * sum|w|.
        step = plant.size * composite_sd / sum(abs(w) for w in HEAT_WEIGHTS.values())
        reported = _reported(profile, growth)
        g_sigma = max(robust_sd(_yoy(reported)[FUNDAMENTAL_LEAD_IN:]), GROWTH_SIGMA_FLOOR)
        delta = plant.size * g_sigma
        on = np.zeros(n)
        # Quarter index (in the revenue arrays) of the entity's period t is LEAD_IN + t; a
        # quarter's report is first visible one period later.
        if plant.direction == "lead":
            on[plant.start :] = 1.0
            growth[FUNDAMENTAL_LEAD_IN + plant.start + plant.length - 1 :] += delta
        else:
            on[plant.start + plant.length :] = -1.0
            growth[FUNDAMENTAL_LEAD_IN + plant.start - 1 :] -= delta
        cv = scales["volume"] / max(float(np.median(components["volume"])), 1e-12)
        volume_shift = np.where(
            on > 0, 1.0 + step * cv, np.where(on < 0, 1.0 / (1.0 + step * cv), 1.0)
        )
        # Shift each score's logit so that its period mean moves by ``step`` null sds.
        logit_shift = {}
        for name in SCORES:
            p = null_stories[name]
            slope = max(float(np.mean(p * (1.0 - p))), 1e-6)
            sign = -1.0 if HEAT_WEIGHTS[name] < 0 else 1.0
            logit_shift[name] = on * sign * step * scales[name] / slope
        # The planted heat must not borrow the null's coverage trend pattern twice: same state.
        stories = _stories(spec, profile, profile.state, volume_shift, logit_shift)
        truth.update(
            start=plant.start,
            length=plant.length,
            size=plant.size,
            direction=plant.direction,
            growth_sigma=g_sigma,
            narrative_step=step,
        )
    profile_growth = growth
    revenue = _reported(profile, profile_growth)
    rows = _fundamental_rows(spec, profile, revenue)
    return stories, rows, truth


def _reported(profile: _Profile, growth: np.ndarray) -> np.ndarray:
    return _revenue(profile.seed_levels, growth) * (1.0 + profile.obs_noise)


def _yoy(levels: np.ndarray) -> np.ndarray:
    return levels[4:] / levels[:-4] - 1.0


def _fundamental_rows(spec: EntitySpec, profile: _Profile, revenue: np.ndarray) -> pd.DataFrame:
    """Quarterly revenue rows: dated at quarter end, filed 20-50 days later.

    ``revenue`` has 4 seed quarters, then FUNDAMENTAL_LEAD_IN quarters before coverage, then
    one per period of coverage.
    """
    first = FIRST_QUARTER + pd.DateOffset(
        months=3 * (CALENDAR_PERIODS - spec.periods - FUNDAMENTAL_LEAD_IN - 4)
    )
    starts = pd.date_range(first, periods=len(revenue), freq="QS")
    ends = starts + pd.offsets.QuarterEnd(0)
    filed = ends + pd.to_timedelta(np.round(profile.filing_delay[: len(revenue)]), unit="D")
    return pd.DataFrame(
        {
            "entity_id": spec.entity,
            "metric": "revenue",
            "date": ends.strftime("%Y-%m-%d"),
            "value": np.round(revenue, 4),
            "unit": "USD",
            "source": "sim",
            "filed_at": filed.strftime("%Y-%m-%d"),
        }
    )


# --------------------------------------------------------------------------- a panel


def background_totals(seed: int, periods: pd.DatetimeIndex) -> np.ndarray:
    """Stories per source and period outside the simulated entities (periods x sources)."""
    rng = np.random.default_rng([seed, 99])
    n = len(periods)
    out = np.empty((n, len(SOURCES)))
    for j, source in enumerate(SOURCES):
        trend = np.exp(rng.normal(0.0, 0.02) * np.arange(n))
        season = 1.0 + 0.1 * np.cos(
            2 * np.pi * (periods.quarter.to_numpy() - 1 - rng.integers(4)) / 4
        )
        out[:, j] = rng.poisson(source["size"] * trend * season)
    return out


def simulate_panel(specs: list[EntitySpec], seed: int = 0) -> Panel:
    """Simulate ``specs`` into one corpus (shared sources and background coverage)."""
    periods = calendar()
    background = background_totals(seed, periods)
    stories_frames, fundamentals, truths = [], [], []
    corpus_background = background.sum(axis=1)
    for spec in specs:
        if not 4 <= spec.periods <= CALENDAR_PERIODS:
            raise ValueError(f"periods must be between 4 and {CALENDAR_PERIODS}")
        offset = CALENDAR_PERIODS - spec.periods
        stories, rows, truth = simulate_entity(spec, corpus_background[offset:])
        frame = pd.DataFrame(
            {
                "entity_id": spec.entity,
                "t": stories["t"] + offset,
                "source_id": stories["source"],
                "day": stories["day"],
                **{name: stories[name] for name in SCORES},
            }
        )
        stories_frames.append(frame)
        fundamentals.append(rows)
        truth["first_period"] = periods[offset]
        truth["start_period"] = periods[offset + truth["start"]] if truth["planted"] else pd.NaT
        truths.append(truth)
    stories = pd.concat(stories_frames, ignore_index=True)
    stories["period"] = periods[stories["t"].to_numpy()].strftime("%Y-%m-%d")
    stories["documents"] = 1 + np.random.default_rng([seed, 98]).poisson(0.3, size=len(stories))
    entity_totals = stories.groupby(["source_id", "t"]).size()
    totals_rows = []
    for t, period in enumerate(periods):
        for j, source in enumerate(SOURCES):
            extra = int(entity_totals.get((source["id"], t), 0))
            totals_rows.append(
                (source["id"], period.strftime("%Y-%m-%d"), int(background[t, j]) + extra)
            )
    totals = pd.DataFrame(totals_rows, columns=["source_id", "period", "total"])
    fundamentals_frame = pd.concat(fundamentals, ignore_index=True)
    fundamentals_frame.insert(0, "id", np.arange(1, len(fundamentals_frame) + 1))
    fundamentals_frame = fundamentals_frame[
        ["id", "entity_id", "metric", "date", "value", "unit", "source", "filed_at"]
    ]
    return Panel(totals, fundamentals_frame, stories, pd.DataFrame(truths), periods)


# --------------------------------------------------------------------------- designs


def null_specs(
    count: int, seed: int, periods: tuple[int, int] = (12, 20), prefix: str = "null"
) -> list[EntitySpec]:
    rng = np.random.default_rng([seed, 7])
    return [
        EntitySpec(
            f"{prefix}-{i:04d}",
            seed=int(rng.integers(2**31)),
            periods=int(rng.integers(periods[0], periods[1] + 1)),
        )
        for i in range(count)
    ]


def planted_specs(
    sizes: tuple[float, ...],
    lengths: tuple[int, ...],
    replicates: int,
    seed: int,
    directions: tuple[str, ...] = DIRECTIONS,
    periods: tuple[int, int] = (12, 20),
    prefix: str = "plant",
) -> list[EntitySpec]:
    """``replicates`` entities per size, length and direction, each with its own null profile.

    The planted window starts after at least a third of the history (at least 4 periods) and
    ends at least one period before the last.
    """
    rng = np.random.default_rng([seed, 8])
    specs = []
    for direction in directions:
        for size in sizes:
            for length in lengths:
                for r in range(replicates):
                    n = int(rng.integers(periods[0], periods[1] + 1))
                    low = max(4, n // 3)
                    high = max(low, n - length - 1)
                    start = int(rng.integers(low, high + 1))
                    specs.append(
                        EntitySpec(
                            f"{prefix}-{direction}-{size:g}-{length}-{r:03d}",
                            seed=int(rng.integers(2**31)),
                            periods=n,
                            planted=Planted(start, length, float(size), direction),
                        )
                    )
    return specs


def with_planted(spec: EntitySpec, planted: Planted | None) -> EntitySpec:
    return replace(spec, planted=planted)


# --------------------------------------------------------------------------- the method under test

MODES = ("realtime", "hindsight")
STORY_FIELDS = ["entity_id", "period", "source_id", "documents", "hype", "growth", "evidence"]


def method_heat(
    panel: Panel, mode: str = "realtime", options: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Heat of the panel (with its bootstrap band) by :func:`analyzer.analysis.heat.compute_heat`.

    The whole panel goes through at once, because short histories borrow strength from the
    other entities. ``options``: ``resamples``, ``seed``, ``min_stories``, ``level``.
    """
    from analyzer.analysis.heat import compute_heat

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    options = dict(options or {})
    heat_options = {
        k: options[k] for k in ("resamples", "seed", "min_stories", "level") if k in options
    }
    heat, _ = compute_heat(
        None,
        panel.totals,
        FREQ,
        MODEL_VERSION,
        stories=panel.stories[STORY_FIELDS],
        mode=mode,
        **heat_options,
    )
    return heat


def method_divergence(
    panel: Panel,
    mode: str = "realtime",
    options: dict[str, Any] | None = None,
    heat: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Heat and divergence of the panel through the analysis stage's own functions (unflagged).

    The calls are those of :func:`analyzer.analysis.run.analyse`: heat from the stories, then
    divergence against the fundamentals, point in time in realtime mode and revised in
    hindsight mode. ``options`` as :func:`method_heat`, plus ``growth_floors``.
    """
    from analyzer.analysis.divergence import divergence_rows

    options = dict(options or {})
    if heat is None:
        heat = method_heat(panel, mode, options)
    return divergence_rows(
        heat,
        panel.fundamentals,
        FREQ,
        point_in_time=mode == "realtime",
        mode=mode,
        growth_floors=options.get("growth_floors"),
    )


def method_flags(
    divergence: pd.DataFrame, threshold: float, min_periods: int, level: float | None = None
) -> pd.DataFrame:
    """Flag runs (one row per flag: entity, start, end, peak, confidence) by the stage's own rule."""
    from analyzer.analysis.flags import detect_flags

    frame = divergence.dropna(subset=["metric"])
    extra = {} if level is None else {"level": level}
    _, found = detect_flags(frame, threshold, min_periods, **extra)
    return pd.DataFrame(
        [
            (f.entity, pd.Timestamp(f.start), pd.Timestamp(f.end), f.peak_value, f.confidence)
            for f in found
        ],
        columns=["entity", "start", "end", "peak", "confidence"],
    )


# --------------------------------------------------------------------------- scoring


def wilson(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if trials == 0:
        return (float("nan"), float("nan"))
    p = successes / trials
    denominator = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / denominator
    half = z * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / denominator
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def _flagged_periods(flags: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for flag in flags.itertuples():
        for period in pd.date_range(flag.start, flag.end, freq="QS"):
            rows.append((flag.entity, period))
    return pd.DataFrame(rows, columns=["entity", "period"])


def false_flags(
    divergence: pd.DataFrame, flags: pd.DataFrame, truth: pd.DataFrame
) -> dict[str, Any]:
    """False flags on null entities, per entity-year.

    An entity-year is a calendar year in which the entity has at least one period with a
    divergence value; it is falsely flagged when any of those periods lies in a flag. Also
    given: flags (runs) per entity-year of evaluable periods (periods / 4) and the share of
    null entities with any flag. Entity-years of one entity are not independent; the Wilson
    interval treats them as if they were and is therefore somewhat too narrow.
    """
    nulls = set(truth.loc[~truth["planted"], "entity"])
    frame = divergence[divergence["entity"].isin(nulls) & divergence["divergence"].notna()]
    years = frame.assign(year=pd.to_datetime(frame["period"]).dt.year)[
        ["entity", "year"]
    ].drop_duplicates()
    null_flags = flags[flags["entity"].isin(nulls)]
    flagged = _flagged_periods(null_flags)
    flagged_years = (
        flagged.assign(year=flagged["period"].dt.year)[["entity", "year"]].drop_duplicates()
        if len(flagged)
        else pd.DataFrame(columns=["entity", "year"])
    )
    hit = years.merge(flagged_years, on=["entity", "year"], how="inner")
    n_years, n_hit = len(years), len(hit)
    exposure = len(frame) / 4.0
    runs = len(null_flags)
    entities = frame["entity"].nunique()
    flagged_entities = null_flags["entity"].nunique()
    return {
        "entities": int(entities),
        "entity_years": int(n_years),
        "flagged_entity_years": int(n_hit),
        "rate": n_hit / n_years if n_years else float("nan"),
        "rate_ci95": wilson(n_hit, n_years),
        "flags": int(runs),
        "flags_per_entity_year": runs / exposure if exposure else float("nan"),
        "entities_with_a_flag": int(flagged_entities),
        "entity_rate": flagged_entities / entities if entities else float("nan"),
        "entity_rate_ci95": wilson(flagged_entities, entities),
    }


def false_flags_by(
    divergence: pd.DataFrame, flags: pd.DataFrame, truth: pd.DataFrame, column: str
) -> dict[str, Any]:
    """:func:`false_flags` within each value of a truth column (fundamentals kind, say)."""
    out = {}
    for value, group in truth[~truth["planted"]].groupby(column):
        out[str(value)] = false_flags(divergence, flags, group)
    return out


def detections(flags: pd.DataFrame, truth: pd.DataFrame, min_periods: int) -> pd.DataFrame:
    """One row per planted entity: whether a flag caught the planted window, and how early.

    A planted divergence over periods ``s .. s+L-1`` counts as detected when a flag starts in
    ``s-1 .. s+L`` (one period of slack either side: hindsight growth moves a period earlier
    than point-in-time growth, and a flag may trail its cause). ``lead`` is the first flagged
    period minus ``s`` (negative: early); ``raised`` is the period at which the run reached
    ``min_periods``, minus ``s``: when a real-time reader would first see the flag.
    """
    planted = truth[truth["planted"]]
    by_entity = {entity: group for entity, group in flags.groupby("entity")}
    rows = []
    for spec in planted.itertuples():
        start = pd.Timestamp(spec.start_period)
        first, last = start - pd.DateOffset(months=3), start + pd.DateOffset(months=3 * spec.length)
        found = by_entity.get(spec.entity)
        lead = raised = np.nan
        detected = False
        if found is not None:
            hits = found[(found["start"] >= first) & (found["start"] <= last)].sort_values("start")
            if len(hits):
                detected = True
                onset = hits["start"].iloc[0]
                lead = _quarters_between(start, onset)
                raised = lead + min_periods - 1
        rows.append(
            {
                "entity": spec.entity,
                "direction": spec.direction,
                "size": spec.size,
                "length": spec.length,
                "fundamentals": spec.fundamentals,
                "detected": detected,
                "lead": lead,
                "raised": raised,
            }
        )
    return pd.DataFrame(rows)


def _quarters_between(a: pd.Timestamp, b: pd.Timestamp) -> int:
    return (b.year - a.year) * 4 + (b.quarter - a.quarter)


def power(
    table: pd.DataFrame, by: tuple[str, ...] = ("direction", "size", "length")
) -> list[dict[str, Any]]:
    """Detection rate (with a Wilson 95% interval) per cell of ``by``."""
    out = []
    for keys, group in table.groupby(list(by)):
        keys = keys if isinstance(keys, tuple) else (keys,)
        hits = int(group["detected"].sum())
        record = {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(by, keys)}
        record.update(
            trials=len(group),
            detected=hits,
            rate=hits / len(group),
            ci95=wilson(hits, len(group)),
            median_lead=_median(group.loc[group["detected"], "lead"]),
        )
        out.append(record)
    return out


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.median()) if len(values) else None
