"""The embedded demo workspace: a real MLflow store, a real scoring log, injected ground truth.

Seeded into ``DRIFTGATE_HOME`` on the app's first start (or ``python -m services.cli demo
[--reset]``). Everything is generated from fixed seeds, so two seedings on the same day are
identical; only the calendar dates move with "today" (day 89 is always yesterday, UTC).

Scenario (day d = start date + d; documented in the README and asserted by the tests):

* days 0-29: the reference window, the champion's training window (the champion itself is trained
  on a separate draw from the same regime, so the scoring log's early predictions are honest);
* day 60: ``monthly_charges`` shifts up (numeric shift) and ``contract`` moves towards
  month-to-month (category-mix change); the churn rate rises with them (label drift);
* day 62: concept drift: churn is now driven by support calls and e-check payments, the champion's
  ranking quality falls;
* day 70: ``payment_method`` gains a category never seen before, ``crypto_wallet``;
* day 72: a retraining run (triggered by the persisting drift and the performance drop) trains
  candidates on days 62-68 and evaluates them and the champion on days 69-71;
* ``tenure_months``, ``support_calls`` and ``region`` never drift; ``region`` has ~2% missing.

Seeding is idempotent and safe to interrupt: a file lock keeps two seeders apart and the marker
``.seeded.json`` is written last, so a half-seeded workspace is detected and seeded again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.config.demo_workspace import (
    BATCH_DATE,
    CATEGORICAL_FEATURES,
    DAYS,
    EXPERIMENT,
    FEATURES,
    ID_COLUMN,
    LABEL,
    MODEL_NAME,
    MODEL_VERSION_COLUMN,
    NUMERIC_FEATURES,
    PREDICTION,
    REFERENCE_DAYS,
    SEED_FORMAT,
    TIMESTAMP,
    day_date,
    default_start_date,
    marker_path,
    read_manifest,
    scoring_log_path,
    start_date,
)
from services.errors import BadInput

ROWS_PER_DAY = 1000
LABEL_DELAY_DAYS = 3
SEED = 20261123

CONTRACTS = ["month_to_month", "one_year", "two_year"]
PAYMENTS = ["card", "bank_transfer", "e_check", "crypto_wallet"]
REGIONS = ["north", "south", "east", "west"]

# Day offsets of the injected ground truth (see module docstring).
SHIFT_DAY = 60
CONCEPT_DAY = 62
NEW_CATEGORY_DAY = 70
RETRAIN_DAY = 72
TRAIN_DAYS = (62, 68)
EVAL_DAYS = (69, 71)
CHAMPION_TRAINED_DAY = 30

GROUND_TRUTH: dict[str, Any] = {
    "reference_days": REFERENCE_DAYS,
    "drifted_features": {
        "monthly_charges": {"kind": "numeric shift", "from_day": SHIFT_DAY},
        "contract": {"kind": "category mix change", "from_day": SHIFT_DAY},
        "payment_method": {"kind": "new unseen category crypto_wallet", "from_day": NEW_CATEGORY_DAY},
    },
    "stable_features": ["tenure_months", "support_calls", "region"],
    "label_drift": {"from_day": SHIFT_DAY},
    "concept_drift": {"from_day": CONCEPT_DAY},
    "retraining_run_day": RETRAIN_DAY,
    "label_delay_days": LABEL_DELAY_DAYS,
}

ProgressFn = Callable[[float, str], None]
log = logging.getLogger(__name__)


# -- paths and manifest ---------------------------------------------------------------------


def training_data_path(home: Path) -> Path:
    return Path(home) / "data" / "training" / "champion_v1.parquet"


def is_seeded(home: Path) -> bool:
    return read_manifest(home) is not None


def ground_truth(home: Path) -> dict[str, Any]:
    """GROUND_TRUTH with calendar dates of the seeded workspace."""
    start = start_date(home)
    doc = json.loads(json.dumps(GROUND_TRUTH))
    doc["start_date"] = start.isoformat()
    doc["reference_window"] = {
        "start": day_date(start, REFERENCE_DAYS[0]).isoformat(),
        "end": day_date(start, REFERENCE_DAYS[1]).isoformat(),
    }
    for feat in doc["drifted_features"].values():
        feat["from_date"] = day_date(start, feat["from_day"]).isoformat()
    for key in ("label_drift", "concept_drift"):
        doc[key]["from_date"] = day_date(start, doc[key]["from_day"]).isoformat()
    return doc


# -- data generation ------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate_day(day: int, n: int = ROWS_PER_DAY, seed: int = SEED, stream: int = 0) -> pd.DataFrame:
    """Features and (undelayed) labels of one day of the scenario; deterministic per (seed, day, stream)."""
    rng = np.random.default_rng([seed, stream, day])
    tenure = rng.integers(1, 73, n)
    charges = rng.normal(65.0, 30.0, n)
    if day >= SHIFT_DAY:
        charges = charges + 18.0
    charges = np.round(np.clip(charges, 18.0, None), 2)
    calls = rng.poisson(1.5, n)

    contract_p = [0.55, 0.25, 0.20] if day < SHIFT_DAY else [0.80, 0.12, 0.08]
    contract = rng.choice(CONTRACTS, n, p=contract_p)
    pay_p = [0.40, 0.35, 0.25, 0.0] if day < NEW_CATEGORY_DAY else [0.32, 0.28, 0.20, 0.20]
    payment = rng.choice(PAYMENTS, n, p=pay_p)
    region = rng.choice(REGIONS, n, p=[0.3, 0.3, 0.2, 0.2]).astype(object)
    region[rng.random(n) < 0.02] = None

    m2m = (contract == "month_to_month").astype(float)
    two_year = (contract == "two_year").astype(float)
    e_check = (payment == "e_check").astype(float)
    if day < CONCEPT_DAY:
        logit = -1.0 + 1.2 * m2m - 0.8 * two_year - 0.035 * (tenure - 30) + 0.02 * (charges - 65) + 0.15 * (calls - 1.5)
    else:
        logit = -0.1 + 0.3 * m2m - 0.01 * (tenure - 30) + 0.005 * (charges - 65) + 0.9 * (calls - 1.5) + 0.8 * e_check
    label = (rng.random(n) < _sigmoid(logit)).astype("int64")
    return pd.DataFrame(
        {
            "tenure_months": tenure.astype("int64"),
            "monthly_charges": charges.astype("float64"),
            "support_calls": calls.astype("int64"),
            "contract": pd.array(contract, dtype=object),
            "payment_method": pd.array(payment, dtype=object),
            "region": pd.array(region, dtype=object),
            LABEL: label,
        }
    )


def generate_days(first: int, last: int, n: int = ROWS_PER_DAY, seed: int = SEED, stream: int = 0) -> pd.DataFrame:
    frames = []
    for d in range(first, last + 1):
        frame = generate_day(d, n, seed, stream)
        frame.insert(0, "_day", d)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def scoring_batch(
    start: date, day: int, model: Any, version: str, n: int = ROWS_PER_DAY, seed: int = SEED
) -> pd.DataFrame:
    """One day of the scoring log: timestamps, ids, features, the model's score, the label."""
    frame = generate_day(day, n, seed)
    rng = np.random.default_rng([seed, 99, day])
    base = datetime.combine(day_date(start, day), datetime.min.time(), tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 86_400, n))
    out = pd.DataFrame(
        {
            TIMESTAMP: pd.to_datetime(base) + pd.to_timedelta(seconds, unit="s"),
            BATCH_DATE: day_date(start, day),
            ID_COLUMN: [f"{day_date(start, day):%Y%m%d}-{i:05d}" for i in range(n)],
        }
    )
    for col in FEATURES:
        out[col] = frame[col].to_numpy()
    out[PREDICTION] = model.predict_proba(frame[FEATURES])[:, 1].astype("float64")
    out[LABEL] = frame[LABEL].astype("Int64")
    out[MODEL_VERSION_COLUMN] = version
    return out


