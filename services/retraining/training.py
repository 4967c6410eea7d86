"""Training and logging one candidate run: the sklearn pipelines, the metrics, the MLflow run.

Used by the retraining workflow (:mod:`services.retraining.retrain`) and by the demo seeding;
nothing here knows a particular model's columns: the label, row id and feature columns are
parameters.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param
from mlflow.models import infer_signature
from mlflow.tracking._model_registry import utils as registry_utils
from mlflow.tracking._tracking_service import utils as tracking_utils
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from services.config import Settings
from services.errors import BadInput

KINDS = ("gbm", "rf", "logreg")


def pip_requirements() -> list[str]:
    """The logged model's requirements, pinned to what trained it. Given explicitly so that
    ``log_model`` does not infer them: inference starts a Python subprocess that loads the model
    (seconds per model; most of a demo seeding's time)."""
    return [f"{name}=={version(name)}" for name in ("scikit-learn", "cloudpickle", "numpy", "pandas", "scipy")]


def build_pipeline(kind: str, *, numeric: Sequence[str], categorical: Sequence[str], random_state: int = 0) -> Pipeline:
    """An sklearn pipeline: ordinal-encoded categoricals + an estimator.

    ``kind``: ``gbm`` (GradientBoosting), ``rf`` (RandomForest) or ``logreg`` (one-hot + scaling +
    LogisticRegression). Tree models keep one column per input feature, so SHAP values map back
    to features one to one (categoricals first, then numerics, as in the ColumnTransformer).
    """
    numeric, categorical = list(numeric), list(categorical)
    est: Any
    if kind == "logreg":
        pre = ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("num", StandardScaler(), numeric),
            ]
        )
        est = LogisticRegression(max_iter=500)
    else:
        pre = ColumnTransformer(
            [
                (
                    "cat",
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2),
                    categorical,
                ),
                ("num", "passthrough", numeric),
            ]
        )
        if kind == "gbm":
            est = GradientBoostingClassifier(
                n_estimators=80, max_depth=3, learning_rate=0.1, subsample=0.8, random_state=random_state
            )
        elif kind == "rf":
            est = RandomForestClassifier(
                n_estimators=80, max_depth=8, min_samples_leaf=5, n_jobs=1, random_state=random_state
            )
        else:
            raise BadInput(f"unknown model kind {kind!r} ({', '.join(KINDS)})")
    return Pipeline([("pre", pre), ("model", est)])


