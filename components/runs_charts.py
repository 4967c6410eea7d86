"""Figure builders of the Retraining runs page (plain data in, ``go.Figure`` out; no Streamlit)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from components.chart_labels import label_positions, padded_range
from components.theme import ink

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#f59e0b", "#0891b2", "#6b7280", "#db2777")


def metric_history_lines(history: Sequence[dict[str, Any]], title: str = "metric history") -> go.Figure:
    """One line per (run, metric key) of ``value`` by ``step``.

    ``history``: dicts ``key``, ``step``, ``value`` and optionally ``run`` (a run name) — the rows
    of :func:`services.registry.runs.metric_history` (tagged with the run when several runs are drawn).
    Non-finite values are left out of the lines.
    """
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for h in history:
        v = h.get("value")
        if v is None or not math.isfinite(float(v)):
            continue
        series.setdefault((str(h.get("run") or ""), str(h["key"])), []).append((int(h["step"]), float(v)))
    fig = go.Figure()
    for i, ((run, key), pts) in enumerate(sorted(series.items())):
        pts.sort()
        name = f"{run}: {key}" if run else key
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts],
                y=[p[1] for p in pts],
                mode="lines+markers" if len(pts) < 40 else "lines",
                name=name,
                line=dict(color=PALETTE[i % len(PALETTE)]),
            )
        )
    fig.update_layout(
        title=title, xaxis_title="step", yaxis_title="value", height=380, margin=dict(l=10, r=10, t=60, b=40)
    )
    return fig


def candidates_strip(children: Sequence[dict[str, Any]], metric: str) -> go.Figure:
    """A retraining run's children on one axis by ``metric``: winner green, champion grey.

    ``children``: dicts ``run_name``, ``value``, ``role`` (winner | candidate | champion baseline).
    """
    colours = {"winner": "#16a34a", "champion baseline": "#6b7280"}
    pts = [c for c in children if c.get("value") is not None and math.isfinite(float(c["value"]))]
    fig = go.Figure(
        go.Scatter(
            x=[c["value"] for c in pts],
            y=[c.get("role") or "candidate" for c in pts],
            mode="markers+text",
            text=[c["run_name"] for c in pts],
            textposition=label_positions([float(c["value"]) for c in pts], [c.get("role") or "candidate" for c in pts]),
            cliponaxis=False,
            marker=dict(
                size=14,
                color=[colours.get(c.get("role") or "", "#2563eb") for c in pts],
                line=dict(width=1, color=ink()),
            ),
        )
    )
    fig.update_layout(
        title=f"candidates by {metric}",
        xaxis=dict(title=metric, automargin=True, range=padded_range([float(c["value"]) for c in pts])),
        yaxis=dict(automargin=True, range=[-0.7, len({c.get("role") or "candidate" for c in pts}) - 0.3]),
        height=300,
        margin=dict(l=10, r=10, t=50, b=40),
    )
    return fig
