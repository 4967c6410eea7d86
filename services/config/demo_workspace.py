"""The embedded demo workspace's layout and default configuration.

Settings need these defaults whenever no MLflow server is configured, so they live here, beside
the settings; the demo package (:mod:`services.demo`) builds the workspace to this layout and
imports its names from here, never the other way round.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

MODEL_NAME = "churn_classifier"
EXPERIMENT = "churn_classifier"
NUMERIC_FEATURES = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL_FEATURES = ["contract", "payment_method", "region"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
LABEL = "label"
PREDICTION = "prediction"
TIMESTAMP = "event_time"
BATCH_DATE = "batch_date"
MODEL_VERSION_COLUMN = "model_version"
ID_COLUMN = "request_id"

DAYS = 90
REFERENCE_DAYS = (0, 29)  # day offsets of the reference window (the champion's training window)
SEED_FORMAT = 1  # bump when the seeded content changes: older workspaces are re-seeded

PERSONAS = {
    "alice": "approver",
    "bob": "data scientist (authored the candidates; also an approver)",
    "carol": "viewer",
}


def scoring_log_path(settings_or_home: Any) -> Path:
    home = settings_or_home if isinstance(settings_or_home, (str, os.PathLike)) else settings_or_home.home
    return Path(home) / "data" / "scoring_log"


def marker_path(home: Path) -> Path:
    """The seeding manifest, written last by a completed seeding."""
    return Path(home) / ".seeded.json"


def read_manifest(home: Path) -> dict[str, Any] | None:
    """The seeding manifest, or None when the workspace is not (completely) seeded."""
    try:
        doc = json.loads(marker_path(home).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == SEED_FORMAT else None


def default_start_date(today: date | None = None) -> date:
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=DAYS)


def day_date(start: date, day: int) -> date:
    return start + timedelta(days=day)


def start_date(home: Path) -> date:
    """Day 0 of the seeded workspace (of a seeding today when it is not seeded yet)."""
    manifest = read_manifest(home)
    return date.fromisoformat(manifest["start_date"]) if manifest else default_start_date()


def reference_window(home: Path) -> dict[str, str]:
    start = start_date(home)
    return {
        "start": day_date(start, REFERENCE_DAYS[0]).isoformat(),
        "end": day_date(start, REFERENCE_DAYS[1]).isoformat(),
    }


def demo_defaults(home: Path) -> dict[str, Any]:
    """The configuration the embedded workspace runs with (merged under any user TOML)."""
    return {
        "mlflow": {"lifecycle": "aliases"},
        "roles": {"approvers": ["alice", "bob"], "viewers": ["carol"]},
        "demo": {"personas": dict(PERSONAS)},
        "sources": {
            "scoring_log": {"type": "delta", "path": scoring_log_path(home).as_posix()},
        },
        "models": {
            MODEL_NAME: {
                "experiment": EXPERIMENT,
                "source": "scoring_log",
                "label": LABEL,
                "prediction": PREDICTION,
                "timestamp": TIMESTAMP,
                "model_version_column": MODEL_VERSION_COLUMN,
                "id_columns": [ID_COLUMN],
                "features": list(FEATURES),
                "numerical": list(NUMERIC_FEATURES),
                "categorical": list(CATEGORICAL_FEATURES),
                "selection_metric": "roc_auc",
                "greater_is_better": True,
                "guard_metrics": {"brier": 0.01, "log_loss": 0.02},
                "reference_window": reference_window(Path(home)),
            }
        },
    }
