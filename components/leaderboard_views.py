"""Rendering blocks of the Leaderboard page: the winner/baseline banner, the ranked table, the
SHAP comparison and the registered versions side by side."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from components import leaderboard_data as data
from components.identity import with_persona
from components.leaderboard_charts import shap_bars, shap_detail, versions_over_time
from components.tables import dashed, num, stage_text
from components.text import code, md
from services.compare.leaderboard import Leaderboard
from services.errors import DriftGateError
from services.registry.model_versions import VersionsView, version_of_runs


def run_option(parent: Any) -> str:
    """A retraining run in the picker: its name, its start date unless the name says it already,
    and its candidates ("retrain-2026-11-14 · 3 candidates")."""
    name, day = str(parent.run.run_name), f"{parent.run.start_time:%Y-%m-%d}"
    n = parent.n_candidates
    parts = [name] if day in name else [name, day]
    return " · ".join([*parts, f"{n} candidate{'s' if n != 1 else ''}"])


def banner(board: Leaderboard) -> None:
    """Winner and champion baseline at a glance, the selection rule, the like-for-like flag."""
    w, c = board.winner, board.champion
    direction = "highest" if board.greater_is_better else "lowest"
    window = (c.run.tags.get("driftgate.eval_window") if c else None) or (
        w.run.tags.get("driftgate.eval_window") if w else None
    )
    st.markdown(
        f"**Selection rule:** {direction} {code(board.metric)}"
        + (f" on the champion's evaluation data ({code(window)})" if c and window else "")
        + (f" · retraining run {code(board.parent.run_name)}" if board.parent else "")
    )
    col1, col2, col3 = st.columns(3)
    if w:
        ci = f" [{w.ci_low:+.4f}, {w.ci_high:+.4f}]" if w.ci_low is not None else ""
        col1.metric(
            f"Winner: {md(w.run.run_name)}",
            f"{w.value:.4f}",
            f"{w.delta_vs_champion:+.4f} vs champion{ci}" if w.delta_vs_champion is not None else None,
            delta_color="normal" if board.greater_is_better else "inverse",
        )
    else:
        col1.metric("Winner", "—")
    if c:
        ver = c.run.tags.get("driftgate.model_version")
        col2.metric(
            f"Champion baseline{f' (v{md(ver)})' if ver else ''}: {md(c.run.run_name)}",
            "—" if c.value is None else f"{c.value:.4f}",
        )
    else:
        col2.metric("Champion baseline", "none")
    ranked = sum(1 for r in board.rows if r.rank is not None)
    col3.metric("Candidates ranked", f"{ranked} / {len(board.candidates)}")
    if not board.like_for_like:
        st.warning(
            "Baseline not like-for-like: no champion run was evaluated on the candidates' data "
            "(no child run tagged `driftgate.role=champion`). Deltas vs the champion are unavailable."
        )
    if w and w.ci_low is not None and w.ci_low <= 0 <= (w.ci_high or 0):
        st.info("The winner's interval vs the champion includes 0: the improvement is not clearly beyond noise.")
    for note in board.notes:
        if "not like-for-like" not in note:
            st.caption(note)


def table(board: Leaderboard, run_versions: dict[str, str] | None = None) -> None:
    rows = board.table()
    for r in rows:  # registered version of each run (registry), else the run's own tag
        r["model_version"] = (run_versions or {}).get(r["run_id"]) or r["model_version"]
    df = pd.DataFrame(rows)
    if df.empty:
        st.info("No runs to rank.")
        return
    # Missing numbers are an em dash, and each column's tooltip says why one is missing.
    dashed(df, "rank", lambda v: str(int(v)))
    dashed(df, board.metric, num(".4f"))
    for col in ("delta_vs_champion", "ci_low", "ci_high"):
        dashed(df, col, num("+.4f"))
    config: dict[str, Any] = {
        "rank": st.column_config.TextColumn(
            "rank",
            help="1 = best. — : the champion baseline (not ranked) or a run that did not log the metric (listed last)",
        ),
        "run_name": st.column_config.TextColumn("run", width="medium", pinned=True),  # stays while scrolling
        "role": st.column_config.TextColumn(
            "role",
            help="winner = best candidate by the selection rule; "
            "champion = the production model re-evaluated on the same data",
        ),
        board.metric: st.column_config.TextColumn(board.metric, help="— : this run did not log the metric (or NaN)"),
        "delta_vs_champion": st.column_config.TextColumn(
            "Δ vs champion",
            help="candidate minus champion on the same rows. — : no like-for-like champion "
            "run, or the metric is missing",
        ),
        "ci_low": st.column_config.TextColumn(
            "Δ 95% CI low",
            help="paired bootstrap. — : intervals off, or no "
            "eval/predictions.parquet logged by the run or the champion",
        ),
        "ci_high": st.column_config.TextColumn(
            "Δ 95% CI high",
            help="paired bootstrap. — : intervals off, or no "
            "eval/predictions.parquet logged by the run or the champion",
        ),
        "model_version": st.column_config.TextColumn("version", help="registered model version of the run, if any"),
        "run_id": st.column_config.TextColumn("run id"),
    }
    for g in board.guard_metrics:
        dashed(df, g, num(".4f"))
        config[g] = st.column_config.TextColumn(f"guard: {g}", help="— : this run did not log the guard metric")
        config[f"{g} worse"] = st.column_config.CheckboxColumn(f"{g} worse than champion")
    st.dataframe(df, hide_index=True, width="stretch", column_config=config)


def review_links(board: Leaderboard, run_versions: dict[str, str] | None, model: str | None) -> None:
    """Per ranked candidate with a registered version: a link to its gate and decision."""
    if not model or not run_versions:
        return
    items = [
        (r, run_versions[r.run.run_id])
        for r in board.rows
        if r.run.run_id in run_versions and not getattr(r, "is_champion", False)
    ]
    if not items:
        return
    cols = st.columns(min(len(items), 4))
    for i, (r, version) in enumerate(items[:8]):
        cols[i % len(cols)].page_link(
            "pages/promotions.py",
            label=f"Review v{version} ({r.run.run_name}) in Promotions",
            icon=":material/verified:",
            query_params=with_persona({"model": model, "version": str(version)}),
        )


def shap_section(ctx: Any, model: str | None, versions: VersionsView | None, board: Leaderboard) -> None:
    if not model or versions is None:
        st.info("Pick a registered model in the sidebar to compare SHAP importances of its versions.")
        return
    champ = versions.champion_version
    if not champ:
        st.info(f"Model '{md(model)}' has no champion (alias `champion` / stage Production) to compare with.")
        return
    run_version = version_of_runs(versions)
    options = [v.version for v in versions.versions if v.version != champ]
    if not options:
        st.info("No other registered version to compare with the champion.")
        return
    winner_version = run_version.get(board.winner.run.run_id) if board.winner else None
    wanted = st.query_params.get("version") or winner_version
    cand = st.selectbox(
        f"Candidate version (champion: v{champ})",
        options,
        index=options.index(wanted) if wanted in options else 0,
        format_func=lambda v: f"v{v}",
        key="dg_shap_version",
    )
    st.query_params["version"] = cand
    n_rows = st.select_slider("Rows of recent data", [200, 500, 1000, 2000], value=1000)
    go = st.button("Compute SHAP comparison", type="primary")
    if not (go or data.shap_is_cached(ctx, model, cand, champ)):
        st.caption("SHAP values are computed on demand (tree models: a few seconds) and cached.")
        return
    try:
        with st.spinner(f"Explaining v{cand} and v{champ} on recent data…"):
            comp = data.shap(ctx, model, cand, champ, n_rows)
        data.mark_shap(ctx, model, cand, champ)
    except DriftGateError as exc:
        st.error(str(exc))
        return
    for imp in (comp.champion, comp.candidate):
        if imp.message:
            st.warning(imp.message)
    st.caption(
        f"{comp.champion.label}: {comp.champion.method} · {comp.candidate.label}: {comp.candidate.method} · "
        f"{comp.candidate.n_rows or comp.champion.n_rows} rows · {comp.seconds:.1f} s"
    )
    st.plotly_chart(shap_bars(comp.table, comp.champion.label, comp.candidate.label), width="stretch")
    st.markdown("**Features whose importance moved most:** " + ", ".join(code(f) for f in comp.moved_most[:3]))
    st.dataframe(
        pd.DataFrame(comp.table),
        hide_index=True,
        width="stretch",
        column_config={
            "champion": st.column_config.NumberColumn("champion mean |SHAP|", format="%.4f"),
            "candidate": st.column_config.NumberColumn("candidate mean |SHAP|", format="%.4f"),
            "champion_share": st.column_config.ProgressColumn(
                "champion share", min_value=0.0, max_value=1.0, format="%.2f"
            ),
            "candidate_share": st.column_config.ProgressColumn(
                "candidate share", min_value=0.0, max_value=1.0, format="%.2f"
            ),
            "delta_share": st.column_config.NumberColumn("Δ share", format="%+.3f"),
            "abs_delta_share": None,
        },
    )
    feats = [
        r["feature"]
        for r in comp.table
        if comp.champion.detail.get(r["feature"]) or comp.candidate.detail.get(r["feature"])
    ]
    if feats and feats[0] in comp.sample.columns:
        feat = st.selectbox("Per-feature detail", [f for f in feats if f in comp.sample.columns])
        st.plotly_chart(
            shap_detail(
                feat,
                comp.sample[feat].tolist(),
                comp.champion.detail.get(feat, []),
                comp.candidate.detail.get(feat, []),
                comp.champion.label,
                comp.candidate.label,
            ),
            width="stretch",
        )


def versions_section(versions: VersionsView | None, metric: str) -> None:
    if versions is None:
        st.info("Pick a registered model in the sidebar to see its versions side by side.")
        return
    vs = [
        {
            "version": v.version,
            "when": v.trained or v.created,
            "value": v.metrics.get(metric),
            "is_champion": v.is_champion,
            "label": f"v{v.version} {v.run_name or ''}",
        }
        for v in versions.versions
    ]
    rs = [
        {"version": r.version, "when": r.when, "value": r.metrics.get(metric), "eval_window": r.eval_window}
        for r in versions.reevaluations
    ]
    st.plotly_chart(versions_over_time(vs, rs, metric), width="stretch")
    rows = []
    for v in versions.versions:
        rows.append(
            {
                "version": v.version,
                "champion": v.is_champion,
                "stage": stage_text(v.stage),
                "aliases": ", ".join(v.aliases),
                "source run": v.run_name,
                f"{metric} at training": v.metrics.get(metric),
                "eval window": v.eval_window or "",
                "registered (UTC)": v.created,
                **{f"tag {k}": val for k, val in sorted(v.tags.items())},
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            f"{metric} at training": st.column_config.NumberColumn(format="%.4f"),
            "registered (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
