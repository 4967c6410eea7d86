"""Dates and durations shown are the real times of the events: retraining runs (MLflow start/end
as they happened), champion periods (registry/audit history, the demo's seeded history included),
registration dates of seeded versions; nothing in the demo lies in the future."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from services.config import load_settings
from services.demo import seed as demo
from services.promotion.audit import champion_history
from services.registry.lifecycle import VersionView, make_lifecycle
from services.registry.mlflow_client import make_client
from services.retraining.retrain import retrain

UTC = dt.UTC
FAST = '[retrain]\ncandidates = ["gbm", "logreg"]\ntrain_days = 3\neval_days = 2\n'


def test_retrain_runs_carry_their_real_start_and_end(demo_copy, tmp_path):
    cfg = tmp_path / "fast.toml"
    cfg.write_text(FAST)
    settings = load_settings(env={"DRIFTGATE_HOME": str(demo_copy.home)}, config_file=cfg)
    t0 = int(time.time() * 1000)
    doc = retrain(settings, demo.MODEL_NAME, user="dave")
    t1 = int(time.time() * 1000)
    client = make_client(settings)
    parent = client.get_run(doc["parent_run"]["run_id"]).info
    assert t0 <= parent.start_time <= parent.end_time <= t1
    assert parent.end_time - parent.start_time <= t1 - t0
    assert doc["parent_run"]["run_name"] == f"retrain-{dt.datetime.fromtimestamp(t0 / 1000, UTC).date()}"
    children = client.search_runs([parent.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.run_id}'")
    assert len(children) == 3  # champion re-evaluation + gbm + logreg
    for child in children:
        info = child.info
        assert parent.start_time <= info.start_time <= info.end_time <= parent.end_time, child.data.tags[
            "mlflow.runName"
        ]
    # the children ran one after another: their durations add up to at most the parent's
    total = sum(c.info.end_time - c.info.start_time for c in children)
    assert total <= parent.end_time - parent.start_time


def test_seeded_demo_has_no_future_and_true_registration_dates(demo_settings):
    client = make_client(demo_settings)
    now_ms = int(time.time() * 1000)
    manifest = demo.read_manifest(demo_settings.home)
    exp = client.get_experiment_by_name(demo.MODEL_NAME)
    assert manifest is not None and exp is not None
    start = dt.date.fromisoformat(manifest["start_date"])
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    assert runs and all(r.info.start_time <= now_ms and (r.info.end_time or 0) <= now_ms for r in runs)
    views = {v.version: v for v in make_lifecycle(demo_settings, client, demo.MODEL_NAME).versions()}
    # the candidates come from the retraining run of day RETRAIN_DAY, not from the seeding's clock
    for v in ("2", "3"):
        registered = dt.datetime.fromisoformat(views[v].tags["driftgate.registered_at"])
        assert registered.date() == start + dt.timedelta(days=demo.RETRAIN_DAY)
    assert dt.datetime.fromisoformat(views["1"].tags["driftgate.registered_at"]).date() == start + dt.timedelta(
        days=demo.CHAMPION_TRAINED_DAY
    )
    # ...and in the order things happened: a retraining run's children inside it, a version
    # registered after its source run started (browser QA: children began after their parent ended,
    # versions were registered two hours before their runs)
    by_id = {r.info.run_id: r for r in runs}
    for r in runs:
        parent = by_id.get(r.data.tags.get("mlflow.parentRunId", ""))
        if parent is not None:
            assert parent.info.start_time <= r.info.start_time <= r.info.end_time <= parent.info.end_time, (
                r.info.run_name
            )
    for v in ("1", "2", "3"):
        registered_ms = dt.datetime.fromisoformat(views[v].tags["driftgate.registered_at"]).timestamp() * 1000
        assert views[v].run_id is not None
        assert registered_ms >= by_id[views[v].run_id].info.start_time, v
    # the Leaderboard's versions table shows the same registration dates as Promotions (not the seeding's clock)
    from services.registry.model_versions import versions_comparison

    shown = {r.version: r.created for r in versions_comparison(client, demo.MODEL_NAME).versions}
    for v in ("1", "2", "3"):
        assert shown[v] == dt.datetime.fromisoformat(views[v].tags["driftgate.registered_at"]), v


def _view(v, state, created, since=None):
    tags = {"driftgate.champion_since": since} if since else {}
    return VersionView("m", v, "None", (), state, None, None, tags, created_at=created)


def test_champion_history_keeps_the_first_champions_start():
    # v1 champion since 2026-10-02 (seeded); registered by the seeding "today"; approved v2 later.
    versions = [
        _view("1", "previous", "2026-12-01T10:00:00Z", since="2026-10-02T00:00:00+00:00"),
        _view("2", "champion", "2026-12-01T10:00:01Z"),
    ]
    recs = [
        {
            "at": "2026-12-01T11:00:00Z",
            "action": "approve",
            "outcome": "done",
            "version_before": "1",
            "version_after": "2",
        }
    ]
    segs = champion_history(recs, versions, "2026-12-01T12:00:00Z")
    assert segs[0] == {
        "version": "1",
        "start": "2026-10-02T00:00:00+00:00",
        "end": "2026-12-01T11:00:00Z",
        "via": "registry",
    }
    assert segs[1]["start"] == "2026-12-01T11:00:00Z" and segs[1]["version"] == "2"


def test_champion_history_after_a_rollback_keeps_the_first_period():
    """A rollback to v1 rewrites v1's champion_since: the period before the first decision must still
    start at v1's registration, not shrink to a sliver at the first decision."""
    versions = [
        _view("1", "champion", "2026-10-03T11:00:00Z", since="2026-12-01T11:30:00Z"),  # rolled back to
        _view("2", "archived", "2026-11-14T11:00:00Z"),
    ]
    recs = [
        {"at": "2026-12-01T11:00:00Z", "action": "approve", "outcome": "done", "version_before": "1"},
        {"at": "2026-12-01T11:30:00Z", "action": "rollback", "outcome": "done", "version_before": "2"},
    ]
    recs[0]["version_after"], recs[1]["version_after"] = "2", "1"
    segs = champion_history(recs, versions, "2026-12-01T12:00:00Z")
    assert [(s["version"], s["start"], s["end"], s["via"]) for s in segs] == [
        ("1", "2026-10-03T11:00:00Z", "2026-12-01T11:00:00Z", "registry"),
        ("2", "2026-12-01T11:00:00Z", "2026-12-01T11:30:00Z", "approve"),
        ("1", "2026-12-01T11:30:00Z", "2026-12-01T12:00:00Z", "rollback"),
    ]


