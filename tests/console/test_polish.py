"""Small things a reviewer reads: params that really vary, the gate's wording, MLflow UI links."""

from __future__ import annotations

import re
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


def test_an_advisory_failure_looks_unlike_a_blocking_one(demo_settings, monkeypatch):
    """v3 fails feature_consistency (advisory) and beats_champion (required): the page must not draw
    both in the same red."""
    from components.promotion_views import check_line
    from tests.support.app import app_test, assert_no_exception

    blocking, advisory = check_line("beats_champion", "fail", True), check_line("feature_consistency", "fail", False)
    assert blocking.startswith(":red-badge[") and "does not block" not in blocking
    assert advisory.startswith(":orange-badge[") and "FAIL" in advisory and "does not block" in advisory
    assert check_line("x", "warn", False).startswith(":orange-badge[:material/warning: warn]")
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    at = app_test("pages/promotions.py", {"model": "churn_classifier", "version": "3"}).run()
    assert_no_exception(at)
    lines = [m.value.replace("\\", "") for m in at.markdown]  # md() escapes the underscores
    line = next(v for v in lines if "feature_consistency" in v)
    assert line.startswith(":orange-badge[:material/cancel: FAIL]") and "does not block" in line
    assert next(v for v in lines if "**beats_champion**" in v).startswith(":red-badge[")
    verdict = next(e.value.replace("\\", "") for e in at.error if "Gate fails for v3" in e.value)
    assert "advisory, not blocking: feature_consistency" in verdict
    # No decision yet: the registered-versions table has no empty decision columns to scroll to.
    table = next(d.value for d in at.dataframe if "created by" in d.value.columns)
    assert "decision" not in table.columns and "decided by" not in table.columns


def test_overview_links_the_first_candidate_and_shows_decisions_as_promotions_does(demo_copy, monkeypatch):
    from services.promotion.approvals import approve
    from tests.support.app import app_test, assert_no_exception
    from tests.support.demo import settings_with

    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    at = app_test("app.py", {"model": "churn_classifier"}).run()
    assert_no_exception(at)
    review = [e.proto for e in at.get("page_link") if e.proto.label.startswith("Review")]
    # The candidates table lists v2 then v3: the link under it opens its first row, and says so.
    assert [p.label for p in review] == ["Review v2 in Promotions"] and "version=2" in review[0].query_string

    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    approve(s, "churn_classifier", "2", "dave")  # no comment
    monkeypatch.setenv("DRIFTGATE_CONFIG", str(s.config_path))
    at = app_test("app.py", {"model": "churn_classifier"}).run()
    assert_no_exception(at)
    log = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(log.columns)[:7] == ["at", "user", "action", "outcome", "version", "comment", "reason"]
    assert list(log["comment"]) == ["—"]  # not "None"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", log["at"].iloc[0])


def test_the_overview_verdict_is_a_warning_only_for_dataset_drift():
    """Below the dataset threshold the Overview's verdict is green as on the Drift page, even with
    a few drifted features; the warning (same look on both pages) means dataset drift."""
    from streamlit.testing.v1 import AppTest

    def page(drifted: bool) -> None:
        from unittest import mock

        from components import overview

        verdict = {
            "drifted": drifted,
            "drift_share": 0.5 if drifted else 1 / 6,
            "total_features": 6,
            "drifted_features": ["contract", "region", "tenure"] if drifted else ["contract"],
            "current": "2026-11-25 to 2026-12-01",
            "reference": "2026-09-03 to 2026-10-02",
        }
        with mock.patch.object(overview.st, "page_link"):  # outside the app: no page to link to
            overview.render_drift_verdict(verdict, "m")

    partial = AppTest.from_function(page, kwargs={"drifted": False}).run()
    assert not partial.exception and not partial.warning
    assert partial.success[0].value.startswith("No dataset drift, but 17% of 6 features drifted")
    full = AppTest.from_function(page, kwargs={"drifted": True}).run()
    assert not full.success and full.warning[0].value.startswith("Dataset drift: 50% of 6")


def test_overview_opens_the_retraining_run_by_its_experiments_name(demo_settings, monkeypatch):
    """The Overview's link to the latest retraining run carries what the Runs page's
    ``?experiment=`` takes, the experiment's name (it carried the id, and the page opened on
    "experiment '1' not found"); followed, it opens that run without a warning."""
    from urllib.parse import parse_qs

    from tests.support.app import app_test, assert_no_exception

    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    at = app_test("app.py", {"model": "churn_classifier"}).run()
    assert_no_exception(at)
    (link,) = [e.proto for e in at.get("page_link") if e.proto.label == "Open in Retraining runs"]
    query = {k: v[0] for k, v in parse_qs(link.query_string).items()}
    assert query["experiment"] == "churn_classifier" and query["run"]
    runs = app_test("pages/runs.py", query).run()
    assert_no_exception(runs)
    assert [w.value for w in runs.warning] == []
    assert runs.query_params["experiment"] == "churn_classifier" and runs.query_params["run"] == query["run"]
    assert next(s for s in runs.selectbox if s.label == "Experiment").value == "churn_classifier"
    assert next(s for s in runs.selectbox if s.label == "Run details").value == query["run"]
