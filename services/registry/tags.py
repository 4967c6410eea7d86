"""Every ``driftgate.*`` tag DriftGate reads or writes, defined once, and the one parser of the
``driftgate.training_window`` lineage tag.

Run tags (lineage and roles, written by retraining / the demo, read by the pages, the gate and
the trigger), model-version tags (decisions, written by :mod:`services.registry.lifecycle`) and
the registered-model tag of the stages lifecycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

# -- run tags --------------------------------------------------------------------------------
TRIGGER = "driftgate.trigger"  # a retraining parent run's reason
ROLE = "driftgate.role"  # "champion" on the champion's re-evaluation child
MODEL_VERSION = "driftgate.model_version"  # the registered version a run re-evaluated
TRAINING_DATA = "driftgate.training_data"
TRAINING_WINDOW = "driftgate.training_window"  # "YYYY-MM-DD..YYYY-MM-DD" (see training_window)
EVAL_WINDOW = "driftgate.eval_window"
CODE_VERSION = "driftgate.code_version"
MODEL = "driftgate.model"
PARENT_RUN = "driftgate.parent_run"
STATUS = "driftgate.status"
FORCED = "driftgate.forced"
OWNER = "driftgate.owner"
SELECTION_RULE = "driftgate.selection_rule"
WINNER_RUN_ID = "driftgate.winner_run_id"
REGISTERED_VERSION = "driftgate.registered_version"
REFERENCE_AUC = "driftgate.reference_auc"
CHAMPION_REEVAL = "driftgate.champion_reeval"

# -- model-version tags ------------------------------------------------------------------------
AUTHOR = "driftgate.author"  # comma-separated co-authors (adds to what MLflow recorded)
REGISTERED_AT = "driftgate.registered_at"  # seeded/imported history: the real registration time
DECISION = "driftgate.decision"  # approved | rejected | rolled_back
DECISION_BY = "driftgate.decision_by"
DECISION_AT = "driftgate.decision_at"
DECISION_COMMENT = "driftgate.decision_comment"
CHAMPION_SINCE = "driftgate.champion_since"
ARCHIVED_AT = "driftgate.archived_at"
REPLACED_BY = "driftgate.replaced_by"

# -- registered-model tags -----------------------------------------------------------------------
PREVIOUS_CHAMPION = "driftgate.previous_champion"  # stages lifecycle: the rollback target


@dataclass(frozen=True)
class TrainingWindow:
    """A run's training window: whole days ``start``..``end``, both inclusive."""

    text: str
    start: dt.date
    end: dt.date

    @property
    def start_instant(self) -> dt.datetime:
        """UTC midnight starting ``start``."""
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def end_instant(self) -> dt.datetime:
        """UTC midnight after ``end`` (exclusive)."""
        return dt.datetime.combine(self.end, dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=1)


def training_window(tags: Mapping[str, str] | None) -> TrainingWindow | None:
    """The ``driftgate.training_window`` tag of ``tags`` (``"YYYY-MM-DD..YYYY-MM-DD"``; a time
    after a date is ignored), or ``None`` when absent, malformed or ending before it starts."""
    text = str((tags or {}).get(TRAINING_WINDOW) or "").strip()
    first, sep, last = text.partition("..")
    if not sep:
        return None
    try:
        start = dt.date.fromisoformat(first.strip()[:10])
        end = dt.date.fromisoformat(last.strip()[:10])
    except ValueError:
        return None
    return TrainingWindow(text, start, end) if start <= end else None


def _instant(text: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def champion_since(version_tags: Mapping[str, str] | None) -> str | None:
    """When a version's period as champion began, from its tags: the later of
    ``driftgate.champion_since`` (seeded or imported history; a rollback writes it only for a
    version with no known start — a rollback resumes a period, it does not start one) and, for an
    approved version, its decision time (an approval writes no separate tag for it). ``None`` when
    neither is there."""
    found = dict(version_tags or {})
    times = [found.get(CHAMPION_SINCE)]
    if found.get(DECISION) == "approved":
        times.append(found.get(DECISION_AT))
    present = [t for t in times if t]
    return max(present, key=_instant) if present else None
