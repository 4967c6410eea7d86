"""Figure builders of the Drift page: plain data in (report / over-time dicts), ``go.Figure`` out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from components.theme import threshold_line

REF_COLOR, CUR_COLOR, BAD, GOOD = "#2563eb", "#f59e0b", "#dc2626", "#16a34a"
NO_DATA = "#9ca3af"
# Colour meaning shared by every page: BAD = at/above its threshold (drifted, breached), GOOD =
# below, NO_DATA = no evidence. Threshold lines are drawn in a neutral grey readable on light and
# dark themes.


def _shares(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [c / total if total else 0.0 for c in counts]


def distribution_figure(dist: dict[str, Any], feature: str) -> go.Figure:
    """Reference vs current as grouped bars of shares (reference decile bins or categories)."""
    fig = go.Figure()
    for side, color in (("reference", REF_COLOR), ("current", CUR_COLOR)):
        fig.add_trace(
            go.Bar(
                x=dist["labels"],
                y=_shares(dist[side]),
                name=side,
                marker_color=color,
                customdata=dist[side],
                hovertemplate="%{x}<br>share %{y:.1%}<br>count %{customdata}",
            )
        )
    axis = "reference decile bin" if dist["kind"] == "numeric" else "category"
    fig.update_layout(
        title=f"{feature}: distribution",
        barmode="group",
        yaxis_tickformat=".0%",
        xaxis_title=axis,
        yaxis_title="share of rows",
        height=360,
        margin=dict(l=10, r=10, t=50, b=40),
        legend=dict(orientation="h", y=1.1),
    )
    return fig


def ecdf_xy(dist: dict[str, Any], side: str) -> tuple[list[float], list[float]]:
    """One side's ECDF points: the report's ``<side>_ecdf`` (counts at the reference's CDF points),
    else its quantile grid."""
    ecdf = dist.get(f"{side}_ecdf") or {}
    if ecdf.get("x"):
        return list(ecdf["x"]), list(ecdf["y"])
    grid = dist.get(f"{side}_grid") or []
    return list(grid), list(np.linspace(0, 1, len(grid))) if grid else []


def ecdf_figure(dist: dict[str, Any], feature: str) -> go.Figure:
    """Empirical CDFs of a numeric feature from the stored quantile grids (no raw rows)."""
    fig = go.Figure()
    for side, color in (("reference", REF_COLOR), ("current", CUR_COLOR)):
        x, y = ecdf_xy(dist, side)
        if x:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    name=side,
                    line=dict(color=color, shape="hv"),
                    hovertemplate="≤ %{x}: %{y:.1%}<extra>" + side + "</extra>",
                )
            )
    fig.update_layout(
        title=f"{feature}: cumulative distribution",
        xaxis_title=feature,
        yaxis_title="ECDF",
        height=360,
        margin=dict(l=10, r=10, t=50, b=40),
        legend=dict(orientation="h", y=1.1),
    )
    return fig


def severity(feature: dict[str, Any]) -> float | None:
    """How far a feature is from its threshold: 1.0 = at the threshold, > 1 drifted.
    Effect tests (the default decision): effect / threshold, held just below 1 while the
    BH-adjusted significance p-value is not below alpha (a noisy effect on a small window is not
    drift); p-value tests (ks / chi2, the legacy rule): log(adjusted p) / log(threshold)."""
    if feature.get("test") in ("ks", "chi2"):
        p = feature.get("p_value_adjusted")
        if p is None:
            return None
        p = max(float(p), 1e-300)
        return float(np.log(p) / np.log(feature["threshold"])) if p < 1 else 0.0
    stat = feature.get("statistic")
    if stat is None:  # a constant reference the current left (no finite effect)
        return None
    sev = (
        float(stat) / float(feature["threshold"]) if feature["threshold"] else (3.0 if feature.get("drifted") else 0.0)
    )
    if feature.get("significant") is False:
        sev = min(sev, 0.99)
    return sev


def heatmap_figure(over_time: dict[str, Any], title: str = "Drift over time") -> go.Figure:
    """Feature × window heatmap of severity (statistic vs threshold, capped at 3); drifted cells ✕."""
    windows = over_time["windows"]
    feats = list(over_time["features"])
    x = [w["start"] for w in windows]
    z, text, true = [], [], []
    for f in feats:
        row, marks, ratios = [], [], []
        for w in windows:
            cell = w["features"].get(f)
            sev = severity(cell) if cell else None
            row.append(None if sev is None else min(sev, 3.0))  # the colour saturates at 3 ×
            ratios.append("—" if sev is None else f"{sev:.2f}")  # the hover says the true ratio
            marks.append("✕" if cell and cell["drifted"] else "")
        z.append(row)
        text.append(marks)
        true.append(ratios)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=feats,
            text=text,
            texttemplate="%{text}",
            zmin=0,
            zmax=3,
            colorscale=[[0, "#f0fdf4"], [0.33, "#fde68a"], [0.34, "#fca5a5"], [1, "#991b1b"]],
            customdata=true,
            colorbar=dict(title="× threshold"),
            hovertemplate="%{y}<br>%{x}<br>%{customdata} × threshold<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        # At least 240 px: with two rows (prediction, label) the colour bar needs room for its ticks.
        height=max(240, 120 + 36 * len(feats)),
        margin=dict(l=10, r=10, t=50, b=40),
        xaxis_title=f"window ({over_time.get('unit', 'day')})",
    )
    return fig


def drift_share_figure(over_time: dict[str, Any], threshold: float) -> go.Figure:
    windows = over_time["windows"]
    fig = go.Figure()
    for drifted, name, color in (
        (True, "drift share ≥ threshold (dataset drift)", BAD),
        (False, "drift share below threshold", GOOD),
    ):
        ws = [w for w in windows if bool(w["drifted"]) == drifted]
        if ws:
            fig.add_trace(
                go.Bar(
                    x=[w["start"] for w in ws],
                    y=[w["drift_share"] for w in ws],
                    marker_color=color,
                    name=name,
                    hovertemplate="%{x}<br>%{y:.0%} of features drifted<extra></extra>",
                )
            )
    fig.add_hline(
        y=threshold, line_dash="dash", line_color=threshold_line(), annotation_text=f"dataset threshold {threshold:.0%}"
    )
    fig.update_layout(
        title="Share of drifted features per window",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1],
        height=300,
        margin=dict(l=10, r=10, t=50, b=40),
        barmode="overlay",
        legend=dict(orientation="h", y=1.12),
    )
    return fig


def performance_figure(perf: dict[str, Any], metrics: Sequence[str] = ("roc_auc", "accuracy")) -> go.Figure:
    """Per-window metrics from delayed labels, with the reference window's value as a dashed line."""
    fig = go.Figure()
    colors = (REF_COLOR, CUR_COLOR, "#9333ea")
    x = [w["start"] for w in perf["windows"]]
    for i, m in enumerate(metrics):
        fig.add_trace(
            go.Scatter(
                x=x, y=[w.get(m) for w in perf["windows"]], mode="lines+markers", name=m, line=dict(color=colors[i % 3])
            )
        )
        ref = (perf.get("reference") or {}).get(m)
        if ref is not None and x:
            # A dashed line in the metric's colour, named in the legend: a label written on the
            # plot sat on the metric's own points.
            fig.add_trace(
                go.Scatter(
                    x=[x[0], x[-1]],
                    y=[ref, ref],
                    mode="lines",
                    name=f"reference {m} {ref:.3f}",
                    line=dict(color=colors[i % 3], dash="dash", width=1.5),
                    hovertemplate=f"reference {m} {ref:.3f}<extra></extra>",
                )
            )
    fig.update_layout(
        title="Model performance over time (labelled rows)",
        # Up to seven series with the estimates: the legend goes under the dates, not over the data.
        height=440,
        margin=dict(l=10, r=10, t=50, b=120),
        legend=dict(orientation="h", yanchor="top", y=-0.16),
    )
    return fig


def label_rate_figure(perf: dict[str, Any]) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=[w["start"] for w in perf["windows"]],
            y=[w.get("label_rate") for w in perf["windows"]],
            mode="lines+markers",
            name="label rate",
            line=dict(color=CUR_COLOR),
        )
    )
    ref = (perf.get("reference") or {}).get("label_rate")
    if ref is not None:
        fig.add_hline(y=ref, line_dash="dash", line_color=threshold_line(), annotation_text=f"reference {ref:.1%}")
    fig.update_layout(
        title="Label rate over time (label drift)",
        yaxis_tickformat=".0%",
        height=300,
        margin=dict(l=10, r=10, t=50, b=40),
    )
    return fig