def model_input(frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The feature columns; categoricals as object columns with None for missing (stable across
    pandas versions)."""
    out = frame[list(features)].copy()
    for col in out.columns:
        if col in categorical:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def evaluation_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    y_pred = (y_score >= 0.5).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, y_score)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "brier": float(brier_score_loss(y_true, y_score)),
        "log_loss": float(log_loss(y_true, np.clip(y_score, 1e-6, 1 - 1e-6), labels=[0, 1])),
    }


def feature_importance(pipeline: Pipeline, numeric: Sequence[str], categorical: Sequence[str]) -> dict[str, float]:
    est = pipeline.named_steps["model"]
    if not hasattr(est, "feature_importances_"):
        return {}
    names = list(categorical) + list(numeric)
    return {n: float(v) for n, v in zip(names, est.feature_importances_, strict=True)}


@contextmanager
def fluent_mlflow(settings: Settings) -> Iterator[None]:
    """Point fluent MLflow (``mlflow.start_run``, ``log_model``) at the workspace, then restore.

    ``mlflow.set_tracking_uri`` also exports MLFLOW_TRACKING_URI to the environment, which would
    turn every later settings load into "configured server"; the previous URIs and environment are
    restored exactly (unset stays unset).
    """
    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    prev_env = {k: os.environ.get(k) for k in keys}
    prev_t: Any = getattr(tracking_utils, "_tracking_uri", None)  # None: unset (restored as unset)
    prev_r: Any = getattr(registry_utils, "_registry_uri", None)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(prev_t)
        mlflow.set_registry_uri(prev_r)
        for k, v in prev_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass(frozen=True)
class Columns:
    """Which columns of the training / evaluation frames mean what."""

    label: str
    row_id: str
    numeric: Sequence[str]
    categorical: Sequence[str]

    @property
    def features(self) -> list[str]:
        """Categoricals first, then numerics (the pipelines' column order)."""
        return list(self.categorical) + list(self.numeric)


@dataclass(frozen=True)
class Logged:
    run_id: str
    model_uri: str | None
    metrics: dict[str, float]


def now_ms() -> int:
    return int(time.time() * 1000)


def log_candidate_run(
    client: Any,
    experiment_id: str,
    *,
    name: str,
    pipeline: Pipeline,
    kind: str,
    train: pd.DataFrame,
    evalset: pd.DataFrame,
    columns: Columns,
    tags: Mapping[str, str],
    parent_run_id: str | None = None,
    log_model: bool = True,
    history: bool = True,
    duration_s: int = 240,
    extra_artifacts: Mapping[str, Any] | None = None,
    start_ms: int | None = None,
) -> Logged:
    """Fit (unless already fitted), evaluate and log one run the way every DriftGate run is logged.

    Params, metrics (``roc_auc``, ``accuracy``, ``f1``, ``brier``, ``log_loss``), a
    ``val_roc_auc`` history for boosting models, lineage tags, ``eval/predictions.parquet``
    (row_id, y_true, y_score) and the model with its input signature (cloudpickle, so it always
    loads back). With ``start_ms`` (epoch ms) the run starts then and lasts ``duration_s`` (a
    simulated calendar); without, it starts when it is created and ends when it is done, as
    MLflow records a live run.
    """
    features = columns.features
    x_train = model_input(train, features, columns.categorical)
    y_train = train[columns.label].to_numpy(dtype=int)
    x_eval = model_input(evalset, features, columns.categorical)
    y_eval = evalset[columns.label].to_numpy(dtype=int)
    if not hasattr(pipeline, "classes_"):
        pipeline.fit(x_train, y_train)
    score = pipeline.predict_proba(x_eval)[:, 1]
    metrics = evaluation_metrics(y_eval, score)

    t0 = now_ms() if start_ms is None else start_ms
    all_tags = {"mlflow.runName": name, **tags}
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    rid = client.create_run(experiment_id, start_time=t0, tags=all_tags, run_name=name).info.run_id
    est = pipeline.named_steps["model"]
    params = {
        "model_kind": kind,
        "n_train_rows": str(len(train)),
        "n_eval_rows": str(len(evalset)),
        "features": ",".join(features),
    }
    for key, value in est.get_params().items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            params[f"model.{key}"] = str(value)
    ts = t0 + 60_000
    metric_rows = [Metric(k, v, ts, 0) for k, v in metrics.items()]
    if history and hasattr(est, "staged_predict_proba"):
        xt = pipeline.named_steps["pre"].transform(x_eval)
        for step, proba in enumerate(est.staged_predict_proba(xt), start=1):
            if step % 5 == 0 or step == est.n_estimators_:
                metric_rows.append(
                    Metric("val_roc_auc", float(roc_auc_score(y_eval, proba[:, 1])), ts + step * 1000, step)
                )
    client.log_batch(rid, metrics=metric_rows, params=[Param(k, v[:6000]) for k, v in params.items()])

    with tempfile.TemporaryDirectory() as tmp:
        pred = pd.DataFrame({"row_id": evalset[columns.row_id].to_numpy(), "y_true": y_eval, "y_score": score})
        (Path(tmp) / "eval").mkdir()
        pred.to_parquet(Path(tmp) / "eval" / "predictions.parquet", index=False)
        client.log_artifacts(rid, tmp)
    for fname, doc in (extra_artifacts or {}).items():
        client.log_text(rid, json.dumps(doc, indent=2), fname)

    model_uri = None
    if log_model:
        with mlflow.start_run(run_id=rid), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLflow's integer-column hint: the logs have no missing ints
            signature = infer_signature(x_train.head(200), pipeline.predict(x_train.head(200)))
            info = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                signature=signature,
                serialization_format="cloudpickle",
                pip_requirements=pip_requirements(),
            )
        model_uri = info.model_uri
    end = max(now_ms(), t0 + 1) if start_ms is None else t0 + duration_s * 1000
    client.set_terminated(rid, "FINISHED", end_time=end)
    return Logged(rid, model_uri, metrics)
