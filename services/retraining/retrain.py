"""The automated retraining workflow (``python -m services.cli retrain --model M``).

Triggered, never auto-promoted (spec principle 1):

1. The trigger (:func:`services.retraining.trigger.evaluate`) is evaluated; unless it says retraining is
   due, ``retrain`` refuses (exit 3) — ``force=True`` retrains anyway and says so in the reason.
2. Recent *labelled* data is read from the scoring log: the evaluation window is the last
   ``eval_days`` days that have labels (before ``as_of``), the training window the ``train_days``
   days before it (no overlap).
3. One parent run tagged ``driftgate.trigger`` (the reason) holds one child per candidate
   (``candidates`` kinds of :func:`services.demo.seed.build_pipeline`) and the champion re-evaluated on
   the same evaluation rows (``driftgate.role=champion``), all logged by
   :func:`services.demo.seed.log_candidate_run` (metrics, lineage tags, ``eval/predictions.parquet``,
   model with signature, cloudpickle).
4. The selection rule — best ``selection_metric`` on the evaluation window (ties: the earlier
   candidate in the configured order) — picks the winner, which is registered as a *candidate*
   version (tags ``driftgate.author``, ``driftgate.status=candidate``). The champion is never
   touched: promotion is the gate's and an approver's job.

Config (``[retrain]``, overridable in ``[models.M.retrain]``): ``train_days`` (7), ``eval_days``
(3), ``candidates`` (["gbm", "rf", "logreg"]), ``min_train_rows`` (200), ``min_eval_rows`` (100),
``max_train_rows`` (200000, the most recent rows are kept).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import subprocess
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.config import Settings
from services.errors import BadInput, DriftGateError, NotFound, Refused, Unavailable

log = logging.getLogger(__name__)

UTC = dt.UTC
KINDS = ("gbm", "rf", "logreg")
METRICS = {"roc_auc": True, "accuracy": True, "f1": True, "brier": False, "log_loss": False}
DEFAULT_AUTHOR = "retrain-bot"
ROW_ID = "request_id"  # the column name services.demo.seed.log_candidate_run reads row ids from
LABEL = "label"  # ... and labels from


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
        doc = {k: v for k, v in settings.explicit("retrain").items() if not isinstance(v, Mapping)}
        doc.update(settings.section("models", model, "retrain"))
        where = f"[retrain] / [models.{model}.retrain]"
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise BadInput(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("train_days", "eval_days", "min_train_rows", "min_eval_rows", "max_train_rows"):
            if key in doc:
                v = doc[key]
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise BadInput(f"{where} {key} must be a whole number >= 1, not {v!r}")
        if "candidates" in doc:
            kinds = doc["candidates"]
            if not isinstance(kinds, (list, tuple)) or not kinds or any(k not in KINDS for k in kinds):
                raise BadInput(f"{where} candidates must be a non-empty list of {', '.join(KINDS)}")
            if len(set(kinds)) != len(kinds):
                raise BadInput(f"{where} candidates lists a kind twice")
            doc["candidates"] = tuple(kinds)
        return cls(**doc)


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


def load_version_model(settings: Settings, client, model: str, version: str):
    """The sklearn model of a registered version (works for file stores and tracking servers)."""
    import mlflow

    try:
        uri = client.get_model_version_download_uri(model, str(version))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=settings.tracking_uri)
            return mlflow.sklearn.load_model(local)
    except Exception as exc:
        raise Unavailable(f"model {model} version {version} cannot be loaded ({type(exc).__name__})") from None


def _day(t: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(t.date(), dt.time(), tzinfo=UTC)


def _span(start: dt.datetime, end_exclusive: dt.datetime) -> str:
    """``YYYY-MM-DD..YYYY-MM-DD`` with an inclusive end date (the demo's lineage format)."""
    return f"{start.date().isoformat()}..{(end_exclusive - dt.timedelta(days=1)).date().isoformat()}"


def _frames(settings: Settings, spec, policy: RetrainPolicy, as_of: dt.datetime, id_column: str | None):
    """(train, eval, windows) of labelled rows, columns renamed to what log_candidate_run reads.

    Reads only the two windows' labelled rows (projection + filter pushed into the scan)."""
    from services.warehouse.sources import open_backend, source_from_settings

    if not spec.label:
        raise BadInput(f"[models.{spec.model}] label is not set: retraining needs labels")
    source = source_from_settings(settings, spec.source)
    if source.type in ("databricks", "spark"):
        raise BadInput(
            "retraining reads local scoring logs (delta, parquet, csv, duckdb); "
            "run it as a Databricks job for warehouse or Spark tables"
        )
    with open_backend(source, settings) as backend:
        if spec.label not in backend.columns:
            raise BadInput(f"scoring log of model {spec.model!r} lacks the label column {spec.label!r}")
        con, table = backend.conn, backend.table.sql("duckdb")
        ts, y = _q(spec.timestamp), _q(spec.label)
        tsx = f"CAST({ts} AS TIMESTAMP)"
        row = con.execute(
            f"SELECT max({tsx}) FROM {table} WHERE {y} IS NOT NULL AND {tsx} < $end", {"end": _naive(as_of)}
        ).fetchone()
        if row[0] is None:
            raise BadInput(f"the scoring log of model {spec.model!r} has no labelled rows yet: nothing to train on")
        last = row[0].replace(tzinfo=UTC)
        eval_end = _day(last) + dt.timedelta(days=1)
        eval_start = eval_end - dt.timedelta(days=policy.eval_days)
        train_start = eval_start - dt.timedelta(days=policy.train_days)
        rid = id_column if id_column and id_column in backend.columns else None
        cols = list(dict.fromkeys([*spec.features, spec.label] + ([rid] if rid else [])))
        select = ", ".join(_q(c) for c in cols)

        def fetch(start: dt.datetime, end: dt.datetime, limit: int | None):
            sql = (
                f"SELECT {select}, {tsx} AS _ts FROM {table} WHERE {tsx} >= $start AND {tsx} < $end "
                f"AND {y} IS NOT NULL ORDER BY _ts DESC" + (f" LIMIT {int(limit)}" if limit else "")
            )
            frame = con.execute(sql, {"start": _naive(start), "end": _naive(end)}).df()
            frame = frame.iloc[::-1].reset_index(drop=True)  # chronological
            if rid:
                frame[ROW_ID] = frame[rid].astype(str)
            else:
                frame[ROW_ID] = [f"{t.isoformat()}#{i}" for i, t in enumerate(frame["_ts"])]
            frame[LABEL] = frame[spec.label].astype(int)
            return frame.drop(columns=["_ts"])

        try:
            train = fetch(train_start, eval_start, policy.max_train_rows)
            evalset = fetch(eval_start, eval_end, None)
        except (TypeError, ValueError):
            raise BadInput(f"label column {spec.label!r} of model {spec.model!r} is not 0/1") from None
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
        if not set(frame[LABEL].unique()) <= {0, 1}:
            raise BadInput(f"label column {spec.label!r} of model {spec.model!r} has values other than 0/1")
        if frame[LABEL].nunique() < 2:
            raise BadInput(f"the {name} window has a single class: no model can be trained or evaluated on it")
    return train, evalset, (train_start, eval_start, eval_end)


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _feature_kinds(settings: Settings, model: str, features: Sequence[str], frame) -> tuple[list[str], list[str]]:
    import pandas as pd

    cfg = settings.model(model)
    numeric = [f for f in (cfg.get("numerical") or []) if f in features]
    categorical = [f for f in (cfg.get("categorical") or []) if f in features]
    for f in features:
        if f in numeric or f in categorical:
            continue
        kind = frame[f].dtype
        (
            numeric if pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind) else categorical
        ).append(f)
    return numeric, categorical


