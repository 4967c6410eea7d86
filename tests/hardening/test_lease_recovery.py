"""Issue 13 #3 (a lease can split a transition) and #4 (crash recovery needs two attempts).

Crashes are modelled two ways: a BaseException at registry write k (no compensation runs, as when
the process dies) and a real SIGKILL of a process hanging before write k."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from services.promotion import audit
from services.promotion.approvals import (
    Fence,
    TransitionFailed,
    approve,
    claim_is_stale,
    interrupted_notice,
    recover,
    rollback,
)
from services.promotion.gate import evaluate
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.app import ROOT
from tests.support.demo import MODEL, settings_with
from tests.support.registry import RegistryWriteHook, registry_view


class Crash(BaseException):
    """A process death at a registry write: nothing after it runs but ``finally`` blocks."""


class CrashAt(RegistryWriteHook):
    def __init__(self, client, k: int):
        super().__init__(client)
        self.k = k

    def before_write(self, n: int, name: str) -> None:
        if n == self.k:
            raise Crash(f"killed at write {self.k} ({name})")


def _decide(settings, action, client, gate=None):
    if action == "approve":
        return approve(settings, MODEL, "2", "alice", comment="ship", client=client, gate=gate)
    return rollback(settings, MODEL, "alice", "go back", client=client)


@pytest.mark.parametrize("lifecycle", ["aliases", "stages"])
@pytest.mark.parametrize("action", ["approve", "rollback"])
def test_first_try_recovery_at_every_write_index(demo_copy, lifecycle, action):
    settings = settings_with(demo_copy.home, lifecycle=lifecycle)
    client = make_client(settings)
    if action == "rollback":
        approve(settings, MODEL, "2", "alice", client=client)
    gate = evaluate(settings, client, MODEL, "2") if action == "approve" else None
    before = registry_view(settings, client)
    k = 0
    while True:
        k += 1
        crashing = CrashAt(client, k)
        try:
            _decide(settings, action, crashing, gate)
        except Crash:
            assert audit.in_progress(settings), f"crash at write {k} left no claim"
            recovered = recover(settings, client, MODEL)  # ONE attempt
            assert len(recovered) == 1, f"write {k}: not recovered on the first try"
            assert registry_view(settings, client) == before, f"write {k}: registry not restored"
            assert audit.in_progress(settings) == []
            notice = interrupted_notice(settings, MODEL)
            assert notice and notice["text"].startswith("a transition was interrupted and rolled back at")
            continue
        assert crashing.writes < k  # no crash injected any more: the decision went through
        break
    assert k > 4
    want = "2" if action == "approve" else "1"
    lc = make_lifecycle(settings, client, MODEL)
    assert lc.state().champion == want and lc.champion_count() == 1
    assert interrupted_notice(settings, MODEL) is None  # the newest transition was a clean one
    outcomes = [r["outcome"] for r in audit.query(settings, model=MODEL, action=action)]
    assert outcomes.count("done") == (1 if action == "approve" else 1) and outcomes.count("failed") == k - 1


@pytest.mark.parametrize("action, k", [("approve", 2), ("approve", 3), ("rollback", 2)])
def test_sigkill_mid_transition_is_recovered_by_the_next_decision_first_time(demo_copy, action, k):
    settings = settings_with(demo_copy.home, lifecycle="stages")
    client = make_client(settings)
    if action == "rollback":
        approve(settings, MODEL, "2", "alice", client=client)
    before = registry_view(settings, client)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.kill_worker",
            str(settings.home),
            str(settings.config_path),
            action,
            str(k),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None  # stdout=PIPE
        assert proc.stdout.readline().strip() == "stuck"
        # alive and heart-beating: its claim is not stale, whatever the lease
        row = audit.in_progress(settings)[0]
        assert str(proc.pid) in row["owner"] and not claim_is_stale(settings, row)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert registry_view(settings, client) != before or k == 1
    rec = _decide(settings, action, client)  # the next decision: recovers once, then runs
    assert rec["outcome"] == "done"
    story = [(r["user"], r["outcome"]) for r in audit.query(settings, model=MODEL, action=action)]
    assert story[-2:] == [("driftgate", "failed"), ("alice", "done")]
    lc = make_lifecycle(settings, client, MODEL)
    assert lc.champion_count() == 1 and lc.state().champion == ("2" if action == "approve" else "1")


def test_a_fresh_lease_of_a_live_owner_is_never_taken_over(demo_copy):
    settings = settings_with(demo_copy.home, "[audit]\nlease_seconds = 30\n")
    assert audit.store_for(settings).claim(MODEL, "t-live", "approve", "now", time.time()) is None
    row = audit.in_progress(settings)[0]
    assert not claim_is_stale(settings, row)  # this process holds t-live
    assert recover(settings, make_client(settings), MODEL) == []
    assert [r["txn"] for r in audit.in_progress(settings)] == ["t-live"]
    # a lease unrenewed for longer than a whole lease is stale even for a live owner
    assert claim_is_stale(settings, row, now=row["started_epoch"] + 31)
    # the take-over is conditional on the lease seen: a heartbeat in between wins
    seen = row["started_epoch"]
    assert audit.store_for(settings).renew(MODEL, "t-live", seen + 1)
    assert not audit.store_for(settings).take_over(MODEL, "t-live", "t-new", seen)
    audit.store_for(settings).release(MODEL, "t-live", "")


def test_heartbeat_renews_the_lease_while_the_owner_works(demo_copy):
    settings = settings_with(demo_copy.home, "[audit]\nlease_seconds = 10\n")
    assert audit.store_for(settings).claim(MODEL, "t-beat", "approve", "now", 1000.0) is None
    fence = Fence(settings, audit.store_for(settings), MODEL, "t-beat")
    fence.interval = 0.05
    with fence:
        deadline = time.monotonic() + 20
        while audit.in_progress(settings)[0]["started_epoch"] == 1000.0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert audit.in_progress(settings)[0]["started_epoch"] > 1000.0
    assert audit.store_for(settings).release(MODEL, "t-beat", "") is None


def test_release_and_writes_after_a_take_over_are_refused(demo_copy):
    settings = settings_with(demo_copy.home)
    assert audit.store_for(settings).claim(MODEL, "t-old", "approve", "now", time.time()) is None
    assert audit.store_for(settings).take_over(MODEL, "t-old", "t-new")
    n = len(audit.query(settings))
    with pytest.raises(audit.LostClaim):
        audit.store_for(settings).release(
            MODEL,
            "t-old",
            "2",
            {"at": "x", "user": "alice", "action": "approve", "outcome": "done", "model": MODEL},
        )
    assert len(audit.query(settings)) == n  # no "done" record for a transition it no longer owns
    assert not audit.store_for(settings).renew(MODEL, "t-old")
    assert [r["txn"] for r in audit.in_progress(settings)] == ["t-new"]
    audit.store_for(settings).release(MODEL, "t-new", "")


def test_owner_whose_claim_is_taken_over_mid_plan_stops_writing(demo_copy, monkeypatch):
    """The split of issue 13 #3: a recoverer takes the claim over while the owner is stalled
    between two writes. The owner's next write is refused by the fence; one champion, no 'done'."""
    import services.promotion.approvals as approvals

    settings = settings_with(demo_copy.home)
    client = make_client(settings)
    before = registry_view(settings, client)
    paused, resume = threading.Event(), threading.Event()
    owner_thread: list[threading.Thread] = []
    real_check = approvals.Fence.check
    checks = {"n": 0}

    def stalling_check(self, what="a registry write"):
        if threading.current_thread() in owner_thread:
            checks["n"] += 1
            if checks["n"] == 3:  # stalled before its 3rd write (GC pause, SIGSTOP, slow host)
                paused.set()
                resume.wait(60)
        return real_check(self, what)

    monkeypatch.setattr(approvals.Fence, "check", stalling_check)
    out: dict[str, Any] = {}

    def owner():
        try:
            out["rec"] = approve(settings, MODEL, "2", "alice", client=client)
        except TransitionFailed as exc:
            out["err"] = str(exc)

    t = threading.Thread(target=owner)
    owner_thread.append(t)
    t.start()
    assert paused.wait(120)
    assert len(recover(settings, client, MODEL, force=True)) == 1  # an operator's forced take-over
    resume.set()
    t.join(120)
    assert "claim" in out.get("err", "") and "rec" not in out
    assert registry_view(settings, client) == before
    assert make_lifecycle(settings, client, MODEL).champion_count() == 1
    assert [r for r in audit.query(settings, model=MODEL) if r["outcome"] == "done"] == []
    assert audit.in_progress(settings) == []
