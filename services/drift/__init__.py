"""Drift engine (spec: "Drift engine contract"). Public API:

* :func:`drift_report` — reference vs current :class:`~services.warehouse.sources.Source` (or a stored
  :class:`Profile`), engine ``memory`` (exact) or ``duckdb`` (pushdown) → spec JSON dict.
* :func:`frames_report` — the same for two in-memory DataFrames / Arrow tables.
* :func:`model_drift_report` — drift report for a configured model between two windows.
* :func:`drift_over_time` — per-window drift (day/week) against the reference profile.
* :func:`performance_over_time` — ROC AUC / accuracy / label rate per window (delayed labels).
* :func:`reference_profile` / :func:`build_reference_profile` — compute once, store, reuse.
"""

from services.drift.engine import build_reference_profile, drift_report, frames_report
from services.drift.model import (
    champion_importance,
    drift_over_time,
    model_data,
    model_drift_report,
    performance_over_time,
    reference_profile,
)
from services.drift.policy import Policy, compare
from services.drift.profile import FeatureProfile, Profile

__all__ = [
    "FeatureProfile",
    "Policy",
    "Profile",
    "build_reference_profile",
    "champion_importance",
    "compare",
    "drift_over_time",
    "drift_report",
    "frames_report",
    "model_data",
    "model_drift_report",
    "performance_over_time",
    "reference_profile",
]
