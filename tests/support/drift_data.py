"""Synthetic drift data (frames the engines are tested on) and the spec's engine agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

SCORING_TABLE = "spark_catalog.ml.scoring_log"


def synthetic(n: int, seed: int, shift: float = 0.0, mix: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cats = rng.choice(["a", "b", "c"], n, p=[0.5 - mix, 0.3, 0.2 + mix])
    with_missing = rng.normal(10.0, 2.0, n)
    with_missing[rng.random(n) < 0.05] = np.nan
    region = rng.choice(["n", "s", "e"], n).astype(object)
    region[rng.random(n) < 0.03] = None
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "count": rng.poisson(2.0, n).astype("int64"),
            "gappy": with_missing,
            "cat": cats,
            "region": region,
        }
    )


def assert_within_spec_tolerance(memory_report: dict, duckdb_report: dict) -> None:
    """The spec's engine agreement on approximated reports: same decisions, KS within 0.01,
    Wasserstein within 0.02, binned statistics and summaries equal up to float error."""
    duck = {f["feature"]: f for f in duckdb_report["features"]}
    for fm in memory_report["features"]:
        name, fd = fm["feature"], duck[fm["feature"]]
        assert fd["drifted"] == fm["drifted"], name
        if fm["kind"] == "numeric":
            assert fd["stats"]["ks"]["statistic"] == pytest.approx(fm["stats"]["ks"]["statistic"], abs=0.01), name
            assert fd["stats"]["wasserstein"]["statistic"] == pytest.approx(
                fm["stats"]["wasserstein"]["statistic"], abs=0.02
            ), name
        for test in ("psi", "jensenshannon"):  # same bins: equal up to float error
            assert fd["stats"][test]["statistic"] == pytest.approx(fm["stats"][test]["statistic"], rel=1e-9, abs=1e-12)
        for side in ("reference", "current"):
            for key, value in fm["summary"][side].items():
                assert fd["summary"][side][key] == (
                    pytest.approx(value, rel=1e-9) if isinstance(value, float) else value
                ), (name, side, key)


HOSTILE = ("a:b", "a b", 'x"y', "back`tick")  # column order of hard_columns


def hard_columns(n: int, seed: int, drift: bool) -> pd.DataFrame:
    """Columns engines get wrong first: right-skewed, heavily tied, missing-heavy, string
    categoricals (with an unseen category when ``drift``) — under hostile names. With ``drift``,
    exactly ``skewed`` and ``x"y`` move."""
    rng = np.random.default_rng(seed)
    missing = rng.normal(5.0, 1.0, n)
    missing[rng.random(n) < 0.6] = np.nan
    if drift:
        cats = rng.choice(["low", "mid", "high", "new"], n, p=[0.25, 0.25, 0.3, 0.2])
    else:
        cats = rng.choice(["low", "mid", "high"], n, p=[0.45, 0.35, 0.2])
    plan = rng.choice(["basic", "pro"], n).astype(object)
    plan[rng.random(n) < 0.1] = None
    return pd.DataFrame(
        {
            "skewed": rng.lognormal(0.6 if drift else 0.0, 1.2, n),
            "a:b": rng.poisson(1.0, n).astype("int64"),  # tied: a handful of distinct values
            "a b": missing,  # 60 % missing (NaN)
            'x"y': cats,
            "back`tick": plan,
        }
    )
