"""Tables of the Drift page: the per-feature table as a DataFrame (testable) and its rendering."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from components.drift_charts import severity
from services.drift.engine import sensitivity_note

_MD = re.compile(r"([\\`*_{}\[\]<>#|~$])")


def _md(text: object) -> str:
    """Escape markdown (and the HTML it would allow) in a user-supplied value."""
    return _MD.sub(r"\\\1", str(text))


def feature_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per feature, most severe first."""
    rows = []
    for f in report["features"]:
        sev = severity(f)
        rows.append({"feature": f["feature"], "drifted": bool(f["drifted"]), "kind": f["kind"], "test": f["test"],
                     "statistic": f["statistic"], "threshold": f["threshold"],
                     "severity": float("inf") if sev is None else sev,
                     "p_value": f["p_value"], "p_value_adjusted": f["p_value_adjusted"],
                     "missing (cur)": f["summary"]["current"].get("missing_share"),
                     "min detectable": (f.get("sensitivity") or {}).get("min_detectable"),
                     "sensitivity": sensitivity_note(f) or ""})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(["drifted", "severity"], ascending=[False, False], kind="stable").reset_index(drop=True)
    frame["severity"] = frame["severity"].clip(upper=3.0)
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

    return pd.DataFrame({"reference": [fmt(ref.get(k)) for k in keys], "current": [fmt(cur.get(k)) for k in keys]},
                        index=keys)


def render_feature_table(st, frame: pd.DataFrame) -> None:
    st.dataframe(
        frame, hide_index=True, width="stretch",
        column_config={
            "drifted": st.column_config.CheckboxColumn("drifted"),
            "severity": st.column_config.ProgressColumn(
                "statistic vs threshold", min_value=0.0, max_value=3.0, format="%.2f ×",
                help="1.0 = at the threshold; above = drifted. Effects: statistic/threshold, held below 1 "
                     "while the BH-adjusted significance p-value is not below alpha; "
                     "p-value tests: log(adjusted p)/log(threshold)."),
            "statistic": st.column_config.NumberColumn(format="%.4f"),
            "threshold": st.column_config.NumberColumn(format="%.3g"),
            "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
            "p_value_adjusted": st.column_config.NumberColumn("adjusted p (BH)", format="%.3g"),
            "missing (cur)": st.column_config.NumberColumn(format="percent"),
            "min detectable": st.column_config.NumberColumn(
                format="%.3g", help="the smallest effect (in the test's units) this window size can detect "
                                    "at the BH level; above the threshold = a change of the threshold's size "
                                    "could go unseen"),
            "sensitivity": st.column_config.TextColumn(help="shown when the window is too small to detect a "
                                                            "change of the threshold's size"),
        })


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
    return (f"**{feature['test']}** = `{value}` (threshold {feature['threshold']:g}) and "
            f"**{'ks' if feature['kind'] == 'numeric' else 'chi2'}** adjusted p = `{padj:.3g}` (alpha {sig:g}) → "
            f"**{verdict}** — drift needs both: significant and at least the threshold")


def render_sensitivity_notes(st, report: dict[str, Any]) -> None:
    """One caption per feature whose window cannot detect a change of its threshold's size."""
    for f in report["features"]:
        note = sensitivity_note(f)
        if note:
            st.caption(f"Sensitivity — {_md(f['feature'])}: {note}")
