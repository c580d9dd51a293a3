"""Plotly figures: pure functions of DataFrames, flags drawn as shaded rectangles."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest
from analysis_seed import add_quarterly_fundamentals, quarter_starts, seed_quarterly_story

from analyzer.analysis.flags import Flag
from analyzer.pipeline import compute_divergence
from analyzer.views import results
from analyzer.views.plots import (
    fig_divergence_bars,
    fig_heat_components,
    fig_heat_vs_fundamentals,
    fig_source_mix,
    fig_sparkline,
)


def _frame(
    flagged: list[bool], metric: str | None = "revenue", entity: str = "acme"
) -> pd.DataFrame:
    n = len(flagged)
    return pd.DataFrame(
        {
            "entity": entity,
            "metric": metric,
            "freq": "quarter",
            "period": pd.date_range("2022-01-01", periods=n, freq="QS"),
            "heat": [0.1 * i for i in range(n)],
            "fundamental_level": [100.0] * n,
            "fundamental_growth": [0.0] * n,
            "growth_basis": "yoy",
            "divergence": [1.5 if f else 0.2 for f in flagged],
            "flagged": flagged,
        }
    )


def test_flags_become_shaded_rectangles_over_their_periods() -> None:
    frame = _frame([False, True, True, False, True, True, True, False])
    flags = pd.DataFrame(
        [
            {
                "entity": "acme",
                "metric": "revenue",
                "start": pd.Timestamp("2022-04-01"),
                "end": pd.Timestamp("2022-07-01"),
            },
            {
                "entity": "acme",
                "metric": "revenue",
                "start": pd.Timestamp("2023-01-01"),
                "end": pd.Timestamp("2023-07-01"),
            },
            {
                "entity": "other",
                "metric": "revenue",
                "start": pd.Timestamp("2022-01-01"),
                "end": pd.Timestamp("2022-04-01"),
            },
            {
                "entity": "acme",
                "metric": "tvl",
                "start": pd.Timestamp("2022-01-01"),
                "end": pd.Timestamp("2022-04-01"),
            },
        ]
    )
    fig = fig_heat_vs_fundamentals(frame, flags)
    assert isinstance(fig, go.Figure)
    shapes = fig.layout.shapes
    assert len(shapes) == 2  # other entities' and other metrics' flags are not drawn
    assert pd.Timestamp(shapes[0].x0) == pd.Timestamp("2022-04-01")
    assert pd.Timestamp(shapes[0].x1) == pd.Timestamp(
        "2022-10-01"
    )  # to the end of the last quarter
    assert pd.Timestamp(shapes[1].x1) == pd.Timestamp("2023-10-01")
    names = [trace.name for trace in fig.data]
    assert names[0].startswith("Narrative heat") and "revenue growth (YOY)" in names[1]
    assert fig.data[1].yaxis == "y2"


def test_flag_objects_and_level_view_are_accepted() -> None:
    frame = _frame([False, True, True])
    flag = Flag(
        "acme", "revenue", "quarter", "2022-04-01", "2022-07-01", "2022-07-01", 1.5, 2, 1.0, 2
    )
    fig = fig_heat_vs_fundamentals(frame, [flag], fundamental="level")
    assert len(fig.layout.shapes) == 1
    assert list(fig.data[1].y) == [100.0] * 3
    with pytest.raises(ValueError):
        fig_heat_vs_fundamentals(frame, fundamental="price")


def test_heat_only_and_empty_frames_still_give_figures() -> None:
    heat_only = fig_heat_vs_fundamentals(_frame([False, False], metric=None))
    assert len(heat_only.data) == 1 and not heat_only.layout.shapes
    empty = fig_heat_vs_fundamentals(pd.DataFrame(), None)
    assert isinstance(empty, go.Figure) and len(empty.data) == 0
    assert empty.layout.annotations[0].text == "No data yet"
    assert len(fig_divergence_bars(pd.DataFrame()).data) == 0
    assert len(fig_source_mix(pd.DataFrame()).data) == 0
    assert len(fig_heat_components(pd.DataFrame()).data) == 0


def test_divergence_bars_colour_flagged_periods_and_draw_the_threshold() -> None:
    fig = fig_divergence_bars(_frame([False, True, True, False]), threshold=1.25)
    bar = fig.data[0]
    assert bar.type == "bar"
    assert bar.marker.color[0] != bar.marker.color[1] and bar.marker.color[1] == bar.marker.color[2]
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].y0 == 1.25


def test_sparkline_is_bare() -> None:
    fig = fig_sparkline(_frame([False] * 5))
    assert len(fig.data) == 1 and list(fig.data[0].y) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert fig.layout.xaxis.visible is False and fig.layout.showlegend is False
    assert list(fig_sparkline([3.0, 1.0, 2.0]).data[0].y) == [3.0, 1.0, 2.0]


def test_source_mix_stacks_sources_and_escapes_names() -> None:
    mix = pd.DataFrame(
        {
            "period": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-04-01", "2024-04-01"]),
            "source": ["wire", "<script>alert(1)</script>", "wire", "blog"],
            "stories": [5, 1, 4, 2],
        }
    )
    fig = fig_source_mix(mix, top=2)
    assert fig.layout.barmode == "stack"
    names = [trace.name for trace in fig.data]
    assert names[0] == "wire" and "other" in names
    assert all("<script>" not in name for name in names)
    total = sum(sum(trace.y) for trace in fig.data)
    assert total == 12


def test_figures_from_the_analysis_api(store) -> None:
    quarters = quarter_starts(2018, 16)
    seed_quarterly_story(
        store,
        "acme",
        quarters,
        [2] * 8 + [4, 6, 8, 10, 12, 14, 16, 18],
        [0.2] * 8 + [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9],
    )
    add_quarterly_fundamentals(store, "acme", "revenue", quarters, [100.0] * 16)
    compute_divergence(store, freq="quarter")
    frame = results.divergence_frame(store, "acme")
    flags = results.flags(store, "acme")
    assert len(flags) >= 1
    fig = fig_heat_vs_fundamentals(frame, flags)
    assert len(fig.layout.shapes) == len(flags)
    components = fig_heat_components(results.heat_frame(store, "acme"))
    assert [t.name for t in components.data][-1] == "heat" and len(components.data) == 6
    assert len(fig_source_mix(results.source_mix(store, "acme")).data) == 1
