"""Drift page (`/drift`): dataset verdict, per-feature tests, distributions, drift over time,
label / prediction drift and performance over time. Query params: model, days | start+end,
feature, unit."""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

import components.first_start  # noqa: F401 - first: on a fresh demo home it shows the seeding at once, before the heavy imports below
from components import drift_data as data
from components.drift_charts import (
    distribution_figure,
    drift_share_figure,
    ecdf_figure,
    heatmap_figure,
    label_rate_figure,
    performance_figure,
)
from components.drift_estimates import add_estimated_series, render_estimates, unlabelled
from components.drift_tables import (
    decision_text,
    feature_frame,
    render_feature_table,
    render_sensitivity_notes,
    summary_frame,
)
from components.drift_window import pick_window
from components.shell import page_shell, show_error, shown_errors
from components.tables import fitted
from components.text import code, md
from components.trigger_panel import render_trigger_panel
from services.drift.reference_window import CHAMPION
from services.errors import DriftGateError

ctx = page_shell("Drift")
qp = st.query_params
models = [m for m, cfg in ctx.settings.models.items() if cfg.get("source")]
model = ctx.model if ctx.model in models else (models[0] if models else None)
if model is None:
    st.info(
        'No model has a data source configured: add `source = "…"` to a `[models.<name>]` '
        "table and a matching `[sources.<name>]` table in the config file."
    )
    st.stop()
if model != ctx.model:
    st.caption(f"Model {code(ctx.model)} has no drift configuration; showing {code(model)}.")
key = data.workspace_key(ctx.settings)

# -- window pickers (synced to the URL) ----------------------------------------------------------
with shown_errors(stop=True):
    first_day, last_day = data.data_dates(key, model, ctx.settings)
picked = pick_window(first_day, last_day)
start, end, days, unit = picked.start, picked.end, picked.days, picked.unit
data_span = (
    f"the scoring log has rows from {first_day} to {last_day}" if first_day else "the scoring log has no rows yet"
)

with shown_errors(stop=True, note=f"Note: {data_span}."):
    # One reference for every section, picked as the retraining trigger picks it.
    chosen = data.reference(key, model, ctx.settings, ctx.client) if ctx.mlflow_ok else None
    ref = chosen.window if chosen else None
    champ_run = chosen.champion.run_id if chosen and chosen.champion else None
    imp = data.importance(key, model, champ_run, ctx.settings, ctx.client) if ctx.mlflow_ok else None
    imp_key = tuple(sorted(imp.items())) if imp else None
    report = data.report(key, model, ref, start, end, days, False, imp_key, ctx.settings)

# -- verdict -------------------------------------------------------------------------------------
d = report["dataset"]
st.caption(
    f"Reference **{report['reference']['window']}** ({report['reference']['rows']:,} rows) vs current "
    f"**{report['current']['window']}** ({report['current']['rows']:,} rows) · source `{report['current']['source']}`"
    + (" · KS/Wasserstein from quantile sketches" if report["approximate"] else "")
)
# The Overview's colours for the same verdict: a warning with its icon for dataset drift (red is
# kept for errors: the page could not do what was asked).
(st.warning if d["drifted"] else st.success)(
    f"{'Dataset drift' if d['drifted'] else 'No dataset drift'}: {d['drifted_features']} of "
    f"{d['total_features']} features drifted (share {d['drift_share']:.0%}, threshold {d['threshold']:.0%})",
    icon=":material/warning:" if d["drifted"] else ":material/check_circle:",
)
if chosen is None:
    ref_why = "the configured `reference_window` (MLflow unavailable: the champion's training window is unknown)"
elif chosen.source == CHAMPION:
    ref_why = f"{md(chosen.why)} (its run's `driftgate.training_window` tag)"
else:
    ref_why = "the configured `reference_window`" + (
        f" (= v{md(chosen.champion.version)}'s training window)" if chosen.champion else ""
    )
st.caption(
    f"**Reference** = the data the champion learned from, here {ref_why}, the retraining trigger's "
    'reference too ([trigger] `reference`) — what "normal" looks like. '
    "**Current** = the recent rows being checked. A feature **drifted** when its change is both "
    "*significant* (unlikely to be chance after the Benjamini–Hochberg correction for testing many "
    "features) and *meaningful* (its effect size reaches the threshold)."
)
m1, m2, m3 = st.columns(3)
m1.metric(
    "Drifted features",
    f"{d['drifted_features']} / {d['total_features']}",
    help="features whose distribution changed significantly and by at least their threshold",
)
m2.metric(
    "Drift share",
    f"{d['drift_share']:.0%}",
    help=f"drifted features ÷ all features; the dataset counts as drifted from {d['threshold']:.0%} "
    "([drift] drift_share_threshold)",
)
m3.metric(
    "Importance-weighted share",
    "n/a" if d["weighted_drift_share"] is None else f"{d['weighted_drift_share']:.0%}",
    help="the same share, but each feature counts by how much the champion relies on it (its feature "
    "importance): 60% = the drifted features carry 60% of the model's importance. n/a: no "
    "importances known",
)
for note in report.get("notes", []):
    st.caption(f"Note: {md(note, limit=None)}")

