"""Large DuckDB references: cell counts instead of HISTOGRAM, exact deciles without a sort.

The cell path only runs above the reservoir size, so these tests use columns of a few times
``GRID_SAMPLE`` values and check it against the exact memory engine and numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.drift import stats as S
from services.drift.cells import CELLS, GRID_SAMPLE, CellSpec, choose_cells, decile_ranks, deciles_from_cells
from services.drift.engine import build_reference_profile, drift_report
from services.warehouse.sources import Source, source_from_path
from tests.support.drift_data import assert_within_spec_tolerance

N = 3 * GRID_SAMPLE


def _frame(seed: int, shift: float) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    zero_inflated = np.where(r.random(N) < 0.45, 0.0, r.exponential(3.0 + shift, N))
    return pd.DataFrame(
        {
            "normal": r.normal(shift, 1.0, N),
            "lognormal": r.lognormal(shift, 2.0, N),  # needs the log map
            "left_skewed": -r.lognormal(shift, 2.0, N),  # needs the -log map
            "zero_inflated": zero_inflated,  # deciles inside a 45 % atom
            "wide_ints": r.integers(0, 100_000, N).astype("int64") + int(shift * 5000),
            "cluster": np.where(r.random(N) < 0.5, r.normal(0, 1e-6, N), r.normal(0, 1e3, N)) + shift,
        }
    )


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("cells")
    paths = []
    for name, seed, shift in (("ref", 1, 0.0), ("cur", 2, 0.25)):
        p = d / f"{name}.parquet"
        _frame(seed, shift).to_parquet(p, index=False)
        paths.append(p)
    return paths


def test_reference_profile_picks_a_map_per_column(pair):
    ref, _ = pair
    cols = [(c, "numeric") for c in _frame(1, 0.0).columns]
    prof = build_reference_profile(Source("parquet", str(ref)), cols)
    kinds = {n: (f.cells.transform if f.cells else None) for n, f in prof.features.items()}
    assert kinds["normal"] == "linear" and kinds["lognormal"] == "log" and kinds["left_skewed"] == "neglog"
    assert kinds["cluster"] is None  # no monotone map spreads it: HISTOGRAM at sampled points instead
    data = pd.read_parquet(ref)
    for name, f in prof.features.items():
        values = data[name].to_numpy(dtype=float)
        # exact deciles (numpy's linear interpolation) and exact counts at them, cells or not
        assert f.edges == S.dedupe_edges(np.quantile(values, S.DECILES)), name
        assert f.bins == S.bin_counts(values, f.edges), name
        assert f.summary["median"] == pytest.approx(float(np.median(values)), rel=1e-12), name
        # counts at every CDF point are exact
        assert f.cdf[-1] == values.size
        if f.cells is not None:
            assert len(f.points) == len(f.cdf) == f.cells.n + 3
            assert np.all(np.diff(f.points) >= 0)


def test_large_columns_match_the_memory_engine(pair):
    ref, cur = pair
    assert_within_spec_tolerance(
        drift_report(source_from_path(str(ref)), source_from_path(str(cur)), engine="memory"),
        drift_report(source_from_path(str(ref)), source_from_path(str(cur)), engine="duckdb"),
    )


def test_cell_boundaries_cover_the_range_in_order():
    spec = CellSpec("log", lo=-3.0, k=100.0, n=500, shift=-0.5, min=0.0, max=40.0)
    pts = spec.points()
    assert pts[0] == 0.0 and pts[-1] == 40.0 and len(pts) == 503
    assert all(a <= b for a, b in zip(pts, pts[1:]))
    assert CellSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError):
        CellSpec.from_json({**spec.to_json(), "transform": "sqrt"})


def test_small_or_degenerate_columns_keep_the_histogram():
    grid = list(np.linspace(0, 1, 1001))
    assert choose_cells(grid, 0.0, 1.0, count=GRID_SAMPLE) is None  # small: the grid is exact anyway
    assert choose_cells([5.0] * 1001, 5.0, 5.0, count=10 * GRID_SAMPLE) is None  # constant
    spec = choose_cells(grid, 0.0, 1.0, count=10 * GRID_SAMPLE)
    assert spec is not None  # a large spread column gets cells
    assert spec.transform == "linear"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(-20, 20).map(float), st.floats(-1e3, 1e3, allow_nan=False)), min_size=2, max_size=400
    ),
    st.floats(0.01, 50.0),
)
def test_deciles_from_cell_contents_equal_numpy(values, k):
    """Only the cells holding each decile's order statistics are read; the deciles and the counts
    at them still equal numpy's on the whole column, ties and atoms included."""
    x = np.asarray(values, dtype=float)
    lo = float(x.min())
    n = 64
    cell = np.clip(np.floor((x - lo) * k), -1, n).astype(int)  # a monotone map, like the SQL one
    counts = np.zeros(n + 4, dtype=np.int64)
    np.add.at(counts, cell + 2, 1)
    # the profile's cdf (a list, as the profile stores it): values in cells <= j at position j + 2
    cum = np.cumsum(counts).tolist()
    ranks = decile_ranks(x.size, cum)
    wanted = {c for _, c, _ in ranks}
    contents = {}
    for c in wanted:
        distinct, cnt = np.unique(x[cell == c], return_counts=True)
        contents[c] = (distinct, np.cumsum(cnt))
    doc: dict[str, Any] = {"count": x.size}
    deciles_from_cells(doc, cum, ranks, contents)
    expected = np.quantile(x, S.DECILES)
    assert doc["deciles"] == [float(e) for e in expected]
    assert doc["cumulative"] == [int((x <= e).sum()) for e in doc["edges"]]


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinity_in_a_large_current_window_is_a_one_line_error(tmp_path, value):
    """A current window's infinities land in the tail keys (-inf/+inf) of the cells statement; they
    are still reported as the clear error, not folded into a tail."""
    from services.errors import BadInput

    r = np.random.default_rng(6)
    cur = r.normal(0, 1, N)
    cur[N // 3] = value
    rp, cp = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pd.DataFrame({"x": r.normal(0, 1, N)}).to_parquet(rp, index=False)
    pd.DataFrame({"x": cur}).to_parquet(cp, index=False)
    with pytest.raises(BadInput, match="column 'x' has infinite values in the current data"):
        drift_report(source_from_path(str(rp)), source_from_path(str(cp)), engine="duckdb")


def test_infinity_in_a_large_reference_is_a_one_line_error(tmp_path):
    """The cell path learns a column's min/max only in its second pass: an infinity found there is
    still the same clear error as on small data."""
    from services.errors import BadInput

    r = np.random.default_rng(5)
    ref = pd.DataFrame({"x": r.normal(0, 1, N)})
    ref.loc[N // 2, "x"] = np.inf
    rp, cp = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    ref.to_parquet(rp, index=False)
    pd.DataFrame({"x": r.normal(0, 1, N)}).to_parquet(cp, index=False)
    with pytest.raises(BadInput, match="column 'x' has infinite values in the reference data"):
        drift_report(source_from_path(str(rp)), source_from_path(str(cp)), engine="duckdb")


def test_values_beyond_the_sampled_range_are_clamped_into_the_outer_cells(pair, monkeypatch):
    """A reference's keys are unclamped in SQL (the clamp is done on the few rows that come back).
    Here the map is forced to cover only the middle 40 % of the column, so a fifth of the values
    on each side fall into hundreds of keys beyond cells -1 and n, and four deciles lie there: the
    deciles, the counts at them and the median must still be exact."""
    from services.drift import reference

    ref, _ = pair
    values = pd.read_parquet(ref)["normal"].to_numpy(dtype=float)
    lo, hi = (float(q) for q in np.quantile(values, [0.3, 0.7]))

    def narrow(grid, lo_, hi_, count, n=CELLS):
        return CellSpec("linear", lo=lo, k=256 / (hi - lo), n=256, shift=0.0, min=lo, max=hi)

    monkeypatch.setattr(reference, "choose_cells", narrow)
    f = build_reference_profile(Source("parquet", str(ref)), [("normal", "numeric")]).features["normal"]
    assert f.cells is not None and f.cells.n == 256
    beyond = np.floor((values - lo) * f.cells.k)
    assert (beyond < -1).sum() > 0.2 * values.size and (beyond > 256).sum() > 0.2 * values.size
    assert f.edges == S.dedupe_edges(np.quantile(values, S.DECILES))
    assert f.bins == S.bin_counts(values, f.edges)
    assert f.summary["median"] == pytest.approx(float(np.median(values)), rel=1e-12)
    assert f.summary["min"] == values.min() and f.summary["max"] == values.max()
    cell = np.clip(beyond, -1, 256).astype(int)
    assert f.cdf == list(np.cumsum(np.bincount(cell + 2, minlength=260))[:259])


def test_a_window_drifting_into_a_references_outlier_gap_is_clamped_in_sql(write_pair, monkeypatch):
    """A current window's keys are unclamped in SQL unless the reference's [min, max] spans many
    more keys than cells. Here one reference value sits at 1e6 far beyond the sampled bulk and the
    window drifts into that gap: the keys are clamped in SQL (a group per cell, not per value),
    the tails are counted, and the report still agrees with the exact memory engine."""
    from services.drift import reference
    from services.warehouse.sources import Backend

    r = np.random.default_rng(11)
    ref = r.normal(0, 1, N)
    ref[7] = 1e6
    cur = np.concatenate([r.normal(0, 1, N // 2), r.uniform(10, 1e6, N // 2 - 10), np.full(10, -50.0)])
    rp, cp = write_pair(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}))
    lo, hi = (float(q) for q in np.quantile(ref, [0.0001, 0.9999]))
    monkeypatch.setattr(
        reference,
        "choose_cells",
        lambda grid, lo_, hi_, count, n=CELLS: CellSpec(
            "linear", lo=lo, k=2048 / (hi - lo), n=2048, shift=0.0, min=lo, max=hi
        ),
    )
    rows_back: list[int] = []
    execute_many = Backend.execute_many

    def counting(self, queries):
        results = execute_many(self, queries)
        rows_back.extend(len(rows) for rows in results)
        return results

    monkeypatch.setattr(Backend, "execute_many", counting)
    prof = build_reference_profile(Source("parquet", str(rp)), [("x", "numeric")])
    cells = prof.features["x"].cells
    assert cells is not None  # the monkeypatched choice gave the column cells
    assert cells.needs_clamp() and prof.features["x"].summary["max"] == 1e6
    rows_back.clear()
    duck = drift_report(prof, Source("parquet", str(cp)), engine="duckdb")
    assert max(rows_back) <= 2048 + 4  # cells -2 .. n + 1 at most, not one group per value
    memory = drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)), engine="memory")
    fd, fm = duck["features"][0], memory["features"][0]
    assert fd["drifted"] and fm["drifted"]
    assert fd["stats"]["ks"]["statistic"] == pytest.approx(fm["stats"]["ks"]["statistic"], abs=0.01)
    for binned in ("psi", "jensenshannon"):  # exact bins
        assert fd["stats"][binned]["statistic"] == pytest.approx(fm["stats"][binned]["statistic"], rel=1e-9)
    # the widest cell spans the gap up to 1e6, so the distance is only as fine as that cell
    assert fd["stats"]["wasserstein"]["statistic"] == pytest.approx(fm["stats"]["wasserstein"]["statistic"], rel=0.01)
    assert fd["summary"]["current"] == pytest.approx(fm["summary"]["current"], rel=1e-9)


