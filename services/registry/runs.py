"""Reading retraining runs from any MLflow tracking server (SQLite store, ``mlflow server``, Databricks).

Conventions (spec, "MLflow conventions read by the app"): a retraining run is a parent run whose
children (tag ``mlflow.parentRunId``) are candidates; the trigger reason is the parent's tag
``driftgate.trigger``; the champion's re-evaluation on the candidates' data is a child tagged
``driftgate.role=champion``.

Call budget: a view costs a bounded number of MLflow calls, never one per run. An experiment's runs
are fetched with paginated ``search_runs`` (``page_size`` runs per call, page tokens) and grouped
in memory; one parent's children are one filtered search. Caching is left to the caller (the
pages wrap these functions in ``st.cache_data`` with a short TTL and small hashable keys).

Every MLflow failure becomes a one-line :mod:`services.errors` error: an unknown experiment or run
is :class:`NotFound`, a server that cannot be reached is :class:`Unavailable`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from services.config import Settings
from services.errors import BadInput, NotFound
from services.numbers import finite_or_none
from services.registry.errors import mlflow_call
from services.registry.tags import (
    CODE_VERSION,
    EVAL_WINDOW,
    ROLE,
    TRAINING_DATA,
    TRAINING_WINDOW,
    TRIGGER,
)

PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
CHAMPION_ROLE = "champion"
#: Tags that make up a run's lineage (what it was trained on, by what code, why).
LINEAGE_TAGS = (
    TRAINING_DATA,
    TRAINING_WINDOW,
    EVAL_WINDOW,
    CODE_VERSION,
    TRIGGER,
    "mlflow.user",
    "mlflow.source.name",
    "mlflow.source.type",
    "mlflow.source.git.commit",
    "mlflow.source.git.repoURL",
    "mlflow.databricks.notebookPath",
)
DEFAULT_PAGE_SIZE = 1000
#: Upper bound of runs read for one experiment view (the view says when it was truncated).
DEFAULT_RUN_LIMIT = 20_000
MAX_HISTORY_KEYS = 12

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Plain data (picklable: safe to return from st.cache_data)
# --------------------------------------------------------------------------------------------
def from_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


def _clean_metric(value: Any) -> float | None:
    """MLflow metrics may be NaN/inf; those count as 'no value' for ranking."""
    try:
        return finite_or_none(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RunRow:
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: datetime | None
    end_time: datetime | None
    parent_run_id: str | None
    lifecycle_stage: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifact_uri: str = ""

    @property
    def duration_s(self) -> float | None:
        if self.start_time and self.end_time:
            return (self.end_time - self.start_time).total_seconds()
        return None

    @property
    def role(self) -> str | None:
        return self.tags.get(ROLE)

    @property
    def is_champion_baseline(self) -> bool:
        return (self.tags.get(ROLE) or "").strip().lower() == CHAMPION_ROLE

    @property
    def trigger(self) -> str | None:
        return self.tags.get(TRIGGER)

    @classmethod
    def from_mlflow(cls, run: Any) -> RunRow:
        info, data = run.info, run.data
        tags = dict(data.tags or {})
        name = getattr(info, "run_name", None) or tags.get(RUN_NAME_TAG) or info.run_id[:8]
        return cls(
            run_id=info.run_id,
            run_name=str(name),
            experiment_id=str(info.experiment_id),
            status=str(info.status),
            start_time=from_ms(info.start_time),
            end_time=from_ms(info.end_time),
            parent_run_id=tags.get(PARENT_TAG),
            lifecycle_stage=str(info.lifecycle_stage),
            # NaN/inf are kept as NaN so they are visible, and ranked as missing.
            metrics={
                k: (float(v) if _clean_metric(v) is not None else float("nan")) for k, v in (data.metrics or {}).items()
            },
            params=dict(data.params or {}),
            tags=tags,
            artifact_uri=str(getattr(info, "artifact_uri", "") or ""),
        )

    def metric(self, key: str) -> float | None:
        return _clean_metric(self.metrics.get(key))


@dataclass(frozen=True)
class ExperimentRow:
    experiment_id: str
    name: str
    lifecycle_stage: str
    last_update: datetime | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParentRun:
    """A retraining run and its candidates."""

    run: RunRow
    children: tuple[RunRow, ...]
    winner: RunRow | None = None
    metric: str | None = None

    @property
    def champion(self) -> RunRow | None:
        return next((c for c in self.children if c.is_champion_baseline), None)

    @property
    def candidates(self) -> tuple[RunRow, ...]:
        return tuple(c for c in self.children if not c.is_champion_baseline)

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    def summary(self) -> dict[str, Any]:
        champ = self.champion
        return {
            "run_id": self.run.run_id,
            "run_name": self.run.run_name,
            "start_time": self.run.start_time,
            "trigger": self.run.trigger,
            "status": self.run.status,
            "duration_s": self.run.duration_s,
            "candidates": self.n_candidates,
            "champion_baseline": champ.run_name if champ else None,
            "winner": self.winner.run_name if self.winner else None,
            "winner_run_id": self.winner.run_id if self.winner else None,
            "winner_value": self.winner.metric(self.metric) if (self.winner and self.metric) else None,
        }


@dataclass(frozen=True)
class RetrainingView:
    experiment: ExperimentRow
    parents: tuple[ParentRun, ...]
    standalone: tuple[RunRow, ...]  # runs that are neither parents nor children
    n_runs: int
    truncated: bool
    calls: int  # MLflow calls spent building this view


# --------------------------------------------------------------------------------------------
# Experiments
# --------------------------------------------------------------------------------------------
def _experiment_row(exp: Any) -> ExperimentRow:
    return ExperimentRow(
        experiment_id=str(exp.experiment_id),
        name=str(exp.name),
        lifecycle_stage=str(exp.lifecycle_stage),
        last_update=from_ms(getattr(exp, "last_update_time", None)),
        tags=dict(getattr(exp, "tags", {}) or {}),
    )


def list_experiments(client: Any, page_size: int = 1000, limit: int = 5000) -> list[ExperimentRow]:
    """Active experiments, most recently updated first (paginated)."""
    out: list[ExperimentRow] = []
    token = None
    while True:
        page = mlflow_call(
            client,
            "experiments",
            client.search_experiments,
            max_results=page_size,
            order_by=["last_update_time DESC"],
            page_token=token,
        )
        out.extend(_experiment_row(e) for e in page)
        token = getattr(page, "token", None)
        if not token or len(out) >= limit:
            return out[:limit]


def resolve_experiment(client: Any, name_or_id: str) -> ExperimentRow:
    """An experiment by name (or id); NotFound when it does not exist or is deleted."""
    ref = str(name_or_id or "").strip()
    if not ref:
        raise BadInput("no experiment given")
    exp = mlflow_call(client, f"experiment '{ref}'", client.get_experiment_by_name, ref)
    if exp is None and ref.isdigit():
        try:
            exp = mlflow_call(client, f"experiment '{ref}'", client.get_experiment, ref)
        except NotFound:
            exp = None
    if exp is None:
        raise NotFound(f"experiment '{ref}' not found")
    if str(exp.lifecycle_stage) == "deleted":
        raise NotFound(f"experiment '{ref}' is deleted")
    return _experiment_row(exp)


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------
class CallCounter:
    """Counts MLflow calls made through :func:`search_runs_paged` and friends (for views/bench)."""

    def __init__(self) -> None:
        self.calls = 0


def search_runs_paged(
    client: Any,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    order_by: Sequence[str] | None = ("attributes.start_time DESC",),
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = DEFAULT_RUN_LIMIT,
    counter: CallCounter | None = None,
) -> tuple[list[RunRow], bool]:
    """All active runs matching ``filter_string``, following page tokens.

    Returns ``(runs, truncated)``; ``truncated`` is True when ``limit`` stopped the reading.
    """
    from mlflow.entities import ViewType

    rows: list[RunRow] = []
    token = None
    what = f"runs of experiment {', '.join(experiment_ids)}"
    while True:
        size = page_size if limit is None else max(1, min(page_size, limit - len(rows)))
        page = mlflow_call(
            client,
            what,
            client.search_runs,
            experiment_ids=list(experiment_ids),
            filter_string=filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=size,
            order_by=list(order_by) if order_by else None,
            page_token=token,
        )
        if counter is not None:
            counter.calls += 1
        rows.extend(RunRow.from_mlflow(r) for r in page)
        token = getattr(page, "token", None)
        if not token:
            return rows, False
        if limit is not None and len(rows) >= limit:
            return rows, True


def get_run(client: Any, run_id: str) -> RunRow:
    """One run; NotFound when unknown or deleted."""
    rid = str(run_id or "").strip()
    if not rid:
        raise BadInput("no run id given")
    run = mlflow_call(client, f"run '{rid}'", client.get_run, rid)
    row = RunRow.from_mlflow(run)
    if row.lifecycle_stage == "deleted":
        raise NotFound(f"run '{rid}' is deleted")
    return row


def children_of(
    client: Any,
    experiment_id: str,
    parent_run_id: str,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = DEFAULT_RUN_LIMIT,
    counter: CallCounter | None = None,
) -> tuple[list[RunRow], bool]:
    """The child runs of one parent: one filtered, paginated search (no call per run)."""
    safe = str(parent_run_id).replace("'", "")
    return search_runs_paged(
        client,
        [experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{safe}'",
        page_size=page_size,
        limit=limit,
        counter=counter,
    )


def pick_winner(children: Iterable[RunRow], metric: str | None, greater_is_better: bool = True) -> RunRow | None:
    """The best candidate (champion baseline excluded) by ``metric``; ties by earliest start."""
    if not metric:
        return None
    scored = [(v, c) for c in children if not c.is_champion_baseline and (v := c.metric(metric)) is not None]
    if not scored:
        return None
    sign = -1.0 if greater_is_better else 1.0
    scored.sort(key=lambda vc: (sign * vc[0], vc[1].start_time or datetime.max.replace(tzinfo=UTC)))
    return scored[0][1]


def group_retraining(
    runs: Sequence[RunRow], metric: str | None = None, greater_is_better: bool = True
) -> tuple[list[ParentRun], list[RunRow]]:
    """Group runs into retraining (parent) runs and standalone runs.

    A retraining run is a *top-level* run with children present: with deeper nesting (e.g. an
    autologged ``GridSearchCV`` candidate whose trials are its own children) the candidates are
    the top-level run's direct children and the trials stay inside their candidate. Parents come
    most recent first. Children whose parent is not in ``runs`` (deleted or outside the read
    limit) are reported as standalone runs so they are never dropped silently.
    """
    by_id = {r.run_id: r for r in runs}
    kids: dict[str, list[RunRow]] = {}
    for r in runs:
        if r.parent_run_id and r.parent_run_id in by_id:
            kids.setdefault(r.parent_run_id, []).append(r)

    def top(r: RunRow) -> RunRow:
        seen = set()
        while r.parent_run_id in by_id and r.run_id not in seen:
            seen.add(r.run_id)
            r = by_id[str(r.parent_run_id)]
        return r

    parents = []
    for pid, children in kids.items():
        if by_id[pid].parent_run_id in by_id:
            continue  # a nested parent (e.g. a grid search inside a candidate), not a retraining run
        children.sort(key=lambda c: (c.start_time or datetime.min.replace(tzinfo=UTC), c.run_name))
        parents.append(ParentRun(by_id[pid], tuple(children), pick_winner(children, metric, greater_is_better), metric))
    parents.sort(key=lambda p: p.run.start_time or datetime.min.replace(tzinfo=UTC), reverse=True)
    tops = {p.run.run_id for p in parents}
    standalone = [r for r in runs if r.run_id not in tops and top(r).run_id not in tops]
    return parents, standalone


def retraining_runs(
    client: Any,
    experiment: str,
    metric: str | None = None,
    greater_is_better: bool = True,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = DEFAULT_RUN_LIMIT,
) -> RetrainingView:
    """An experiment's retraining (parent) runs with their children: 1 + ceil(runs/page_size) calls."""
    exp = resolve_experiment(client, experiment)
    counter = CallCounter()
    runs, truncated = search_runs_paged(client, [exp.experiment_id], page_size=page_size, limit=limit, counter=counter)
    parents, standalone = group_retraining(runs, metric, greater_is_better)
    return RetrainingView(exp, tuple(parents), tuple(standalone), len(runs), truncated, counter.calls + 1)