def retrain(
    settings: Settings,
    model: str,
    *,
    force: bool = False,
    as_of: dt.datetime | str | None = None,
    user: str | None = None,
    client=None,
) -> dict[str, Any]:
    """Run the retraining workflow for ``model``; returns the JSON document of the CLI.

    Never promotes: the champion (alias / stage) is left exactly as it was.
    """

    from services.demo import seed as demo
    from services.registry.lifecycle import champion_version
    from services.registry.mlflow_client import make_client
    from services.retraining import trigger

    spec = trigger.ModelLog.from_settings(settings, model)
    cfg = settings.model(model)
    policy = RetrainPolicy.from_settings(settings, model)
    metric = str(cfg.get("selection_metric", "roc_auc"))
    if metric not in METRICS:
        raise BadInput(
            f"[models.{model}] selection_metric {metric!r} is not one the retraining logs ({', '.join(METRICS)})"
        )
    greater = bool(cfg.get("greater_is_better", METRICS[metric]))
    if not spec.features:
        raise BadInput(f"[models.{model}] features is empty: nothing to train on")
    author = user or settings.user or DEFAULT_AUTHOR
    client = client or make_client(settings)

    decision = trigger.evaluate(settings, model, as_of=as_of, client=client)
    if decision.retrain:
        reason = "; ".join(decision.reasons)
    elif force:
        reason = (
            f"manual retraining by {author} (trigger not due: {decision.reasons[0] if decision.reasons else 'n/a'})"
        )
    else:
        raise Refused(
            f"retraining of {model} is not due: {decision.reasons[0] if decision.reasons else 'no breach'}"
            " (use --force to retrain anyway)"
        )

    id_cols = cfg.get("id_columns") or []
    train, evalset, (train_start, eval_start, eval_end) = _frames(
        settings, spec, policy, decision.as_of, id_cols[0] if id_cols else None
    )
    numeric, categorical = _feature_kinds(settings, model, spec.features, train)
    train_window, eval_window = _span(train_start, eval_start), _span(eval_start, eval_end)

    try:
        exp = client.get_experiment_by_name(spec.experiment)
        exp_id = (
            exp.experiment_id
            if exp is not None
            else client.create_experiment(spec.experiment, tags={"driftgate.model": model})
        )
        try:
            champ = champion_version(settings, client, model)
        except NotFound:  # not registered yet: the winner becomes its first version
            champ = None
    except DriftGateError:
        raise
    except Exception as exc:
        raise Unavailable(f"MLflow cannot be reached ({type(exc).__name__})") from None

    # Run times are the real times of the work: MLflow start/end as they happen (the parent from
    # its creation to the last child's end, each child from its creation to its end).
    started = dt.datetime.now(UTC)
    parent_ms = int(started.timestamp() * 1000)
    child_time: dict[str, Any] = {"real_time": True}
    source_ref = _source_ref(settings, spec)
    lineage = {
        "driftgate.training_data": f"{source_ref} {spec.timestamp} {train_window}",
        "driftgate.training_window": train_window,
        "driftgate.eval_window": eval_window,
        "driftgate.code_version": code_version(),
        "mlflow.user": author,
    }
    rule = (
        f"{'highest' if greater else 'lowest'} {metric} on the evaluation window {eval_window} "
        f"({len(evalset)} labelled rows, the same rows for every candidate and the champion); "
        f"ties go to the earlier candidate in [{', '.join(policy.candidates)}]"
    )
    parent = client.create_run(
        exp_id,
        start_time=parent_ms,
        run_name=f"retrain-{started.date().isoformat()}",
        tags={
            "driftgate.trigger": reason[:5000],
            "driftgate.model": model,
            "driftgate.role": "retraining",
            "driftgate.selection_rule": rule,
            "driftgate.forced": str(bool(force and not decision.retrain)).lower(),
            **lineage,
        },
    )
    pid = parent.info.run_id
    # log_candidate_run logs the model through fluent MLflow: point it at this workspace meanwhile.
    tracking = demo.fluent_mlflow
    try:
        with tracking(settings):
            version, champion_doc, candidates = _children(
                settings,
                client,
                exp_id,
                pid,
                model=model,
                champ=champ,
                child_time=child_time,
                train=train,
                evalset=evalset,
                numeric=numeric,
                categorical=categorical,
                lineage=lineage,
                policy=policy,
                metric=metric,
                greater=greater,
                rule=rule,
                author=author,
            )
        end_ms = max(int(dt.datetime.now(UTC).timestamp() * 1000), parent_ms + 1)
        client.set_terminated(pid, "FINISHED", end_time=end_ms)
    except BaseException:
        try:
            client.set_terminated(pid, "FAILED")
        except Exception:
            pass
        raise

    after = champion_version(settings, client, model)
    if after != champ:  # defensive: this workflow must never promote
        raise RuntimeError(f"champion changed during retraining ({champ} -> {after})")
    return {
        "model": model,
        "experiment": spec.experiment,
        "parent_run": {
            "run_id": pid,
            "run_name": f"retrain-{started.date().isoformat()}",
            "started": dt.datetime.fromtimestamp(parent_ms / 1000, tz=UTC).isoformat(),
        },
        "reason": reason,
        "forced": bool(force and not decision.retrain),
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


def _children(
    settings,
    client,
    exp_id,
    pid,
    *,
    model,
    champ,
    child_time,
    train,
    evalset,
    numeric,
    categorical,
    lineage,
    policy,
    metric,
    greater,
    rule,
    author,
):
    """Champion re-evaluation + candidate child runs, then registration of the winner."""
    from mlflow.entities import Param

    from services.demo import seed as demo

    client.log_batch(
        pid,
        params=[
            Param("selection_metric", metric),
            Param("greater_is_better", str(greater).lower()),
            Param("candidates", ",".join(policy.candidates)),
            Param("train_days", str(policy.train_days)),
            Param("eval_days", str(policy.eval_days)),
        ],
    )
    champion_doc = None
    if champ is not None:
        try:
            champion_model = load_version_model(settings, client, model, champ)
            logged = demo.log_candidate_run(
                client,
                exp_id,
                name=f"champion-v{champ}-reeval",
                **child_time,
                pipeline=champion_model,
                kind="champion",
                train=train.iloc[:0],
                evalset=evalset,
                numeric=numeric,
                categorical=categorical,
                parent_run_id=pid,
                log_model=False,
                tags={
                    **lineage,
                    "driftgate.role": "champion",
                    "driftgate.model_version": str(champ),
                    "driftgate.training_data": f"registered model {model} version {champ}",
                    "driftgate.training_window": "unchanged (champion re-evaluated)",
                },
            )
            champion_doc = {"version": str(champ), "run_id": logged.run_id, "metrics": logged.metrics}
        except DriftGateError as exc:
            client.set_tag(pid, "driftgate.champion_reeval", f"failed: {exc}")
        except Exception as exc:
            client.set_tag(pid, "driftgate.champion_reeval", f"failed: {type(exc).__name__}")
    candidates = []
    for i, kind in enumerate(policy.candidates):
        logged = demo.log_candidate_run(
            client,
            exp_id,
            name=f"{kind}_recent",
            **child_time,
            pipeline=demo.build_pipeline(kind, numeric=numeric, categorical=categorical, random_state=i),
            kind=kind,
            train=train,
            evalset=evalset,
            numeric=numeric,
            categorical=categorical,
            parent_run_id=pid,
            tags={**lineage, "driftgate.role": "candidate"},
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
    winner = _select(candidates, metric, greater)
    winner["winner"] = True
    mv = client.create_model_version(
        model if _registered(client, model) else _create_registered(client, model),
        source=winner["model_uri"],
        run_id=winner["run_id"],
        description=f"Candidate from retraining run {pid}: {winner['run_name']} selected by {rule}.",
        tags={"driftgate.author": author, "driftgate.status": "candidate", "driftgate.parent_run": pid},
    )
    version = str(mv.version)
    client.set_tag(pid, "driftgate.winner_run_id", winner["run_id"])
    client.set_tag(pid, "driftgate.registered_version", version)
    return version, champion_doc, candidates


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


def _registered(client, model: str) -> bool:
    try:
        client.get_registered_model(model)
        return True
    except Exception:
        return False


def _create_registered(client, model: str) -> str:
    client.create_registered_model(model, description="Created by DriftGate's retraining workflow.")
    return model


def _source_ref(settings: Settings, spec) -> str:
    """A training-data reference: ``delta:<source>@v<table version>`` when the version is known."""
    cfg = spec.source_config
    kind = str(cfg.get("type", "table"))
    if kind == "delta" and cfg.get("path"):
        try:
            import deltalake

            version = deltalake.DeltaTable(str(settings.resolve_path(str(cfg["path"])))).version()
            return f"delta:{spec.source}@v{version}"
        except Exception:
            pass
    return f"{kind}:{spec.source}"
