"""Bad input and missing evidence: a clear one-line message or a defined decision (no
retraining on missing evidence), never a traceback — on a small non-demo scoring log."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from services.cli import main
from services.config import load_settings
from services.errors import BadInput, NotFound, Refused
from services.retraining import trigger

START = dt.date(2026, 3, 2)
AS_OF = dt.datetime(2026, 3, 22, tzinfo=dt.UTC)  # windows: days 10..19


def write_log(path, *, labels=True, drop_days=(), shift_from=None, rows=1000):
    rng = np.random.default_rng(7)
    frames = []
    for d in range(20):
        if d in drop_days:
            continue
        x = rng.normal(0, 1, rows) + (2.0 if shift_from is not None and d >= shift_from else 0.0)
        c = rng.choice(["a", "b", "c"], rows)
        p = 1 / (1 + np.exp(-x))
        y = (rng.random(rows) < p).astype(float) if labels else np.full(rows, np.nan)
        base = pd.Timestamp(START + dt.timedelta(days=d), tz="UTC")
        frames.append(
            pd.DataFrame(
                {
                    "ts": base + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
                    "x": x,
                    "c": c,
                    "prediction": p,
                    "label": pd.array(y, dtype="Float64").astype("Int64"),
                }
            )
        )
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)


@pytest.fixture(scope="module")
def tracking_db(tmp_path_factory, empty_mlflow_store):
    """One MLflow store for the module; it holds no runs."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    empty_mlflow_store(path)
    return path.as_posix()


@pytest.fixture
def config(tmp_path, tracking_db):
    """``config(extra="", model=None)``: write a driftgate.toml for the test's log; returns its path."""

    def write(extra: str = "", model: str | None = None) -> str:
        return _config(tmp_path, tracking_db, extra, model)

    return write


def _config(tmp_path, tracking_db: str, extra: str = "", model: str | None = None) -> str:
    model = (
        model
        if model is not None
        else (
            '[models.m]\nsource = "log"\ntimestamp = "ts"\nlabel = "label"\nprediction = "prediction"\n'
            'features = ["x", "c"]\nreference_window = {start = "2026-03-02", end = "2026-03-08"}\n'
        )
    )
    text = (
        f'[mlflow]\ntracking_uri = "sqlite:///{tracking_db}"\n'
        '[sources.log]\ntype = "parquet"\npath = "log.parquet"\n'
        "[trigger]\nlookback_windows = 10\nmin_rows = 50\nmin_labels = 50\n" + extra + "\n" + model
    )
    cfg = tmp_path / "driftgate.toml"
    cfg.write_text(text)
    return str(cfg)


def settings_for(tmp_path, cfg):
    return load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=cfg)


def test_drift_without_labels_still_decides_on_drift(config, tmp_path):
    write_log(tmp_path / "log.parquet", labels=False, shift_from=15)
    s = settings_for(tmp_path, config())
    d = trigger.evaluate(s, "m", as_of=AS_OF)
    assert all(w.performance is None for w in d.windows)
    assert all(any("no labels yet" in n for n in w.notes) for w in d.windows)
    assert any("no labelled reference performance" in r for r in d.reasons)
    assert [w.drift_breach for w in d.windows] == [False] * 5 + [True] * 5
    assert d.retrain is True and d.last_retraining is None


def test_no_labels_and_no_drift_means_no_retraining(config, tmp_path):
    write_log(tmp_path / "log.parquet", labels=False)
    d = trigger.evaluate(settings_for(tmp_path, config()), "m", as_of=AS_OF)
    assert d.retrain is False and not any(w.breach for w in d.windows)


def test_gap_at_the_end_is_no_evidence(config, tmp_path):
    write_log(tmp_path / "log.parquet", shift_from=12, drop_days=(18, 19))
    d = trigger.evaluate(settings_for(tmp_path, config()), "m", as_of=AS_OF)
    assert [w.rows for w in d.windows][-2:] == [0, 0]
    assert any(w.breach for w in d.windows)
    assert d.retrain is False
    assert "no evidence: the last 2 daily window(s) have no data" in d.reasons[0]


