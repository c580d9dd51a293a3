"""Plotly figures for the app. Every function is pure: DataFrames in, ``go.Figure`` out, no I/O.

Inputs are the frames of :mod:`analyzer.views.results` (``divergence_frame``, ``heat_frame``,
``flags``, ``source_mix``). Labels that come from ingested data (source and entity names) are
HTML-escaped, because Plotly interprets a few tags inside text.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analyzer.analysis.periods import next_period_start

HEAT_COLOR = "#d62728"
FUNDAMENTAL_COLOR = "#1f77b4"
FLAG_COLOR = "rgba(214, 39, 40, 0.15)"
NEUTRAL_COLOR = "#7f7f7f"
HEAT_BAND_COLOR = "rgba(214, 39, 40, 0.18)"
DIVERGENCE_BAND_COLOR = "rgba(127, 127, 127, 0.25)"
UNRELIABLE_COLOR = "#c7c7c7"


def _band(frame: pd.DataFrame, low: str, high: str, color: str, name: str, yaxis: str = "y") -> list[go.Scatter]:
    """Two traces shading [low, high] over the periods where both are known (none otherwise)."""
    if low not in frame.columns or high not in frame.columns:
        return []
    known = frame[frame[low].notna() & frame[high].notna()]
    if known.empty:
        return []
    edge = {"width": 0}
    return [
        go.Scatter(x=known["period"], y=known[high], mode="lines", line=edge, hoverinfo="skip",
                   showlegend=False, yaxis=yaxis, legendgroup=name),
        go.Scatter(x=known["period"], y=known[low], mode="lines", line=edge, fill="tonexty", fillcolor=color,
                   name=name, hoverinfo="skip", yaxis=yaxis, legendgroup=name),
    ]


def _unreliable(frame: pd.DataFrame) -> pd.Series:
    if "reliable" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return ~frame["reliable"].fillna(True).astype(bool)


def _unreliable_markers(frame: pd.DataFrame, column: str, yaxis: str = "y") -> list[go.Scatter]:
    """Hollow grey markers over the periods with too few stories to be reliable."""
    weak = frame[_unreliable(frame) & frame[column].notna()]
    if weak.empty:
        return []
    return [go.Scatter(x=weak["period"], y=weak[column], mode="markers", yaxis=yaxis,
                       name="too few stories (unreliable)",
                       marker={"symbol": "circle-open", "size": 11, "color": UNRELIABLE_COLOR,
                               "line": {"width": 2, "color": UNRELIABLE_COLOR}})]


def _safe(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _empty(title: str, message: str = "No data yet") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                      "x": 0.5, "y": 0.5}],
        template="plotly_white",
    )
    return fig


def _flag_spans(flags: Any, entity: str | None, metric: str | None) -> list[dict[str, Any]]:
    """Flags as dicts from a DataFrame, a list of Flag objects or a list of dicts."""
    if flags is None:
        return []
    if isinstance(flags, pd.DataFrame):
        records = flags.to_dict("records")
    else:
        records = [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in flags]
    out = []
    for record in records:
        if entity is not None and record.get("entity") not in (None, entity):
            continue
        if metric is not None and record.get("metric") not in (None, metric):
            continue
        out.append(record)
    return out


def _pick(frame: pd.DataFrame, metric: str | None) -> tuple[pd.DataFrame, str | None]:
    if "metric" not in frame.columns:
        return frame, None
    if metric is None:
        named = frame["metric"].dropna()
        metric = str(named.iloc[0]) if len(named) else None
    if metric is None:
        return frame[frame["metric"].isna()], None
    return frame[frame["metric"] == metric], metric


def fig_heat_vs_fundamentals(
    frame: pd.DataFrame,
    flags: Any = None,
    *,
    metric: str | None = None,
    fundamental: str = "growth",
    title: str | None = None,
) -> go.Figure:
    """Heat (left axis, its bootstrap band shaded) against a fundamental's growth or level (right
    axis), flags shaded, periods with too few stories circled in grey as unreliable.

    ``frame`` is a divergence frame for one entity (the first entity is used otherwise);
    ``fundamental`` is "growth" or "level". Each flag becomes one shaded rectangle covering
    its periods, from the first period's start to the end of the last period.
    """
    if fundamental not in ("growth", "level"):
        raise ValueError("fundamental must be 'growth' or 'level'")
    title = title or "Narrative heat vs fundamentals"
    if frame is None or frame.empty:
        return _empty(title)
    entity = str(frame["entity"].iloc[0]) if "entity" in frame.columns else None
    if entity is not None:
        frame = frame[frame["entity"] == entity]
    frame, metric = _pick(frame, metric)
    if frame.empty:
        return _empty(title)
    frame = frame.sort_values("period")
    freq = str(frame["freq"].iloc[0]) if "freq" in frame.columns else "quarter"
    fig = go.Figure()
    for trace in _band(frame, "heat_low", "heat_high", HEAT_BAND_COLOR, "heat band"):
        fig.add_trace(trace)
    fig.add_trace(
        go.Scatter(x=frame["period"], y=frame["heat"], name="Narrative heat (z)", mode="lines+markers",
                   line={"color": HEAT_COLOR, "width": 2})
    )
    for trace in _unreliable_markers(frame, "heat"):
        fig.add_trace(trace)
    column = "fundamental_growth" if fundamental == "growth" else "fundamental_level"
    if metric is not None and column in frame.columns and frame[column].notna().any():
        label = f"{_safe(metric)} {'growth' if fundamental == 'growth' else 'level'}"
        if fundamental == "growth" and "growth_basis" in frame.columns and frame["growth_basis"].notna().any():
            label += f" ({frame['growth_basis'].dropna().iloc[0].upper()})"
        fig.add_trace(
            go.Scatter(x=frame["period"], y=frame[column], name=label, mode="lines+markers",
                       yaxis="y2", line={"color": FUNDAMENTAL_COLOR, "width": 2, "dash": "dot"})
        )
    for flag in _flag_spans(flags, entity, metric):
        fig.add_vrect(
            x0=pd.Timestamp(flag["start"]),
            x1=next_period_start(flag["end"], freq),
            fillcolor=FLAG_COLOR,
            line_width=0,
            layer="below",
        )
    fig.update_layout(
        title=_safe(title),
        template="plotly_white",
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": "heat (robust z)"},
        yaxis2={
            "title": "growth" if fundamental == "growth" else "level",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "tickformat": ".0%" if fundamental == "growth" else None,
        },
        margin={"l": 50, "r": 50, "t": 50, "b": 50},
    )
    return fig


def fig_sparkline(
    values: pd.DataFrame | pd.Series | Iterable[float], column: str = "heat", *, height: int = 60
) -> go.Figure:
    """A bare trend line (no axes, no legend) for tables and cards."""
    if isinstance(values, pd.DataFrame):
        ordered = values.sort_values("period") if "period" in values.columns else values
        x = ordered["period"] if "period" in ordered.columns else list(range(len(ordered)))
        y = ordered[column] if column in ordered.columns else []
    else:
        y = list(values)
        x = list(range(len(y)))
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", line={"color": HEAT_COLOR, "width": 1.5},
                               hoverinfo="skip"))
    fig.update_layout(
        height=height,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        xaxis={"visible": False},
        yaxis={"visible": False},
        showlegend=False,
        template="plotly_white",
    )
    return fig


def fig_divergence_bars(
    frame: pd.DataFrame, threshold: float = 1.0, *, metric: str | None = None, title: str | None = None
) -> go.Figure:
    """Divergence index per period with its band as error bars; flagged periods in red, periods
    with too few stories (unreliable, never flagged) hatched grey, the threshold as a dashed line."""
    title = title or "Divergence index"
    if frame is None or frame.empty:
        return _empty(title)
    frame, metric = _pick(frame, metric)
    frame = frame.dropna(subset=["divergence"]).sort_values("period") if not frame.empty else frame
    if frame.empty:
        return _empty(title, "No fundamentals to compare with")
    flagged = frame["flagged"].astype(bool) if "flagged" in frame.columns else pd.Series(False, index=frame.index)
    weak = _unreliable(frame)
    colors = [HEAT_COLOR if f else (UNRELIABLE_COLOR if w else NEUTRAL_COLOR) for f, w in zip(flagged, weak)]
    patterns = ["/" if w else "" for w in weak]
    error = None
    if {"divergence_low", "divergence_high"} <= set(frame.columns) and frame["divergence_low"].notna().any():
        error = {"type": "data", "symmetric": False, "color": "#444444", "thickness": 1.2,
                 "array": (frame["divergence_high"] - frame["divergence"]).clip(lower=0).fillna(0).tolist(),
                 "arrayminus": (frame["divergence"] - frame["divergence_low"]).clip(lower=0).fillna(0).tolist()}
    fig = go.Figure(go.Bar(x=frame["period"], y=frame["divergence"], marker_color=colors,
                           marker_pattern_shape=patterns, error_y=error, name="divergence"))
    fig.add_hline(y=threshold, line_dash="dash", line_color=HEAT_COLOR,
                  annotation_text="threshold (the band's lower end must clear it)", annotation_position="top left")
    fig.update_layout(
        title=_safe(f"{title} ({metric})" if metric else title),
        template="plotly_white",
        yaxis={"title": "heat z - growth z"},
        showlegend=False,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def fig_source_mix(frame: pd.DataFrame, *, title: str | None = None, top: int = 8) -> go.Figure:
    """Stories per period stacked by source (the ``top`` largest sources, the rest as "other")."""
    title = title or "Source mix"
    if frame is None or frame.empty:
        return _empty(title)
    totals = frame.groupby("source")["stories"].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    data = frame.assign(source=[s if s in keep else "other" for s in frame["source"]])
    data = data.groupby(["period", "source"], as_index=False)["stories"].sum()
    fig = go.Figure()
    order = [s for s in totals.index if s in keep] + (["other"] if len(totals) > top else [])
    for source in order:
        part = data[data["source"] == source].sort_values("period")
        fig.add_trace(go.Bar(x=part["period"], y=part["stories"], name=_safe(source)))
    fig.update_layout(
        barmode="stack",
        title=_safe(title),
        template="plotly_white",
        yaxis={"title": "stories"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def fig_heat_components(frame: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """The robust z-scores that make up heat, one line each, with heat itself in bold."""
    title = title or "Heat components"
    if frame is None or frame.empty:
        return _empty(title)
    frame = frame.sort_values("period")
    fig = go.Figure()
    labels = {
        "z_volume": "volume", "z_hype": "mean hype", "z_growth": "mean growth language",
        "z_evidence": "mean evidence", "z_hype_top": "top-decile hype",
    }
    for column, label in labels.items():
        if column in frame.columns:
            fig.add_trace(go.Scatter(x=frame["period"], y=frame[column], name=label, mode="lines",
                                     line={"width": 1}))
    fig.add_trace(go.Scatter(x=frame["period"], y=frame["heat"], name="heat", mode="lines",
                             line={"color": HEAT_COLOR, "width": 3}))
    fig.update_layout(
        title=_safe(title), template="plotly_white", yaxis={"title": "robust z"},
        legend={"orientation": "h", "y": -0.2}, margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def standardised_figure(
    divergence: pd.DataFrame, metrics: Sequence[str], flags: pd.DataFrame | None = None,
    *, title: str = "Heat and fundamentals on one scale",
) -> Any:
    """Heat (with its band) and each metric's growth as robust z-scores on one axis (comparable
    whatever the units), unreliable periods circled, every flagged span of the chosen metrics shaded."""
    fig = go.Figure()
    if divergence.empty:
        fig.update_layout(title=title, template="plotly_white")
        return fig
    freq = str(divergence["freq"].iloc[0])
    heat = divergence.drop_duplicates("period").sort_values("period")
    for trace in _band(heat, "heat_low", "heat_high", HEAT_BAND_COLOR, "heat band"):
        fig.add_trace(trace)
    fig.add_trace(go.Scatter(x=heat["period"], y=heat["heat"], name="narrative heat (z)", mode="lines+markers",
                             line={"color": HEAT_COLOR, "width": 3}))
    for trace in _unreliable_markers(heat, "heat"):
        fig.add_trace(trace)
    for metric in metrics:
        rows = divergence[divergence["metric"] == metric].sort_values("period")
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(x=rows["period"], y=rows["growth_z"], name=html.escape(f"{metric} growth (z)"),
                                 mode="lines+markers", line={"dash": "dot"}))
    if flags is not None and not flags.empty:
        chosen = flags[flags["metric"].isin(list(metrics))] if metrics else flags
        for flag in chosen.drop_duplicates(["start", "end"]).itertuples():
            fig.add_vrect(x0=pd.Timestamp(flag.start), x1=next_period_start(flag.end, freq), fillcolor=FLAG_COLOR,
                          line_width=0, layer="below")
    fig.add_hline(y=0, line_color="#bbbbbb", line_width=1)
    fig.update_layout(title=html.escape(title), template="plotly_white", hovermode="x unified",
                      yaxis={"title": "robust z (own history)"}, legend={"orientation": "h", "y": -0.2},
                      margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig


