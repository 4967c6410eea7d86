"""A tiny demo-like MLflow workspace for promotion tests (fast: small sklearn models).

Mirrors the demo's shape (services/demo/seed.py): v1 champion (stage Production + alias ``champion``,
author alice), a retraining parent run tagged ``driftgate.trigger`` with a champion re-evaluation
child and candidates: v2 (bob, better, same signature) passes; v3 (bob, worse, one feature fewer)
fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

MODEL = "churn_classifier"
FEATURES = ["tenure_months", "monthly_charges", "support_calls"]


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, n).astype("int64"),
            "monthly_charges": rng.normal(70, 20, n),
            "support_calls": rng.integers(0, 10, n).astype("int64"),
        }
    )
    y = (rng.random(n) < 0.3).astype(int)
    return X, y


def build(home: Path, tracking_uri: str | None = None, model: str = MODEL) -> str:
    """Seed the store; returns the tracking URI used."""
    import mlflow

    prev_t, prev_r = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    try:
        return _build(home, tracking_uri, model)
    finally:
        mlflow.set_tracking_uri(prev_t)
        mlflow.set_registry_uri(prev_r)


def _build(home: Path, tracking_uri: str | None, MODEL: str) -> str:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    home.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri or f"sqlite:///{(home / 'mlflow.db').as_posix()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    exp_id = client.create_experiment(f"{MODEL}-experiment", artifact_location=(home / "artifacts").as_uri())
    X, y = _frame(200, 0)

    def log_model(run_id: str, cols: list[str]):
        model = LogisticRegression(max_iter=200).fit(X[cols], y)
        with mlflow.start_run(run_id=run_id):
            return mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(X[cols], model.predict_proba(X[cols])[:, 1]),
                pip_requirements=["scikit-learn", "numpy"],  # skip inference: a subprocess per model
            )

    def run(name, tags, metrics, parent=None):
        t = {"mlflow.runName": name, "mlflow.user": tags.pop("user", "bob"), **tags}
        if parent:
            t["mlflow.parentRunId"] = parent
        r = client.create_run(exp_id, tags=t, run_name=name)
        for k, v in metrics.items():
            client.log_metric(r.info.run_id, k, v)
        return r.info.run_id

    lineage = {"driftgate.training_data": "scoring_log@days0-29", "driftgate.code_version": "abc123"}
    champ_run = run(
        "champion-training",
        {"user": "alice", **lineage, "driftgate.eval_window": "d20-29"},
        {"roc_auc": 0.80, "brier": 0.15},
    )
    info1 = log_model(champ_run, FEATURES)
    client.create_registered_model(MODEL)
    v1 = client.create_model_version(
        MODEL, info1.model_uri, run_id=champ_run, tags={"driftgate.author": "alice"}, model_id=info1.model_id
    )
    client.transition_model_version_stage(MODEL, v1.version, "Production")
    client.set_registered_model_alias(MODEL, "champion", v1.version)

    parent = run("retraining-1", {"driftgate.trigger": "drift persisted 3 windows"}, {})
    win = {"driftgate.eval_window": "2026-01-10..2026-01-12"}
    run(
        "champion-v1-reeval",
        {**win, "driftgate.role": "champion", "driftgate.model_version": "1"},
        {"roc_auc": 0.70, "brier": 0.20},
        parent,
    )
    r2 = run("gbm_recent", {**win, **lineage}, {"roc_auc": 0.78, "brier": 0.19}, parent)
    info2 = log_model(r2, FEATURES)
    client.create_model_version(
        MODEL, info2.model_uri, run_id=r2, tags={"driftgate.author": "bob"}, model_id=info2.model_id
    )
    run("rf_recent", {**win, **lineage}, {"roc_auc": 0.75, "brier": 0.19}, parent)
    r3 = run("logreg_stale", {**win, **lineage}, {"roc_auc": 0.66, "brier": 0.22}, parent)
    info3 = log_model(r3, FEATURES[:-1])
    client.create_model_version(
        MODEL, info3.model_uri, run_id=r3, tags={"driftgate.author": "bob"}, model_id=info3.model_id
    )
    return uri