def test_champion_history_figure_zooms_to_recent_decisions_and_keeps_its_legend_off_the_bars():
    from components.promotion_history import champion_timeline

    fig = champion_timeline(
        [
            {"version": "1", "start": "2026-10-03T11:00:00Z", "end": "2026-12-01T11:00:00Z", "via": "registry"},
            {"version": "2", "start": "2026-12-01T11:00:00Z", "end": "2026-12-01T12:00:00Z", "via": "approve"},
        ]
    )
    labels = [b.label for b in fig.layout.xaxis.rangeselector.buttons]
    assert labels == ["last day", "last week", "all"]
    legend = fig.layout.legend  # above the plot on the right; the zoom buttons are on the left
    assert (legend.yanchor, legend.y, legend.xanchor, legend.x) == ("bottom", 1.0, "right", 1.0)
    first = fig.data[0]
    assert first.x[0] == pytest.approx((59 * 24) * 3600 * 1000)  # Oct 3 11:00 → Dec 1 11:00, in ms


def test_overview_champion_since_follows_the_audit_history(demo_copy):
    from services.overview import model_overview
    from services.promotion.approvals import approve, rollback
    from tests.support.demo import settings_with

    client = make_client(demo_copy)
    first = model_overview(client, demo_copy, demo.MODEL_NAME).champion
    manifest = demo.read_manifest(demo_copy.home)
    assert first is not None and first.since is not None and manifest is not None
    assert first.since.startswith(
        (dt.date.fromisoformat(manifest["start_date"]) + dt.timedelta(days=demo.CHAMPION_TRAINED_DAY)).isoformat()
    )
    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    before = dt.datetime.now(UTC).date().isoformat()
    approve(s, demo.MODEL_NAME, "2", "dave")
    after = dt.datetime.now(UTC).date().isoformat()  # the approval may straddle midnight UTC
    promoted = model_overview(client, s, demo.MODEL_NAME).champion
    assert promoted is not None and promoted.since is not None
    assert promoted.version == "2" and promoted.since[:10] in {before, after}
    rollback(s, demo.MODEL_NAME, "dave", "back to v1")
    back = model_overview(client, s, demo.MODEL_NAME).champion
    assert back is not None and back.since is not None and back.restored is not None
    # A rollback resumes v1's period: "champion since" stays its first start (not "today"), and
    # the rollback's time is shown beside it.
    assert back.version == "1" and back.since == first.since and back.restored > promoted.since
    assert first.restored is None and promoted.restored is None