def test_the_sql_clamp_is_kept_only_for_references_with_far_outliers():
    plain = CellSpec("linear", lo=-4.0, k=256.0, n=2048, shift=0.0, min=-4.5, max=4.2)
    assert not plain.needs_clamp()
    assert CellSpec("linear", lo=-4.0, k=256.0, n=2048, shift=0.0, min=-4.5, max=1e6).needs_clamp()
    assert CellSpec("log", lo=-3.0, k=200.0, n=2048, shift=-1.0, min=-0.5, max=1e300).needs_clamp()
    assert not CellSpec("log", lo=-3.0, k=200.0, n=2048, shift=-1.0, min=-0.5, max=20.0).needs_clamp()


def test_a_reference_ordered_by_a_column_is_sampled_again_from_every_row(write_pair, monkeypatch):
    """A large reference's grid comes from a sample of its first rows. Here the window is larger
    than that prefix and one column is sorted, so its first rows hold only its lowest values: the
    cells chosen on them would put most of the column into one outer cell. The column is sampled
    again from every row; the report agrees with the exact memory engine, the shuffled column
    keeps its first-rows sample, and the deciles, their counts and the median stay exact."""
    from services.drift import pushdown, reference

    for module in (pushdown, reference):
        monkeypatch.setattr(module, "SAMPLE_PREFIX", GRID_SAMPLE)
    r = np.random.default_rng(5)
    ref = pd.DataFrame({"ordered": np.sort(r.normal(0, 1, N)), "shuffled": r.normal(0, 1, N)})
    cur = pd.DataFrame({"ordered": r.normal(0.05, 1, N), "shuffled": r.normal(0.05, 1, N)})
    rp, cp = write_pair(ref, cur)
    sampled = []
    sample_queries = reference.sample_queries

    def recording(backend, names, window, prefix):
        sampled.append((tuple(names), prefix))
        return sample_queries(backend, names, window, prefix)

    monkeypatch.setattr(reference, "sample_queries", recording)
    monkeypatch.setattr(pushdown, "sample_queries", recording)
    cols = [("ordered", "numeric"), ("shuffled", "numeric")]
    prof = build_reference_profile(Source("parquet", str(rp)), cols)
    assert sampled == [(("ordered", "shuffled"), GRID_SAMPLE), (("ordered",), None)]
    for name, f in prof.features.items():
        values = ref[name].to_numpy()
        assert f.cells is not None, name
        assert f.edges == S.dedupe_edges(np.quantile(values, S.DECILES)), name
        assert f.bins == S.bin_counts(values, f.edges), name
        assert f.summary["median"] == pytest.approx(float(np.median(values)), rel=1e-12), name
        # no cell of distinct values holds more than a few thousandths of the column
        assert np.diff(f.cdf).max() < 0.005 * N, name
    assert_within_spec_tolerance(
        drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)), engine="memory"),
        drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)), engine="duckdb"),
    )
