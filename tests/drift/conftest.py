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
