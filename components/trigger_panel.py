"""The retraining-trigger panel (Overview and Drift pages): the current decision with its
reasons, the breach timeline and the cool-down. Renders only; the decision comes from
:func:`services.trigger.evaluate` (cached, small keys), the figure from :func:`breach_timeline_figure`
(pure, unit-tested on the decision document)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from services.errors import DriftGateError

BREACH = "#d62728"
CALM = "#2ca02c"
NO_EVIDENCE = "#bbbbbb"


def breach_timeline_figure(doc: dict[str, Any]) -> go.Figure:
    """Per window: dataset drift share (bars, red when the window breached) against its threshold,
    and the performance metric against the reference minus the allowed drop. Windows without data
    are grey; windows without labels have no performance point (no evidence, not a breach)."""
    policy = doc.get("policy") or {}
    windows = doc.get("windows") or []
    metric = doc.get("metric") or policy.get("performance_metric") or "performance"
    x = [w["start"][:10] for w in windows]
    colors = [NO_EVIDENCE if not w.get("rows") else BREACH if w.get("breach") else CALM for w in windows]
    hover = []
    for w in windows:
        parts = [f"{w['start'][:10]}", f"rows {w.get('rows', 0)}"]
        if w.get("drifted_features"):
            parts.append("drifted: " + ", ".join(w["drifted_features"]))
        parts += list(w.get("notes") or [])
        parts.append("BREACH" if w.get("breach") else "no breach")
        hover.append("<br>".join(parts))

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Dataset drift share", f"{metric} (delayed labels)"))
    fig.add_trace(go.Bar(x=x, y=[w.get("drift_share") if w.get("drift_share") is not None else 0 for w in windows],
                         marker_color=colors, name="drift share", hovertext=hover, hoverinfo="text"),
                  row=1, col=1)
    threshold = policy.get("drift_share_threshold")
    if threshold is not None:
        fig.add_trace(go.Scatter(x=x, y=[threshold] * len(x), mode="lines", name="drift threshold",
                                 line={"color": BREACH, "dash": "dash"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[w.get("performance") for w in windows], mode="lines+markers",
                             name=metric, connectgaps=False,
                             marker={"color": [BREACH if w.get("performance_breach") else CALM for w in windows]}),
                  row=2, col=1)
    if any(w.get("estimated_performance") is not None for w in windows):
        counted = bool(policy.get("estimated_performance"))
        fig.add_trace(go.Scatter(
            x=x, y=[w.get("estimated_performance") for w in windows], mode="lines+markers", connectgaps=False,
            name=f"estimated {metric} (no labels; {'counted' if counted else 'advisory'})",
            line={"color": "#7c3aed", "dash": "dash"},
            marker={"symbol": "circle-open",
                    "color": [BREACH if w.get("performance_breach") else "#7c3aed" for w in windows]}),
            row=2, col=1)
    ref = doc.get("reference_performance")
    drop = policy.get("performance_drop_threshold")
    if ref is not None:
        fig.add_trace(go.Scatter(x=x, y=[ref] * len(x), mode="lines", name="reference",
                                 line={"color": "#1f77b4", "dash": "dot"}), row=2, col=1)
        if drop is not None:
            fig.add_trace(go.Scatter(x=x, y=[ref - drop] * len(x), mode="lines", name="reference − allowed drop",
                                     line={"color": BREACH, "dash": "dash"}), row=2, col=1)
    until = doc.get("cooldown_until")
    if until and x:
        fig.add_annotation(text=f"cool-down until {until[:16].replace('T', ' ')}", xref="paper", yref="paper",
                           x=1, y=1.12, showarrow=False, xanchor="right")
    fig.update_yaxes(range=[0, 1.05], row=1, col=1)
    fig.update_layout(height=420, margin={"l": 40, "r": 10, "t": 50, "b": 30}, bargap=0.15,
                      legend={"orientation": "h", "y": -0.12}, title=None)
    return fig


@st.cache_data(ttl=15, max_entries=32, show_spinner=False)
def trigger_state(key: tuple, model: str, _settings, _client) -> str:
    """Newest retraining run + scoring-log version: part of the decision's cache key."""
    from services.trigger import state_token

    return state_token(_settings, model, _client)


