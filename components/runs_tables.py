"""Tables of the Retraining runs page (st.dataframe + column_config)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from components.tables import dashed, fitted, num, overflow, show_in_full
from components.text import code, md


def parents_table(rows: Sequence[dict[str, Any]], key: str) -> int | None:
    """Retraining runs; returns the index of the row the user selected (or None)."""
    df = pd.DataFrame(
        rows,
        columns=[
            # The short columns first and the long trigger reason last: at 1400 px the reason
            # would push status, candidates and winner out of view.
            "run_name",
            "start_time",
            "status",
            "duration_s",
            "candidates",
            "winner",
            "winner_value",
            "champion_baseline",
            "trigger",
            "run_id",
        ],
    )
    event = st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=key,
        column_config=fitted(
            df,
            {
                "run_name": st.column_config.TextColumn("retraining run", width="medium", pinned=True),
                "start_time": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
                "trigger": st.column_config.TextColumn("trigger reason", width="large"),
                "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f"),
                "candidates": st.column_config.NumberColumn("candidates"),
                "champion_baseline": st.column_config.TextColumn("champion baseline", width="medium"),
                "winner": st.column_config.TextColumn(
                    "winner", width="medium", help="best candidate by the experiment's selection metric"
                ),
                "winner_value": st.column_config.NumberColumn("winner value", format="%.4f"),
                "run_id": st.column_config.TextColumn("run id"),
            },
            shown={"start_time": "YYYY-MM-DD HH:mm"},  # the displayed format
        ),
    )
    long = overflow(df, "trigger")
    if long:
        with st.expander(f"Trigger reasons in full ({len(long)} too long for the table)"):
            for name, reason in zip(df["run_name"], df["trigger"]):
                if reason in long:
                    st.markdown(f"**{md(str(name))}:** {md(reason, limit=None)}")
    picked = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    return picked[0] if picked else None


def children_table(rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> None:
    df = pd.DataFrame(rows)
    config: dict[str, Any] = {
        "run_name": st.column_config.TextColumn("run", width="medium"),
        "start_time": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
        "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f"),
        "role": st.column_config.TextColumn("role"),
        "parent_run_id": None,
    }
    for m in metrics:  # text: an em dash, not "None", where a run logged no such metric
        df = dashed(df, m, num(".4f"))
        config[m] = st.column_config.TextColumn(m, help="— : this run logged no such metric")
    order = [
        c for c in ["run_name", "role", *metrics, "status", "start_time", "duration_s", "run_id"] if c in df.columns
    ]
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config=fitted(df[order], config, shown={"start_time": "YYYY-MM-DD HH:mm"}),
        column_order=order,
    )
    show_in_full(st, df[order], row_label="run_name" if "run_name" in order else None)


def kv_table(values: dict[str, Any], key_label: str = "key", value_label: str = "value", empty: str = "none") -> None:
    if not values:
        st.caption(empty)
        return
    df = pd.DataFrame({key_label: list(values), value_label: [("" if v is None else str(v)) for v in values.values()]})
    st.dataframe(df, hide_index=True, width="stretch", height=min(420, 38 + 35 * len(df)), column_config=fitted(df))
    show_in_full(st, df, row_label=key_label)


def lineage_list(values: dict[str, Any]) -> None:
    """Lineage as a readable list (what data, which window, which code, why)."""
    if not values:
        st.caption("no lineage tags (driftgate.training_data, driftgate.code_version, ...)")
        return
    st.markdown("\n".join(f"- **{md(k)}**: {code(v)}" for k, v in values.items()))
