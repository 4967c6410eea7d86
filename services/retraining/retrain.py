"""The automated retraining workflow (``python -m services.cli retrain --model M``).

Triggered, never auto-promoted (spec principle 1):

1. The trigger (:func:`services.retraining.trigger.evaluate`) is evaluated; unless it says retraining is
   due, ``retrain`` refuses (exit 3) — ``force=True`` retrains anyway and says so in the reason.
2. Recent *labelled* data is read from the scoring log: the evaluation window is the last
   ``eval_days`` days that have labels (before ``as_of``), the training window the ``train_days``
   days before it (no overlap).
3. One parent run tagged ``driftgate.trigger`` (the reason) holds one child per candidate
   (``candidates`` kinds of :func:`services.retraining.training.build_pipeline`) and the champion
   re-evaluated on the same evaluation rows (``driftgate.role=champion``), all logged by
   :func:`services.retraining.training.log_candidate_run` (metrics, lineage tags,
   ``eval/predictions.parquet``, model with signature, cloudpickle).
4. The selection rule — best ``selection_metric`` on the evaluation window (ties: the earlier
   candidate in the configured order) — picks the winner, which is registered as a *candidate*
   version (tags ``driftgate.author``, ``driftgate.status=candidate``). The champion is never
   touched: promotion is the gate's and an approver's job.

Config (``[retrain]``, overridable in ``[models.M.retrain]``): ``train_days`` (7), ``eval_days``
(3), ``candidates`` (["gbm", "rf", "logreg"]), ``min_train_rows`` (200), ``min_eval_rows`` (100),
``max_train_rows`` (200000, the most recent rows are kept).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Param
from sklearn.pipeline import Pipeline

from services.config import Settings
from services.errors import BadInput, DriftGateError, NotFound, Refused, Unavailable
from services.registry import tags
from services.registry.errors import translate
from services.registry.lifecycle import champion_version
from services.registry.mlflow_client import make_client
from services.retraining import trigger
from services.retraining.evidence import ScoringLog, delta_version, scoring_log
from services.retraining.training import KINDS, Columns, build_pipeline, fluent_mlflow, log_candidate_run
from services.warehouse.base import ROW_TIME
from services.warehouse.sources import open_backend, source_from_settings

UTC = dt.UTC
METRICS = {"roc_auc": True, "accuracy": True, "f1": True, "brier": False, "log_loss": False}
DEFAULT_AUTHOR = "retrain-bot"
ROW_ID = "_driftgate_row_id"  # the frames' row id column (the configured id column, or time#index)


@dataclass(frozen=True)
class RetrainPolicy:
    train_days: int = 7
    eval_days: int = 3
    candidates: tuple[str, ...] = KINDS
    min_train_rows: int = 200
    min_eval_rows: int = 100
    max_train_rows: int = 200_000

    @classmethod
    def from_settings(cls, settings: Settings, model: str) -> RetrainPolicy:
        """``[retrain]``, with the keys ``[models.<model>.retrain]`` sets over it."""
        section = settings.sections.retrain
        spec = settings.model_spec(model)
        if spec is not None and spec.retrain is not None:
            over = spec.retrain
            section = section.model_copy(update={k: getattr(over, k) for k in over.model_fields_set})
        if len(set(section.candidates)) != len(section.candidates):
            raise BadInput(f"[retrain] / [models.{model}.retrain] candidates lists a kind twice")
        return cls(**{**section.model_dump(), "candidates": tuple(section.candidates)})


def code_version() -> str:
    """``DRIFTGATE_CODE_VERSION``, else the git commit of this checkout, else ``unknown``."""
    env = os.environ.get("DRIFTGATE_CODE_VERSION")
    if env:
        return env
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if out.returncode == 0 and out.stdout.strip():
            return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def load_version_model(settings: Settings, client: Any, model: str, version: str) -> Pipeline:
    """The sklearn model of a registered version (works for file stores and tracking servers)."""
    try:
        uri = client.get_model_version_download_uri(model, str(version))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with tempfile.TemporaryDirectory(prefix="dg-model-") as tmp:  # deleted once the model is in memory
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=tmp, tracking_uri=settings.tracking_uri
                )
                loaded: Pipeline = mlflow.sklearn.load_model(local)
            return loaded
    except Exception as exc:
        raise Unavailable(f"model {model} version {version} cannot be loaded ({type(exc).__name__})") from None


def _day(t: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(t.date(), dt.time(), tzinfo=UTC)


def _span(start: dt.datetime, end_exclusive: dt.datetime) -> str:
    """``YYYY-MM-DD..YYYY-MM-DD`` with an inclusive end date (the lineage tags' format)."""
    return f"{start.date().isoformat()}..{(end_exclusive - dt.timedelta(days=1)).date().isoformat()}"


def _frames(
    settings: Settings, log: ScoringLog, policy: RetrainPolicy, as_of: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[dt.datetime, dt.datetime, dt.datetime]]:
    """(train, eval, windows) of labelled rows, with the label as 0/1 ints and a ``ROW_ID`` column.

    Reads only the two windows' labelled rows (projection + filter pushed into the scan)."""
    spec, label = log.spec, log.spec.label
    if not label:
        raise BadInput(f"[models.{log.model}] label is not set: retraining needs labels")
    source = source_from_settings(settings, log.source)
    if source.type in ("databricks", "spark"):
        raise BadInput(
            "retraining reads local scoring logs (delta, parquet, csv, duckdb); "
            "run it as a Databricks job for warehouse or Spark tables"
        )
    with open_backend(source, settings) as backend:
        if label not in backend.columns:
            raise BadInput(f"scoring log of model {log.model!r} lacks the label column {label!r}")
        newest = backend.newest_time(log.timestamp, before=as_of, required=[label])
        if newest is None:
            raise BadInput(f"the scoring log of model {log.model!r} has no labelled rows yet: nothing to train on")
        eval_end = _day(newest.replace(tzinfo=UTC)) + dt.timedelta(days=1)
        eval_start = eval_end - dt.timedelta(days=policy.eval_days)
        train_start = eval_start - dt.timedelta(days=policy.train_days)
        rid = spec.id_column if spec.id_column and spec.id_column in backend.columns else None
        cols = list(dict.fromkeys([*spec.features, label] + ([rid] if rid else [])))

        def fetch(start: dt.datetime, end: dt.datetime, limit: int | None) -> pd.DataFrame:
            frame = backend.read_window(cols, log.timestamp, start, end, required=[label], newest=limit)
            if rid:
                frame[ROW_ID] = frame[rid].astype(str)
            else:
                frame[ROW_ID] = [f"{t.isoformat()}#{i}" for i, t in enumerate(frame[ROW_TIME])]
            frame[label] = frame[label].astype(int)
            return frame.drop(columns=[ROW_TIME])

        try:
            train = fetch(train_start, eval_start, policy.max_train_rows)
            evalset = fetch(eval_start, eval_end, None)
        except (TypeError, ValueError):
            raise BadInput(f"label column {label!r} of model {log.model!r} is not 0/1") from None
    _check_frames(log, policy, train, evalset, (train_start, eval_start, eval_end))
    return train, evalset, (train_start, eval_start, eval_end)


def _check_frames(
    log: ScoringLog,
    policy: RetrainPolicy,
    train: pd.DataFrame,
    evalset: pd.DataFrame,
    windows: tuple[dt.datetime, dt.datetime, dt.datetime],
) -> None:
    train_start, eval_start, eval_end = windows
    label = str(log.spec.label)
    if len(train) < policy.min_train_rows:
        raise BadInput(
            f"only {len(train)} labelled rows in the training window {_span(train_start, eval_start)} "
            f"(min_train_rows {policy.min_train_rows})"
        )
    if len(evalset) < policy.min_eval_rows:
        raise BadInput(
            f"only {len(evalset)} labelled rows in the evaluation window {_span(eval_start, eval_end)} "
            f"(min_eval_rows {policy.min_eval_rows})"
        )
    for name, frame in (("training", train), ("evaluation", evalset)):
        if not set(frame[label].unique()) <= {0, 1}:
            raise BadInput(f"label column {label!r} of model {log.model!r} has values other than 0/1")
        if frame[label].nunique() < 2:
            raise BadInput(f"the {name} window has a single class: no model can be trained or evaluated on it")


def _columns(log: ScoringLog, frame: pd.DataFrame) -> Columns:
    """The frames' columns: configured feature kinds first, else numeric dtypes are numeric."""
    spec = log.spec
    numeric = [f for f in spec.numerical if f in spec.features]
    categorical = [f for f in spec.categorical if f in spec.features]
    for f in spec.features:
        if f in numeric or f in categorical:
            continue
        kind = frame[f].dtype
        (
            numeric if pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind) else categorical
        ).append(f)
    return Columns(label=str(spec.label), row_id=ROW_ID, numeric=numeric, categorical=categorical)


