"""Stored per-window profiles (services/drift/window_store.py) against a full re-scan of a seeded
scoring log: identical counts, the same statistics and decisions, late rows re-profiled, a changed
reference invalidating what was stored, a corrupted or unwritable store falling back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from services.cli import main as cli
from services.config import load_settings
from services.drift import drift_over_time
from services.drift import window_store as W
from services.drift.model import _select, model_data, reference_profile
from services.drift.profile import Profile
from services.drift.pushdown import profiles_by_window
from services.warehouse.sources import as_date, open_backend

START = date(2026, 3, 1)
DAYS = 10
ROWS = 3000  # x 4 reference days > the reservoir: the reference's numeric columns use cells
GAP = date(2026, 3, 8)  # no row at all on this day


def _day_frame(rng, day: date, n: int) -> pd.DataFrame:
    shifted = day >= date(2026, 3, 7)
    x = rng.normal(0.6 if shifted else 0.0, 1.0, n)
    gappy = rng.lognormal(1.0, 0.5, n)
    gappy[rng.random(n) < 0.05] = np.nan
    cat = rng.choice(["a", "b", "c", "d"], n, p=[0.25, 0.25, 0.25, 0.25] if not shifted else [0.1, 0.2, 0.3, 0.4])
    region = rng.choice(["n", "s"], n).astype(object)
    region[rng.random(n) < 0.02] = None
    t0 = pd.Timestamp(day)
    return pd.DataFrame(
        {
            "event_time": t0 + pd.to_timedelta(rng.uniform(0, 86_399, n), unit="s"),
            "x": x,
            "gappy": gappy,
            "cat": cat,
            "region": region,
        }
    )


@pytest.fixture
def log(tmp_path, empty_mlflow_store):
    """A scoring log (a Parquet folder, so rows can arrive later as a new file) and settings; the
    home's MLflow store exists and is empty (no champion: the configured reference window)."""
    empty_mlflow_store(tmp_path / "home" / "mlflow.db")
    rng = np.random.default_rng(17)
    days = [START + timedelta(days=d) for d in range(DAYS)]
    frame = pd.concat([_day_frame(rng, d, ROWS) for d in days if d != GAP], ignore_index=True)
    folder = tmp_path / "log"
    folder.mkdir()
    frame.to_parquet(folder / "part-0.parquet", index=False)
    cfg = tmp_path / "driftgate.toml"

    def configure(ref_end: str = "2026-03-04", extra: str = ""):
        cfg.write_text(
            '[sources.log]\ntype = "parquet"\npath = "log"\n'
            '[models.m]\nsource = "log"\ntimestamp = "event_time"\n'
            'numerical = ["x", "gappy"]\ncategorical = ["cat", "region"]\n'
            f'reference_window = {{start = "2026-03-01", end = "{ref_end}"}}\n{extra}'
        )
        return load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=str(cfg))

    return {"folder": folder, "configure": configure, "home": tmp_path / "home", "tmp": tmp_path}


def _same_windows(stored: dict, full: dict) -> None:
    """Stored vs full re-scan: the same windows, rows and decisions; the statistics equal up to
    float rounding (counts are identical; well within the spec's 0.01 KS / 0.02 tolerances)."""
    assert [w["start"] for w in stored["windows"]] == [w["start"] for w in full["windows"]]
    for s, f in zip(stored["windows"], full["windows"]):
        assert s["rows"] == f["rows"], s["start"]
        assert s["drifted_features"] == f["drifted_features"], s["start"]
        assert s["drift_share"] == f["drift_share"]
        for name, fs in f["features"].items():
            ss = s["features"][name]
            assert ss["test"] == fs["test"] and ss["drifted"] == fs["drifted"], (s["start"], name)
            assert ss["statistic"] == pytest.approx(fs["statistic"], rel=1e-9, abs=1e-12), (s["start"], name)
            if fs["p_value_adjusted"] is not None:
                assert ss["p_value_adjusted"] == pytest.approx(fs["p_value_adjusted"], rel=1e-6, abs=1e-12)


