"""Helpers for the drift tests: synthetic frames written as real files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def synthetic(n: int, seed: int, shift: float = 0.0, mix: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cats = rng.choice(["a", "b", "c"], n, p=[0.5 - mix, 0.3, 0.2 + mix])
    with_missing = rng.normal(10.0, 2.0, n)
    with_missing[rng.random(n) < 0.05] = np.nan
    region = rng.choice(["n", "s", "e"], n).astype(object)
    region[rng.random(n) < 0.03] = None
    return pd.DataFrame({
        "x": rng.normal(shift, 1.0, n),
        "count": rng.poisson(2.0, n).astype("int64"),
        "gappy": with_missing,
        "cat": cats,
        "region": region,
    })


@pytest.fixture
def write_pair(tmp_path):
    """write_pair(ref_df, cur_df, fmt) -> (ref_path, cur_path) as CSV or Parquet files."""

    def write(ref: pd.DataFrame, cur: pd.DataFrame, fmt: str = "parquet"):
        paths = []
        for name, df in (("ref", ref), ("cur", cur)):
            p = tmp_path / f"{name}.{fmt}"
            if fmt == "csv":
                df.to_csv(p, index=False)
            else:
                df.to_parquet(p, index=False)
            paths.append(p)
        return paths

    return write


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
                fm["stats"]["wasserstein"]["statistic"], abs=0.02), name
        for test in ("psi", "jensenshannon"):  # same bins: equal up to float error
            assert fd["stats"][test]["statistic"] == pytest.approx(fm["stats"][test]["statistic"], rel=1e-9, abs=1e-12)
        for side in ("reference", "current"):
            for key, value in fm["summary"][side].items():
                assert fd["summary"][side][key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float)
                                                     else value), (name, side, key)
