"""Estimated performance (CBPE) on the Drift page: the extra chart series and the caveats.
Renders only; the numbers come from :func:`services.drift.estimation.estimated_performance`."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from components.text import md

EST_COLOR = "#7c3aed"


def unlabelled(est: dict[str, Any]) -> list[dict[str, Any]]:
    """Windows without (enough) labels that have an estimate."""
    return [w for w in est["windows"] if w["realised_roc_auc"] is None and w["estimated_roc_auc"] is not None]


def add_estimated_series(fig: go.Figure, est: dict[str, Any] | None) -> go.Figure:
    """Adds the estimated ROC AUC of the windows without labels (dashed, with its band) and, dotted,
    the estimate on the labelled windows (where it can be checked against the realised value)."""
    if not est:
        return fig
    todo = unlabelled(est)
    if todo:
        x = [w["start"] for w in todo]
        lo = [w["band"][0] if w["band"] else None for w in todo]
        hi = [w["band"][1] if w["band"] else None for w in todo]
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=hi + lo[::-1],
                mode="lines",  # a shaded area only: no dots at its corners that read as data points
                fill="toself",
                fillcolor="rgba(124,58,237,0.15)",
                line=dict(width=0),
                hoverinfo="skip",
                name="estimate band (95%)",
                showlegend=True,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[w["estimated_roc_auc"] for w in todo],
                mode="lines+markers",
                name="estimated roc_auc (no labels yet)",
                line=dict(color=EST_COLOR, dash="dash"),
                marker=dict(symbol="circle-open"),
                customdata=[[w["band"][0], w["band"][1]] if w["band"] else [None, None] for w in todo],
                hovertemplate="%{x}<br>estimated %{y:.3f}<br>band %{customdata[0]:.3f}–%{customdata[1]:.3f}"
                "<extra>no labels yet</extra>",
            )
        )
    checked = [w for w in est["windows"] if w["realised_roc_auc"] is not None and w["estimated_roc_auc"] is not None]
    if checked:
        fig.add_trace(
            go.Scatter(
                x=[w["start"] for w in checked],
                y=[w["estimated_roc_auc"] for w in checked],
                mode="lines",
                name="estimated roc_auc (labelled windows)",
                line=dict(color=EST_COLOR, dash="dot", width=1),
                opacity=0.6,
            )
        )
    return fig


def estimate_caption(est: dict[str, Any]) -> str:
    todo = unlabelled(est)
    head = ""
    if todo:
        last = todo[-1]
        band = f" (band {last['band'][0]:.3f}–{last['band'][1]:.3f})" if last["band"] else ""
        head = (
            f"{len(todo)} window(s) without labels: estimated ROC AUC {last['estimated_roc_auc']:.3f}{band} "
            f"for {last['start']}. "
        )
    return head + est["assumption"]


def render_estimates(st, est: dict[str, Any] | None, error: str | None = None) -> None:
    """The caveat line, and the warning when realised and estimated diverged (concept drift)."""
    if error:
        st.caption(f"Estimated performance not shown: {md(error)}")
        return
    if not est:
        return
    if est.get("warning"):
        st.warning(
            f"**{est['warning']}** — on {len(est['diverged_windows'])} labelled window(s) the realised "
            f"ROC AUC left the estimate's band by more than {est['tolerance']:g} (from "
            f"{est['diverged_windows'][0]}); the estimates for the unlabelled windows assume the relation "
            "between score and label has not changed, so they are likely too optimistic."
        )
    st.caption(estimate_caption(est))
