"""The retraining-trigger panel (Overview and Drift pages): the current decision with its
reasons, the breach timeline and the cool-down. Renders only; the decision comes from
:func:`services.retraining.trigger.evaluate` (cached, small keys), the figure from :func:`breach_timeline_figure`
(pure, unit-tested on the decision document)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from components.drift_charts import BAD, GOOD, NO_DATA
from components.drift_data import workspace_key
from components.text import code, md
from services.errors import DriftGateError
from services.retraining.trigger import evaluate, state_token

# One colour meaning on every page (components.drift_charts): red = at/above the threshold
# (drifted / breached), green = below, grey = no data.
BREACH = BAD
CALM = GOOD
NO_EVIDENCE = NO_DATA
BEFORE_PROMOTION = "#a5b4fc"  # indigo-300: scored by the previous champion, not counted
NOT_COUNTED = "before the champion's promotion (not counted)"


def breach_timeline_figure(doc: dict[str, Any]) -> go.Figure:
    """Per window: dataset drift share (bars, red when the window breached) against its threshold,
    and the performance metric against the reference minus the allowed drop. Windows without data
    are grey; windows without labels have no performance point (no evidence, not a breach)."""
    policy = doc.get("policy") or {}
    windows = doc.get("windows") or []
    metric = doc.get("metric") or policy.get("performance_metric") or "performance"
    x = [w["start"][:10] for w in windows]
    hover = []
    for w in windows:
        parts = [f"{w['start'][:10]}", f"rows {w.get('rows', 0)}"]
        if w.get("drifted_features"):
            parts.append("drifted: " + ", ".join(w["drifted_features"]))
        parts += list(w.get("notes") or [])
        parts.append("BREACH" if w.get("breach") else "no breach")
        hover.append("<br>".join(parts))

    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("Dataset drift share", f"{metric} (delayed labels)"),
    )
    # The bar's colour says what its height says: drift share at/above the threshold (red) or
    # below (green); a window that breached on performance only keeps a green bar (its red marker
    # is in the lower panel). One trace per meaning, so the legend names each colour.
    # Windows before the champion's promotion are not evidence against it: their own colour, not
    # a green that would claim "below threshold" for a share at 0.50.
    kinds = [
        "no data"
        if not w.get("rows") or w.get("drift_share") is None
        else NOT_COUNTED
        if w.get("counted") is False
        else "drift share ≥ threshold"
        if w.get("drift_breach")
        else "drift share below threshold"
        for w in windows
    ]
    for kind, color in (
        ("drift share ≥ threshold", BREACH),
        ("drift share below threshold", CALM),
        (NOT_COUNTED, BEFORE_PROMOTION),
        ("no data", NO_EVIDENCE),
    ):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        if not idx:
            continue
        fig.add_trace(
            go.Bar(
                x=[x[i] for i in idx],
                y=[windows[i].get("drift_share") or (0.02 if kind == "no data" else 0) for i in idx],
                marker_color=color,
                name=kind,
                hovertext=[hover[i] for i in idx],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    threshold = policy.get("drift_share_threshold")
    if threshold is not None:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[threshold] * len(x),
                mode="lines",
                name="drift threshold",
                line={"color": BREACH, "dash": "dash"},
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[w.get("performance") for w in windows],
            mode="lines+markers",
            name=metric,
            connectgaps=False,
            line={"color": "#64748b"},
            marker={
                "color": [
                    BEFORE_PROMOTION if w.get("counted") is False else BREACH if w.get("performance_breach") else CALM
                    for w in windows
                ],
                "size": 8,
            },
        ),
        row=2,
        col=1,
    )
    if any(w.get("estimated_performance") is not None for w in windows):
        counted = bool(policy.get("estimated_performance"))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[w.get("estimated_performance") for w in windows],
                mode="lines+markers",
                connectgaps=False,
                name=f"estimated {metric} (no labels; {'counted' if counted else 'advisory'})",
                line={"color": "#7c3aed", "dash": "dash"},
                marker={
                    "symbol": "circle-open",
                    "color": [BREACH if w.get("performance_breach") else "#7c3aed" for w in windows],
                },
            ),
            row=2,
            col=1,
        )
    ref = doc.get("reference_performance")
    drop = policy.get("performance_drop_threshold")
    if ref is not None:
        fig.add_trace(
            go.Scatter(x=x, y=[ref] * len(x), mode="lines", name="reference", line={"color": "#1f77b4", "dash": "dot"}),
            row=2,
            col=1,
        )
        if drop is not None:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[ref - drop] * len(x),
                    mode="lines",
                    name="reference − allowed drop",
                    line={"color": BREACH, "dash": "dash"},
                ),
                row=2,
                col=1,
            )
    until = doc.get("cooldown_until")
    if until and x:
        fig.add_annotation(
            text=f"cool-down until {until[:16].replace('T', ' ')}",
            xref="paper",
            yref="paper",
            x=1,
            y=1.12,
            showarrow=False,
            xanchor="right",
        )
    fig.update_yaxes(range=[0, 1.05], row=1, col=1)
    fig.update_layout(
        height=480,
        # The legend hangs below the dates (two lines: "Nov 1" over "2026"), never on them.
        margin={"l": 40, "r": 10, "t": 50, "b": 110},
        bargap=0.15,
        barmode="overlay",
        legend={"orientation": "h", "yanchor": "top", "y": -0.14},
        title=None,
    )
    return fig


@st.cache_data(ttl=15, max_entries=32, show_spinner=False)
def trigger_state(key: tuple, model: str, _settings, _client) -> str:
    """Newest retraining run + scoring-log version: part of the decision's cache key."""
    return state_token(_settings, model, _client)