@dataclass(frozen=True)
class _Job:
    """One retraining run: where it logs, what it trains on and how it picks the winner."""

    client: Any
    settings: Settings
    model: str
    experiment_id: str
    parent_run_id: str
    champion: str | None
    train: pd.DataFrame
    evalset: pd.DataFrame
    columns: Columns
    lineage: dict[str, str]
    policy: RetrainPolicy
    metric: str
    greater: bool
    rule: str
    author: str


def retrain(
    settings: Settings,
    model: str,
    *,
    force: bool = False,
    as_of: dt.datetime | str | None = None,
    user: str | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """Run the retraining workflow for ``model``; returns the JSON document of the CLI.

    Never promotes: the champion (alias / stage) is left exactly as it was.
    """
    log = scoring_log(settings, model)
    spec = log.spec
    policy = RetrainPolicy.from_settings(settings, model)
    metric = spec.selection_metric or "roc_auc"
    if metric not in METRICS:
        raise BadInput(
            f"[models.{model}] selection_metric {metric!r} is not one the retraining logs ({', '.join(METRICS)})"
        )
    greater = METRICS[metric] if spec.greater_is_better is None else spec.greater_is_better
    if not spec.features:
        raise BadInput(f"[models.{model}] features is empty: nothing to train on")
    author = user or settings.user or DEFAULT_AUTHOR
    client = client or make_client(settings)

    decision = trigger.evaluate(settings, model, as_of=as_of, client=client)
    first_reason = decision.reasons[0] if decision.reasons else None
    if decision.retrain:
        reason = "; ".join(decision.reasons)
    elif force:
        reason = f"manual retraining by {author} (trigger not due: {first_reason or 'n/a'})"
    else:
        raise Refused(
            f"retraining of {model} is not due: {first_reason or 'no breach'} (use --force to retrain anyway)"
        )
    forced = bool(force and not decision.retrain)

    train, evalset, (train_start, eval_start, eval_end) = _frames(settings, log, policy, decision.as_of)
    columns = _columns(log, train)
    train_window, eval_window = _span(train_start, eval_start), _span(eval_start, eval_end)
    exp_id, champ = _experiment_and_champion(settings, client, model, spec.experiment)

    # Run times are the real times of the work: MLflow start/end as they happen (the parent from
    # its creation to the last child's end, each child from its creation to its end).
    started = dt.datetime.now(UTC)
    parent_ms = int(started.timestamp() * 1000)
    lineage = {
        tags.TRAINING_DATA: f"{_source_ref(settings, log)} {log.timestamp} {train_window}",
        tags.TRAINING_WINDOW: train_window,
        tags.EVAL_WINDOW: eval_window,
        tags.CODE_VERSION: code_version(),
        "mlflow.user": author,
    }
    rule = (
        f"{'highest' if greater else 'lowest'} {metric} on the evaluation window {eval_window} "
        f"({len(evalset)} labelled rows, the same rows for every candidate and the champion); "
        f"ties go to the earlier candidate in [{', '.join(policy.candidates)}]"
    )
    run_name = f"retrain-{started.date().isoformat()}"
    parent = client.create_run(
        exp_id,
        start_time=parent_ms,
        run_name=run_name,
        tags={
            tags.TRIGGER: reason[:5000],
            tags.MODEL: model,
            tags.ROLE: "retraining",
            tags.SELECTION_RULE: rule,
            tags.FORCED: str(forced).lower(),
            **lineage,
        },
    )
    pid = parent.info.run_id
    job = _Job(
        client,
        settings,
        model,
        exp_id,
        pid,
        champ,
        train,
        evalset,
        columns,
        lineage,
        policy,
        metric,
        greater,
        rule,
        author,
    )
    try:
        # log_candidate_run logs the model through fluent MLflow: point it at this workspace meanwhile.
        with fluent_mlflow(settings):
            version, champion_doc, candidates = _children(job)
        end_ms = max(int(dt.datetime.now(UTC).timestamp() * 1000), parent_ms + 1)
        client.set_terminated(pid, "FINISHED", end_time=end_ms)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is the one to report
            client.set_terminated(pid, "FAILED")
        raise

    after = champion_version(settings, client, model)
    if after != champ:  # defensive: this workflow must never promote
        raise RuntimeError(f"champion changed during retraining ({champ} -> {after})")
    return {
        "model": model,
        "experiment": spec.experiment,
        "parent_run": {
            "run_id": pid,
            "run_name": run_name,
            "started": dt.datetime.fromtimestamp(parent_ms / 1000, tz=UTC).isoformat(),
        },
        "reason": reason,
        "forced": forced,
        "metric": metric,
        "greater_is_better": greater,
        "selection_rule": rule,
        "training_window": train_window,
        "eval_window": eval_window,
        "rows": {"train": int(len(train)), "eval": int(len(evalset))},
        "champion": champion_doc,
        "candidates": [{k: v for k, v in c.items() if k != "model_uri"} for c in candidates],
        "registered_version": version,
        "author": author,
        "promoted": False,
        "champion_version": champ,
    }


def _experiment_and_champion(settings: Settings, client: Any, model: str, experiment: str) -> tuple[str, str | None]:
    """The experiment's id (created when missing) and the current champion version (None when the
    model is not registered yet: the winner becomes its first version)."""
    try:
        exp_ = client.get_experiment_by_name(experiment)
        exp_id = (
            exp_.experiment_id if exp_ is not None else client.create_experiment(experiment, tags={tags.MODEL: model})
        )
        try:
            champ = champion_version(settings, client, model)
        except NotFound:
            champ = None
    except DriftGateError:
        raise
    except Exception as exc:
        raise translate(exc, f"the retraining experiment {experiment!r}", client) from None
    return str(exp_id), champ


def _children(job: _Job) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]]]:
    """Champion re-evaluation + candidate child runs, then registration of the winner."""
    client, policy, pid = job.client, job.policy, job.parent_run_id
    client.log_batch(
        pid,
        params=[
            Param("selection_metric", job.metric),
            Param("greater_is_better", str(job.greater).lower()),
            Param("candidates", ",".join(policy.candidates)),
            Param("train_days", str(policy.train_days)),
            Param("eval_days", str(policy.eval_days)),
        ],
    )
    champion_doc = _reevaluate_champion(job) if job.champion is not None else None
    candidates = []
    for i, kind in enumerate(policy.candidates):
        logged = log_candidate_run(
            client,
            job.experiment_id,
            name=f"{kind}_recent",
            pipeline=build_pipeline(
                kind, numeric=job.columns.numeric, categorical=job.columns.categorical, random_state=i
            ),
            kind=kind,
            train=job.train,
            evalset=job.evalset,
            columns=job.columns,
            parent_run_id=pid,
            tags={**job.lineage, tags.ROLE: "candidate"},
        )
        candidates.append(
            {
                "run_id": logged.run_id,
                "run_name": f"{kind}_recent",
                "kind": kind,
                "metrics": logged.metrics,
                "model_uri": logged.model_uri,
                "winner": False,
            }
        )
    winner = _select(candidates, job.metric, job.greater)
    winner["winner"] = True
    if not _registered(client, job.model):
        client.create_registered_model(job.model, description="Created by DriftGate's retraining workflow.")
    mv = client.create_model_version(
        job.model,
        source=winner["model_uri"],
        run_id=winner["run_id"],
        description=f"Candidate from retraining run {pid}: {winner['run_name']} selected by {job.rule}.",
        tags={tags.AUTHOR: job.author, tags.STATUS: "candidate", tags.PARENT_RUN: pid},
    )
    version = str(mv.version)
    client.set_tag(pid, tags.WINNER_RUN_ID, winner["run_id"])
    client.set_tag(pid, tags.REGISTERED_VERSION, version)
    return version, champion_doc, candidates


