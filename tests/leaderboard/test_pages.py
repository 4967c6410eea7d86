"""AppTest tests of the Retraining runs and Leaderboard pages (demo workspace and a real server)."""

from __future__ import annotations

import pytest

from tests.support.app import app_test, assert_no_exception
from tests.support.runs import big_board
from tests.support.servers import free_port


def metrics_of(at):
    # labels are markdown source: MLflow run names in them are escaped (components.text.md)
    return {m.label.replace("\\", ""): (m.value, m.delta) for m in at.metric}


@pytest.fixture
def demo_env(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return demo_settings


def test_runs_page_demo(demo_env):
    at = app_test("pages/runs.py", {"experiment": "churn_classifier"})
    at.run()
    assert_no_exception(at)
    assert not at.error
    m = metrics_of(at)
    assert m["Winner"][0] == "gbm_recent" and m["Champion baseline"][0] == "champion-v1-reeval"
    assert m["Candidates"][0] == "3"
    assert any("Trigger reason" in md.value and "drift" in md.value.lower() for md in at.markdown)
    assert at.query_params["experiment"] == "churn_classifier" and at.query_params["run"]
    assert [t.label for t in at.tabs] == ["Metrics", "Params", "Tags", "Lineage", "Metric history"]


def test_runs_page_deep_link_to_a_child_run(demo_env):
    from services.registry.mlflow_client import make_client
    from services.registry.runs import retraining_runs

    parent = retraining_runs(make_client(demo_env), "churn_classifier").parents[0]
    child = next(c for c in parent.children if c.run_name == "gbm_recent")
    at = app_test("pages/runs.py", {"experiment": "churn_classifier", "run": child.run_id})
    at.run()
    assert_no_exception(at)
    details = next(s for s in at.selectbox if s.label == "Run details")
    assert details.value == child.run_id and at.query_params["run"] == child.run_id
    assert at.multiselect[0].value == ["val_roc_auc"]  # the boosting model's history is charted


def test_runs_page_unknown_selection_is_a_warning(demo_env):
    at = app_test("pages/runs.py", {"experiment": "nope", "run": "abc"})
    at.run()
    assert_no_exception(at)
    texts = [w.value for w in at.warning]
    assert any("experiment 'nope' not found" in t for t in texts)
    assert any("run 'abc'" in t for t in texts)


def test_leaderboard_page_demo_winner_baseline_and_shap(demo_env):
    at = app_test("pages/leaderboard.py", {"experiment": "churn_classifier"})
    at.run()
    assert_no_exception(at)
    assert not at.error
    m = metrics_of(at)
    winner = next(k for k in m if k.startswith("Winner"))
    assert "gbm_recent" in winner and "vs champion [" in m[winner][1]  # delta with its bootstrap interval
    assert any(k.startswith("Champion baseline (v1): champion-v1-reeval") for k in m)
    assert at.query_params["metric"] == "roc_auc" and at.query_params["version"] == "2"
    assert any("Selection rule" in md.value and "roc_auc" in md.value for md in at.markdown)
    button = next(b for b in at.button if b.label == "Compute SHAP comparison")
    button.click().run()
    assert_no_exception(at)
    assert not at.error
    moved = [md.value for md in at.markdown if "moved most" in md.value]
    assert moved and "support_calls" in moved[0]


def test_leaderboard_unknown_metric_falls_back_to_the_selection_metric_and_says_so(demo_env):
    at = app_test("pages/leaderboard.py", {"experiment": "churn_classifier", "metric": "nosuch"})
    at.run()
    assert_no_exception(at)
    assert [w.value for w in at.warning] == ["metric 'nosuch' is not logged by these runs; showing 'roc\\_auc'"]
    assert at.query_params["metric"] == "roc_auc"  # the configured selection metric, not the first logged one
    assert any("Selection rule" in md.value and "roc_auc" in md.value for md in at.markdown)


def test_leaderboard_page_against_a_users_server(server_runs, monkeypatch, tmp_path):
    """A user's own MLflow server with nested runs: the right leaderboard with no code change."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server_runs.tracking_uri)
    monkeypatch.setenv("DRIFTGATE_HOME", str(tmp_path / "home"))
    at = app_test("pages/leaderboard.py", {"experiment": server_runs.experiment, "metric": "roc_auc"})
    at.run()
    assert_no_exception(at)
    best = max(
        (n for n, v in server_runs.values.items() if n != "champion-reeval" and v == v and v is not None),
        key=lambda n: server_runs.values[n],
    )
    m = metrics_of(at)
    assert any(k.startswith(f"Winner: {best}") for k in m)
    assert any(k.startswith("Champion baseline (v1): champion-reeval") for k in m)
    assert at.query_params["run"] == server_runs.parent_id
    # The older retraining run has no champion child: the page says it is not like-for-like.
    at2 = app_test(
        "pages/leaderboard.py",
        {"experiment": server_runs.experiment, "run": server_runs.old_parent_id, "metric": "roc_auc"},
    )
    at2.run()
    assert_no_exception(at2)
    assert any("not like-for-like" in w.value for w in at2.warning)


def test_pages_with_an_unreachable_server(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("DRIFTGATE_HOME", str(tmp_path / "home"))
    for page in ("pages/runs.py", "pages/leaderboard.py"):
        at = app_test(page)
        at.run()
        assert_no_exception(at)
        assert at.error and "cannot be reached" in at.error[0].value


def test_leaderboard_page_of_a_large_board_charts_the_top_30_and_says_how_many_more(
    monkeypatch, tmp_path, empty_mlflow_store
):
    """45 candidates and the champion baseline: the chart draws the 30 best (in rank order) and
    the baseline, the caption counts the other 15, the table lists all 46."""
    import json

    from components.leaderboard_charts import TOP_BARS

    uri = empty_mlflow_store(tmp_path / "mlflow.db")
    values = big_board(uri, tmp_path / "artifacts")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DRIFTGATE_HOME", str(tmp_path / "home"))
    at = app_test("pages/leaderboard.py", {"experiment": "big-board", "metric": "roc_auc"})
    at.run()
    assert_no_exception(at)
    assert not at.error
    ranking = json.loads(at.get("plotly_chart")[0].proto.spec)
    best = sorted((n for n in values if n != "champion-reeval"), key=lambda n: -values[n])
    assert ranking["data"][0]["y"] == [
        *(f"#{i} {n}" for i, n in enumerate(best[:TOP_BARS], 1)),
        "champion-reeval (champion)",
    ]
    assert ranking["data"][0]["x"] == [values[n] for n in (*best[:TOP_BARS], "champion-reeval")]
    assert [c.value for c in at.caption if "more are in the table" in c.value] == [
        f"The chart shows the top {TOP_BARS} runs and the champion baseline; 15 more are in the table below."
    ]
    assert len(at.dataframe[0].value) == 46