def test_stored_days_and_weeks_equal_a_full_rescan(log):
    settings = log["configure"]()
    first = drift_over_time(settings, "m", unit="day")
    assert first["store"]["used"] is True and first["store"]["reused"] == 0
    assert len(first["store"]["profiled"]) == DAYS - 1
    assert first["store"]["gaps"] == [GAP.isoformat()]
    again = drift_over_time(settings, "m", unit="day")
    assert again["store"]["reused"] == DAYS - 1 and again["store"]["profiled"] == []
    full = drift_over_time(settings, "m", unit="day", use_store=False)
    assert "store" not in full
    # the seeded shift is found (and nothing before it) - so the comparison is not between two empty answers
    drifted = {w["start"]: set(w["drifted_features"]) for w in full["windows"]}
    assert "x" in drifted["2026-03-09"] and "cat" in drifted["2026-03-09"]
    assert not drifted["2026-03-02"]
    _same_windows(first, full)
    _same_windows(again, full)
    weeks = drift_over_time(settings, "m", unit="week")
    assert weeks["store"]["reused"] == DAYS - 1
    _same_windows(weeks, drift_over_time(settings, "m", unit="week", use_store=False))
    assert [w["rows"] for w in weeks["windows"]] == [ROWS, 6 * ROWS, 2 * ROWS]  # Sun 1st; Mon 2nd-8th (gap); 9th-10th


def test_stored_counts_are_identical_to_the_grouped_rescan(log):
    """At the profile level: bins, CDF counts at the reference's points, tails and category
    counts of stored days and of days combined into a range equal the full re-scan's exactly."""
    settings = log["configure"]()
    data = model_data(settings, "m")
    feats = _select(data, None, False)
    ref = reference_profile(settings, "m", features=feats, data=data)
    assert ref.features["x"].cells is not None  # the cells path, not only the small-window one
    with open_backend(data.source, settings) as b:

        def profiler(run, unit="day"):
            return profiles_by_window(
                b, feats, side="current", bounds=run, ts="event_time", reference=ref, source="log", group_by=unit
            )

        W.window_profiles(settings, "m", b, data.source, feats, "event_time", ref, (None, None), profiler)
        days, info = W.window_profiles(settings, "m", b, data.source, feats, "event_time", ref, (None, None), profiler)
        assert days is not None  # a source with a timestamp is profiled by day
        assert info.reused == [d.isoformat() for d, _ in days] and not info.profiled
        full: dict[date, Profile] = {}
        for w, p in profiler((None, None)):
            day = as_date(w)
            assert day is not None  # every window of a re-scan starts on a day
            full[day] = p
        lo, hi = datetime(2026, 3, 3), datetime(2026, 3, 10)
        ((_, week_full),) = profiles_by_window(
            b, feats, side="current", bounds=(lo, hi), ts="event_time", reference=ref, source="log", group_by="month"
        )
    assert sorted(full) == [d for d, _ in days]
    for d, prof in days:
        for name, f in prof.features.items():
            g = full[d].features[name]
            assert (f.count, f.bins, f.cdf, f.counts) == (g.count, g.bins, g.cdf, g.counts), (d, name)
            if f.kind == "categorical":
                assert f.summary == g.summary
                continue
            # tails = n * bound - sum(x): DuckDB's parallel sums add in any order (cancellation)
            assert f.tails == pytest.approx(g.tails, rel=1e-6, abs=1e-6)
            for key in ("count", "mean", "std", "min", "max", "missing_share"):
                assert f.summary[key] == pytest.approx(g.summary[key], rel=1e-9), (d, name, key)
            # a day's median is interpolated inside its CDF cell (the re-scan's is exact)
            bound = W.median_error(prof, name)
            assert bound is not None and abs(f.summary["median"] - g.summary["median"]) <= bound + 1e-12
    combined = W.combine([p for d, p in days if lo.date() <= d < hi.date()], ref, "3 to 9 March")
    assert combined.rows == week_full.rows
    for name, f in combined.features.items():
        g = week_full.features[name]
        assert (f.count, f.bins, f.cdf, f.counts) == (g.count, g.bins, g.cdf, g.counts), name
        if f.kind == "numeric":
            assert f.tails == pytest.approx(g.tails, rel=1e-9, abs=1e-9)
            for key in ("mean", "std", "min", "max", "missing_share"):
                assert f.summary[key] == pytest.approx(g.summary[key], rel=1e-9), (name, key)
            # the median of a combined range is the one approximate figure: within its cell
            bound = W.median_error(combined, name)
            assert bound is not None and abs(f.summary["median"] - g.summary["median"]) <= bound + 1e-12


