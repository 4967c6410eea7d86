"""Rendering of the Overview page (data comes from ``services.overview``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from components.identity import with_persona
from components.tables import DASH, fitted, stage_text, utc_second
from components.text import code, md
from services.overview import ModelOverview


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def since_text(value: str | None) -> tuple[str, str]:
    """(the day, the full moment in UTC) of an ISO timestamp; a bare date stays a date."""
    if not value:
        return "—", "unknown"
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value[:10], value
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    if (when.hour, when.minute, when.second) == (0, 0, 0):
        return f"{when:%Y-%m-%d}", f"{when:%Y-%m-%d}"
    return f"{when:%Y-%m-%d}", f"{when:%Y-%m-%d %H:%M} UTC"


def render_model_overview(ov: ModelOverview) -> None:
    st.subheader(md(ov.name))
    if ov.description:
        st.caption(md(ov.description, limit=1000))
    c1, c2, c3, c4 = st.columns(4)
    if ov.champion:
        c1.metric(
            "Champion",
            f"v{ov.champion.version}",
            help=f"{'alias champion' if ov.lifecycle == 'aliases' else 'stage Production'}",
        )
        day, moment = since_text(ov.champion.since)
        restored = ov.champion.restored
        c2.metric(
            "Champion since",
            day,
            delta=f"restored {since_text(restored)[1]}" if restored else None,
            delta_color="off",
            delta_arrow="off",
            help=f"champion since {moment} — from the audit history (its approval), else the registry's "
            "record of when it became champion"
            + (
                f". A rollback on {since_text(restored)[1]} made it champion again: its period resumed."
                if restored
                else ""
            ),
        )
        c3.metric(
            "ROC AUC (at registration)",
            _fmt(ov.champion.metrics.get("roc_auc")),
            help="logged by its training run on that run's evaluation rows. The retraining trigger's "
            "reference is another measurement: its ROC AUC on the labelled rows of its reference "
            "(training) window, shown in the trigger panel below.",
        )
        c4.metric("Candidates awaiting a decision", len(ov.candidates))
    else:
        c1.metric("Champion", "none")
        c4.metric("Candidates awaiting a decision", len(ov.candidates))
        st.warning(
            "This model has no champion "
            f"({'no version holds the alias champion' if ov.lifecycle == 'aliases' else 'no version in Production'})."
        )

    left, right = st.columns(2)
    with left:
        st.markdown("**Latest retraining run**")
        latest = ov.latest_retraining
        if latest and ov.experiment is not None:  # (a retraining run is found only in a known experiment)
            run = latest.run
            started = run.start_time.strftime("%Y-%m-%d %H:%M UTC") if run.start_time else ""
            st.markdown(
                f"{code(run.run_name)} · started {started} · {md(run.status)} · {len(latest.children)} child runs"
            )
            if run.trigger:
                st.info(f"Trigger: {md(run.trigger, limit=2000)}", icon=":material/bolt:")
            st.page_link(
                "pages/runs.py",
                label="Open in Retraining runs",
                icon=":material/arrow_forward:",
                query_params=with_persona({"model": ov.name, "experiment": ov.experiment, "run": run.run_id}),
            )
        else:
            st.caption("No retraining (parent) run found in this model's experiment.")
    with right:
        st.markdown("**Candidates awaiting a decision**")
        if ov.candidates:
            frame = pd.DataFrame(ov.candidates)[["version", "author", "created", "stage", "aliases"]]
            frame["stage"] = [stage_text(v) for v in frame["stage"]]
            st.dataframe(
                frame,
                hide_index=True,
                width="stretch",
                column_config={
                    "version": st.column_config.TextColumn("Version", width="small"),
                    "author": st.column_config.TextColumn("Author"),
                    "created": st.column_config.TextColumn("Registered"),
                    "stage": st.column_config.TextColumn("Stage", width="small"),
                    "aliases": st.column_config.TextColumn("Aliases", width="small"),
                },
            )
            st.page_link(
                "pages/promotions.py",
                label=f"Review v{ov.candidates[0]['version']} in Promotions",
                icon=":material/arrow_forward:",
                # The table's first row (not its last: QA followed it to the failing v3).
                query_params=with_persona({"model": ov.name, "version": ov.candidates[0]["version"]}),
            )
        else:
            st.caption("No open candidates.")


def render_drift_verdict(verdict: dict[str, Any] | None, model: str) -> None:
    st.markdown("**Latest drift verdict**")
    if verdict is None:
        st.caption("No scoring log configured for this model (`[models.<name>] source`).")
        return
    share = f"{verdict['drift_share']:.0%} of {verdict['total_features']} features drifted"
    window = f"{verdict['current']} vs reference {verdict['reference']}"
    if verdict["drifted"]:
        st.warning(
            f"Dataset drift: {share} ({md(', '.join(verdict['drifted_features']))}) · {md(window)}",
            icon=":material/warning:",
        )
    elif verdict["drifted_features"]:
        # Below the dataset threshold: green as on the Drift page (the warning is for dataset drift).
        st.success(
            f"No dataset drift, but {share} ({md(', '.join(verdict['drifted_features']))}) · {md(window)}",
            icon=":material/check_circle:",
        )
    else:
        st.success(f"No drift: {share} · {md(window)}", icon=":material/check_circle:")
    st.page_link(
        "pages/drift.py",
        label="Open in Drift",
        icon=":material/arrow_forward:",
        query_params=with_persona({"model": model}),
    )


def render_audit(records: list[dict[str, Any]]) -> None:
    st.markdown("**Recent decisions (audit log)**")
    if not records:
        st.caption("No decisions recorded yet.")
        return
    cols = ["at", "user", "action", "outcome", "version", "comment", "reason", "model"]
    frame = pd.DataFrame(records)
    frame = frame[[c for c in cols if c in frame.columns]]
    # As on Promotions: times to the second in UTC, an em dash for no comment (not "None").
    if "at" in frame:
        frame["at"] = frame["at"].map(utc_second)
    if "comment" in frame:
        frame["comment"] = [c if isinstance(c, str) and c else DASH for c in frame["comment"]]
    st.dataframe(frame, hide_index=True, width="stretch", column_config=fitted(frame, cap_px=420))
