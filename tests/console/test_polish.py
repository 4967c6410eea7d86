"""Small things a reviewer reads: params that really vary, the gate's wording, MLflow UI links."""

from __future__ import annotations

from types import SimpleNamespace

from services.config import Settings, load_settings
from services.registry.runs import mlflow_ui_links, varying_params


def _run(**params):
    return SimpleNamespace(params=params)


def test_varying_params_drop_placeholders():
    runs = [
        _run(depth="3", lr="0.1", warm_start="None", loss="deprecated", seed="1"),
        _run(depth="5", lr="0.1", warm_start="None", loss="log_loss", seed="1"),
        _run(depth="7", lr="0.1", warm_start="None", seed="1"),
    ]
    # depth varies; lr/seed are constant; warm_start is only "None"; loss is one value plus noise
    assert varying_params(runs) == ["depth"]


def _store(tmp_path, tracking: str, registry: str, **env: str) -> Settings:
    """Real settings for a tracking/registry store (``cwd`` has no config or secrets file)."""
    env = {
        "DRIFTGATE_HOME": str(tmp_path / "home"),
        "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_REGISTRY_URI": registry,
        **env,
    }
    return load_settings(env=env, cwd=tmp_path)


def test_ui_links_per_store(tmp_path):
    http = _store(tmp_path, "http://127.0.0.1:5000", "http://127.0.0.1:5000")
    links = mlflow_ui_links(http, "churn", "2", "abc", "7")
    assert links == {
        "version": "http://127.0.0.1:5000/#/models/churn/versions/2",
        "run": "http://127.0.0.1:5000/#/experiments/7/runs/abc",
    }
    local = _store(tmp_path, "sqlite:///x.db", "sqlite:///x.db")
    assert mlflow_ui_links(local, "churn", "2", "abc", "7") == {}
    dbx = _store(tmp_path, "databricks", "databricks-uc", DATABRICKS_HOST="adb-1.azuredatabricks.net")
    links = mlflow_ui_links(dbx, "main.ml.churn", "2", "abc", "7")
    assert links["version"] == "https://adb-1.azuredatabricks.net/explore/data/models/main/ml/churn/version/2"
    assert links["run"] == "https://adb-1.azuredatabricks.net/ml/experiments/7/runs/abc"


def test_gate_wording(demo_copy):
    from services.promotion.gate import evaluate
    from services.registry.mlflow_client import make_client

    check = next(
        c
        for c in evaluate(demo_copy, make_client(demo_copy), "churn_classifier", "2").checks
        if c.name == "candidate_state"
    )
    assert check.detail == "version 2 is a candidate awaiting a decision"


def test_no_literal_none_stage_on_the_pages(demo_settings, monkeypatch):
    # MLflow gives a version without a stage the stage "None": the pages show an em dash instead
    # (browser QA found "stage None" in the Promotions caption and the versions tables).
    from components.tables import DASH, stage_text
    from tests.support.app import app_test, assert_no_exception

    assert [stage_text(s) for s in ("None", None, "", "Production")] == [DASH, DASH, DASH, "Production"]
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    for page in ("app.py", "pages/promotions.py"):
        at = app_test(page, {"model": "churn_classifier"}).run()
        assert_no_exception(at)
        captions = " ".join(c.value for c in at.caption)
        assert "stage None" not in captions, captions
        for frame in at.dataframe:
            if "stage" in frame.value:
                assert "None" not in set(map(str, frame.value["stage"])), page
    # the Runs page's candidates: a metric a run did not log is an em dash, not "None"
    at = app_test("pages/runs.py", {"model": "churn_classifier"}).run()
    assert_no_exception(at)
    frames = [f.value for f in at.dataframe if "run_name" in f.value and "role" in f.value]
    assert frames
    for table in frames:
        metric_cols = [c for c in table.columns if c.startswith(("val_", "train_"))]
        assert metric_cols
        for c in metric_cols:
            assert not any(v is None or str(v) in ("None", "nan") for v in table[c]), c
    # Promotions: registration times in one format
    from components.tables import utc_minute

    assert utc_minute("2026-10-03T07:00:00+00:00") == "2026-10-03 07:00 UTC"
    assert utc_minute(None) == DASH
