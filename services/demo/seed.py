"""The embedded demo workspace: a real MLflow store, a real scoring log, injected ground truth.

Seeded into ``DRIFTGATE_HOME`` on the app's first start (or ``python -m services.cli demo
[--reset]``) to the layout of :mod:`services.config.demo_workspace`, with the scenario of
:mod:`services.demo.data` (two seedings on the same day are identical; only the calendar dates
move with "today": day 89 is always yesterday, UTC). The runs are trained and logged by
:mod:`services.retraining.training`, as the retraining workflow logs them.

Seeding is idempotent and safe to interrupt: a file lock keeps two seeders apart and the marker
``.seeded.json`` is written last, so a half-seeded workspace is detected and seeded again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from deltalake import write_deltalake
from mlflow.entities import Param
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
from mlflow.tracking._model_registry import utils as registry_utils
from mlflow.tracking._tracking_service import utils as tracking_utils
from sklearn.pipeline import Pipeline

from services.config import Settings
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
)
from services.demo.data import (
    CHAMPION_TRAINED_DAY,
    CONCEPT_DAY,
    EVAL_DAYS,
    GROUND_TRUTH,
    LABEL_DELAY_DAYS,
    NEW_CATEGORY_DAY,
    RETRAIN_DAY,
    ROWS_PER_DAY,
    SEED,
    SHIFT_DAY,
    TRAIN_DAYS,
    generate_day,
    generate_days,
    ground_truth,
    scoring_arrow_table,
    scoring_batch,
)
from services.demo.workspace import ProgressFn, ensure_demo, is_seeded
from services.registry import tags
from services.retraining.training import (
    Columns,
    Logged,
    build_pipeline,
    feature_importance,
    fluent_mlflow,
    log_candidate_run,
    model_input,
)

# ``from services.demo import seed as demo`` is how the app and the tests name the workspace.
__all__ = [
    "BATCH_DATE",
    "CATEGORICAL_FEATURES",
    "CHAMPION_TRAINED_DAY",
    "CONCEPT_DAY",
    "DAYS",
    "EVAL_DAYS",
    "EXPERIMENT",
    "FEATURES",
    "GROUND_TRUTH",
    "ID_COLUMN",
    "LABEL",
    "LABEL_DELAY_DAYS",
    "MODEL_NAME",
    "MODEL_VERSION_COLUMN",
    "NEW_CATEGORY_DAY",
    "NUMERIC_FEATURES",
    "PREDICTION",
    "REFERENCE_DAYS",
    "RETRAIN_DAY",
    "ROWS_PER_DAY",
    "SEED",
    "SHIFT_DAY",
    "TIMESTAMP",
    "TRAIN_DAYS",
    "day_date",
    "ensure_demo",
    "generate_day",
    "ground_truth",
    "is_seeded",
    "read_manifest",
    "scoring_batch",
    "scoring_log_path",
]

log = logging.getLogger(__name__)
COLUMNS = Columns(label=LABEL, row_id=ID_COLUMN, numeric=NUMERIC_FEATURES, categorical=CATEGORICAL_FEATURES)


def training_data_path(home: Path) -> Path:
    return Path(home) / "data" / "training" / "champion_v1.parquet"


def _ms(d: date, hour: int = 9) -> int:
    """Epoch ms of ``hour`` o'clock UTC on ``d`` (the scenario's simulated calendar)."""
    return int(datetime.combine(d, datetime.min.time(), tzinfo=UTC).timestamp() * 1000) + hour * 3_600_000


# -- the workspace ---------------------------------------------------------------------------------
_WORKSPACE_ITEMS = ("mlflow.db", "mlflow.db-journal", "artifacts", "data", "audit.db", "audit.db-journal", "profiles")


def _forget_cached_stores(home: Path) -> None:
    """MLflow caches stores and SQLAlchemy engines per URI for the whole process; after the database
    file is replaced they would keep writing to the deleted file. Drop them (best effort: these
    are MLflow internals, guarded so a future MLflow without them still works)."""
    needle = (Path(home) / "mlflow.db").as_posix()
    for store_cls in (TrackingStore, RegistryStore):
        engines = getattr(store_cls, "_engine_map", {})
        for uri in [u for u in engines if needle in u]:
            engines.pop(uri).dispose()
    for registry in (
        getattr(tracking_utils, "_tracking_store_registry", None),
        getattr(registry_utils, "_model_registry_store_registry", None),
    ):
        cached: Any = getattr(registry, "_get_store_with_resolved_uri", None)
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


def reseed(settings: Settings, progress: ProgressFn) -> dict[str, Any]:
    """Wipe the workspace's own files and seed it (the caller holds the seeding lock:
    :func:`services.demo.workspace.ensure_demo`)."""
    home = Path(settings.home)
    _wipe(home)
    return _seed(settings, progress)


@dataclass(frozen=True)
class _Seeding:
    """The store being seeded and the scenario's day 0."""

    client: Any
    experiment_id: str
    start: date

    def day(self, day: int) -> date:
        return day_date(self.start, day)

    def window(self, days: tuple[int, int]) -> str:
        return f"{self.day(days[0])}..{self.day(days[1])}"

    def log(
        self,
        name: str,
        pipeline: Pipeline,
        kind: str,
        train: pd.DataFrame,
        evalset: pd.DataFrame,
        run_tags: Mapping[str, str],
        *,
        day: int,
        columns: Columns = COLUMNS,
        **options: Any,
    ) -> Logged:
        return log_candidate_run(
            self.client,
            self.experiment_id,
            name=name,
            pipeline=pipeline,
            kind=kind,
            train=train,
            evalset=evalset,
            columns=columns,
            tags=run_tags,
            start_ms=_ms(self.day(day)),
            **options,
        )