# -- feature table + selected feature --------------------------------------------------------------
st.subheader("Features")
frame = feature_frame(report)
render_feature_table(st, frame)
render_sensitivity_notes(st, report)


@st.fragment
def feature_detail() -> None:
    names = list(frame["feature"])
    wanted = qp.get("feature")
    feature = st.selectbox(
        "Feature", names, index=names.index(wanted) if wanted in names else 0, key="dg_drift_feature"
    )
    qp["feature"] = feature
    row = next(f for f in report["features"] if f["feature"] == feature)
    dist = report["distributions"][feature]
    left, right = st.columns([3, 2])
    left.plotly_chart(distribution_figure(dist, feature), key="dist")
    if dist["kind"] == "numeric":
        left.plotly_chart(ecdf_figure(dist, feature), key="ecdf")
    right.markdown(decision_text(row))
    summary = summary_frame(row)
    right.dataframe(summary, width="stretch", column_config=fitted(summary))
    stats = pd.DataFrame({"test": list(row["stats"]), "statistic": [v["statistic"] for v in row["stats"].values()]})
    right.dataframe(stats, width="stretch", hide_index=True, column_config=fitted(stats))


feature_detail()

# -- over time (each section degrades on its own) -------------------------------------------------
prediction_col, label_col = data.target_columns(ctx.settings, model)
try:
    perf = data.performance(key, model, ref, unit, ctx.settings)
    perf_error = None
except DriftGateError as exc:
    perf, perf_error = {"windows": [], "reference": None}, str(exc)
labelled = [w for w in perf["windows"] if w.get("labelled")]

st.subheader("Drift over time")
with shown_errors():
    over = data.over_time(key, model, ref, unit, False, imp_key, ctx.settings)
    if over["windows"]:
        st.plotly_chart(heatmap_figure(over, "Feature drift per window (× threshold)"), key="heatmap")
        st.plotly_chart(drift_share_figure(over, d["threshold"]), key="share")
    else:
        st.info(f"No window has rows yet: {data_span}.")

st.subheader("Label and prediction drift")
# The table spans the page (as wide as the features table); the two charts share the row below.
# Labels arrive late: a short, recent window may have none yet. Then the prediction is tested
# alone and the label's row says when labels last arrived.
targets, label_note = None, None
win_lo, win_hi = (
    (start, end) if start else ((last_day - timedelta(days=(days or 1) - 1), last_day) if last_day else (None, None))
)
# Daily windows: the newest labelled day is already in ``perf`` (no second performance query).
if unit == "day" and perf_error is None:
    last_label_day = date.fromisoformat(labelled[-1]["start"][:10]) if labelled else None
else:
    last_label_day = data.latest_labelled_day(key, model, ctx.settings)
has_labels = bool(label_col and last_label_day and win_lo and last_label_day >= win_lo)
only = None if has_labels else ((prediction_col,) if prediction_col else ())
if label_col and not has_labels:
    label_note = (
        f"Labels for this window have not arrived yet — latest labelled day {last_label_day}."
        if last_label_day
        else "No labels have arrived yet."
    )
try:
    if only != ():
        targets = data.report(key, model, ref, start, end, days, True, None, ctx.settings, only)
except Exception as exc:
    show_error(exc)
if targets is not None:
    render_feature_table(st, feature_frame(targets))
if label_note:
    st.info(label_note)
t1, t2 = st.columns(2)
with t1, shown_errors():
    targets_over = data.over_time(key, model, ref, unit, True, None, ctx.settings)
    if targets_over["windows"]:
        st.plotly_chart(heatmap_figure(targets_over, "Prediction / label drift per window"), key="target_heatmap")
with t2:
    if labelled:
        st.plotly_chart(label_rate_figure({**perf, "windows": labelled}), key="label_rate")
    elif perf_error:
        st.info(f"Label rate unavailable: {md(perf_error, limit=None)}")
    else:
        st.info("No labelled rows yet: the label rate appears once delayed labels arrive.")

st.subheader("Model performance over time")
est, est_error = None, None
try:
    est = data.estimates(key, model, ref, unit, ctx.settings)
except DriftGateError as exc:
    est_error = str(exc)
if labelled or (est and unlabelled(est)):
    st.plotly_chart(add_estimated_series(performance_figure({**perf, "windows": labelled}), est), key="performance")
    last = labelled[-1] if labelled else {}
    ref_auc = (perf.get("reference") or {}).get("roc_auc")
    if ref_auc is not None and last.get("roc_auc") is not None:
        st.caption(
            f"Latest labelled window {last['start']}: ROC AUC {last['roc_auc']:.3f} vs reference {ref_auc:.3f} "
            f"({last['roc_auc'] - ref_auc:+.3f}). Labels arrive late, so the newest windows have none yet."
        )
elif perf_error:
    st.info(f"Performance unavailable: {md(perf_error, limit=None)}")
else:
    st.info("No labelled rows yet: performance appears once delayed labels arrive.")
render_estimates(st, est, est_error)

render_trigger_panel(ctx, model)
