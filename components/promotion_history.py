"""Champion history timeline: a plotly figure from :func:`services.promotion.audit.champion_history`."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

_COLORS = {"registry": "#94a3b8", "approve": "#2563eb", "rollback": "#f59e0b"}


def champion_timeline(segments: list[dict[str, Any]]) -> go.Figure:
    """One horizontal bar per champion period (x = time, y = version), coloured by how it began."""
    fig = go.Figure()

    for via in ("registry", "approve", "rollback"):
        segs = [s for s in segments if s["via"] == via]
        if not segs:
            continue
        starts = pd.to_datetime([s["start"] for s in segs], utc=True)
        ends = pd.to_datetime([s["end"] for s in segs], utc=True)
        fig.add_trace(
            go.Bar(
                base=[t.isoformat() for t in starts],
                x=[max((e - b).total_seconds() * 1000, 60_000) for b, e in zip(starts, ends)],
                y=[f"v{s['version']}" for s in segs],
                orientation="h",
                name={"registry": "champion (before DriftGate)", "approve": "promoted", "rollback": "rolled back to"}[
                    via
                ],
                marker_color=_COLORS[via],
                customdata=[[s["start"], s["end"]] for s in segs],
                hovertemplate="%{y}: %{customdata[0]} → %{customdata[1]}<extra>%{fullData.name}</extra>",
            )
        )
    # Decisions minutes apart are slivers beside a champion of months: buttons zoom to the last
    # day or week (the range slider would double the chart's height).
    zoom = [
        {"count": 1, "label": "last day", "step": "day", "stepmode": "backward"},
        {"count": 7, "label": "last week", "step": "day", "stepmode": "backward"},
        {"step": "all", "label": "all"},
    ]
    fig.update_layout(
        barmode="overlay",
        height=170 + 40 * len({s["version"] for s in segments}),
        xaxis={"type": "date", "title": "champion from → to (UTC)", "rangeselector": {"buttons": zoom, "y": 1.0}},
        yaxis={"title": "version", "categoryorder": "category ascending"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        # Top right, beside the zoom buttons: not over the newest version's bar or the axis title.
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    return fig
