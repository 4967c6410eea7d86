"""Leaderboard page (`/leaderboard`): a retraining run's candidates ranked by the selection metric
against the champion baseline evaluated on the same data; deltas with bootstrap intervals, guard
metrics, metric/param charts, SHAP importance comparison and the registered versions side by side.

Query parameters: ``experiment``, ``run`` (retraining run), ``model``, ``version`` (SHAP candidate),
``metric``."""

import streamlit as st

import components.first_start  # noqa: F401 - first: on a fresh demo home it shows the seeding at once, before the heavy imports below
from components import leaderboard_data as data
from components import leaderboard_views as views
from components.experiment_picker import pick_experiment
from components.leaderboard_charts import TOP_BARS, parallel_coordinates, pareto_scatter, ranked_bars, top_bars
from components.query_choice import pick_option
from components.shell import page_shell, shown_errors
from components.text import md
from services.compare.leaderboard import lower_is_better_default
from services.errors import DriftGateError
from services.registry.model_versions import version_of_runs
from services.registry.runs import (
    metric_keys,
    run_table,
    varying_params,
)

ctx = page_shell("Leaderboard")
if not ctx.mlflow_ok:
    st.stop()
c_exp, c_run, c_metric, c_dir = st.columns([2.4, 3.2, 1.8, 1.7], vertical_alignment="bottom")
experiment, cfg = pick_experiment(ctx, c_exp)
with shown_errors(stop=True):
    view = data.retraining(ctx, experiment, None, True)

parents = {p.run.run_id: p for p in view.parents}
run_param = st.query_params.get("run")
if run_param and run_param not in parents:
    st.warning(f"run '{md(run_param)}' is not a retraining run of '{md(experiment)}'; showing the most recent one")
ids = list(parents)
picked_run: str = c_run.selectbox(
    "Retraining run",
    ids or ["(all runs)"],
    index=ids.index(run_param) if run_param in ids else 0,
    key="dg_board_run",
    format_func=lambda i: views.run_option(parents[i]) if i in parents else i,
)
parent_id = picked_run if picked_run in parents else None
if parent_id:
    st.query_params["run"] = parent_id
pool = parents[parent_id].children if parent_id else view.standalone
mkeys = metric_keys(pool)
if not mkeys:
    st.info("The runs logged no metrics to rank.")
    st.stop()
# An unknown ?metric= falls back to the configured selection metric (what the gate ranks by), and says so.
configured_metric = cfg.get("selection_metric")
metric = pick_option(
    c_metric,
    "Metric",
    mkeys,
    wanted=st.query_params.get("metric"),
    default=configured_metric if configured_metric in mkeys else mkeys[0],
    key="dg_board_metric",
    param="metric",
    unknown="metric '{wanted}' is not logged by these runs; showing '{shown}'",
)
default_lower = (
    (not cfg.get("greater_is_better", True))
    if metric == cfg.get("selection_metric")
    else lower_is_better_default(metric)
)
lower = c_dir.toggle("Lower is better", value=default_lower)
with st.expander("Filter runs and options"):
    flt = st.text_input(
        "MLflow search filter",
        placeholder="params.model_kind = 'gbm'",
        help="MLflow search syntax, ANDed with the retraining run",
    )
    intervals = st.checkbox("Bootstrap intervals of Δ vs champion (needs eval/predictions.parquet)", value=True)
guards = cfg.get("guard_metrics")
with shown_errors(stop=True):
    args = (ctx, experiment, metric, parent_id, not lower, flt.strip(), tuple(guards) if guards else None)
    board = data.board(*args, intervals=intervals)

views.banner(board)
rows = board.table()
chart_rows, left_out = top_bars([{**r, "value": r.get(metric)} for r in rows])
st.plotly_chart(ranked_bars(chart_rows, metric, board.greater_is_better), width="stretch")
if left_out:
    st.caption(
        f"The chart shows the top {TOP_BARS} runs and the champion baseline; {left_out} more are in the table below."
    )
try:
    versions = data.versions(ctx, ctx.model) if ctx.model else None
except DriftGateError as exc:
    st.caption(f"registered versions unavailable: {md(exc)}")
    versions = None
run_versions = version_of_runs(versions) if versions else None
views.table(board, run_versions)
views.review_links(board, run_versions, ctx.model)
st.caption(f"{len(board.rows)} runs · {board.calls} MLflow calls for the ranking")
t_scatter, t_params, t_shap, t_versions = st.tabs(
    ["Metric vs metric", "Params", "SHAP importance", "Registered versions"]
)


@st.fragment
def scatter_tab() -> None:
    # A fragment: changing x/y reruns this tab only (the ranking above stays as it is).
    cx, cy = st.columns(2)
    x = cx.selectbox("x", mkeys, index=mkeys.index(metric))
    others = [k for k in mkeys if k != x] or mkeys
    y_default = next((g for g in board.guard_metrics if g in others and lower_is_better_default(g)), others[0])
    y = cy.selectbox("y", others, index=others.index(y_default))
    runs_by_id = {r.run.run_id: r for r in board.rows}
    pts = [{**r, x: runs_by_id[r["run_id"]].run.metric(x), y: runs_by_id[r["run_id"]].run.metric(y)} for r in rows]
    x_hi = not lower if x == metric else not lower_is_better_default(x)
    y_hi = not lower if y == metric else not lower_is_better_default(y)
    st.plotly_chart(pareto_scatter(pts, x, y, x_hi, y_hi), width="stretch")


@st.fragment
def params_tab() -> None:
    runs = [r.run for r in board.rows]
    pkeys = varying_params(runs)  # only params that vary, placeholders ("None", "deprecated") dropped
    chosen = st.multiselect("Params", pkeys, default=pkeys[:6], max_selections=12)
    if chosen:
        st.plotly_chart(parallel_coordinates(run_table(runs, [metric], chosen), chosen, metric), width="stretch")
    else:
        st.caption("no param varies across these runs")


with t_scatter:
    scatter_tab()
with t_params:
    params_tab()
with t_shap:
    views.shap_section(ctx, ctx.model, versions, board)
with t_versions:
    views.versions_section(versions, metric)