@st.cache_data(ttl=300, max_entries=16, show_spinner="Evaluating the retraining trigger…")
def trigger_decision(key: tuple, model: str, state: str, _settings, _client) -> dict[str, Any]:
    """The decision document; keyed by (workspace key, model, state token) — Settings/client ride
    unhashed."""
    from services.trigger import evaluate

    return evaluate(_settings, model, client=_client).to_dict()


def render_trigger_panel(ctx, model: str | None = None) -> None:
    """The panel for ``model`` (default: the page's selected model). Models without a scoring log
    get a one-line hint; errors are one line, never a traceback."""
    model = model or getattr(ctx, "model", None)
    st.subheader("Retraining trigger")
    if not model:
        st.caption("Select a model to see whether retraining is due.")
        return
    if not ctx.settings.model(model).get("source"):
        st.caption(f"`{model}` has no scoring log configured (`[models.{model}] source`), so the trigger "
                   "cannot evaluate it.")
        return
    key = (str(ctx.settings.home), str(ctx.settings.config_path), ctx.settings.tracking_uri)
    try:
        state = trigger_state(key, model, ctx.settings, ctx.client)
        doc = trigger_decision(key, model, state, ctx.settings, ctx.client)
    except DriftGateError as exc:
        st.error(str(exc))
        return
    reasons = doc.get("reasons") or []
    if doc["retrain"]:
        st.warning(f"**Retraining is due** for `{model}`: {reasons[0] if reasons else ''}")
    elif doc.get("cooldown_until"):
        st.info(f"**No retraining**: cool-down until {doc['cooldown_until'][:16].replace('T', ' ')} UTC")
    else:
        st.success(f"**No retraining** for `{model}`: {reasons[0] if reasons else ''}")
    c1, c2, c3 = st.columns(3)
    policy = doc.get("policy") or {}
    c1.metric("Consecutive breached windows", doc.get("consecutive_breaches", 0),
              help=f"retraining needs {policy.get('consecutive_windows')} in a row")
    last = doc.get("last_retraining")
    c2.metric("Last retraining run", last["started"][:10] if last else "none",
              help=(last or {}).get("reason") or None)
    c3.metric("Cool-down", doc["cooldown_until"][:10] if doc.get("cooldown_until") else "over",
              help=f"{policy.get('cooldown_days')} days after a retraining run")
    with st.expander("Why", expanded=bool(doc["retrain"])):
        for reason in reasons:
            st.markdown(f"- {reason}")
        st.caption(f"As of {doc['as_of'][:16].replace('T', ' ')} UTC · policy: drift share ≥ "
                   f"{policy.get('drift_share_threshold')}, {doc.get('metric')} drop ≥ "
                   f"{policy.get('performance_drop_threshold')}, {policy.get('consecutive_windows')} consecutive "
                   f"{policy.get('window')} windows, cool-down {policy.get('cooldown_days')} days · CLI: "
                   f"`python -m services.cli trigger --model {model}` then `retrain --model {model}`")
    st.plotly_chart(breach_timeline_figure(doc), key=f"trigger_timeline_{model}", width="stretch")
    note = estimate_note(doc)
    if note:
        st.caption(note)


def estimate_note(doc: dict[str, Any]) -> str | None:
    """The line under the timeline about estimated performance (CBPE) on unlabelled windows."""
    est = [w for w in doc.get("windows") or [] if w.get("estimated_performance") is not None]
    if not est:
        return None
    metric = doc.get("metric") or "performance"
    last = est[-1]
    counted = any(w.get("performance_estimated") for w in est)
    how = ("counted as evidence ([trigger] estimated_performance = true)" if counted else
           "advisory evidence, not counted (set [trigger] estimated_performance = true to count it)")
    unreliable = any("estimates unreliable" in n for w in est for n in w.get("notes") or [])
    return (f"Dashed: {metric} estimated from the scores for {len(est)} window(s) without labels "
            f"(latest {last['start'][:10]}: {last['estimated_performance']:.3f}) — {how}"
            + ("; estimates unreliable: concept drift on the labelled windows" if unreliable else "")
            + ". The estimate assumes no concept drift.")