def lineage(run: RunRow) -> dict[str, str]:
    """What a run was trained on, by which code, for which reason (tags present only)."""
    out = {k: run.tags[k] for k in LINEAGE_TAGS if run.tags.get(k)}
    if run.parent_run_id:
        out["parent run"] = run.parent_run_id
    for k in ("mlflow.log-model.history",):
        if k in run.tags:
            out["logged models"] = "yes"
    return out


def metric_history(client: Any, run_id: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Metric history rows ``{key, step, timestamp, value}`` for up to MAX_HISTORY_KEYS keys.

    One call per metric key (MLflow has no bulk history call that all servers support); the
    number of keys is capped so a view stays bounded.
    """
    out: list[dict[str, Any]] = []
    for key in list(dict.fromkeys(keys))[:MAX_HISTORY_KEYS]:
        for m in mlflow_call(
            client, f"history of metric '{key}' of run '{run_id}'", client.get_metric_history, run_id, key
        ):
            out.append(
                {"key": key, "step": int(m.step), "timestamp": from_ms(m.timestamp), "value": _clean_metric(m.value)}
            )
    return out


def run_table(runs: Iterable[RunRow], metrics: Sequence[str] = (), params: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Flat rows for tables: identity, status, timing, chosen metrics and params."""
    rows = []
    for r in runs:
        row: dict[str, Any] = {
            "run_id": r.run_id,
            "run_name": r.run_name,
            "status": r.status,
            "start_time": r.start_time,
            "duration_s": r.duration_s,
            "role": r.role or "",
            "parent_run_id": r.parent_run_id,
        }
        for m in metrics:
            row[m] = r.metric(m)
        for p in params:
            row[f"param:{p}"] = r.params.get(p)
        rows.append(row)
    return rows


def metric_keys(runs: Iterable[RunRow]) -> list[str]:
    keys: dict[str, None] = {}
    for r in runs:
        keys.update(dict.fromkeys(r.metrics))
    return sorted(keys)


def param_keys(runs: Iterable[RunRow]) -> list[str]:
    keys: dict[str, None] = {}
    for r in runs:
        keys.update(dict.fromkeys(r.params))
    return sorted(keys)


def model_settings_for_experiment(settings: Any, experiment_name: str) -> tuple[str | None, dict[str, Any]]:
    """The ``[models.<name>]`` section whose ``experiment`` is this experiment (or named like it)."""
    models = getattr(settings, "models", {}) or {}
    for name, cfg in models.items():
        if str(cfg.get("experiment", "")) == experiment_name:
            return name, cfg
    if experiment_name in models:
        return experiment_name, models[experiment_name]
    return None, {}


def mlflow_ui_links(
    settings: Settings,
    model: str | None = None,
    version: str | None = None,
    run_id: str | None = None,
    experiment_id: str | None = None,
) -> dict[str, str]:
    """Links into the tracking server's own UI for a model version and a run: an ``http(s)``
    tracking server's MLflow UI, or the Databricks workspace (``DATABRICKS_HOST``) when the store is
    Databricks; none for a local file/SQLite store (no UI to link to). Unity Catalog models
    (``catalog.schema.model``) link to Catalog Explorer."""
    from urllib.parse import quote

    uri = str(settings.tracking_uri or "")
    registry = str(settings.registry_uri or uri)
    links: dict[str, str] = {}
    if uri.startswith(("http://", "https://")):
        base = uri.rstrip("/")
        if model and version and registry == uri:
            links["version"] = f"{base}/#/models/{quote(model, safe='')}/versions/{quote(str(version), safe='')}"
        if run_id and experiment_id:
            links["run"] = f"{base}/#/experiments/{quote(str(experiment_id), safe='')}/runs/{quote(run_id, safe='')}"
        return links
    if uri.startswith("databricks") or registry.startswith("databricks"):
        host = (getattr(getattr(settings, "databricks", None), "host", None) or "").strip().rstrip("/")
        if not host:
            return links
        if not host.startswith(("http://", "https://")):
            host = f"https://{host}"
        if model and version:
            if registry.startswith("databricks-uc") or model.count(".") == 2:
                links["version"] = (
                    f"{host}/explore/data/models/{'/'.join(quote(p, safe='') for p in model.split('.'))}/version/{quote(str(version), safe='')}"
                )
            else:
                links["version"] = f"{host}/ml/models/{quote(model, safe='')}/versions/{quote(str(version), safe='')}"
        if run_id and experiment_id:
            links["run"] = f"{host}/ml/experiments/{quote(str(experiment_id), safe='')}/runs/{quote(run_id, safe='')}"
    return links


NOISE_PARAM_VALUES = frozenset({"", "none", "null", "nan", "deprecated", "warn"})


def is_unset_param(value: Any) -> bool:
    """A param value that says "not set": missing, or a placeholder scikit-learn logs for unset or
    deprecated arguments ("None", "deprecated", "warn", ...)."""
    return value is None or str(value).strip().lower() in NOISE_PARAM_VALUES


def varying_params(runs: Sequence[Any]) -> list[str]:
    """Params worth a parallel-coordinates axis: logged by the runs with more than one real value.
    ``None``/``deprecated``-style placeholders (what scikit-learn logs for unset or deprecated
    arguments) are noise, not values; a param that is only noise, or only one value plus noise,
    does not vary."""
    out = []
    for p in param_keys(runs):
        real = {str(v) for r in runs if not is_unset_param(v := r.params.get(p))}
        if len(real) > 1:
            out.append(p)
    return out
