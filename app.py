"""DriftGate entry script and the Overview page (``/``)."""

from __future__ import annotations

import streamlit as st

import components.first_start  # noqa: F401 - first: on a fresh demo home it shows the seeding at once, before the heavy imports below
from components.drift_data import decisions_key
from components.overview import render_audit, render_drift_verdict, render_model_overview
from components.shell import page_shell, shown_errors
from components.trigger_panel import render_trigger_panel
from services.overview import drift_verdict, model_overview, recent_audit
from services.promotion.approvals import interrupted_notice

ctx = page_shell("Overview")
st.caption(
    "Champion per model, the latest drift-triggered retraining, candidates awaiting a decision "
    "and the latest decisions. Select a model in the sidebar."
)


@st.cache_data(ttl=20, max_entries=32, show_spinner="Reading the registry…")
def _overview(tracking_uri: str, registry_uri: str, lifecycle: str, model: str, audit_id: int):
    # audit_id (the newest audit record) changes with every decision: no stale champion after one.
    return model_overview(ctx.client, ctx.settings, model)


@st.cache_data(ttl=300, max_entries=32, show_spinner="Checking the latest window for drift…")
def _verdict(tracking_uri: str, model: str, config: str, audit_id: int):
    # audit_id: a promotion (page or CLI) changes the champion, hence the reference window
    return drift_verdict(ctx.settings, ctx.client, model)


if ctx.model and (notice := interrupted_notice(ctx.settings, ctx.model)):
    st.warning(notice["text"])  # plain text: our own sentence and timestamps
if ctx.mlflow_ok and ctx.model:
    decided = decisions_key(ctx.settings)  # one audit read keys both caches below
    with shown_errors():
        render_model_overview(
            _overview(
                ctx.settings.tracking_uri,
                ctx.settings.registry_uri,
                ctx.settings.lifecycle,
                ctx.model,
                decided,
            )
        )
    with shown_errors():
        render_drift_verdict(
            _verdict(ctx.settings.tracking_uri, ctx.model, repr(ctx.settings.model(ctx.model)), decided),
            ctx.model,
        )
    render_trigger_panel(ctx)
elif ctx.mlflow_ok:
    st.info(
        "No registered models yet. Register a model in MLflow, or run with no MLFLOW_TRACKING_URI "
        "to open the embedded demo workspace."
    )

with shown_errors():
    render_audit(recent_audit(ctx.settings, model=ctx.model, limit=10))
