"""Retraining runs page (`/runs`): an experiment's retraining (parent) runs with trigger reason,
status, duration, candidates and winner; one run's metrics, params, tags, lineage and history.

Query parameters: ``experiment`` (name) and ``run`` (a retraining run or one of its children)."""

from typing import Any

import streamlit as st

import components.first_start  # noqa: F401 - first: on a fresh demo home it shows the seeding at once, before the heavy imports below
from components import leaderboard_data as data
from components.experiment_picker import pick_experiment
from components.identity import with_persona
from components.runs_charts import candidates_strip, metric_history_lines
from components.runs_tables import children_table, kv_table, lineage_list, parents_table
from components.shell import page_shell, shown_errors
from components.text import code, md
from services.registry.runs import lineage, metric_keys, run_table

ctx = page_shell("Retraining runs")
if not ctx.mlflow_ok:
    st.stop()
experiment, cfg = pick_experiment(ctx)
metric = cfg.get("selection_metric")
greater = bool(cfg.get("greater_is_better", True))

with shown_errors(stop=True):
    view = data.retraining(ctx, experiment, metric, greater)
st.caption(
    f"{view.n_runs} runs read in {view.calls} MLflow calls"
    + (" (list truncated)" if view.truncated else "")
    + (
        f" · winner by {code(metric)} ({'higher' if greater else 'lower'} is better)"
        if metric
        else " · no selection metric configured for this experiment"
    )
)

if not view.parents:
    st.info("No retraining (parent) runs in this experiment: its runs are listed below and ranked on the Leaderboard.")
    children_table(
        run_table(view.standalone[:500], metric_keys(view.standalone[:50])[:6]), metric_keys(view.standalone[:50])[:6]
    )
    st.stop()

summaries = [p.summary() for p in view.parents]
picked = parents_table(summaries, key="dg_runs_parents")
by_id = {p.run.run_id: p for p in view.parents}
child_parent = {c.run_id: p.run.run_id for p in view.parents for c in p.children}
run_param = st.query_params.get("run")
if picked is not None:
    parent = view.parents[picked]
    if run_param not in child_parent or child_parent[run_param] != parent.run.run_id:
        run_param = parent.run.run_id
else:
    pid = run_param if run_param in by_id else child_parent.get(run_param or "")
    parent = by_id[pid] if pid else view.parents[0]
    if run_param and run_param not in by_id and run_param not in child_parent:
        st.warning(f"run '{md(run_param)}' is not a retraining run of this experiment or one of its candidates")
        run_param = None

st.subheader(md(parent.run.run_name))
c1, c2, c3, c4 = st.columns([1, 0.8, 1.5, 2.2])
c1.metric("Status", parent.run.status)
c2.metric("Candidates", parent.n_candidates)
c3.metric(
    "Winner",
    parent.winner.run_name if parent.winner else "—",
    f"{parent.winner.metric(metric):.4f} {metric}" if parent.winner and metric else None,
    delta_color="off",
)
c4.metric("Champion baseline", parent.champion.run_name if parent.champion else "none (not like-for-like)")
st.markdown(
    f"**Trigger reason:** {md(parent.run.trigger, limit=2000) if parent.run.trigger else '_no `driftgate.trigger` tag_'}"
)

mkeys = ([metric] if metric else []) + [k for k in metric_keys(parent.children) if k != metric][:5]
rows = run_table(parent.children, mkeys)
for r in rows:
    if parent.winner and r["run_id"] == parent.winner.run_id:
        r["role"] = "winner"
    elif r["role"] == "champion":
        r["role"] = "champion baseline"
children_table(rows, mkeys)
if metric:
    st.plotly_chart(
        candidates_strip(
            [{"run_name": r["run_name"], "value": r.get(metric), "role": r["role"]} for r in rows], metric
        ),
        width="stretch",
    )
st.page_link(
    "pages/leaderboard.py",
    label="Open this run's leaderboard",
    icon=":material/leaderboard:",
    query_params=with_persona(
        {"experiment": experiment, "run": parent.run.run_id, **({"model": ctx.model} if ctx.model else {})}
    ),
)

st.divider()


@st.fragment
def run_details() -> None:
    # A fragment: picking a run or metrics reruns this section only (the run lists above stay).
    choices = [parent.run] + list(parent.children)
    labels = {r.run_id: (f"{r.run_name} (retraining run)" if r is parent.run else r.run_name) for r in choices}
    ids = [r.run_id for r in choices]
    sel: str = st.selectbox(
        "Run details",
        ids,
        index=ids.index(run_param) if run_param in ids else 0,
        format_func=lambda i: labels[i],
        key="dg_runs_detail",
    )
    st.query_params["run"] = sel
    run = next(r for r in choices if r.run_id == sel)
    t_metrics, t_params, t_tags, t_lineage, t_history = st.tabs(
        ["Metrics", "Params", "Tags", "Lineage", "Metric history"]
    )
    with t_metrics:
        kv_table(
            {k: (None if v != v else v) for k, v in sorted(run.metrics.items())}, "metric", "value", "no metrics logged"
        )
    with t_params:
        kv_table(dict(sorted(run.params.items())), "param", "value", "no params logged")
    with t_tags:
        kv_table(
            {k: v for k, v in sorted(run.tags.items()) if k != "mlflow.log-model.history"}, "tag", "value", "no tags"
        )
    with t_lineage:
        lineage_list(lineage(run))
    with t_history:
        keys = st.multiselect(
            "Metrics",
            sorted(run.metrics),
            default=[k for k in sorted(run.metrics) if "val" in k][:3] or sorted(run.metrics)[:2],
        )
        others = st.multiselect(
            "Compare with",
            [c.run_id for c in parent.children if c.run_id != run.run_id],
            format_func=lambda i: labels[i],
            max_selections=5,
        )
        hist: list[dict[str, Any]] = []
        with shown_errors():
            hist = [
                {**h, "run": labels[rid]} for rid in [run.run_id, *others] for h in data.history(ctx, rid, tuple(keys))
            ]
        if hist:
            st.plotly_chart(metric_history_lines(hist), width="stretch")
        else:
            st.caption("no metric history for this selection")


run_details()
