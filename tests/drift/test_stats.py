"""Every statistic against scipy / numpy on the same data, plus property tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as sstats
from scipy.spatial.distance import jensenshannon as scipy_js

from services.drift import stats as S
from services.drift.engine import drift_report
from services.drift.stats.chi2 import chi2
from services.drift.stats.jensenshannon import jensenshannon
from services.drift.stats.ks import ks, ks_from_grids
from services.drift.stats.psi import psi
from services.drift.stats.wasserstein import wasserstein_normed
from services.warehouse.sources import Source
from tests.support.drift_data import synthetic


def _feature(report, name):
    return next(f for f in report["features"] if f["feature"] == name)


def _reference_bins(ref: np.ndarray, cur: np.ndarray):
    """Independent binning: pandas.cut with right-closed bins over the reference deciles."""
    edges = np.unique(np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    bins = [-math.inf, *edges.tolist(), math.inf]
    rc = pd.cut(pd.Series(ref), bins, right=True).value_counts(sort=False).to_numpy()
    cc = pd.cut(pd.Series(cur), bins, right=True).value_counts(sort=False).to_numpy()
    return rc, cc


def _psi(rc, cc):
    r = rc / rc.sum()
    c = cc / cc.sum()
    r = np.where(r == 0, 0.0001, r)
    c = np.where(c == 0, 0.0001, c)
    return float(np.sum((c - r) * np.log(c / r)))


@pytest.mark.parametrize("n_ref,n_cur", [(400, 300), (3000, 2500)])
def test_memory_report_matches_scipy(write_pair, n_ref, n_cur):
    ref, cur = synthetic(n_ref, 1), synthetic(n_cur, 2, shift=0.25, mix=0.1)
    rp, cp = write_pair(ref, cur)
    rep = drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)), engine="memory")
    assert rep["approximate"] is False and rep["engine"] == "memory"
    for name in ("x", "count", "gappy"):
        r = ref[name].dropna().to_numpy(float)
        c = cur[name].dropna().to_numpy(float)
        f = _feature(rep, name)
        assert f["kind"] == "numeric"
        ks = sstats.ks_2samp(r, c)
        assert f["stats"]["ks"]["statistic"] == pytest.approx(ks.statistic, abs=1e-12)
        assert f["stats"]["ks"]["p_value"] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300)
        w = sstats.wasserstein_distance(r, c) / np.std(r, ddof=0)
        assert f["stats"]["wasserstein"]["statistic"] == pytest.approx(w, rel=1e-9)
        assert f["stats"]["wasserstein"]["p_value"] is None
        rc, cc = _reference_bins(r, c)
        assert f["stats"]["jensenshannon"]["statistic"] == pytest.approx(
            scipy_js(rc / rc.sum(), cc / cc.sum(), base=2), rel=1e-9
        )
        assert f["stats"]["psi"]["statistic"] == pytest.approx(_psi(rc, cc), rel=1e-9)
        s = f["summary"]["reference"]
        assert s["count"] == r.size and s["missing_share"] == pytest.approx(1 - r.size / n_ref)
        assert s["mean"] == pytest.approx(r.mean()) and s["std"] == pytest.approx(r.std(ddof=0))
        assert s["median"] == pytest.approx(np.median(r)) and s["min"] == r.min() and s["max"] == r.max()
    for name in ("cat", "region"):
        f = _feature(rep, name)
        assert f["kind"] == "categorical"
        rvc, cvc = ref[name].dropna().value_counts(), cur[name].dropna().value_counts()
        cats = sorted(set(rvc.index) | set(cvc.index))
        table = np.array([[rvc.get(k, 0) for k in cats], [cvc.get(k, 0) for k in cats]])
        chi = sstats.chi2_contingency(table, correction=False)
        assert f["stats"]["chi2"]["statistic"] == pytest.approx(chi.statistic, rel=1e-9)
        assert f["stats"]["chi2"]["p_value"] == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300)
        assert f["stats"]["jensenshannon"]["statistic"] == pytest.approx(
            scipy_js(table[0] / table[0].sum(), table[1] / table[1].sum(), base=2), rel=1e-9
        )
        assert f["stats"]["psi"]["statistic"] == pytest.approx(_psi(table[0], table[1]), rel=1e-9)
        assert f["summary"]["current"]["missing_share"] == pytest.approx(cur[name].isna().mean())
        assert f["summary"]["reference"]["unseen_categories"] == []


def test_constant_reference_rule(write_pair):
    ref = pd.DataFrame({"k": [5.0] * 2000, "j": [1.0] * 2000})
    cur = pd.DataFrame({"k": [5.0] * 1500, "j": [1.0] * 1400 + [2.0] * 100})
    rp, cp = write_pair(ref, cur)
    for engine in ("memory", "duckdb"):
        rep = drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)), engine=engine)
        k, j = rep["features"]
        assert k["stats"]["wasserstein"]["statistic"] == 0.0 and k["drifted"] is False
        assert j["stats"]["wasserstein"]["statistic"] is None and j["drifted"] is True


def test_psi_floor_and_new_category(write_pair):
    ref = pd.DataFrame({"c": ["a"] * 600 + ["b"] * 400})
    cur = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 300 + ["new"] * 200})
    rp, cp = write_pair(ref, cur)
    f = drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)))["features"][0]
    r = np.array([0.6, 0.4, 0.0001])
    c = np.array([0.5, 0.3, 0.2])
    assert f["stats"]["psi"]["statistic"] == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    assert f["summary"]["current"]["unseen_categories"] == ["new"]
    assert f["summary"]["current"]["mode"] == "a" and f["summary"]["current"]["unique"] == 3


def test_bins_right_closed_outer_bins_open():
    edges = [1.0, 2.0, 3.0]
    assert S.bin_counts(np.array([-100.0, 1.0, 1.5, 2.0, 3.0, 3.0001, 1e9]), edges) == [2, 2, 1, 2]
    assert S.decile_edges(np.array([1.0] * 50 + [2.0] * 50)) == [1.0, 1.5, 2.0]
    assert S.counts_from_cumulative([2, 4, 5], 7) == [2, 2, 1, 2]


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@hsettings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(2, 300), elements=finite))
def test_identical_samples_never_drift(values):
    ks_s, ks_p = ks(values, values)
    assert ks_s == 0.0 and ks_p == 1.0
    w = wasserstein_normed(values, values)
    assert w == 0.0
    edges = S.decile_edges(values)
    bins = S.bin_counts(values, edges)
    assert psi(bins, bins) == 0.0
    assert jensenshannon(bins, bins) == pytest.approx(0.0, abs=1e-7)
    counts = [int(c) for c in bins if c]
    if len(counts) > 1:
        chi, p = chi2(counts, counts)
        assert chi == pytest.approx(0.0, abs=1e-9) and p == pytest.approx(1.0)


@hsettings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 200), elements=finite), arrays(np.float64, st.integers(2, 200), elements=finite)
)
def test_statistics_stay_in_range(a, b):
    ks_s, ks_p = ks(a, b)
    assert 0.0 <= ks_s <= 1.0 and 0.0 <= ks_p <= 1.0
    w = wasserstein_normed(a, b)
    assert w is None or w >= 0.0
    edges = S.decile_edges(a)
    ra, rb = S.bin_counts(a, edges), S.bin_counts(b, edges)
    assert sum(ra) == a.size and sum(rb) == b.size
    assert psi(ra, rb) >= 0.0
    assert 0.0 <= jensenshannon(ra, rb) <= 1.0 + 1e-12
    adjusted = S.benjamini_hochberg([ks_p, 0.5, 0.01])
    assert all(0.0 <= p <= 1.0 for p in adjusted)


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=5, max_size=300), st.lists(st.integers(0, 6), min_size=5, max_size=300))
def test_grid_ks_close_to_exact(a, b):
    a, b = np.sort(np.array(a, float)), np.sort(np.array(b, float))
    d, p = ks_from_grids(S.quantile_grid(a), S.quantile_grid(b), a.size, b.size)
    assert d == pytest.approx(sstats.ks_2samp(a, b).statistic, abs=0.01)
    assert 0.0 <= p <= 1.0 and math.isfinite(p)