def _seed(settings: Settings, progress: ProgressFn) -> dict[str, Any]:
    t_start = time.perf_counter()
    home = Path(settings.home)
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
            tags.MODEL: MODEL_NAME,
            "mlflow.note.content": "DriftGate demo: churn model, drift-triggered retraining and its candidates.",
        },
    )
    seeding = _Seeding(client, exp_id, default_start_date())
    with fluent_mlflow(settings):
        champion, v1, train_v1 = _champion(seeding, home, progress)
        log_frame = _scoring_log(seeding, home, champion, progress)
        pid, logged = _retraining(seeding, log_frame, champion, train_v1, progress)
        versions = _register(seeding, v1, logged["gbm_recent"], logged["logreg_stale"], progress)

    manifest = {
        "format": SEED_FORMAT,
        "start_date": seeding.start.isoformat(),
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t_start, 1),
        "rows": int(len(log_frame)),
        "experiment_id": exp_id,
        "parent_run_id": pid,
        "versions": {"champion": versions[0], "passing_candidate": versions[1], "failing_candidate": versions[2]},
        "metrics": {
            "champion_reference": v1.metrics,
            "champion_reeval": logged["champion-v1-reeval"].metrics,
            "gbm_recent": logged["gbm_recent"].metrics,
            "logreg_stale": logged["logreg_stale"].metrics,
        },
    }
    tmp = marker_path(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(marker_path(home))
    progress(1.0, "Demo workspace ready")
    return manifest


def _champion(seeding: _Seeding, home: Path, progress: ProgressFn) -> tuple[Pipeline, Logged, pd.DataFrame]:
    """Version 1: trained on a separate draw of the reference regime (days 0-29)."""
    progress(0.10, "Training the champion (version 1)")
    train_v1 = generate_days(*REFERENCE_DAYS, n=ROWS_PER_DAY, stream=1)
    holdout_v1 = generate_days(*REFERENCE_DAYS, n=200, stream=2)
    holdout_v1[ID_COLUMN] = [f"ref-{i:06d}" for i in range(len(holdout_v1))]
    train_path = training_data_path(home)
    train_path.parent.mkdir(parents=True, exist_ok=True)
    train_v1.drop(columns="_day").to_parquet(train_path, index=False)
    champion = build_pipeline("gbm", numeric=NUMERIC_FEATURES, categorical=CATEGORICAL_FEATURES)
    champion.fit(model_input(train_v1, COLUMNS.features, CATEGORICAL_FEATURES), train_v1[LABEL].to_numpy(dtype=int))
    ref_window = seeding.window(REFERENCE_DAYS)
    v1 = seeding.log(
        "champion-training",
        champion,
        "gbm",
        train_v1,
        holdout_v1,
        {
            "mlflow.user": "alice",
            tags.ROLE: "training",
            tags.TRAINING_DATA: "data/training/champion_v1.parquet",
            tags.TRAINING_WINDOW: ref_window,
            tags.EVAL_WINDOW: ref_window,
            tags.CODE_VERSION: "demo-1.0.0",
        },
        day=CHAMPION_TRAINED_DAY,
        extra_artifacts={
            "feature_importance.json": feature_importance(champion, NUMERIC_FEATURES, CATEGORICAL_FEATURES)
        },
    )
    return champion, v1, train_v1


def _scoring_log(seeding: _Seeding, home: Path, champion: Pipeline, progress: ProgressFn) -> pd.DataFrame:
    """90 daily batches scored by the champion; labels arrive ``LABEL_DELAY_DAYS`` late."""
    progress(0.30, "Writing the scoring log (90 daily batches)")
    batches = [scoring_batch(seeding.start, d, champion, "1") for d in range(DAYS)]
    log_frame = pd.concat(batches, ignore_index=True)
    late = log_frame[BATCH_DATE] > seeding.day(DAYS - 1 - LABEL_DELAY_DAYS)
    log_frame.loc[late, LABEL] = pd.NA
    write_deltalake(str(scoring_log_path(home)), scoring_arrow_table(log_frame), mode="overwrite")
    return log_frame


def _retraining(
    seeding: _Seeding, log_frame: pd.DataFrame, champion: Pipeline, train_v1: pd.DataFrame, progress: ProgressFn
) -> tuple[str, dict[str, Logged]]:
    """The retraining run of day 72: candidates on days 62-68, all evaluated on days 69-71."""
    progress(0.45, "Logging the retraining run and its candidates")

    def days(span: tuple[int, int]) -> pd.DataFrame:
        batch = log_frame[BATCH_DATE]
        return log_frame[(batch >= seeding.day(span[0])) & (batch <= seeding.day(span[1]))]

    train_recent, evalset = days(TRAIN_DAYS), days(EVAL_DAYS)
    train_window, eval_window = seeding.window(TRAIN_DAYS), seeding.window(EVAL_DAYS)
    ref_window = seeding.window(REFERENCE_DAYS)
    trigger = (
        f"drift: monthly_charges and contract drifted and roc_auc fell more than 0.05 below "
        f"the reference for 3 consecutive daily windows "
        f"({seeding.day(RETRAIN_DAY - 3)}..{seeding.day(RETRAIN_DAY - 1)})"
    )
    parent = seeding.client.create_run(
        seeding.experiment_id,
        start_time=_ms(seeding.day(RETRAIN_DAY), 8),  # its children start at 09:00
        run_name=f"retrain-{seeding.day(RETRAIN_DAY)}",
        tags={
            "mlflow.user": "bob",
            tags.TRIGGER: trigger,
            tags.MODEL: MODEL_NAME,
            tags.ROLE: "retraining",
            tags.TRAINING_WINDOW: train_window,
            tags.EVAL_WINDOW: eval_window,
            tags.CODE_VERSION: "demo-1.1.0",
        },
    )
    pid = parent.info.run_id
    seeding.client.log_batch(
        pid, params=[Param("selection_metric", "roc_auc"), Param("candidates", "gbm_recent,rf_recent,logreg_stale")]
    )
    lineage = {
        tags.TRAINING_DATA: f"delta:data/scoring_log@v0 batch_date {train_window}",
        tags.TRAINING_WINDOW: train_window,
        tags.EVAL_WINDOW: eval_window,
        tags.CODE_VERSION: "demo-1.1.0",
        "mlflow.user": "bob",
    }
    on_old_data = {tags.TRAINING_DATA: "data/training/champion_v1.parquet", tags.TRAINING_WINDOW: ref_window}
    stale_cats = [c for c in CATEGORICAL_FEATURES if c != "payment_method"]
    stale = Columns(label=LABEL, row_id=ID_COLUMN, numeric=NUMERIC_FEATURES, categorical=stale_cats)
    logged = {
        "champion-v1-reeval": seeding.log(
            "champion-v1-reeval",
            champion,
            "gbm",
            train_v1,
            evalset,
            {**lineage, tags.ROLE: "champion", tags.MODEL_VERSION: "1", **on_old_data},
            day=RETRAIN_DAY,
            parent_run_id=pid,
            log_model=False,
            duration_s=30,
        )
    }
    candidates: tuple[tuple[str, float, Pipeline, str, pd.DataFrame, Columns, dict[str, str]], ...] = (
        # name, progress, pipeline, kind, training rows, columns, tags
        (
            "gbm_recent",
            0.55,
            build_pipeline("gbm", numeric=NUMERIC_FEATURES, categorical=CATEGORICAL_FEATURES, random_state=1),
            "gbm",
            train_recent,
            COLUMNS,
            {},
        ),
        (
            "rf_recent",
            0.68,
            build_pipeline("rf", numeric=NUMERIC_FEATURES, categorical=CATEGORICAL_FEATURES, random_state=2),
            "rf",
            train_recent,
            COLUMNS,
            {},
        ),
        (
            "logreg_stale",
            0.78,
            build_pipeline("logreg", numeric=NUMERIC_FEATURES, categorical=stale_cats),
            "logreg",
            train_v1,
            stale,
            on_old_data,
        ),
    )
    for name, fraction, pipeline, kind, train, columns, extra in candidates:
        progress(fraction, f"Training candidate {name}")
        logged[name] = seeding.log(
            name,
            pipeline,
            kind,
            train,
            evalset,
            {**lineage, tags.ROLE: "candidate", **extra},
            day=RETRAIN_DAY,
            columns=columns,
            parent_run_id=pid,
        )
    seeding.client.set_terminated(pid, "FINISHED", end_time=_ms(seeding.day(RETRAIN_DAY), 10))  # after them
    return pid, logged


def _register(seeding: _Seeding, v1: Logged, gbm: Logged, stale: Logged, progress: ProgressFn) -> list[str]:
    """The registry: v1 champion (stage + alias), v2 and v3 candidates by bob."""
    progress(0.90, "Registering model versions")
    client = seeding.client
    client.create_registered_model(
        MODEL_NAME, description="Churn classifier (DriftGate demo).", tags={tags.OWNER: "alice"}
    )
    versions = []
    for logged, author, desc, day in (
        (v1, "alice", "Champion: GBM trained on the reference window.", CHAMPION_TRAINED_DAY),
        (gbm, "bob", "Candidate from the drift-triggered retraining: GBM on recent data.", RETRAIN_DAY),
        (stale, "bob", "Candidate: logistic regression on old data without payment_method.", RETRAIN_DAY),
    ):
        # MLflow stamps a version with the time of this seeding; the tag keeps the scenario's date.
        registered = datetime.fromtimestamp(_ms(seeding.day(day), 11) / 1000, tz=UTC)  # after its run (09:00-)
        mv = client.create_model_version(
            MODEL_NAME,
            source=logged.model_uri,
            run_id=logged.run_id,
            description=desc,
            tags={tags.AUTHOR: author, tags.REGISTERED_AT: registered.isoformat()},
        )
        versions.append(str(mv.version))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # stages are deprecated, still supported
        client.transition_model_version_stage(MODEL_NAME, versions[0], "Production")
    client.set_registered_model_alias(MODEL_NAME, "champion", versions[0])
    # Champion from its registration (a version cannot serve before it is registered).
    since = datetime.fromtimestamp(_ms(seeding.day(CHAMPION_TRAINED_DAY), 11) / 1000, tz=UTC)
    client.set_model_version_tag(MODEL_NAME, versions[0], tags.CHAMPION_SINCE, since.isoformat())
    client.set_model_version_tag(MODEL_NAME, versions[0], tags.REFERENCE_AUC, f"{v1.metrics['roc_auc']:.4f}")
    for v in versions[1:]:
        client.set_model_version_tag(MODEL_NAME, v, tags.STATUS, "candidate")
    return versions