def test_gap_in_the_middle_breaks_persistence(config, tmp_path):
    write_log(tmp_path / "log.parquet", shift_from=12, drop_days=(17,))
    s = settings_for(tmp_path, config("consecutive_windows = 3"))
    d = trigger.evaluate(s, "m", as_of=AS_OF)
    assert d.streak == 2 and d.retrain is False
    assert any("gap" in n for n in d.windows[-3].notes)


def test_few_rows_are_not_evidence(config, tmp_path):
    write_log(tmp_path / "log.parquet", shift_from=12, rows=30)
    d = trigger.evaluate(settings_for(tmp_path, config()), "m", as_of=AS_OF)
    assert d.retrain is False and all(w.drift_share is None for w in d.windows)
    assert all(any("only 30 rows" in n for n in w.notes) for w in d.windows)


@pytest.mark.parametrize(
    "model_doc, exc, words",
    [
        ("", NotFound, "has no scoring log configured"),
        ('[models.m]\ntimestamp = "ts"\n', NotFound, "source is not set"),
        ('[models.m]\nsource = "nope"\ntimestamp = "ts"\n', NotFound, "[sources.nope]"),
        ('[models.m]\nsource = "log"\n', BadInput, "timestamp"),
        ('[models.m]\nsource = "log"\ntimestamp = "ts"\nfeatures = ["x", "zzz"]\n', BadInput, "lacks column(s): zzz"),
        (
            '[models.m]\nsource = "log"\ntimestamp = "ts"\nreference_window = {start = "2026-03-09", end = "2026-03-01"}\n',
            BadInput,
            "ends before it starts",
        ),
    ],
)
def test_model_configuration_errors(config, tmp_path, model_doc, exc, words):
    write_log(tmp_path / "log.parquet")
    s = settings_for(tmp_path, config(model=model_doc))
    with pytest.raises(exc) as err:
        trigger.evaluate(s, "m", as_of=AS_OF)
    assert words in str(err.value)


def test_missing_scoring_log_file(config, tmp_path):
    s = settings_for(tmp_path, config())  # log.parquet never written
    with pytest.raises(NotFound):
        trigger.evaluate(s, "m", as_of=AS_OF)