def scoring_arrow_table(frame: pd.DataFrame):
    """Arrow table with the scoring log's fixed schema (used for every write, incl. appends)."""
    import pyarrow as pa

    schema = pa.schema(
        [
            (TIMESTAMP, pa.timestamp("us", tz="UTC")),
            (BATCH_DATE, pa.date32()),
            (ID_COLUMN, pa.string()),
            ("tenure_months", pa.int64()),
            ("monthly_charges", pa.float64()),
            ("support_calls", pa.int64()),
            ("contract", pa.string()),
            ("payment_method", pa.string()),
            ("region", pa.string()),
            (PREDICTION, pa.float64()),
            (LABEL, pa.int64()),
            (MODEL_VERSION_COLUMN, pa.string()),
        ]
    )
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


# -- models -----------------------------------------------------------------------------------


def build_pipeline(
    kind: str, numeric: list[str] | None = None, categorical: list[str] | None = None, random_state: int = 0
):
    """The sklearn pipelines of the demo: ordinal-encoded categoricals + an estimator.

    ``kind``: ``gbm`` (GradientBoosting), ``rf`` (RandomForest) or ``logreg`` (one-hot + scaling +
    LogisticRegression). Tree models keep one column per input feature, so SHAP values map back
    to features one to one (categoricals first, then numerics, as in the ColumnTransformer).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    numeric = list(NUMERIC_FEATURES if numeric is None else numeric)
    categorical = list(CATEGORICAL_FEATURES if categorical is None else categorical)
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
            raise BadInput(f"unknown model kind {kind!r} (gbm, rf, logreg)")
    return Pipeline([("pre", pre), ("model", est)])


def _as_model_input(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Categoricals as object columns with None for missing (stable across pandas versions)."""
    out = frame[features].copy()
    for col in out.columns:
        if col in CATEGORICAL_FEATURES:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def evaluation_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score

    y_pred = (y_score >= 0.5).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y_true, y_score)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "brier": float(brier_score_loss(y_true, y_score)),
        "log_loss": float(log_loss(y_true, np.clip(y_score, 1e-6, 1 - 1e-6), labels=[0, 1])),
    }


