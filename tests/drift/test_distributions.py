"""The distribution functions a pushdown report computes without scipy.stats (its import costs
~1 s of a CLI run), each against scipy's own function: kstwo.sf, chi2_contingency, chi2.isf,
false_discovery_control, jensenshannon."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from scipy import stats as sstats
from scipy.spatial.distance import jensenshannon as scipy_js

from services.drift.stats import base as B
from services.drift.stats._kolmogorov import kstwo_sf
from services.drift.stats.chi2 import chi2
from services.drift.stats.jensenshannon import jensenshannon


def _close(ours: float, theirs: float) -> bool:
    return bool(np.isclose(ours, theirs, rtol=1e-12, atol=1e-300))


# every branch of scipy's method choice: Ruben-Gambino (t <= 1, t >= n-1), 2*smirnov (x >= 0.5,
# Miller), Durbin-MTW, Pomeranz, Pelz-Good, the n*x**2 >= 370 cut
@pytest.mark.parametrize(
    ("n", "x"),
    [
        (1, 0.3),
        (5, 0.05),
        (5, 0.15),
        (5, 0.7),
        (10, 0.95),
        (50, 0.1),
        (50, 0.2),
        (50, 0.3),
        (140, 0.06),
        (141, 0.06),
        (141, 0.2),
        (1_000, 0.02),
        (1_000, 0.05),
        (50_000, 0.004),
        (100_000, 0.001),
        (100_001, 0.001),
        (500_000, 0.0011),
        (500_000, 0.002),
        (500_000, 0.03),
        (2_000_000, 0.0005),
    ],
)
def test_kstwo_sf_is_scipys_on_every_branch(n, x):
    assert _close(kstwo_sf(x, n), float(sstats.kstwo.sf(x, n)))


@hsettings(max_examples=300, deadline=None)
@given(
    n=st.one_of(st.integers(1, 200), st.integers(200, 3_000_000)),
    x=st.floats(-0.5, 1.5, allow_nan=False),
)
def test_kstwo_sf_matches_scipy(n, x):
    assert _close(kstwo_sf(x, n), float(sstats.kstwo.sf(x, n)))


@st.composite
def _count_pairs(draw, top: int, size: int) -> tuple[list[int], list[int]]:
    """Two count vectors of the same length (a reference's and a current's bins or categories)."""
    ref = draw(st.lists(st.integers(0, top), min_size=1, max_size=size))
    return ref, draw(st.lists(st.integers(0, top), min_size=len(ref), max_size=len(ref)))


@hsettings(max_examples=200, deadline=None)
@given(_count_pairs(5_000, 12))
def test_chi2_is_chi2_contingency(pair):
    ref, cur = pair
    table = np.asarray([ref, cur], dtype=float)
    try:
        res = sstats.chi2_contingency(table, correction=False)
    except ValueError:
        with pytest.raises(ValueError):
            chi2(ref, cur)
        return
    stat, p = chi2(ref, cur)
    # an all-zero table: NaN statistic and p-value in both
    assert np.isclose(stat, float(res.statistic), rtol=1e-12, atol=1e-300, equal_nan=True)
    assert np.isclose(p, float(res.pvalue), rtol=1e-10, atol=1e-300, equal_nan=True)


def test_chi2_of_an_all_zero_table_is_nan_as_in_scipy():
    stat, p = chi2([0, 0], [0, 0])
    res = sstats.chi2_contingency(np.zeros((2, 2)), correction=False)
    assert np.isnan(stat) and np.isnan(p) and np.isnan(res.statistic) and np.isnan(res.pvalue)


@pytest.mark.parametrize("level", [0.05, 0.01, 1e-6, 0.5])
@pytest.mark.parametrize("df", [1, 2, 7, 40])
def test_chi2_critical_value_is_scipys(level, df):
    assert _close(float(B.sspecial.chdtri(df, level)), float(sstats.chi2.isf(level, df)))


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=40))
def test_benjamini_hochberg_is_false_discovery_control(ps):
    ours = B.benjamini_hochberg(ps)
    theirs = sstats.false_discovery_control(np.asarray(ps), method="bh")
    assert np.allclose(ours, theirs, rtol=1e-12, atol=0.0)


@hsettings(max_examples=200, deadline=None)
@given(_count_pairs(10_000, 15))
def test_jensenshannon_is_scipys(pair):
    ref, cur = pair
    theirs = float(scipy_js(B.shares(ref), B.shares(cur), base=2))
    ours = jensenshannon(ref, cur)
    if not np.isfinite(theirs):
        assert ours == 0.0
    else:
        # (abs: the square root turns a rounding-level divergence of 1e-17 into ~3e-9, and scipy
        # normalises the shares twice where ours normalises once)
        assert ours == pytest.approx(max(theirs, 0.0), rel=1e-9, abs=1e-7)


def test_a_pushdown_report_never_imports_scipy_stats(tmp_path):
    """The point of the functions above: a DuckDB report of a numeric and a categorical column
    (KS, chi2, BH, Jensen-Shannon) runs without importing scipy.stats or scipy.spatial."""
    rng = np.random.default_rng(7)
    for name, shift in (("ref", 0.0), ("cur", 0.5)):
        rows = [f"{x},{'ab'[int(y)]}" for x, y in zip(rng.normal(shift, 1.0, 400), rng.random(400) < 0.4)]
        (tmp_path / f"{name}.csv").write_text("x,c\n" + "\n".join(rows) + "\n")
    code = textwrap.dedent(
        f"""
        import sys
        from services.drift import drift_report
        from services.warehouse.sources import Source
        r = drift_report(Source("csv", {str(tmp_path / "ref.csv")!r}), Source("csv", {str(tmp_path / "cur.csv")!r}),
                         engine="duckdb")
        assert [f["feature"] for f in r["features"] if f["drifted"]] == ["x"], r["features"]
        assert r["features"][0]["p_value"] < 1e-6 and r["features"][1]["stats"]["chi2"]["p_value"] is not None
        print(sorted(m for m in sys.modules if m.startswith(("scipy.stats", "scipy.spatial"))))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "[]", out.stdout
