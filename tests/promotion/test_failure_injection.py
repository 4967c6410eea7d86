"""Failure injection: a registry call fails at step k of a transition (k = 1, 2, ...) ->
the registry is unchanged (compensated) or fully transitioned, and the audit says ``failed``.
Also: the undo itself failing (recovery pending) and a crash mid-transition (recovered)."""

from __future__ import annotations

import pytest

from services.promotion import audit
from services.promotion.approvals import TransitionFailed, approve, recover, rollback
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.demo import MODEL, settings_with
from tests.support.registry import RegistryWriteHook, registry_view


class FlakyClient(RegistryWriteHook):
    """A real MlflowClient whose registry writes fail: write number ``fail_at`` (1-based) raises,
    and with ``fail_after`` every write from then on raises too (the undo fails as well)."""

    def __init__(self, client, fail_at: int, fail_after: bool = False, exc: type[BaseException] = RuntimeError):
        super().__init__(client)
        self.fail_at, self.fail_after, self.exc = fail_at, fail_after, exc

    def before_write(self, n: int, name: str) -> None:
        if n == self.fail_at or (self.fail_after and n > self.fail_at):
            raise self.exc(f"injected failure at write {n} ({name})")


def _champions(settings, client) -> int:
    return make_lifecycle(settings, client, MODEL).champion_count()


@pytest.mark.parametrize("action", ["approve", "rollback"])
def test_failure_at_each_step(workspace, action):
    settings, client = workspace
    if action == "rollback":
        approve(settings, MODEL, "2", "alice", client=client)
    before = registry_view(settings, client)
    from services.promotion.gate import evaluate

    gate = evaluate(settings, client, MODEL, "2") if action == "approve" else None  # evaluated once: faster
    k = 0
    while True:
        k += 1
        flaky = FlakyClient(client, fail_at=k)
        try:
            if action == "approve":
                approve(settings, MODEL, "2", "alice", comment="ship it", client=flaky, gate=gate)
            else:
                rollback(settings, MODEL, "alice", "go back", client=flaky)
        except TransitionFailed as exc:
            assert f"at step {k}" in str(exc) and "registry restored" in str(exc)
            assert registry_view(settings, client) == before, f"registry changed after a failure at step {k}"
            assert _champions(settings, client) == 1
            last = audit.query(settings, model=MODEL)[-1]
            assert (last["action"], last["outcome"]) == (action, "failed")
            continue
        # no failure injected any more: the transition went through completely
        assert flaky.writes < k
        break
    assert k > 4, "the plan should have several steps"
    after = make_lifecycle(settings, client, MODEL).state()
    assert after.champion == ("2" if action == "approve" else "1")
    assert _champions(settings, client) == 1
    failed = [r for r in audit.query(settings, model=MODEL) if r["outcome"] == "failed"]
    assert len(failed) == k - 1
    print(f"{settings.lifecycle} {action}: {k - 1} injected failures, all compensated")


def test_undo_fails_then_recovery(aliases_ws):
    settings, client = aliases_ws
    before = registry_view(settings, client)
    with pytest.raises(TransitionFailed, match="recovery pending"):
        approve(settings, MODEL, "2", "alice", client=FlakyClient(client, fail_at=2, fail_after=True))
    assert registry_view(settings, client) != before  # half done: step 1 moved the previous alias
    assert [r["model"] for r in audit.in_progress(settings)] == [MODEL]
    # the failed call no longer holds its claim (provably gone): the next caller recovers at once
    recovered = recover(settings, client, MODEL)
    assert len(recovered) == 1 and "recovered" in recovered[0]["reason"]
    assert registry_view(settings, client) == before
    assert audit.in_progress(settings) == []
    assert approve(settings, MODEL, "2", "alice", client=client)["outcome"] == "done"


def test_crash_mid_transition_is_recovered_by_next_caller(demo_copy):
    settings = settings_with(demo_copy.home)
    client = make_client(settings)
    before = registry_view(settings, client)
    # A BaseException models a crash (process killed): no compensation runs.
    with pytest.raises(KeyboardInterrupt):
        approve(settings, MODEL, "2", "alice", client=FlakyClient(client, fail_at=3, exc=KeyboardInterrupt))
    assert registry_view(settings, client) != before
    assert audit.in_progress(settings)
    # the next decision first recovers the interrupted transition (its holder is gone), then runs
    rec = approve(settings, MODEL, "2", "alice", client=client)
    assert rec["outcome"] == "done"
    story = [(r["action"], r["outcome"]) for r in audit.query(settings, model=MODEL)]
    assert story == [("approve", "failed"), ("approve", "done")]
    assert "interrupted" in audit.query(settings, model=MODEL)[0]["reason"]
    assert _champions(settings, client) == 1
