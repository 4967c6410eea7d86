"""Drift page (`/drift`): dataset verdict, per-feature tests, distributions, drift over time,
label / prediction drift and performance over time. Query params: model, days | start+end,
feature, unit."""

from datetime import date

import streamlit as st

from components import drift_data as data
from components.drift_charts import (distribution_figure, drift_share_figure, ecdf_figure, heatmap_figure,
                                     label_rate_figure, performance_figure)
from components.drift_estimates import add_estimated_series, render_estimates, unlabelled
from components.drift_tables import (decision_text, feature_frame, render_feature_table, render_sensitivity_notes,
                                     summary_frame)
from components.shell import page_shell, show_error
from components.trigger_panel import render_trigger_panel
from services.errors import DriftGateError

ctx = page_shell("Drift")
qp = st.query_params
models = [m for m, cfg in ctx.settings.models.items() if cfg.get("source")]
model = ctx.model if ctx.model in models else (models[0] if models else None)
if model is None:
    st.info("No model has a data source configured: add `source = \"…\"` to a `[models.<name>]` "
            "table and a matching `[sources.<name>]` table in the config file.")
    st.stop()
if model != ctx.model:
    st.caption(f"Model `{ctx.model}` has no drift configuration; showing `{model}`.")
key = data.workspace_key(ctx.settings)

# -- window pickers ------------------------------------------------------------------------------
c1, c2, c3 = st.columns([2, 3, 1])
modes = ["Last N days", "Date range"]
mode = c1.radio("Current window", modes, horizontal=True, index=1 if qp.get("start") else 0)
start = end = days = None
if mode == "Last N days":
    options = [1, 3, 7, 14, 30]
    wanted = int(qp.get("days", 7)) if str(qp.get("days", "7")).isdigit() else 7
    days = c2.select_slider("days", options, value=wanted if wanted in options else 7)
    qp["days"] = str(days)
    for stale in ("start", "end"):
        qp.pop(stale, None)
else:
    try:
        default = (date.fromisoformat(qp["start"]), date.fromisoformat(qp["end"]))
    except (KeyError, ValueError):
        default = (date.today().replace(day=1), date.today())
    picked = c2.date_input("from – to", value=default)
    if len(picked) != 2:
        st.stop()
    start, end = picked
    qp["start"], qp["end"] = start.isoformat(), end.isoformat()
    qp.pop("days", None)
unit = c3.selectbox("Windows", ["day", "week"], index=1 if qp.get("unit") == "week" else 0)
qp["unit"] = unit

try:
    imp = data.importance(key, model, ctx.settings, ctx.client) if ctx.mlflow_ok else None
    imp_key = tuple(sorted(imp.items())) if imp else None
    report = data.report(key, model, start, end, days, False, imp_key, ctx.settings)
except DriftGateError as exc:
    show_error(exc)
    st.stop()

# -- verdict -------------------------------------------------------------------------------------
d = report["dataset"]
st.caption(f"Reference **{report['reference']['window']}** ({report['reference']['rows']:,} rows) vs current "
           f"**{report['current']['window']}** ({report['current']['rows']:,} rows) · source `{report['current']['source']}`"
           + (" · KS/Wasserstein from quantile sketches" if report["approximate"] else ""))
verdict = (st.warning if d["drifted"] else st.success)
verdict(f"{'Dataset drift' if d['drifted'] else 'No dataset drift'}: {d['drifted_features']} of "
        f"{d['total_features']} features drifted (share {d['drift_share']:.0%}, threshold {d['threshold']:.0%})")
m1, m2, m3 = st.columns(3)
m1.metric("Drifted features", f"{d['drifted_features']} / {d['total_features']}")
m2.metric("Drift share", f"{d['drift_share']:.0%}")
m3.metric("Importance-weighted share", "n/a" if d["weighted_drift_share"] is None else f"{d['weighted_drift_share']:.0%}",
          help="share of the champion's feature importance that drifted")
for note in report.get("notes", []):
    st.caption(f"Note: {note}")

# -- feature table + selected feature --------------------------------------------------------------
st.subheader("Features")
frame = feature_frame(report)
render_feature_table(st, frame)
render_sensitivity_notes(st, report)


@st.fragment
def feature_detail() -> None:
    names = list(frame["feature"])
    wanted = qp.get("feature")
    feature = st.selectbox("Feature", names, index=names.index(wanted) if wanted in names else 0)
    qp["feature"] = feature
    row = next(f for f in report["features"] if f["feature"] == feature)
    dist = report["distributions"][feature]
    left, right = st.columns([3, 2])
    left.plotly_chart(distribution_figure(dist, feature), key="dist")
    if dist["kind"] == "numeric":
        left.plotly_chart(ecdf_figure(dist, feature), key="ecdf")
    right.markdown(decision_text(row))
    right.dataframe(summary_frame(row), width="stretch")
    right.dataframe({t: v["statistic"] for t, v in row["stats"].items()}, width="stretch")


feature_detail()

# -- over time -------------------------------------------------------------------------------------
st.subheader("Drift over time")
try:
    over = data.over_time(key, model, unit, False, imp_key, ctx.settings)
    targets = data.report(key, model, start, end, days, True, None, ctx.settings)
    targets_over = data.over_time(key, model, unit, True, None, ctx.settings)
    perf = data.performance(key, model, unit, ctx.settings)
except DriftGateError as exc:
    show_error(exc)
    st.stop()
st.plotly_chart(heatmap_figure(over, "Feature drift per window (× threshold)"), key="heatmap")
st.plotly_chart(drift_share_figure(over, d["threshold"]), key="share")

st.subheader("Label and prediction drift")
t1, t2 = st.columns(2)
with t1:
    render_feature_table(st, feature_frame(targets))
    st.plotly_chart(heatmap_figure(targets_over, "Prediction / label drift per window"), key="target_heatmap")
with t2:
    st.plotly_chart(label_rate_figure(perf), key="label_rate")

st.subheader("Model performance over time")
est, est_error = None, None
try:
    est = data.estimates(key, model, unit, ctx.settings)
except DriftGateError as exc:
    est_error = str(exc)
if perf["windows"] or (est and unlabelled(est)):
    st.plotly_chart(add_estimated_series(performance_figure(perf), est), key="performance")
    last = perf["windows"][-1] if perf["windows"] else {}
    ref_auc = (perf.get("reference") or {}).get("roc_auc")
    if ref_auc is not None and last.get("roc_auc") is not None:
        st.caption(f"Latest labelled window {last['start']}: ROC AUC {last['roc_auc']:.3f} vs reference {ref_auc:.3f} "
                   f"({last['roc_auc'] - ref_auc:+.3f}). Labels arrive late, so the newest windows have none yet.")
else:
    st.info("No labelled rows yet: performance appears once delayed labels arrive.")
render_estimates(st, est, est_error)

render_trigger_panel(ctx, model)