def test_a_late_row_reprofiles_its_already_stored_day(log):
    settings = log["configure"]()
    drift_over_time(settings, "m", unit="day")
    late = pd.DataFrame(
        {
            "event_time": [pd.Timestamp("2026-03-05 23:59:59")] * 400,
            "x": [9.0] * 400,
            "gappy": [1.0] * 400,
            "cat": ["zz"] * 400,
            "region": ["n"] * 400,
        }
    )
    late.to_parquet(log["folder"] / "part-late.parquet", index=False)
    after = drift_over_time(settings, "m", unit="day")
    assert after["store"]["late"] == ["2026-03-05"] and after["store"]["profiled"] == ["2026-03-05"]
    assert after["store"]["reused"] == DAYS - 2
    full = drift_over_time(settings, "m", unit="day", use_store=False)
    _same_windows(after, full)
    day = next(w for w in after["windows"] if w["start"] == "2026-03-05")
    assert day["rows"] == ROWS + 400 and "x" in day["drifted_features"]
    assert drift_over_time(settings, "m", unit="day")["store"]["profiled"] == []  # stored again, with the new watermark


def test_a_changed_reference_invalidates_the_stored_days(log):
    settings = log["configure"]()
    drift_over_time(settings, "m", unit="day")
    moved = log["configure"](ref_end="2026-03-02")
    after = drift_over_time(moved, "m", unit="day")
    assert after["store"]["invalidated"] == DAYS - 1 and after["store"]["reused"] == 0
    assert any("reference profile changed" in n for n in after["store"]["notes"])
    _same_windows(after, drift_over_time(moved, "m", unit="day", use_store=False))


def test_today_is_always_profiled_fresh_and_never_stored(log):
    settings = log["configure"]()
    now = datetime(2026, 3, 10, 12, 0)
    first = drift_over_time(settings, "m", unit="day", now=now)
    assert first["store"]["open"] == ["2026-03-10"]
    second = drift_over_time(settings, "m", unit="day", now=now)
    assert second["store"]["profiled"] == ["2026-03-10"] and second["store"]["reused"] == DAYS - 2


def test_a_corrupted_store_falls_back_to_a_full_rescan(log):
    settings = log["configure"]()
    log["home"].mkdir(parents=True, exist_ok=True)
    (log["home"] / W.DEFAULT_FILE).write_bytes(b"this is not a DuckDB database" * 200)
    doc = drift_over_time(settings, "m", unit="day")
    assert doc["store"]["used"] is False
    assert any("corrupted" in n and "full re-scan" in n for n in doc["store"]["notes"])
    _same_windows(doc, drift_over_time(settings, "m", unit="day", use_store=False))


def test_an_unwritable_store_falls_back_to_a_full_rescan(log):
    (log["tmp"] / "a-file").write_text("not a folder")
    settings = log["configure"](extra='[drift]\nwindow_store = "a-file/profiles.duckdb"\n')
    doc = drift_over_time(settings, "m", unit="day")
    assert doc["store"]["used"] is False and "full re-scan" in doc["store"]["notes"][0]
    _same_windows(doc, drift_over_time(settings, "m", unit="day", use_store=False))


def test_a_stored_row_that_does_not_parse_is_reprofiled(log):
    import duckdb

    settings = log["configure"]()
    drift_over_time(settings, "m", unit="day")
    con = duckdb.connect(str(log["home"] / W.DEFAULT_FILE))
    con.execute("UPDATE window_profiles SET profile = '{broken' WHERE day = DATE '2026-03-03'")
    con.close()
    doc = drift_over_time(settings, "m", unit="day")
    assert doc["store"]["profiled"] == ["2026-03-03"]
    _same_windows(doc, drift_over_time(settings, "m", unit="day", use_store=False))


def test_profile_command_is_incremental_and_says_so(log, capsys, monkeypatch):
    settings = log["configure"]()
    monkeypatch.setenv("DRIFTGATE_HOME", str(settings.home))
    cfg = str(settings.config_path)
    assert cli(["profile", "--model", "m", "--config", cfg, "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["days"] == DAYS - 1 and len(first["profiled"]) == DAYS - 1 and first["gaps"] == [GAP.isoformat()]
    assert cli(["profile", "--model", "m", "--config", cfg, "--format", "json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["reused"] == DAYS - 1 and second["profiled"] == []
    assert cli(["profile", "--model", "m", "--config", cfg]) == 0
    text = capsys.readouterr().out
    assert "reused 9, profiled 0, no late rows" in text and "2026-03-08" in text
    assert drift_over_time(settings, "m", unit="day")["store"]["profiled"] == []  # the page reads the job's days


def test_profile_command_with_the_configured_reference_never_touches_mlflow(log):
    """``[trigger] reference = "config"``: the job profiles against the configured window and
    neither imports MLflow nor opens its store (a whole process, as cron runs it)."""
    settings = log["configure"](extra='[trigger]\nreference = "config"\n')
    code = (
        "import sys\nfrom services.cli import main\n"
        f"rc = main(['profile', '--model', 'm', '--config', {str(settings.config_path)!r}, '--format', 'json'])\n"
        "print(rc, 'mlflow' in sys.modules, file=sys.stderr)\n"
    )
    env = {**os.environ, "DRIFTGATE_HOME": str(settings.home), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.stderr.strip().splitlines()[-1] == "0 False", out.stderr
    doc = json.loads(out.stdout)
    assert len(doc["profiled"]) == DAYS - 1 and doc["reference"]["window"].startswith("2026-03-01")


def test_profile_command_bad_input_is_one_line_exit_2(log, capsys, monkeypatch):
    settings = log["configure"]()
    monkeypatch.setenv("DRIFTGATE_HOME", str(settings.home))
    cfg = str(settings.config_path)
    assert cli(["profile", "--model", "nope", "--config", cfg, "--format", "json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.strip().splitlines()) == 1 and "nope" in out.err
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / W.DEFAULT_FILE).write_bytes(b"garbage" * 500)
    assert cli(["profile", "--model", "m", "--config", cfg, "--format", "json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "corrupted" in out.err and "--backfill" in out.err and "Traceback" not in out.err
    assert cli(["profile", "--model", "m", "--config", cfg, "--format", "json", "--backfill"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["profiled"]) == DAYS - 1 and "moved aside" in doc["notes"][0]
    assert list(settings.home.glob(W.DEFAULT_FILE + ".corrupt-*"))


def test_last_n_days_report_from_stored_days_equals_a_full_scan(log):
    """The "last N days" report: the current window combined from stored days gives the full
    scan's counts, statistics and decisions; only the median is interpolated (within its cell)."""
    from services.drift import model_drift_report
    from services.warehouse.sources import Window

    settings = log["configure"]()
    drift_over_time(settings, "m", unit="day")  # the days are stored (as by the nightly job)
    window = Window("event_time", days=6)
    stored = model_drift_report(settings, "m", current=window)
    full = model_drift_report(settings, "m", current=window, use_store=False)
    assert any("combined from 5 day profiles (5 stored, 0 scanned now)" in n for n in stored["notes"])
    assert stored["current"]["rows"] == full["current"]["rows"] == 5 * ROWS
    assert stored["dataset"] == full["dataset"] and stored["dataset"]["drifted_features"] >= 2
    for s, f in zip(stored["features"], full["features"]):
        assert (s["feature"], s["drifted"], s["test"]) == (f["feature"], f["drifted"], f["test"])
        for test, st in f["stats"].items():
            for key in ("statistic", "p_value"):
                if st[key] is None:
                    assert s["stats"][test][key] is None
                else:
                    assert s["stats"][test][key] == pytest.approx(st[key], rel=1e-9, abs=1e-12), (f["feature"], test)
        cur_s, cur_f = s["summary"]["current"], f["summary"]["current"]
        if f["kind"] == "categorical":
            assert cur_s == cur_f
            continue
        for key in ("count", "missing_share", "mean", "std", "min", "max"):
            assert cur_s[key] == pytest.approx(cur_f[key], rel=1e-9), (f["feature"], key)
        assert cur_s["median"] == pytest.approx(cur_f["median"], abs=0.01 * (cur_f["max"] - cur_f["min"]))


def test_a_store_of_an_older_layout_is_rebuilt_not_trusted(log):
    import duckdb

    settings = log["configure"]()
    drift_over_time(settings, "m", unit="day")
    con = duckdb.connect(str(log["home"] / W.DEFAULT_FILE))
    con.execute("UPDATE store_meta SET value = '1' WHERE name = 'format'")
    con.close()
    doc = drift_over_time(settings, "m", unit="day")
    assert doc["store"]["used"] is True and doc["store"]["reused"] == 0 and len(doc["store"]["profiled"]) == DAYS - 1
    assert drift_over_time(settings, "m", unit="day")["store"]["reused"] == DAYS - 1


def test_a_decision_policy_change_applies_at_once_to_stored_days(log):
    """Stored day results are keyed by the decision policy: a new threshold is never answered
    from results computed under the old one (and needs no re-scan of the log)."""
    settings = log["configure"]()
    before = drift_over_time(settings, "m", unit="day")
    drift_over_time(settings, "m", unit="day")  # results stored
    strict = log["configure"](
        extra="[drift]\nalpha = 0.9\nnumeric_threshold = 0.0001\ncategorical_threshold = 0.0001\n"
    )
    after = drift_over_time(strict, "m", unit="day")
    assert after["store"]["reused"] == DAYS - 1 and after["store"]["profiled"] == []
    full = drift_over_time(strict, "m", unit="day", use_store=False)
    _same_windows(after, full)
    flagged = lambda doc: sum(len(w["drifted_features"]) for w in doc["windows"])  # noqa: E731
    assert flagged(after) > flagged(before)


def test_the_jobs_stored_results_serve_a_page_with_importances(log, capsys, monkeypatch):
    settings = log["configure"]()
    monkeypatch.setenv("DRIFTGATE_HOME", str(settings.home))
    assert cli(["profile", "--model", "m", "--config", str(settings.config_path), "--format", "json"]) == 0
    capsys.readouterr()
    imp = {"x": 3.0, "cat": 1.0, "gappy": 0.5}
    page = drift_over_time(settings, "m", unit="day", importance=imp)
    full = drift_over_time(settings, "m", unit="day", importance=imp, use_store=False)
    _same_windows(page, full)
    assert [w["weighted_drift_share"] for w in page["windows"]] == pytest.approx(
        [w["weighted_drift_share"] for w in full["windows"]]
    )
    assert any(w["weighted_drift_share"] for w in page["windows"])


def _split_by_day(folder) -> None:
    """The log as one Parquet file per day (as a daily job writes it): footers name each day."""
    frame = pd.read_parquet(folder / "part-0.parquet")
    (folder / "part-0.parquet").unlink()
    for day, rows in frame.groupby(frame["event_time"].dt.date):
        rows.to_parquet(folder / f"day-{day}.parquet", index=False)


def test_footer_watermarks_equal_the_counted_ones_and_a_new_day_reads_its_file_only(log, monkeypatch):
    from services.drift.window_store import profiling

    _split_by_day(log["folder"])
    settings = log["configure"]()
    data = model_data(settings, "m")
    with open_backend(data.source, settings) as b:
        footers = profiling._footer_marks(b, data.source, "event_time", (None, None))
        assert footers is not None
        monkeypatch.setattr(profiling, "_footer_marks", lambda *a: None)
        counted, files = profiling.watermarks(b, data.source, "event_time", (None, None))
        monkeypatch.undo()
        assert files is None and footers[0] == counted and len(counted) == DAYS - 1
        assert footers[1][date(2026, 3, 5)] == {str(log["folder"] / "day-2026-03-05.parquet")}
        bounded = profiling._footer_marks(b, data.source, "event_time", (datetime(2026, 3, 3), datetime(2026, 3, 6)))
        assert bounded is not None and sorted(bounded[0]) == [date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)]
        # a window's end inside a day: only counting can tell
        assert profiling._footer_marks(b, data.source, "event_time", (None, datetime(2026, 3, 5, 12))) is None
    drift_over_time(settings, "m", unit="day")
    read: list[list[str] | None] = []
    real = profiling.day_profiles

    def recording(*a):
        read.append(a[-1])
        return real(*a)

    monkeypatch.setattr(profiling, "day_profiles", recording)
    rng = np.random.default_rng(5)
    _day_frame(rng, date(2026, 3, 11), ROWS).to_parquet(log["folder"] / "day-2026-03-11.parquet", index=False)
    after = drift_over_time(settings, "m", unit="day", now=datetime(2026, 3, 12, 1))
    assert after["store"]["profiled"] == ["2026-03-11"] and after["store"]["reused"] == DAYS - 1
    assert read == [[str(log["folder"] / "day-2026-03-11.parquet")]]
    monkeypatch.undo()
    _same_windows(after, drift_over_time(settings, "m", unit="day", use_store=False))


def test_a_spark_source_stores_its_profiles_in_a_spark_table(log, spark_session):
    """[sources.x] type = "spark": the day profiles go to driftgate_window_profiles beside the
    source table (no DuckDB file), are reused, equal the Spark re-scan, and a late row re-profiles
    its day."""
    db = f"wstore_{uuid.uuid4().hex[:8]}"  # the session's warehouse folder outlives a test run
    spark_session.sql(f"CREATE DATABASE {db}")
    frame = pd.read_parquet(log["folder"])
    frame["event_time"] = frame["event_time"].astype("datetime64[us]")  # Spark reads no nanoseconds
    frame.to_parquet(log["tmp"] / "spark.parquet", index=False)
    spark_session.read.parquet(str(log["tmp"] / "spark.parquet")).write.saveAsTable(f"spark_catalog.{db}.log")
    cfg = log["tmp"] / "spark.toml"
    cfg.write_text(
        f'[sources.log]\ntype = "spark"\ntable = "spark_catalog.{db}.log"\n'
        '[models.m]\nsource = "log"\ntimestamp = "event_time"\n'
        'numerical = ["x", "gappy"]\ncategorical = ["cat", "region"]\n'
        'reference_window = {start = "2026-03-01", end = "2026-03-04"}\n'
    )
    settings = load_settings(env={"DRIFTGATE_HOME": str(log["home"])}, config_file=str(cfg))
    first = drift_over_time(settings, "m", unit="day")
    assert first["store"]["path"] == f"spark:spark_catalog.{db}.driftgate_window_profiles"
    assert first["store"]["used"] is True and len(first["store"]["profiled"]) == DAYS - 1
    assert spark_session.catalog.tableExists(f"spark_catalog.{db}.driftgate_window_profiles")
    assert not (log["home"] / W.DEFAULT_FILE).exists()
    again = drift_over_time(settings, "m", unit="day")
    assert again["store"]["reused"] == DAYS - 1 and again["store"]["profiled"] == []
    spark_session.sql(
        f"INSERT INTO spark_catalog.{db}.log VALUES (TIMESTAMP '2026-03-05 23:59:59', 9.0, 1.0, 'zz', 'n')"
    )
    after = drift_over_time(settings, "m", unit="day")
    assert after["store"]["late"] == ["2026-03-05"] and after["store"]["profiled"] == ["2026-03-05"]
    _same_windows(after, drift_over_time(settings, "m", unit="day", use_store=False))
    assert W.profile_model(settings, "m", backfill=True)["profiled"] == [
        d.isoformat() for d in sorted({START + timedelta(days=i) for i in range(DAYS)} - {GAP})
    ]