@st.cache_data(ttl=300, max_entries=16, show_spinner="Evaluating the retraining trigger…")
def trigger_decision(key: tuple, model: str, state: str, _settings, _client) -> dict[str, Any]:
    """The decision document; keyed by (workspace key, model, state token) — Settings/client ride
    unhashed."""
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
        st.caption(
            f"{code(model)} has no scoring log configured ({code(f'[models.{model}] source')}), so the trigger "
            "cannot evaluate it."
        )
        return
    key = workspace_key(ctx.settings)  # with the newest decision: a promotion changes the reference
    try:
        state = trigger_state(key, model, ctx.settings, ctx.client)
        doc = trigger_decision(key, model, state, ctx.settings, ctx.client)
    except DriftGateError as exc:
        st.error(md(exc, limit=None))
        return
    reasons = [md(r, limit=None) for r in doc.get("reasons") or []]
    if doc["retrain"]:
        st.warning(f"**Retraining is due** for {code(model)}: {reasons[0] if reasons else ''}")
    elif doc.get("cooldown_until"):
        st.info(f"**No retraining**: cool-down until {doc['cooldown_until'][:16].replace('T', ' ')} UTC")
    else:
        st.success(f"**No retraining** for {code(model)}: {reasons[0] if reasons else ''}")
    c1, c2, c3 = st.columns(3)
    policy = doc.get("policy") or {}
    c1.metric(
        "Consecutive breached windows",
        doc.get("consecutive_breaches", 0),
        help=f"retraining needs {policy.get('consecutive_windows')} in a row",
    )
    last = doc.get("last_retraining")
    c2.metric(
        "Last retraining run",
        last["started"][:10] if last else "none",
        help=md((last or {}).get("reason"), limit=2000) if (last or {}).get("reason") else None,
    )
    c3.metric(
        "Cool-down",
        doc["cooldown_until"][:10] if doc.get("cooldown_until") else "over",
        help=f"{policy.get('cooldown_days')} days after a retraining run",
    )
    st.markdown(decision_rule_text(doc))
    with st.expander("Why", expanded=bool(doc["retrain"])):
        for reason in reasons:
            st.markdown(f"- {reason}")
        st.caption(
            f"As of {doc['as_of'][:16].replace('T', ' ')} UTC · policy: drift share ≥ "
            f"{policy.get('drift_share_threshold')}, {doc.get('metric')} drop ≥ "
            f"{policy.get('performance_drop_threshold')}, {policy.get('consecutive_windows')} consecutive "
            f"{policy.get('window')} windows, cool-down {policy.get('cooldown_days')} days · CLI: "
            f"{code(f'python -m services.cli trigger --model {model}')} then {code(f'retrain --model {model}')}"
        )
    st.plotly_chart(breach_timeline_figure(doc), key=f"trigger_timeline_{model}", width="stretch")
    note = estimate_note(doc)
    if note:
        st.caption(note)


