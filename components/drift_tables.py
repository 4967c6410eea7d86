"""Tables of the Drift page: the per-feature table as a DataFrame (testable) and its rendering."""

from __future__ import annotations

from typing import Any

import pandas as pd

from components.drift_charts import severity
from components.tables import DASH, fitted
from components.text import md
from services.drift.policy import sensitivity_note

_md = md  # the one markdown escape helper (components.text)


def feature_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per feature, most severe first."""
    rows = []
    for f in report["features"]:
        sev = severity(f)
        rows.append(
            {
                "feature": f["feature"],
                "drifted": bool(f["drifted"]),
                "kind": f["kind"],
                "test": f["test"],
                "statistic": f["statistic"],
                "threshold": f["threshold"],
                "severity": float("inf") if sev is None else sev,
                "p_value": f["p_value"],
                "p_value_adjusted": f["p_value_adjusted"],
                "missing (cur)": f["summary"]["current"].get("missing_share"),
                "min detectable": (f.get("sensitivity") or {}).get("min_detectable"),
                "sensitivity": sensitivity_note(f) or "",
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(["drifted", "severity"], ascending=[False, False], kind="stable").reset_index(drop=True)
    # The true ratio (a 5.9x drift says 5.9x; the bar is full from 3x); a null statistic (e.g. a
    # constant reference the current leaves) sorts first and has no ratio to show.
    frame["severity"] = frame["severity"].replace(float("inf"), float("nan"))
    return frame


def summary_frame(feature: dict[str, Any]) -> pd.DataFrame:
    """Side-by-side summaries of one feature (reference | current)."""
    ref, cur = feature["summary"]["reference"], feature["summary"]["current"]
    keys = list(dict.fromkeys(list(ref) + list(cur)))

    def fmt(v):
        if isinstance(v, list):
            return ", ".join(map(str, v)) or "—"
        if isinstance(v, float):
            return f"{v:.4g}"
        return "—" if v is None else str(v)

    return pd.DataFrame(
        {"reference": [fmt(ref.get(k)) for k in keys], "current": [fmt(cur.get(k)) for k in keys]}, index=keys
    )


TEST_HELP = {
    "ks": "Kolmogorov–Smirnov: the largest gap between the two cumulative distributions (0–1); its "
    "p-value says how likely a gap this big is by chance alone.",
    "wasserstein": "Wasserstein: how far values moved on average, in reference standard deviations "
    "(0.1 = a tenth of a std).",
    "psi": "Population Stability Index: how much the shares of the bins changed (0.1 small, 0.25 large).",
    "jensenshannon": "Jensen–Shannon distance: how different the two share distributions are (0 = same, 1 = "
    "no overlap).",
    "chi2": "Chi-square: whether the category mix differs more than chance would explain (p-value).",
}


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """What the table shows: missing p-values and ratios as an em dash (the tooltip says why)."""
    out = frame.copy()
    for col in ("p_value", "p_value_adjusted"):
        if col in out:
            out[col] = [DASH if v is None or v != v else f"{v:.3g}" for v in out[col]]
    if "statistic" in out:
        out["statistic"] = [DASH if v is None or v != v else f"{v:.4f}" for v in out["statistic"]]
    return out


def render_feature_table(st, frame: pd.DataFrame) -> None:
    tests = ", ".join(f"{k}: {v}" for k, v in TEST_HELP.items() if k in set(frame.get("test", [])))
    shown = _display(frame)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config=fitted(
            shown,
            {
                # A wide table scrolls sideways: the feature's name stays in view.
                "feature": st.column_config.TextColumn("feature", pinned=True),
                "drifted": st.column_config.CheckboxColumn(
                    "drifted",
                    help="drifted = the change is both significant (BH-adjusted p below alpha) and at "
                    "least the threshold in size",
                ),
                "test": st.column_config.TextColumn("test", help=tests or None),
                "severity": st.column_config.ProgressColumn(
                    "statistic vs threshold",
                    min_value=0.0,
                    max_value=3.0,
                    format="%.2f ×",
                    help="1.0 = at the threshold; above = drifted (the bar is full from 3 ×, the number is the true "
                    "ratio). Effects: statistic/threshold, held below 1 while the BH-adjusted significance "
                    "p-value is not below alpha; p-value tests: log(adjusted p)/log(threshold). Empty: the "
                    "statistic is undefined (e.g. a constant reference) and the feature counts as drifted.",
                ),
                "statistic": st.column_config.TextColumn(
                    "statistic",
                    help="the effect size of the test named in 'test'. — : undefined for this data "
                    "(e.g. a constant reference), counted as drifted",
                ),
                "threshold": st.column_config.NumberColumn(
                    format="%.3g",
                    help="the effect size from which a change counts as meaningful ([drift] "
                    "numeric_threshold / categorical_threshold or a per-feature override)",
                ),
                "p_value": st.column_config.TextColumn(
                    "p-value",
                    help="chance of a difference this large if nothing changed (ks numeric, chi2 "
                    "categorical). — : this feature's decision uses no significance test",
                ),
                "p_value_adjusted": st.column_config.TextColumn(
                    "adjusted p (BH)",
                    help="the p-value after the Benjamini–Hochberg correction for testing many "
                    "features at once (keeps false alarms at alpha overall). — : no "
                    "significance test for this feature",
                ),
                "missing (cur)": st.column_config.NumberColumn(format="percent"),
                "min detectable": st.column_config.NumberColumn(
                    format="%.3g",
                    help="the smallest effect (in the test's units) this window size can detect "
                    "at the BH level; above the threshold = a change of the threshold's size "
                    "could go unseen",
                ),
                "sensitivity": st.column_config.TextColumn(
                    help="shown when the window is too small to detect a change of the threshold's size"
                ),
            },
        ),
    )


def decision_text(feature: dict[str, Any]) -> str:
    """The decision of one feature in words (markdown; the feature name is not part of it)."""
    stat = feature["statistic"]
    value = "null" if stat is None else f"{stat:.4g}"
    padj = feature.get("p_value_adjusted")
    verdict = "drifted" if feature["drifted"] else "stable"
    if feature["test"] in ("ks", "chi2") or padj is None:
        p_text = "" if padj is None else f", adjusted p {padj:.3g}"
        return f"**{feature['test']}** = `{value}` (threshold {feature['threshold']:g}{p_text}) → **{verdict}**"
    sig = feature.get("alpha") or 0.05
    return (
        f"**{feature['test']}** = `{value}` (threshold {feature['threshold']:g}) and "
        f"**{'ks' if feature['kind'] == 'numeric' else 'chi2'}** adjusted p = `{padj:.3g}` (alpha {sig:g}) → "
        f"**{verdict}** — drift needs both: significant and at least the threshold"
    )


def render_sensitivity_notes(st, report: dict[str, Any]) -> None:
    """One caption per feature whose window cannot detect a change of its threshold's size."""
    for f in report["features"]:
        note = sensitivity_note(f)
        if note:
            st.caption(f"Sensitivity — {_md(f['feature'])}: {note}")
