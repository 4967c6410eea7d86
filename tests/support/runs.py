"""Logged MLflow runs for the runs/leaderboard tests: an experiment with a retraining parent run
whose children are autologged scikit-learn models evaluated on the same holdout rows
(``eval/predictions.parquet``), a champion baseline child, a child without the selection metric
and a child with a NaN metric."""

from __future__ import annotations

import math
import pickle
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock


@dataclass
class Logged:
    tracking_uri: str
    experiment: str
    parent_id: str
    children: dict[str, str] = field(default_factory=dict)  # run name -> run id
    values: dict[str, float | None] = field(default_factory=dict)  # run name -> roc_auc (NaN/None kept)
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)
    old_parent_id: str = ""


def make_data(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.uniform(size=n)})
    logit = 1.2 * X["a"] - 0.8 * X["b"] + rng.normal(scale=1.0, size=n)
    y = (logit > 0).astype(int).to_numpy()
    return X, y


def log_nested_runs(tracking_uri: str, experiment: str | None = None, artifact_location: str | None = None) -> Logged:
    """Log an older parent (1 child) and a newer retraining parent with autologged sklearn children."""
    import mlflow
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.tree import DecisionTreeClassifier

    experiment = experiment or f"lb-test-{uuid.uuid4().hex[:8]}"
    X, y = make_data()
    Xtr, ytr, Xte, yte = X.iloc[:400], y[:400], X.iloc[400:], y[400:]
    old_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        exp_id = mlflow.create_experiment(experiment, artifact_location=artifact_location)
        mlflow.sklearn.autolog(log_models=False, silent=True, log_datasets=False)
        out = Logged(tracking_uri, experiment, "")
        with mlflow.start_run(experiment_id=exp_id, run_name="old-retraining") as old:
            out.old_parent_id = old.info.run_id
            with mlflow.start_run(experiment_id=exp_id, run_name="old-candidate", nested=True):
                mlflow.log_metric("roc_auc", 0.5)
        time.sleep(0.05)
        models = {
            "champion-reeval": (
                DecisionTreeClassifier(max_depth=2, random_state=0),
                {"driftgate.role": "champion", "driftgate.model_version": "1"},
            ),
            "gbm": (GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0), {}),
            "rf": (RandomForestClassifier(n_estimators=30, max_depth=4, random_state=0), {}),
            "logreg": (LogisticRegression(), {}),
            "tree_shallow": (DecisionTreeClassifier(max_depth=1, random_state=0), {}),
        }
        with mlflow.start_run(experiment_id=exp_id, run_name="retraining-2") as parent:
            mlflow.set_tag("driftgate.trigger", "drift persisted 3 windows (test)")
            out.parent_id = parent.info.run_id
            for name, (est, tags) in models.items():
                with mlflow.start_run(experiment_id=exp_id, run_name=name, nested=True) as child:
                    est.fit(Xtr, ytr)  # autologged: params + training_* metrics
                    score = est.predict_proba(Xte)[:, 1]
                    auc = float(roc_auc_score(yte, score))
                    mlflow.log_metric("roc_auc", auc)
                    mlflow.log_metric("brier", float(np.mean((score - yte) ** 2)))
                    mlflow.set_tags({"driftgate.eval_window": "holdout", **tags})
                    pred = pd.DataFrame({"row_id": np.arange(400, 600), "y_true": yte, "y_score": score})
                    with tempfile.TemporaryDirectory() as d:
                        path = Path(d) / "predictions.parquet"
                        pred.to_parquet(path)
                        mlflow.log_artifact(str(path), artifact_path="eval")
                    out.children[name] = child.info.run_id
                    out.values[name] = auc
                    out.predictions[name] = pred
            with mlflow.start_run(experiment_id=exp_id, run_name="no-metric", nested=True) as child:
                mlflow.log_metric("brier", 0.3)
                out.children["no-metric"] = child.info.run_id
                out.values["no-metric"] = None
            with mlflow.start_run(experiment_id=exp_id, run_name="nan-metric", nested=True) as child:
                mlflow.log_metric("roc_auc", math.nan)
                out.children["nan-metric"] = child.info.run_id
                out.values["nan-metric"] = math.nan
        return out
    finally:
        mlflow.sklearn.autolog(disable=True)
        mlflow.set_tracking_uri(old_uri)


def empty_store(path: Path, templates: Path) -> str:
    """The URI of a new, empty MLflow SQLite store at ``path``: a copy of one that MLflow created
    and migrated once in ``templates`` (a folder the test run's processes share). MLflow's
    migrations take ~3 s per new store; the copy takes milliseconds and is the same file."""
    templates.mkdir(parents=True, exist_ok=True)
    template = templates / "empty-mlflow.db"
    with FileLock(str(templates / ".empty-mlflow.lock"), timeout=600):
        if not template.exists():
            from mlflow import MlflowClient

            building = templates / f"building-{uuid.uuid4().hex[:8]}.db"
            uri = f"sqlite:///{building.as_posix()}"
            MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()  # tracking + registry tables
            copy = template.with_suffix(".tmp")
            shutil.copyfile(building, copy)  # the client may keep its file open
            copy.replace(template)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return f"sqlite:///{path.as_posix()}"


def logged_once(folder: Path, new_store: Callable[[Path], str]) -> Logged:
    """``log_nested_runs`` into the SQLite store ``new_store`` makes in ``folder`` (the
    ``empty_mlflow_store`` fixture), once for every process that asks: the first one logs (under
    a file lock) and records what it logged; the others read that record (autologging the
    models takes ~10 s, once per xdist worker before)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "logged.pickle"
    with FileLock(str(folder / ".lock"), timeout=600):
        if record.exists():
            logged: Logged = pickle.loads(record.read_bytes())
            return logged
        uri = new_store(folder / "mlflow.db")
        logged = log_nested_runs(uri, artifact_location=(folder / "artifacts").as_uri())
        tmp = record.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(logged))
        tmp.replace(record)
        return logged


def big_board(uri: str, artifacts: Path) -> dict[str, float]:
    """Experiment ``big-board`` in the store ``uri``: a retraining run with 45 candidates and the
    champion's re-evaluation, one ``roc_auc`` each (distinct, not in name order; the champion's
    within the top 30's values). Returns the values by run name."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(uri)
    exp = client.create_experiment("big-board", artifact_location=artifacts.as_uri())
    parent = client.create_run(exp, run_name="retraining").info.run_id
    values = {f"cand-{i:02d}": 0.6 + ((i * 7) % 45) / 1000 for i in range(45)}
    values["champion-reeval"] = 0.6205
    for name, value in values.items():
        tags = {"mlflow.parentRunId": parent}
        if name == "champion-reeval":
            tags |= {"driftgate.role": "champion", "driftgate.model_version": "1"}
        run = client.create_run(exp, run_name=name, tags=tags).info.run_id
        client.log_batch(run, metrics=[Metric("roc_auc", value, 0, 0)])
    return values
