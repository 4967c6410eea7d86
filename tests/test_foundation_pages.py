"""AppTest of the shell on every page, and of the Overview's content."""

from __future__ import annotations

import gc

import pytest

from tests.support.app import PAGE_TITLES, app_test, assert_no_exception
from tests.support.servers import free_port


@pytest.fixture(autouse=True)
def _demo_env(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))


@pytest.mark.parametrize("page", list(PAGE_TITLES))
def test_every_page_renders_with_the_shell(page):
    at = app_test(page, query_params={"model": "churn_classifier"}).run()
    assert_no_exception(at)
    assert [t.value for t in at.title][:1] == [PAGE_TITLES[page]]
    assert at.sidebar.selectbox(key="dg_model").value == "churn_classifier"
    assert at.sidebar.selectbox(key="dg_persona").options  # demo mode offers personas


def test_a_page_freezes_its_imports_out_of_the_collector_once():
    # Without the freeze a rerun's allocations set off full collections over the imported heap
    # (a fragment's widget change took 0.50 s instead of 0.18 s: bench/page_speed.py).
    from components import shell

    shell._FROZEN.discard("Drift")
    before = gc.get_freeze_count()
    assert_no_exception(app_test("pages/drift.py", query_params={"model": "churn_classifier"}).run())
    frozen = gc.get_freeze_count()
    assert frozen > before and "Drift" in shell._FROZEN
    assert_no_exception(app_test("pages/drift.py", query_params={"model": "churn_classifier"}).run())
    # once per page and process (what is frozen stays bounded); frozen objects can still be freed
    assert gc.get_freeze_count() <= frozen


def test_overview_reads_the_registry(demo_settings):
    at = app_test("app.py").run()
    assert_no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Champion"] == "v1"
    assert metrics["Candidates awaiting a decision"] == "2"
    text = (" ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info)).replace("\\", "")
    assert "Trigger: drift" in text and "4 child runs" in text
    # markdown source: user/MLflow text in it is escaped (components.text.md)
    verdict = [e.value.replace("\\", "") for e in at.warning if e.value.startswith("Dataset drift")]
    assert len(verdict) == 1 and "50% of 6 features drifted" in verdict[0]
    assert "monthly_charges, contract, payment_method" in verdict[0]
    candidates = at.dataframe[0].value
    assert list(candidates["version"]) == ["2", "3"] and set(candidates["author"]) == {"bob"}
    # The Drift page shows the same verdict in the same colour and icon (it was yellow there, red here).
    drift = app_test("pages/drift.py", {"model": "churn_classifier"}).run()
    assert_no_exception(drift)
    shown = [w for w in drift.warning if w.value.startswith("Dataset drift: 3 of 6")]
    overview_icon = next(w.icon for w in at.warning if w.value.startswith("Dataset drift"))
    assert shown and shown[0].icon == overview_icon == ":material/warning:" and not drift.error


def test_unreachable_server_is_one_line_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("DRIFTGATE_HOME", str(tmp_path / "never-seeded"))
    at = app_test("app.py").run()
    assert_no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "cannot be reached" in errors[0] and "\n" not in errors[0]
    assert not (tmp_path / "never-seeded" / "mlflow.db").exists()  # a configured server: no demo


def test_persona_switch_changes_user(demo_settings):
    at = app_test("app.py").run()
    at.sidebar.selectbox(key="dg_persona").set_value("carol").run()
    assert_no_exception(at)
    assert at.session_state["dg_persona"] == "carol"
