"""Promotions page (`/promotions`): pick a candidate version (``?model=&version=``), see its gate
checklist, approve (confirm dialog stating before -> after), reject or roll back with a required
comment; the audit log (filters, CSV) and the champion history timeline."""

import datetime as dt
from typing import Any

import streamlit as st

import components.first_start  # noqa: F401 - first: on a fresh demo home it shows the seeding at once, before the heavy imports below
from components import promotion_data as data
from components import promotion_views as views
from components.promotion_history import champion_timeline
from components.shell import page_shell, shown_errors
from components.text import md
from services.promotion.approvals import interrupted_notice
from services.promotion.audit import champion_history

ctx = page_shell("Promotions")
views.flash()
if not ctx.mlflow_ok:
    st.stop()
if not ctx.model:
    st.info("No registered model yet: register a model version in MLflow to gate its promotion.")
    st.stop()
model = ctx.model
if notice := interrupted_notice(ctx.settings, model):
    st.warning(notice["text"])
with shown_errors(stop=True):
    versions, state = data.registry(ctx, model)
if not versions:
    st.info(f"Model {md(model)} has no versions yet.")
    st.stop()

left, right = st.columns([3, 2], gap="large")
with left:
    view = views.pick_version(versions)
    views.mlflow_links(data.ui_links(ctx, model, view), view)
    with shown_errors(stop=True):
        result = data.gate(ctx, model, view, state)
    st.subheader(f"Gate checklist · v{view.version}")
    views.checklist(result, view)
with right:
    st.subheader("Decision")
    views.decision_panel(ctx, model, view, state, result)
    st.divider()
    st.subheader("Champion")
    views.rollback_panel(ctx, model, state)

# Full width: the registry table in the narrow right column cut its columns off.
st.subheader("Registered versions")
views.registry_table(versions, state, ctx.settings.lifecycle)

records: list[dict[str, Any]] = []
with shown_errors():
    records = data.records(ctx, model)
st.subheader("Champion history")
now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
segments = champion_history(records, versions, now)
if segments:
    st.plotly_chart(champion_timeline(segments), width="stretch", key="dg_champion_timeline")
else:
    st.caption("No champion yet.")
st.subheader("Audit log")
views.audit_log(records)
