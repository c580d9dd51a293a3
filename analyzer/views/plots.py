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

from analyzer.analysis.flags import DEFAULT_THRESHOLD
from analyzer.analysis.periods import next_period_start

HEAT_COLOR = "#d62728"
FUNDAMENTAL_COLOR = "#1f77b4"
FLAG_COLOR = "rgba(214, 39, 40, 0.15)"
NEUTRAL_COLOR = "#7f7f7f"
HEAT_BAND_COLOR = "rgba(214, 39, 40, 0.18)"
DIVERGENCE_BAND_COLOR = "rgba(127, 127, 127, 0.25)"
UNRELIABLE_COLOR = "#c7c7c7"


def _band(
    frame: pd.DataFrame, low: str, high: str, color: str, name: str, yaxis: str = "y"
) -> list[go.Scatter]:
    """Two traces shading [low, high] over the periods where both are known (none otherwise).

    Both carry ``name`` (the upper edge out of the legend), so every trace of a figure is named:
    readers of the figure's spec find traces by name, and an unnamed one reads as "trace 0"."""
    if low not in frame.columns or high not in frame.columns:
        return []
    known = frame[frame[low].notna() & frame[high].notna()]
    if known.empty:
        return []
    edge = {"width": 0}
    return [
        go.Scatter(
            x=known["period"],
            y=known[high],
            mode="lines",
            line=edge,
            hoverinfo="skip",
            name=f"{name} (upper edge)",
            showlegend=False,
            yaxis=yaxis,
            legendgroup=name,
        ),
        go.Scatter(
            x=known["period"],
            y=known[low],
            mode="lines",
            line=edge,
            fill="tonexty",
            fillcolor=color,
            name=name,
            hoverinfo="skip",
            yaxis=yaxis,
            legendgroup=name,
        ),
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
    return [
        go.Scatter(
            x=weak["period"],
            y=weak[column],
            mode="markers",
            yaxis=yaxis,
            name="too few stories (unreliable)",
            marker={
                "symbol": "circle-open",
                "size": 11,
                "color": UNRELIABLE_COLOR,
                "line": {"width": 2, "color": UNRELIABLE_COLOR},
            },
        )
    ]


def _safe(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _empty(title: str, message: str = "No data yet") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
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
        go.Scatter(
            x=frame["period"],
            y=frame["heat"],
            name="Narrative heat (z)",
            mode="lines+markers",
            line={"color": HEAT_COLOR, "width": 2},
        )
    )
    for trace in _unreliable_markers(frame, "heat"):
        fig.add_trace(trace)
    column = "fundamental_growth" if fundamental == "growth" else "fundamental_level"
    if metric is not None and column in frame.columns and frame[column].notna().any():
        label = f"{_safe(metric)} {'growth' if fundamental == 'growth' else 'level'}"
        if (
            fundamental == "growth"
            and "growth_basis" in frame.columns
            and frame["growth_basis"].notna().any()
        ):
            label += f" ({frame['growth_basis'].dropna().iloc[0].upper()})"
        fig.add_trace(
            go.Scatter(
                x=frame["period"],
                y=frame[column],
                name=label,
                mode="lines+markers",
                yaxis="y2",
                line={"color": FUNDAMENTAL_COLOR, "width": 2, "dash": "dot"},
            )
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
    fig = go.Figure(
        go.Scatter(
            x=x, y=y, mode="lines", line={"color": HEAT_COLOR, "width": 1.5}, hoverinfo="skip"
        )
    )
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
    frame: pd.DataFrame,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    metric: str | None = None,
    title: str | None = None,
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
    flagged = (
        frame["flagged"].astype(bool)
        if "flagged" in frame.columns
        else pd.Series(False, index=frame.index)
    )
    weak = _unreliable(frame)
    colors = [
        HEAT_COLOR if f else (UNRELIABLE_COLOR if w else NEUTRAL_COLOR)
        for f, w in zip(flagged, weak)
    ]
    patterns = ["/" if w else "" for w in weak]
    error = None
    if {"divergence_low", "divergence_high"} <= set(frame.columns) and frame[
        "divergence_low"
    ].notna().any():
        error = {
            "type": "data",
            "symmetric": False,
            "color": "#444444",
            "thickness": 1.2,
            "array": (frame["divergence_high"] - frame["divergence"])
            .clip(lower=0)
            .fillna(0)
            .tolist(),
            "arrayminus": (frame["divergence"] - frame["divergence_low"])
            .clip(lower=0)
            .fillna(0)
            .tolist(),
        }
    fig = go.Figure(
        go.Bar(
            x=frame["period"],
            y=frame["divergence"],
            marker_color=colors,
            marker_pattern_shape=patterns,
            error_y=error,
            name="divergence",
        )
    )
    fig.add_hline(
        y=threshold,
        line_dash="dash",
        line_color=HEAT_COLOR,
        annotation_text="threshold (the band's lower end must clear it)",
        annotation_position="top left",
    )
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


# Claims: colours and marker symbols by status (met, missed, pending, unverifiable).
CLAIM_STATUS_COLORS = {
    "met": "#2ca02c",
    "missed": "#8c1c13",
    "pending": "#7f7f7f",
    "unverifiable": "#bcbd22",
}
CLAIM_STATUS_SYMBOLS = {
    "met": "circle",
    "missed": "x",
    "pending": "circle-open",
    "unverifiable": "diamond-open",
}
CLAIM_PUBLISHED_SYMBOL = "triangle-up-open"
# The claim markers sit on a hidden axis of their own, near the bottom of the timeline.
CLAIM_MARKER_AXIS = "y9"
CLAIM_PUBLISHED_LEVEL = 0.03
CLAIM_HORIZON_LEVEL = 0.08


def _claim_hover(row: Any, moment: str) -> str:
    """Hover text of a claim marker; every piece of ingested text is escaped."""
    sentence = str(row.get("sentence") or "")
    if len(sentence) > 160:
        sentence = sentence[:157] + "…"
    claimed = str(row.get("claimed") or "").strip()
    metric = str(row.get("metric") or "other")
    status = str(row.get("status") or "pending")
    reason = row.get("status_reason")
    head = f"{moment} · {metric}{f' {claimed}' if claimed else ''} · {status}"
    if reason is not None and not (isinstance(reason, float) and pd.isna(reason)) and str(reason):
        head += f" ({reason})"
    return f"{_safe(head)}<br>{_safe(sentence)}"


def _x_extent(fig: go.Figure) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last date the figure's traces already show (None when it shows none)."""
    stamps: list[pd.Timestamp] = []
    for trace in fig.data:
        values = getattr(trace, "x", None)
        if values is None or len(values) == 0:
            continue
        converted = pd.to_datetime(pd.Series(list(values)), errors="coerce").dropna()
        if len(converted):
            stamps += [converted.min(), converted.max()]
    return (min(stamps), max(stamps)) if stamps else None


def add_claim_markers(
    fig: go.Figure, claims: pd.DataFrame | None, *, freq: str = "quarter"
) -> go.Figure:
    """A copy of a heat timeline with the entity's claims marked at publication and at horizon.

    ``claims`` has ``published_at``, ``horizon`` (None when none was read), ``status``,
    ``metric``, ``claimed``, ``sentence`` and ``status_reason``. Publication markers are open
    triangles; a horizon marker takes its status's colour and symbol (met, missed, pending,
    unverifiable). Hovering a marker shows the claim and its status. Markers outside the dates
    the timeline already shows (to the end of its last period) are left out, so a horizon in
    2030 does not squash the chart; the legend says how many.
    """
    out = go.Figure(fig)
    if claims is None or len(claims) == 0:
        return out
    extent = _x_extent(out)
    if extent is not None:
        extent = (extent[0], pd.Timestamp(next_period_start(extent[1], freq)))

    def within(values: pd.Series) -> pd.Series:
        if extent is None:
            return values.notna()
        return values.notna() & (values >= extent[0]) & (values <= extent[1])

    records = claims.reset_index(drop=True)
    published = pd.to_datetime(
        records["published_at"].astype("string").str.slice(0, 10), errors="coerce"
    )
    horizon = pd.to_datetime(records["horizon"].astype("string").str.slice(0, 10), errors="coerce")
    shown = within(published)
    rows = records[shown]
    out.add_trace(
        go.Scatter(
            x=published[shown],
            y=[CLAIM_PUBLISHED_LEVEL] * int(shown.sum()),
            yaxis=CLAIM_MARKER_AXIS,
            mode="markers",
            name="claim published",
            legendgroup="claims",
            marker={
                "symbol": CLAIM_PUBLISHED_SYMBOL,
                "size": 10,
                "color": NEUTRAL_COLOR,
                "line": {"width": 1.5},
            },
            hovertemplate="%{customdata}<extra></extra>",
            customdata=[_claim_hover(row, "published") for row in rows.to_dict("records")],
        )
    )
    later = int((horizon.notna() & ~within(horizon)).sum())
    for status in ("met", "missed", "pending", "unverifiable"):
        mask = within(horizon) & (records["status"].astype(str) == status)
        if not mask.any():
            continue
        out.add_trace(
            go.Scatter(
                x=horizon[mask],
                y=[CLAIM_HORIZON_LEVEL] * int(mask.sum()),
                yaxis=CLAIM_MARKER_AXIS,
                mode="markers",
                name=f"claim due: {status}",
                legendgroup="claims",
                marker={
                    "symbol": CLAIM_STATUS_SYMBOLS[status],
                    "size": 11,
                    "color": CLAIM_STATUS_COLORS[status],
                    "line": {"width": 2, "color": CLAIM_STATUS_COLORS[status]},
                },
                hovertemplate="%{customdata}<extra></extra>",
                customdata=[_claim_hover(row, "due") for row in records[mask].to_dict("records")],
            )
        )
    layout_key = "yaxis" + CLAIM_MARKER_AXIS[1:]
    out.update_layout(
        **{layout_key: {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}}
    )
    if later:
        out.add_annotation(
            text=_safe(f"{later} claim horizon(s) after the last period not shown"),
            xref="paper",
            yref="paper",
            x=1,
            y=1.02,
            showarrow=False,
            xanchor="right",
            font={"size": 11, "color": NEUTRAL_COLOR},
        )
    return out


def fig_claim_series(
    view: dict[str, Any], *, status: str | None = None, title: str | None = None, height: int = 280
) -> go.Figure:
    """One claim's realised series with the claimed path from baseline to target.

    ``view`` is :func:`analyzer.views.claims.claim_series_view`: ``series`` (date, value, as
    the check measured it), ``metric``, ``unit``, ``path`` (baseline and target) and
    ``realised`` (the value read at the horizon, or None).
    """
    title = title or "Realised series"
    series: pd.DataFrame = view.get("series")
    path: pd.DataFrame = view.get("path")
    has_series = series is not None and len(series) > 0
    has_path = path is not None and len(path) > 0
    if not has_series and not has_path:
        return _empty(title, "No matching fundamentals series")
    metric = view.get("metric") or "value"
    fig = go.Figure()
    if has_series:
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(series["date"]),
                y=series["value"],
                mode="lines+markers",
                name=_safe(f"{metric} (realised)"),
                line={"color": FUNDAMENTAL_COLOR, "width": 2},
                marker={"size": 4},
            )
        )
    if has_path:
        colour = CLAIM_STATUS_COLORS.get(str(status), NEUTRAL_COLOR)
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(path["date"]),
                y=path["value"],
                mode="lines+markers",
                name="claimed path",
                line={"color": colour, "width": 2, "dash": "dash"},
                marker={"symbol": ["circle-open", "star"], "size": [8, 12]},
                customdata=list(path["point"]),
                hovertemplate="%{customdata}: %{y:,.4~g}<extra></extra>",
            )
        )
    realised = view.get("realised")
    if realised:
        fig.add_trace(
            go.Scatter(
                x=[pd.Timestamp(realised["date"])],
                y=[realised["value"]],
                mode="markers",
                name="at the horizon",
                marker={
                    "symbol": CLAIM_STATUS_SYMBOLS.get(str(status), "circle"),
                    "size": 12,
                    "color": CLAIM_STATUS_COLORS.get(str(status), NEUTRAL_COLOR),
                },
                hovertemplate="realised: %{y:,.4~g}<extra></extra>",
            )
        )
    unit = view.get("unit")
    fig.update_layout(
        title=_safe(title),
        template="plotly_white",
        height=height,
        showlegend=True,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 50, "r": 20, "t": 40, "b": 30},
        yaxis={"title": _safe(unit) if unit else None},
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
        "z_volume": "volume",
        "z_hype": "mean hype",
        "z_growth": "mean growth language",
        "z_evidence": "mean evidence",
        "z_hype_top": "top-decile hype",
    }
    for column, label in labels.items():
        if column in frame.columns:
            fig.add_trace(
                go.Scatter(
                    x=frame["period"], y=frame[column], name=label, mode="lines", line={"width": 1}
                )
            )
    fig.add_trace(
        go.Scatter(
            x=frame["period"],
            y=frame["heat"],
            name="heat",
            mode="lines",
            line={"color": HEAT_COLOR, "width": 3},
        )
    )
    fig.update_layout(
        title=_safe(title),
        template="plotly_white",
        yaxis={"title": "robust z"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def standardised_figure(
    divergence: pd.DataFrame,
    metrics: Sequence[str],
    flags: pd.DataFrame | None = None,
    *,
    title: str = "Heat and fundamentals on one scale",
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
    fig.add_trace(
        go.Scatter(
            x=heat["period"],
            y=heat["heat"],
            name="narrative heat (z)",
            mode="lines+markers",
            line={"color": HEAT_COLOR, "width": 3},
        )
    )
    for trace in _unreliable_markers(heat, "heat"):
        fig.add_trace(trace)
    for metric in metrics:
        rows = divergence[divergence["metric"] == metric].sort_values("period")
        if rows.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=rows["period"],
                y=rows["growth_z"],
                name=html.escape(f"{metric} growth (z)"),
                mode="lines+markers",
                line={"dash": "dot"},
            )
        )
    if flags is not None and not flags.empty:
        chosen = flags[flags["metric"].isin(list(metrics))] if metrics else flags
        for flag in chosen.drop_duplicates(["start", "end"]).itertuples():
            fig.add_vrect(
                x0=pd.Timestamp(flag.start),
                x1=next_period_start(flag.end, freq),
                fillcolor=FLAG_COLOR,
                line_width=0,
                layer="below",
            )
    fig.add_hline(y=0, line_color="#bbbbbb", line_width=1)
    fig.update_layout(
        title=html.escape(title),
        template="plotly_white",
        hovermode="x unified",
        yaxis={"title": "robust z (own history)"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig
