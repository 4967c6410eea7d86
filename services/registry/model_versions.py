"""A registered model's versions side by side: their source runs' metrics and the later
re-evaluations of each version (runs tagged ``driftgate.model_version``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.errors import BadInput, DriftGateError, NotFound
from services.registry.errors import mlflow_call
from services.registry.lifecycle import LIFECYCLES, AliasesLifecycle
from services.registry.runs import RunRow, get_run, search_runs_paged
from services.registry.tags import EVAL_WINDOW, MODEL_VERSION
from services.registry.views import registered_at


# --------------------------------------------------------------------------------------------
# Registered model versions side by side
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRow:
    version: str
    created: datetime | None
    stage: str | None
    aliases: tuple[str, ...]
    run_id: str | None
    run_name: str | None
    metrics: dict[str, float | None]
    tags: dict[str, str]
    is_champion: bool
    trained: datetime | None = None  # the source run's start (the registry timestamp may be later)
    eval_window: str | None = None


@dataclass(frozen=True)
class Reevaluation:
    """A run that re-evaluated a registered version (tag ``driftgate.model_version``) on newer data."""

    version: str
    run_id: str
    run_name: str
    when: datetime | None
    eval_window: str | None
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class VersionsView:
    model: str
    versions: tuple[VersionRow, ...]
    reevaluations: tuple[Reevaluation, ...]
    champion_version: str | None
    calls: int


def _version_key(v: Any) -> int:
    try:
        return int(str(v))
    except ValueError:
        return 0


def versions_comparison(client: Any, model: str, lifecycle: str = "aliases", max_versions: int = 50) -> VersionsView:
    """A registered model's versions with their source runs' metrics and later re-evaluations.

    Calls: one paginated ``search_model_versions``; one ``search_runs`` per experiment holding the
    versions' runs (``run_id IN (...)``); one search for re-evaluation runs in those experiments.
    """
    name = str(model or "").strip()
    if not name:
        raise BadInput("no registered model given")
    calls = 0
    found: list[Any] = []
    token = None
    safe = name.replace("'", "")
    while True:
        page = mlflow_call(
            client,
            f"model '{name}'",
            client.search_model_versions,
            f"name = '{safe}'",
            max_results=200,
            page_token=token,
        )
        calls += 1
        found.extend(page)
        token = getattr(page, "token", None)
        if not token:
            break
    if not found:
        raise NotFound(f"registered model '{name}' not found or has no versions")
    found.sort(key=lambda v: _version_key(v.version), reverse=True)
    found = found[:max_versions]
    reg_aliases: dict[str, str] = {}
    try:  # search_model_versions does not fill aliases on every store: the registered model does
        reg = mlflow_call(client, f"model '{name}'", client.get_registered_model, name)
        calls += 1
        by_version: dict[str, list[str]] = {}
        for alias, ver in (getattr(reg, "aliases", None) or {}).items():
            reg_aliases[str(alias)] = str(ver)
            by_version.setdefault(str(ver), []).append(str(alias))
        for v in found:
            if by_version.get(str(v.version)) and not getattr(v, "aliases", None):
                v._aliases = by_version[str(v.version)]
    except DriftGateError:
        pass
    champ = LIFECYCLES.get(lifecycle, AliasesLifecycle).champion_in(found, reg_aliases)
    run_ids = [v.run_id for v in found if getattr(v, "run_id", None)]
    runs: dict[str, RunRow] = {}
    if run_ids:
        first = get_run(client, run_ids[0])
        calls += 1
        runs[first.run_id] = first
        exp_ids = [first.experiment_id]
        quoted = ", ".join(f"'{r.replace(chr(39), '')}'" for r in dict.fromkeys(run_ids))
        rows, _ = search_runs_paged(client, exp_ids, f"attributes.run_id IN ({quoted})", limit=None)
        calls += 1
        runs.update({r.run_id: r for r in rows})
        for rid in run_ids:  # versions whose runs live in other experiments (rare): bounded
            if rid not in runs:
                try:
                    runs[rid] = get_run(client, rid)
                except NotFound:
                    continue
                calls += 1
        exp_ids = sorted({r.experiment_id for r in runs.values()})
        try:  # re-evaluations are extra information: a server refusing the filter must not hide versions
            reeval_rows, _ = search_runs_paged(client, exp_ids, f"tags.`{MODEL_VERSION}` != ''", limit=2000)
        except BadInput:
            reeval_rows = []
        calls += 1
    else:
        reeval_rows = []
    versions = []
    for v in found:
        run = runs.get(getattr(v, "run_id", None) or "")
        versions.append(
            VersionRow(
                version=str(v.version),
                created=_registered(v),
                stage=getattr(v, "current_stage", None),
                aliases=tuple(getattr(v, "aliases", None) or ()),
                run_id=getattr(v, "run_id", None),
                run_name=run.run_name if run else None,
                metrics={k: run.metric(k) for k in run.metrics} if run else {},
                tags=dict(getattr(v, "tags", None) or {}),
                is_champion=str(v.version) == champ,
                trained=run.start_time if run else None,
                eval_window=run.tags.get(EVAL_WINDOW) if run else None,
            )
        )
    known = {v.version for v in versions}
    reevals = [
        Reevaluation(
            str(r.tags[MODEL_VERSION]),
            r.run_id,
            r.run_name,
            r.start_time,
            r.tags.get(EVAL_WINDOW),
            {k: r.metric(k) for k in r.metrics},
        )
        for r in reeval_rows
        if str(r.tags.get(MODEL_VERSION)) in known
        and r.run_id != next((v.run_id for v in versions if v.version == str(r.tags.get(MODEL_VERSION))), None)
    ]
    reevals.sort(key=lambda e: e.when or datetime.min.replace(tzinfo=UTC))
    return VersionsView(name, tuple(versions), tuple(reevals), champ, calls)


def version_of_runs(view: VersionsView) -> dict[str, str]:
    """run_id -> registered version, from a :class:`VersionsView`."""
    return {v.run_id: v.version for v in view.versions if v.run_id}


def _registered(version: Any) -> datetime | None:
    """:func:`services.registry.views.registered_at` as a datetime (UTC)."""
    text = registered_at(version)
    if not text:
        return None
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)
