"""DuckDB pushdown engine vs the exact memory engine; stored profiles; sources and windows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from services.drift.engine import build_reference_profile, drift_report
from services.drift.profile import Profile
from services.errors import BadInput
from services.warehouse.sources import Source, Window, source_from_path
from tests.support.drift_data import assert_within_spec_tolerance, synthetic


def _by_name(report):
    return {f["feature"]: f for f in report["features"]}


@pytest.mark.parametrize("n_ref,n_cur,fmt", [(700, 600, "parquet"), (4000, 3000, "csv")])
def test_duckdb_equals_memory(write_pair, n_ref, n_cur, fmt):
    ref, cur = synthetic(n_ref, 3), synthetic(n_cur, 4, shift=0.2, mix=0.05)
    rp, cp = write_pair(ref, cur, fmt)
    mem = drift_report(source_from_path(str(rp)), source_from_path(str(cp)), engine="memory")
    duck = drift_report(source_from_path(str(rp)), source_from_path(str(cp)), engine="duckdb")
    assert mem["approximate"] is False and duck["approximate"] is True and duck["engine"] == "duckdb"
    m, d = _by_name(mem), _by_name(duck)
    assert list(m) == list(d)
    for name, fm in m.items():
        fd = d[name]
        assert fd["test"] == fm["test"] and fd["drifted"] == fm["drifted"] and fd["kind"] == fm["kind"]
        for test in ("psi", "jensenshannon", "chi2"):  # binned statistics: equal up to float error
            if test in fm["stats"]:
                assert fd["stats"][test]["statistic"] == pytest.approx(
                    fm["stats"][test]["statistic"], rel=1e-9, abs=1e-12
                )
        if fm["kind"] == "numeric":
            assert fd["stats"]["ks"]["statistic"] == pytest.approx(fm["stats"]["ks"]["statistic"], abs=0.01)
            assert fd["stats"]["wasserstein"]["statistic"] == pytest.approx(
                fm["stats"]["wasserstein"]["statistic"], abs=0.02
            )
        for side in ("reference", "current"):
            for key, value in fm["summary"][side].items():
                got = fd["summary"][side][key]
                assert got == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value), (name, side, key)
    assert mem["dataset"] == duck["dataset"]


def test_stored_profile_is_reused_without_the_reference(write_pair, tmp_path):
    ref, cur = synthetic(3000, 5), synthetic(2000, 6, shift=0.4)
    rp, cp = write_pair(ref, cur)
    features = [("x", "numeric"), ("count", "numeric"), ("cat", "categorical")]
    prof = build_reference_profile(Source("parquet", str(rp)), features)
    path = prof.save(tmp_path / "profiles" / "ref.json")
    rp.unlink()  # the check must not read the reference again
    loaded = Profile.load(path)
    rep = drift_report(loaded, Source("parquet", str(cp)), engine="duckdb")
    direct = drift_report(
        Source("parquet", str(cp)), Source("parquet", str(cp)), engine="duckdb", columns=["x", "count", "cat"]
    )
    assert [f["feature"] for f in rep["features"]] == ["x", "count", "cat"]
    assert _by_name(rep)["x"]["drifted"] is True and rep["reference"]["rows"] == 3000
    assert not any(f["drifted"] for f in direct["features"])
    with pytest.raises(BadInput, match="missing from the reference profile"):
        drift_report(loaded, Source("parquet", str(cp)), columns=["gappy"])


def test_delta_versions_and_date_windows(tmp_path):
    from deltalake import write_deltalake

    path = tmp_path / "log"
    start = datetime(2026, 1, 1)
    for day in range(6):
        df = synthetic(400, 10 + day, shift=2.0 if day >= 4 else 0.0)
        df["ts"] = pd.to_datetime([start + timedelta(days=day, seconds=i) for i in range(400)], utc=True)
        write_deltalake(str(path), df, mode="append")
    src = source_from_path(str(path))
    assert src.type == "delta"
    rep = drift_report(
        src,
        src,
        engine="duckdb",
        columns=["x"],
        reference_window=Window("ts", start=date(2026, 1, 1), end=date(2026, 1, 2)),
        current_window=Window("ts", days=2),
    )
    assert rep["reference"]["rows"] == 800 and rep["current"]["rows"] == 800
    assert rep["features"][0]["drifted"] is True
    # time travel: version 1 holds the first two days only
    v1 = src.at_version(1)
    rep = drift_report(v1, src, engine="memory", columns=["x"], current_window=Window("ts", days=2))
    assert rep["reference"]["rows"] == 800 and rep["features"][0]["drifted"] is True
    with pytest.raises(BadInput, match="window is empty"):
        drift_report(src, src, columns=["x"], current_window=Window("ts", start=date(2030, 1, 1)))


def test_duckdb_file_source(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        'CREATE TABLE "events" AS SELECT (i % 7)::DOUBLE AS "odd ""name""; x", i % 3 AS k FROM range(3000) t(i)'
    )
    con.close()
    src = Source("duckdb", path=str(db), table="events")
    rep = drift_report(src, src, engine="duckdb")
    assert [f["feature"] for f in rep["features"]] == ['odd "name"; x', "k"]
    assert not rep["dataset"]["drifted"]
    with pytest.raises(BadInput):
        drift_report(Source("duckdb", path=str(db), table="events; DROP TABLE events"), src)


def test_missing_values_excluded_everywhere(write_pair):
    ref = pd.DataFrame({"v": [1.0, 2.0, np.nan, 3.0] * 300, "c": ["a", None, "b", "a"] * 300})
    cur = pd.DataFrame({"v": [1.0, 2.0, 3.0, np.nan, np.nan] * 200, "c": ["a", "b", None, None, "a"] * 200})
    rp, cp = write_pair(ref, cur)
    for engine in ("memory", "duckdb"):
        rep = drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)), engine=engine)
        v, c = rep["features"]
        assert v["summary"]["reference"]["missing_share"] == pytest.approx(0.25)
        assert v["summary"]["current"]["missing_share"] == pytest.approx(0.4)
        assert v["summary"]["current"]["count"] == 600
        assert c["summary"]["current"]["missing_share"] == pytest.approx(0.4)
        assert v["drifted"] is False and c["drifted"] is False


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_bad_inputs_raise_one_line_errors(write_pair, engine):
    ref = pd.DataFrame({"a": [1.0, 2.0, 3.0], "t": ["x", "y", "z"], "empty": [np.nan] * 3})
    cur = pd.DataFrame({"a": [1.0, np.inf, 3.0], "t": ["x", "y", "z"], "empty": [np.nan] * 3, "b": [1, 2, 3]})
    rp, cp = write_pair(ref, cur)
    R, C = Source("parquet", str(rp)), Source("parquet", str(cp))
    cases: list[tuple[list[str] | None, list[str], str]] = [  # columns, forced numerical, error
        (["b"], [], "missing from the reference"),
        (None, ["t"], "forced numerical"),
        (["a"], [], "infinite values"),
        (["empty"], [], "no non-missing values"),
    ]
    for columns, numerical, message in cases:
        with pytest.raises(BadInput, match=message) as info:
            drift_report(R, C, engine=engine, columns=columns, numerical=numerical)
        assert "\n" not in str(info.value)


def test_frames_report_equals_file_report(write_pair):
    from services.drift import frames_report

    ref, cur = synthetic(1500, 8), synthetic(1200, 9, shift=0.3)
    rp, cp = write_pair(ref, cur)
    files = drift_report(Source("parquet", str(rp)), Source("parquet", str(cp)))
    frames = frames_report(ref, cur)
    assert [f["stats"] for f in frames["features"]] == [f["stats"] for f in files["features"]]
    assert frames["dataset"] == files["dataset"]


def test_model_feature_typing_excludes_ids_and_types_low_cardinality_ints(tmp_path):
    from services.config import load_settings
    from services.drift.model import model_data

    n = 400
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-01", periods=n, freq="h"),
            "request_id": [f"r{i}" for i in range(n)],
            "flag": rng.integers(0, 2, n),
            "amount": rng.normal(size=n),
            "plan": rng.choice(["a", "b"], n),
            "label": rng.integers(0, 2, n),
        }
    ).to_parquet(tmp_path / "log.parquet")
    cfg = tmp_path / "driftgate.toml"
    cfg.write_text(
        '[sources.log]\ntype = "parquet"\npath = "log.parquet"\n'
        '[models.m]\nsource = "log"\ntimestamp = "ts"\nlabel = "label"\n'
    )
    settings = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=str(cfg))
    data = model_data(settings, "m")
    assert dict(data.features) == {"flag": "categorical", "amount": "numeric", "plan": "categorical"}
    assert any("request_id" in note and "id" in note for note in data.notes)
    assert any("flag" in note for note in data.notes)


def test_duckdb_connections_never_draw_a_progress_bar_on_stdout(write_pair):
    from services.warehouse.sources import open_backend

    rp, _ = write_pair(synthetic(10, 1), synthetic(10, 2))
    with open_backend(Source("parquet", str(rp))) as b:
        assert b.conn.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False
        assert b.conn.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"


def test_duckdb_sampled_points_stay_within_tolerance(write_pair):
    """Above the reservoir size the CDF points come from a sample: the counts at them are still
    exact, so KS/Wasserstein stay within the spec's tolerance on skewed, tied and outlier-laden
    columns, and the binned statistics and summaries equal the memory engine's."""
    from services.drift.cells import GRID_SAMPLE

    n = 3 * GRID_SAMPLE

    def frame(seed, shift):
        r = np.random.default_rng(seed)
        heavy = r.lognormal(0.0, 2.0, n) * (1.0 + shift)
        heavy[:3] = [1e9, -1e7, 5e8]  # far outliers (also in the exact min/max)
        return pd.DataFrame(
            {
                "heavy": heavy,
                "ties": r.choice([0.0, 1.0, 2.5, 7.0], n, p=[0.7, 0.2, 0.07, 0.03]) + (r.random(n) < shift),
                "narrow": 1.0 + r.normal(shift, 1e-6, n),
            }
        )

    rp, cp = write_pair(frame(1, 0.0), frame(2, 0.3))
    assert_within_spec_tolerance(
        drift_report(source_from_path(str(rp)), source_from_path(str(cp)), engine="memory"),
        drift_report(source_from_path(str(rp)), source_from_path(str(cp)), engine="duckdb"),
    )