@pytest.mark.parametrize(
    "extra",
    [
        "consecutive_windows = 0",
        "drift_share_threshold = -0.5",
        "performance_drop_threshold = 2",
        "cooldown_days = -1",
        'window = "1h"',
    ],
)
def test_cli_impossible_thresholds_exit_2_one_line(config, tmp_path, capsys, extra):
    write_log(tmp_path / "log.parquet")
    cfg = config(extra)
    rc = main(["trigger", "--model", "m", "--config", cfg, "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.startswith("error: [trigger]") and err.count("\n") == 1
    assert extra.split(" = ")[0] in err


def test_cli_on_a_configured_log(config, tmp_path, capsys):
    write_log(tmp_path / "log.parquet", shift_from=12)
    cfg = config()
    assert main(["trigger", "--model", "m", "--config", cfg, "--format", "json", "--as-of", "2026-03-22"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["retrain"] is True and doc["model"] == "m"
    assert main(["trigger", "--model", "m", "--config", cfg, "--as-of", "2026-03-22", "--fail-on-retrain"]) == 1
    out, err = capsys.readouterr()
    assert "RETRAINING DUE" in out and err == ""
    assert main(["trigger", "--model", "m", "--config", cfg, "--as-of", "2026-03-15", "--fail-on-retrain"]) == 0
    assert main(["trigger", "--model", "m", "--config", cfg, "--as-of", "soon"]) == 2
    assert "as-of" in capsys.readouterr().err


def test_cli_task_values_for_a_databricks_condition_task(config, tmp_path, capsys, monkeypatch):
    """Inside a Databricks job the trigger publishes task values; Databricks' dbutils is faked."""
    import sys
    import types

    write_log(tmp_path / "log.parquet", shift_from=12)
    cfg = config()
    # outside Databricks: a clear one-line error
    assert main(["trigger", "--model", "m", "--config", cfg, "--as-of", "2026-03-22", "--set-task-values"]) == 2
    assert "Databricks job" in capsys.readouterr().err

    published: dict = {}
    task_values = types.SimpleNamespace(set=lambda key, value: published.__setitem__(key, value))
    runtime = types.ModuleType("databricks.sdk.runtime")
    dbutils = types.SimpleNamespace(jobs=types.SimpleNamespace(taskValues=task_values))
    monkeypatch.setattr(runtime, "dbutils", dbutils, raising=False)  # a new module has no attributes
    # the runtime's variable alone is not enough: dbutils must be importable
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", None)  # import fails
    assert main(["trigger", "--model", "m", "--config", cfg, "--as-of", "2026-03-22", "--set-task-values"]) == 2
    assert "no dbutils here" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", runtime)
    assert (
        main(
            [
                "trigger",
                "--model",
                "m",
                "--config",
                cfg,
                "--as-of",
                "2026-03-22",
                "--set-task-values",
                "--format",
                "json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert published["retrain"] is True and published["reason"] == "; ".join(doc["reasons"])[:1000]
    assert main(["trigger", "--model", "m", "--config", cfg, "--as-of", "2026-03-14", "--set-task-values"]) == 0
    assert published["retrain"] is False


@pytest.mark.slow
def test_retrain_on_a_configured_non_demo_model(config, tmp_path, monkeypatch):
    """Config features/label (not the demo's), no registered model and no champion yet: the
    candidates are still trained, the winner is registered as version 1 — and not promoted."""
    from services.registry.lifecycle import champion_version
    from services.registry.mlflow_client import make_client
    from services.retraining.retrain import retrain

    monkeypatch.chdir(tmp_path)  # a new experiment's default artifact root is ./mlruns
    write_log(tmp_path / "log.parquet", shift_from=12)
    cfg = config('[retrain]\ncandidates = ["logreg", "gbm"]\ntrain_days = 4\neval_days = 2\n')
    s = settings_for(tmp_path, cfg)
    with pytest.raises(Refused):
        retrain(s, "m", as_of="2026-03-14")
    doc = retrain(s, "m", as_of="2026-03-14", force=True, user="erin")
    assert doc["forced"] and doc["reason"].startswith("manual retraining by erin")
    assert doc["champion"] is None and doc["registered_version"] == "1"
    assert doc["training_window"] == "2026-03-08..2026-03-11" and doc["eval_window"] == "2026-03-12..2026-03-13"
    client = make_client(s)
    mv = client.get_model_version("m", "1")
    assert mv.tags["driftgate.author"] == "erin"
    assert champion_version(s, client, "m") is None
    assert mv.run_id is not None  # the version was registered from a run
    run = client.get_run(mv.run_id)
    assert run.data.params["features"] == "c,x"  # categorical first, then numeric (build_pipeline)


def test_cli_mlflow_unreachable_is_one_line_exit_2(tmp_path, capsys):
    write_log(tmp_path / "log.parquet", shift_from=12)
    cfg = _config(tmp_path, "unused", "")
    text = (
        (tmp_path / "driftgate.toml")
        .read_text()
        .replace('tracking_uri = "sqlite:///unused"', 'tracking_uri = "http://127.0.0.1:9"')
    )
    (tmp_path / "driftgate.toml").write_text(text)
    rc = main(["trigger", "--model", "m", "--config", cfg, "--format", "json", "--as-of", "2026-03-22"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.startswith("error: MLflow cannot be reached") and err.count("\n") == 1