def test_overview_shows_the_rollback_beside_the_champions_start(demo_copy, monkeypatch):
    """After a rollback to v1 the Overview's "Champion since" is still when v1 became champion (a
    rollback resumes its period — issue 12 lists "champion since today" as a false date), and the
    moment of the rollback (the audit record) is shown beside it."""
    from services.promotion import audit
    from services.promotion.approvals import approve, rollback
    from tests.support.app import app_test, assert_no_exception
    from tests.support.demo import settings_with

    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    seeded_start = make_client(s).get_model_version(demo.MODEL_NAME, "1").tags["driftgate.champion_since"]
    approve(s, demo.MODEL_NAME, "2", "dave")
    rollback(s, demo.MODEL_NAME, "dave", "back to v1")
    done = [r for r in audit.query(s, model=demo.MODEL_NAME, limit=50) if r["action"] == "rollback"]
    at_rollback = dt.datetime.fromisoformat(done[0]["at"].replace("Z", "+00:00")).astimezone(UTC)

    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    monkeypatch.setenv("DRIFTGATE_CONFIG", str(s.config_path))
    at = app_test("app.py", {"model": demo.MODEL_NAME}).run()
    assert_no_exception(at)
    champion = next(m for m in at.metric if m.label == "Champion")
    since = next(m for m in at.metric if m.label == "Champion since")
    assert champion.value == "v1"
    assert since.value == seeded_start[:10] != f"{at_rollback:%Y-%m-%d}"
    assert since.delta == f"restored {at_rollback:%Y-%m-%d %H:%M} UTC"
    assert f"A rollback on {at_rollback:%Y-%m-%d %H:%M} UTC made it champion again" in since.help


def test_one_registration_time_rule_for_views_and_mlflow_versions():
    from types import SimpleNamespace

    from services.registry.model_versions import _registered
    from services.registry.views import registered_at

    seeded = {"driftgate.registered_at": "2026-10-03T11:00:00+00:00"}
    view = _view("1", "champion", "2026-12-01T10:00:00Z")
    assert registered_at(view) == "2026-12-01T10:00:00Z"  # no tag: MLflow's time
    mv = SimpleNamespace(tags=seeded, creation_timestamp=1_764_583_200_000)
    assert registered_at(mv) == "2026-10-03T11:00:00+00:00"
    assert _registered(mv) == dt.datetime(2026, 10, 3, 11, tzinfo=UTC)
    edited = SimpleNamespace(tags={"driftgate.registered_at": "last tuesday"}, creation_timestamp=1_764_583_200_000)
    assert registered_at(edited) == "2025-12-01T10:00:00Z"  # a hand-edited tag is ignored