def _days(value: Any) -> str:
    n = float(value)
    text = f"{n:g}"
    return f"{text} day" if n == 1 else f"{text} days"


def decision_rule_text(doc: dict[str, Any]) -> str:
    """The trigger's decision rule in plain words, with this policy's numbers: what makes one
    window a breach, how many in a row it takes, what a window without evidence counts as, and the
    cool-down. Markdown (our own words; the metric name is escaped)."""
    policy = doc.get("policy") or {}
    metric = md(str(doc.get("metric") or policy.get("performance_metric") or "performance"))
    window = "day" if policy.get("window", "daily") in ("daily", "day") else "week"
    share = float(policy.get("drift_share_threshold", 0.5))
    drop = float(policy.get("performance_drop_threshold", 0.05))
    n = int(policy.get("consecutive_windows", 3))
    ref = (
        f"the fixed reference {float(policy['reference_performance']):.3f}"
        if policy.get("reference_performance") is not None
        else "the champion's reference performance (measured on its training window)"
    )
    lines = [
        "**How the decision is made.** "
        f"The scoring log is cut into one window per {window}. A window is a **breach** when "
        f"at least {share:.0%} of the features drifted in it, or when its {metric} fell by "
        f"{drop:g} or more below {ref}. "
        f"Retraining is **due** after {n} breached window{'s' if n != 1 else ''} in a row "
        f"(the newest {n} {window}s). A window with too few rows "
        f"(under {policy.get('min_rows', 30)}) or labels (under {policy.get('min_labels', 30)}) "
        "is *no evidence* for that signal, never a breach; a window with no rows at all (a gap in the "
        "log) breaks the run, so missing data never starts a retraining. "
        "After a champion change, windows before the promotion are not held against the new champion.",
    ]
    cooldown = policy.get("cooldown_days")
    if cooldown:
        lines.append(
            f"**Cool-down:** for {_days(cooldown)} after a retraining run no new one is started, "
            "even when the windows breach, so one drift episode does not start several retrainings."
        )
    if policy.get("schedule_days"):
        lines.append(
            f"**Schedule:** retraining is also due {_days(policy['schedule_days'])} after the last "
            "retraining run, breach or not."
        )
    return "\n\n".join(lines)


def estimate_note(doc: dict[str, Any]) -> str | None:
    """The line under the timeline about estimated performance (CBPE) on unlabelled windows."""
    est = [w for w in doc.get("windows") or [] if w.get("estimated_performance") is not None]
    if not est:
        return None
    metric = doc.get("metric") or "performance"
    last = est[-1]
    counted = any(w.get("performance_estimated") for w in est)
    how = (
        "counted as evidence ([trigger] estimated_performance = true)"
        if counted
        else "advisory evidence, not counted (set [trigger] estimated_performance = true to count it)"
    )
    unreliable = any("estimates unreliable" in n for w in est for n in w.get("notes") or [])
    return (
        f"Dashed: {metric} estimated from the scores for {len(est)} window(s) without labels "
        f"(latest {last['start'][:10]}: {last['estimated_performance']:.3f}) — {how}"
        + ("; estimates unreliable: concept drift on the labelled windows" if unreliable else "")
        + ". The estimate assumes no concept drift."
    )
