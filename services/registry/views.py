"""What the registry adapter hands out: plain data (versions, the champion state, plan steps),
the alias / stage / tag names a transition manages, and version normalisation."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.errors import BadInput
from services.registry import tags as tag

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"
MANAGED_ALIASES = (CHAMPION, PREVIOUS, CHALLENGER)

PRODUCTION = "Production"
ARCHIVED = "Archived"

#: Version tags a transition may write; a snapshot records (and a restore resets) all of them.
MANAGED_VERSION_TAGS = (
    tag.DECISION,
    tag.DECISION_BY,
    tag.DECISION_AT,
    tag.DECISION_COMMENT,
    tag.CHAMPION_SINCE,
    tag.ARCHIVED_AT,
    tag.REPLACED_BY,
)

TAG_VALUE_MAX = 5000  # MLflow allows more; Databricks' workspace registry is stricter


def normalise_version(version: object) -> str:
    """``1``, ``"1"``, ``" 01 "`` -> ``"1"``; anything else is :class:`BadInput`."""
    text = str(version).strip() if version is not None else ""
    # ASCII digits only: "²".isdigit() is true and "٢" would become 2.
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadInput(f"not a model version: {text[:40]!r}")
    return str(int(text))


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def registered_at(version: Any) -> str | None:
    """When a version was registered (ISO 8601): its ``driftgate.registered_at`` tag (seeded or
    imported history, whose MLflow creation time is the time of the import), else MLflow's creation
    time (a :class:`VersionView`'s ``created_at`` or a ModelVersion's ``creation_timestamp``). A tag
    that is not a timestamp (hand-edited) is ignored."""
    value = (getattr(version, "tags", None) or {}).get(tag.REGISTERED_AT)
    if value:
        try:
            dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return str(value)
        except ValueError:
            pass
    created = getattr(version, "created_at", None)
    return str(created) if created else iso_ms(getattr(version, "creation_timestamp", None))


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class VersionView:
    """One registered model version as DriftGate sees it."""

    model: str
    version: str
    stage: str
    aliases: tuple[str, ...]
    state: str
    run_id: str | None
    created_by: str | None
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "READY"
    source: str | None = None
    created_at: str | None = None
    #: Everyone four-eyes counts as an author, read from what MLflow recorded: the version's
    #: ``user_id``, the source run's ``user_id`` and ``mlflow.user`` tag, and the
    #: ``driftgate.author`` tag (comma-separated co-authors). A tag can add authors, never remove
    #: one; :mod:`services.promotion.approvals` adds the authors DriftGate recorded when it first saw it.
    authors: tuple[str, ...] = ()
    user_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "stage": self.stage,
            "aliases": list(self.aliases),
            "state": self.state,
            "run_id": self.run_id,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class RegistryState:
    """What a user is shown and what a decision is checked against (stale -> refused)."""

    champion: str | None
    previous: str | None

    @property
    def token(self) -> str:
        """Compact, comparable form: the champion version or ``""`` when there is none."""
        return self.champion or ""


@dataclass(frozen=True)
class Step:
    """One registry write of a transition plan."""

    name: str
    run: Callable[[], Any]


def transition_stage(client: Any, model: str, version: str, stage: str, archive_existing: bool) -> Any:
    """Stage transition without MLflow's deprecation warning noise (stages are still supported)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return client.transition_model_version_stage(model, version, stage, archive_existing_versions=archive_existing)
