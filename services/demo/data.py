"""The demo scenario's data: a deterministic generator of daily batches and its ground truth.

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

Everything is generated from fixed seeds: the same (seed, day, stream) gives the same rows.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from services.config.demo_workspace import (
    BATCH_DATE,
    FEATURES,
    ID_COLUMN,
    LABEL,
    MODEL_VERSION_COLUMN,
    PREDICTION,
    REFERENCE_DAYS,
    TIMESTAMP,
    day_date,
    start_date,
)

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
    out: dict[str, Any] = doc
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def generate_day(day: int, n: int = ROWS_PER_DAY, seed: int = SEED, stream: int = 0) -> pd.DataFrame:
    """Features and (undelayed) labels of one day of the scenario; deterministic per (seed, day, stream)."""
    rng = np.random.default_rng([seed, stream, day])
    tenure = rng.integers(1, 73, n)
    shift = 18.0 if day >= SHIFT_DAY else 0.0
    charges = np.round(np.clip(rng.normal(65.0, 30.0, n) + shift, 18.0, None), 2)
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
            "contract": pd.array(contract, dtype=object),  # type: ignore[arg-type]  # pandas-stubs: str only
            "payment_method": pd.array(payment, dtype=object),  # type: ignore[arg-type]
            "region": pd.array(region, dtype=object),  # type: ignore[arg-type]
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


def scoring_arrow_table(frame: pd.DataFrame) -> pa.Table:
    """Arrow table with the scoring log's fixed schema (used for every write, incl. appends)."""
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
