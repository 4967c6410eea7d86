"""Tables of the Drift page: the per-feature table as a DataFrame (testable) and its rendering."""

from __future__ import annotations

from typing import Any

import pandas as pd

from components.drift_charts import severity


def feature_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per feature, most severe first."""
    rows = []
    for f in report["features"]:
        sev = severity(f)
        rows.append({"feature": f["feature"], "drifted": bool(f["drifted"]), "kind": f["kind"], "test": f["test"],
                     "statistic": f["statistic"], "threshold": f["threshold"],
                     "severity": float("inf") if sev is None else sev,
                     "p_value": f["p_value"], "p_value_adjusted": f["p_value_adjusted"],
                     "missing (cur)": f["summary"]["current"].get("missing_share")})
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
                help="1.0 = at the threshold; above = drifted. Distances: statistic/threshold; "
                     "p-value tests: log(adjusted p)/log(threshold)."),
            "statistic": st.column_config.NumberColumn(format="%.4f"),
            "threshold": st.column_config.NumberColumn(format="%.3g"),
            "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
            "p_value_adjusted": st.column_config.NumberColumn("adjusted p (BH)", format="%.3g"),
            "missing (cur)": st.column_config.NumberColumn(format="percent"),
        })