def _reevaluate_champion(job: _Job) -> dict[str, Any] | None:
    """The champion scored on the same evaluation rows, as a child run (a failure is tagged on
    the parent run and the retraining goes on)."""
    champ = str(job.champion)
    try:
        logged = log_candidate_run(
            job.client,
            job.experiment_id,
            name=f"champion-v{champ}-reeval",
            pipeline=load_version_model(job.settings, job.client, job.model, champ),
            kind="champion",
            train=job.train.iloc[:0],
            evalset=job.evalset,
            columns=job.columns,
            parent_run_id=job.parent_run_id,
            log_model=False,
            tags={
                **job.lineage,
                tags.ROLE: "champion",
                tags.MODEL_VERSION: champ,
                tags.TRAINING_DATA: f"registered model {job.model} version {champ}",
                tags.TRAINING_WINDOW: "unchanged (champion re-evaluated)",
            },
        )
    except DriftGateError as exc:
        job.client.set_tag(job.parent_run_id, tags.CHAMPION_REEVAL, f"failed: {exc}")
        return None
    except Exception as exc:
        job.client.set_tag(job.parent_run_id, tags.CHAMPION_REEVAL, f"failed: {type(exc).__name__}")
        return None
    return {"version": champ, "run_id": logged.run_id, "metrics": logged.metrics}


def _select(candidates: list[dict[str, Any]], metric: str, greater: bool) -> dict[str, Any]:
    """The explicit selection rule: best ``metric``; ties -> the earlier candidate."""
    scored = [c for c in candidates if c["metrics"].get(metric) is not None]
    if not scored:
        raise BadInput(f"no candidate has the selection metric {metric!r}")
    best = scored[0]
    for c in scored[1:]:
        v, b = c["metrics"][metric], best["metrics"][metric]
        if (v > b) if greater else (v < b):
            best = c
    return best


def _registered(client: Any, model: str) -> bool:
    try:
        client.get_registered_model(model)
    except Exception:
        return False
    return True


def _source_ref(settings: Settings, log: ScoringLog) -> str:
    """A training-data reference: ``delta:<source>@v<table version>`` when the version is known."""
    cfg = settings.source(log.source)
    kind = cfg.type if cfg is not None else "table"
    version = delta_version(settings, log.source)
    return f"delta:{log.source}@v{version}" if version is not None else f"{kind}:{log.source}"