def feature_importance(pipeline, numeric: list[str], categorical: list[str]) -> dict[str, float]:
    est = pipeline.named_steps["model"]
    if not hasattr(est, "feature_importances_"):
        return {}
    names = list(categorical) + list(numeric)
    return {n: float(v) for n, v in zip(names, est.feature_importances_)}


def _ms(d: date, hour: int = 9) -> int:
    return int(datetime.combine(d, datetime.min.time(), tzinfo=UTC).timestamp() * 1000) + hour * 3_600_000


@contextmanager
def fluent_mlflow(settings) -> Iterator[None]:
    """Point fluent MLflow (``mlflow.start_run``, ``log_model``) at the workspace, then restore.

    ``mlflow.set_tracking_uri`` also exports MLFLOW_TRACKING_URI to the environment, which would
    turn every later settings load into "configured server"; the previous URIs and environment are
    restored exactly (unset stays unset).
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    prev_env = {k: os.environ.get(k) for k in keys}
    prev_t = getattr(tracking_utils, "_tracking_uri", None)
    prev_r = getattr(registry_utils, "_registry_uri", None)
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


@dataclass
class _Logged:
    run_id: str
    model_uri: str | None
    metrics: dict[str, float]


def log_candidate_run(
    client,
    experiment_id: str,
    *,
    name: str,
    pipeline,
    kind: str,
    train: pd.DataFrame,
    evalset: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    tags: dict[str, str],
    parent_run_id: str | None = None,
    log_model: bool = True,
    history: bool = True,
    duration_s: int = 240,
    extra_artifacts: dict[str, Any] | None = None,
    start: date | None = None,
    start_day: int = 0,
    start_ms: int | None = None,
    real_time: bool = False,
) -> _Logged:
    """Fit (unless already fitted), evaluate and log one run the way every DriftGate run is logged.

    Shared by the demo seeding and the retraining workflow: params, metrics (``roc_auc``,
    ``accuracy``, ``f1``, ``brier``, ``log_loss``), a ``val_roc_auc`` history for boosting models,
    lineage tags, ``eval/predictions.parquet`` (row_id, y_true, y_score) and the model with its
    input signature (cloudpickle, so it always loads back). The run starts at ``start_ms`` (epoch
    ms), or at 09:00 UTC of ``start`` + ``start_day`` days (the demo's simulated calendar), lasting
    ``duration_s``. ``real_time=True`` (the retraining workflow): the run starts when it is created
    and ends when it is done, as MLflow would record a live run.
    """
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.models import infer_signature
    from sklearn.metrics import roc_auc_score

    features = list(categorical) + list(numeric)
    x_train = _as_model_input(train, features)
    y_train = train[LABEL].to_numpy(dtype=int)
    x_eval = _as_model_input(evalset, features)
    y_eval = evalset[LABEL].to_numpy(dtype=int)
    if not hasattr(pipeline, "classes_"):
        pipeline.fit(x_train, y_train)
    score = pipeline.predict_proba(x_eval)[:, 1]
    metrics = evaluation_metrics(y_eval, score)

    if start_ms is None and start is None and not real_time:
        raise ValueError("log_candidate_run needs start_ms, start or real_time")
    if real_time:
        t0 = _now_ms()
        if start_ms is not None:
            t0 = max(t0, int(start_ms))
    else:
        t0 = start_ms if start_ms is not None else _ms(day_date(start, start_day))
    all_tags = {"mlflow.runName": name, **tags}
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(experiment_id, start_time=t0, tags=all_tags, run_name=name)
    rid = run.info.run_id
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
        pred = pd.DataFrame({"row_id": evalset[ID_COLUMN].to_numpy(), "y_true": y_eval, "y_score": score})
        (Path(tmp) / "eval").mkdir()
        pred.to_parquet(Path(tmp) / "eval" / "predictions.parquet", index=False)
        client.log_artifacts(rid, tmp)
    for fname, doc in (extra_artifacts or {}).items():
        client.log_text(rid, json.dumps(doc, indent=2), fname)

    model_uri = None
    if log_model:
        with mlflow.start_run(run_id=rid), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLflow's integer-column hint: the demo has no missing ints
            signature = infer_signature(x_train.head(200), pipeline.predict(x_train.head(200)))
            info = mlflow.sklearn.log_model(
                pipeline, name="model", signature=signature, serialization_format="cloudpickle"
            )
        model_uri = info.model_uri
    end = max(_now_ms(), t0 + 1) if real_time else t0 + duration_s * 1000
    client.set_terminated(rid, "FINISHED", end_time=end)
    return _Logged(rid, model_uri, metrics)


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- seeding ------------------------------------------------------------------------------------

_WORKSPACE_ITEMS = ("mlflow.db", "mlflow.db-journal", "artifacts", "data", "audit.db", "audit.db-journal", "profiles")


def _forget_cached_stores(home: Path) -> None:
    """MLflow caches stores and SQLAlchemy engines per URI for the whole process; after the database
    file is replaced they would keep writing to the deleted file. Drop them (best effort: these
    are MLflow internals, guarded so a future MLflow without them still works)."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    needle = (Path(home) / "mlflow.db").as_posix()
    for store_cls in (TrackingStore, RegistryStore):
        engines = getattr(store_cls, "_engine_map", {})
        for uri in [u for u in engines if needle in u]:
            engines.pop(uri).dispose()
    for registry in (
        getattr(tracking_utils, "_tracking_store_registry", None),
        getattr(registry_utils, "_model_registry_store_registry", None),
    ):
        cached = getattr(registry, "_get_store_with_resolved_uri", None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def _wipe(home: Path) -> None:
    _forget_cached_stores(home)
    marker_path(home).unlink(missing_ok=True)
    for item in _WORKSPACE_ITEMS:
        p = home / item
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def reset_demo(settings, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Wipe the demo workspace's own files and seed it again."""
    return ensure_demo(settings, progress=progress, reset=True)


def ensure_demo(settings, progress: ProgressFn | None = None, reset: bool = False) -> dict[str, Any]:
    """Seed the embedded workspace unless it is already completely seeded; returns the manifest.

    Refuses to touch anything when the settings point at a configured MLflow server.
    """
    from filelock import FileLock

    if not settings.demo:
        raise BadInput("the demo workspace is only seeded when no MLFLOW_TRACKING_URI is configured")
    home = Path(settings.home)
    home.mkdir(parents=True, exist_ok=True)
    if not reset:
        manifest = read_manifest(home)
        if manifest:
            return manifest
    with FileLock(str(home / ".seed.lock"), timeout=600):
        if not reset:  # another process may have finished while we waited
            manifest = read_manifest(home)
            if manifest:
                return manifest
        _wipe(home)
        return _seed(settings, progress or (lambda f, m: None))


def _seed(settings, progress: ProgressFn) -> dict[str, Any]:
    import mlflow
    from deltalake import write_deltalake
    from mlflow.entities import Param

    t_start = time.perf_counter()
    home = Path(settings.home)
    start = default_start_date()
    last_day = DAYS - 1
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)

    progress(0.02, "Creating the MLflow store")
    client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    (home / "artifacts").mkdir(parents=True, exist_ok=True)
    exp_id = client.create_experiment(
        EXPERIMENT,
        artifact_location=(home / "artifacts").resolve().as_uri(),
        tags={
            "driftgate.model": MODEL_NAME,
            "mlflow.note.content": "DriftGate demo: churn model, drift-triggered retraining and its candidates.",
        },
    )

    with fluent_mlflow(settings):
        # 1. The champion: trained on a separate draw of the reference regime (days 0-29).
        progress(0.10, "Training the champion (version 1)")
        train_v1 = generate_days(*REFERENCE_DAYS, n=ROWS_PER_DAY, stream=1)
        holdout_v1 = generate_days(*REFERENCE_DAYS, n=200, stream=2)
        holdout_v1[ID_COLUMN] = [f"ref-{i:06d}" for i in range(len(holdout_v1))]
        train_path = training_data_path(home)
        train_path.parent.mkdir(parents=True, exist_ok=True)
        train_v1.drop(columns="_day").to_parquet(train_path, index=False)
        champion = build_pipeline("gbm")
        ref_window = f"{day_date(start, REFERENCE_DAYS[0])}..{day_date(start, REFERENCE_DAYS[1])}"
        champion.fit(
            _as_model_input(train_v1, CATEGORICAL_FEATURES + NUMERIC_FEATURES), train_v1[LABEL].to_numpy(dtype=int)
        )
        importance_doc = feature_importance(champion, NUMERIC_FEATURES, CATEGORICAL_FEATURES)
        v1 = log_candidate_run(
            client,
            exp_id,
            name="champion-training",
            start=start,
            start_day=CHAMPION_TRAINED_DAY,
            pipeline=champion,
            kind="gbm",
            train=train_v1,
            evalset=holdout_v1,
            numeric=NUMERIC_FEATURES,
            categorical=CATEGORICAL_FEATURES,
            tags={
                "mlflow.user": "alice",
                "driftgate.role": "training",
                "driftgate.training_data": "data/training/champion_v1.parquet",
                "driftgate.training_window": ref_window,
                "driftgate.eval_window": ref_window,
                "driftgate.code_version": "demo-1.0.0",
            },
            extra_artifacts={"feature_importance.json": importance_doc},
        )

        # 2. The scoring log: 90 daily batches scored by the champion; labels arrive 3 days late.
        progress(0.30, "Writing the scoring log (90 daily batches)")
        batches = [scoring_batch(start, d, champion, "1") for d in range(DAYS)]
        log_frame = pd.concat(batches, ignore_index=True)
        late = log_frame[BATCH_DATE] > day_date(start, last_day - LABEL_DELAY_DAYS)
        log_frame.loc[late, LABEL] = pd.NA
        write_deltalake(str(scoring_log_path(home)), scoring_arrow_table(log_frame), mode="overwrite")

        # 3. Retraining (day 72): candidates on days 62-68, all evaluated on days 69-71.
        progress(0.45, "Logging the retraining run and its candidates")
        train_recent = log_frame[
            (log_frame[BATCH_DATE] >= day_date(start, TRAIN_DAYS[0]))
            & (log_frame[BATCH_DATE] <= day_date(start, TRAIN_DAYS[1]))
        ]
        evalset = log_frame[
            (log_frame[BATCH_DATE] >= day_date(start, EVAL_DAYS[0]))
            & (log_frame[BATCH_DATE] <= day_date(start, EVAL_DAYS[1]))
        ]
        train_window = f"{day_date(start, TRAIN_DAYS[0])}..{day_date(start, TRAIN_DAYS[1])}"
        eval_window = f"{day_date(start, EVAL_DAYS[0])}..{day_date(start, EVAL_DAYS[1])}"
        trigger = (
            f"drift: monthly_charges and contract drifted and roc_auc fell more than 0.05 below "
            f"the reference for 3 consecutive daily windows "
            f"({day_date(start, RETRAIN_DAY - 3)}..{day_date(start, RETRAIN_DAY - 1)})"
        )
        parent = client.create_run(
            exp_id,
            start_time=_ms(day_date(start, RETRAIN_DAY), 6),
            run_name=f"retrain-{day_date(start, RETRAIN_DAY)}",
            tags={
                "mlflow.user": "bob",
                "driftgate.trigger": trigger,
                "driftgate.model": MODEL_NAME,
                "driftgate.role": "retraining",
                "driftgate.training_window": train_window,
                "driftgate.eval_window": eval_window,
                "driftgate.code_version": "demo-1.1.0",
            },
        )
        pid = parent.info.run_id
        client.log_batch(
            pid,
            params=[
                Param("selection_metric", "roc_auc"),
                Param("candidates", "gbm_recent,rf_recent,logreg_stale"),
            ],
        )
        lineage = {
            "driftgate.training_data": f"delta:data/scoring_log@v0 batch_date {train_window}",
            "driftgate.training_window": train_window,
            "driftgate.eval_window": eval_window,
            "driftgate.code_version": "demo-1.1.0",
            "mlflow.user": "bob",
        }
        reeval = log_candidate_run(
            client,
            exp_id,
            name="champion-v1-reeval",
            start=start,
            start_day=RETRAIN_DAY,
            pipeline=champion,
            kind="gbm",
            train=train_v1,
            evalset=evalset,
            numeric=NUMERIC_FEATURES,
            categorical=CATEGORICAL_FEATURES,
            parent_run_id=pid,
            tags={
                **lineage,
                "driftgate.role": "champion",
                "driftgate.model_version": "1",
                "driftgate.training_data": "data/training/champion_v1.parquet",
                "driftgate.training_window": ref_window,
            },
            log_model=False,
            duration_s=30,
        )
        progress(0.55, "Training candidate gbm_recent")
        gbm = log_candidate_run(
            client,
            exp_id,
            name="gbm_recent",
            start=start,
            start_day=RETRAIN_DAY,
            pipeline=build_pipeline("gbm", random_state=1),
            kind="gbm",
            train=train_recent,
            evalset=evalset,
            numeric=NUMERIC_FEATURES,
            categorical=CATEGORICAL_FEATURES,
            parent_run_id=pid,
            tags={**lineage, "driftgate.role": "candidate"},
        )
        progress(0.68, "Training candidate rf_recent")
        log_candidate_run(
            client,
            exp_id,
            name="rf_recent",
            start=start,
            start_day=RETRAIN_DAY,
            pipeline=build_pipeline("rf", random_state=2),
            kind="rf",
            train=train_recent,
            evalset=evalset,
            numeric=NUMERIC_FEATURES,
            categorical=CATEGORICAL_FEATURES,
            parent_run_id=pid,
            tags={**lineage, "driftgate.role": "candidate"},
        )
        progress(0.78, "Training candidate logreg_stale")
        stale_cats = [c for c in CATEGORICAL_FEATURES if c != "payment_method"]
        stale = log_candidate_run(
            client,
            exp_id,
            name="logreg_stale",
            start=start,
            start_day=RETRAIN_DAY,
            pipeline=build_pipeline("logreg", categorical=stale_cats),
            kind="logreg",
            train=train_v1,
            evalset=evalset,
            numeric=NUMERIC_FEATURES,
            categorical=stale_cats,
            parent_run_id=pid,
            tags={
                **lineage,
                "driftgate.role": "candidate",
                "driftgate.training_data": "data/training/champion_v1.parquet",
                "driftgate.training_window": ref_window,
            },
        )
        client.set_terminated(pid, "FINISHED", end_time=_ms(day_date(start, RETRAIN_DAY), 7))

        # 4. The registry: v1 champion (stage + alias), v2 and v3 candidates by bob.
        progress(0.90, "Registering model versions")
        client.create_registered_model(
            MODEL_NAME, description="Churn classifier (DriftGate demo).", tags={"driftgate.owner": "alice"}
        )
        versions = []
        for logged, author, desc, day in (
            (v1, "alice", "Champion: GBM trained on the reference window.", CHAMPION_TRAINED_DAY),
            (gbm, "bob", "Candidate from the drift-triggered retraining: GBM on recent data.", RETRAIN_DAY),
            (stale, "bob", "Candidate: logistic regression on old data without payment_method.", RETRAIN_DAY),
        ):
            # MLflow stamps a version with the time of this seeding; the tag keeps the scenario's date.
            registered = datetime.fromtimestamp(_ms(day_date(start, day), 7) / 1000, tz=UTC)
            mv = client.create_model_version(
                MODEL_NAME,
                source=logged.model_uri,
                run_id=logged.run_id,
                description=desc,
                tags={"driftgate.author": author, "driftgate.registered_at": registered.isoformat()},
            )
            versions.append(str(mv.version))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # stages are deprecated, still supported
            client.transition_model_version_stage(MODEL_NAME, versions[0], "Production")
        client.set_registered_model_alias(MODEL_NAME, "champion", versions[0])
        client.set_model_version_tag(
            MODEL_NAME,
            versions[0],
            "driftgate.champion_since",
            datetime.combine(day_date(start, CHAMPION_TRAINED_DAY), datetime.min.time(), tzinfo=UTC).isoformat(),
        )
        client.set_model_version_tag(MODEL_NAME, versions[0], "driftgate.reference_auc", f"{v1.metrics['roc_auc']:.4f}")
        for v in versions[1:]:
            client.set_model_version_tag(MODEL_NAME, v, "driftgate.status", "candidate")

    manifest = {
        "format": SEED_FORMAT,
        "start_date": start.isoformat(),
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t_start, 1),
        "rows": int(len(log_frame)),
        "experiment_id": exp_id,
        "parent_run_id": pid,
        "versions": {"champion": versions[0], "passing_candidate": versions[1], "failing_candidate": versions[2]},
        "metrics": {
            "champion_reference": v1.metrics,
            "champion_reeval": reeval.metrics,
            "gbm_recent": gbm.metrics,
            "logreg_stale": stale.metrics,
        },
    }
    tmp = marker_path(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(marker_path(home))
    progress(1.0, "Demo workspace ready")
    return manifest
