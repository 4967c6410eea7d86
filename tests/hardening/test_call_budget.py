"""Issues 12 and 15: an approval reads the registry once per operation — at most 10 MLflow calls in
total, reads and writes, issued by DriftGate (counted on the real client against the real store)."""

from __future__ import annotations

import collections

from services.promotion.approvals import REGISTRY_WRITES, approve
from services.promotion.gate import evaluate
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.demo import MODEL, settings_with


class Counting:
    """The real MlflowClient; counts the calls DriftGate makes (not MLflow's nested ones)."""

    def __init__(self, client):
        self._client = client
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args, **kwargs):
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return call

    @property
    def reads(self) -> int:
        return sum(n for name, n in self.calls.items() if name not in REGISTRY_WRITES)

    @property
    def writes(self) -> int:
        return sum(n for name, n in self.calls.items() if name in REGISTRY_WRITES)


def test_an_approval_makes_at_most_10_mlflow_calls(demo_copy):
    settings = settings_with(demo_copy.home)
    client = make_client(settings)
    gate = evaluate(settings, client, MODEL, "2")  # the page shows the gate and passes its result
    counting = Counting(client)
    rec = approve(settings, MODEL, "2", "alice", comment="ok", client=counting, gate=gate)
    assert rec["outcome"] == "done" and make_lifecycle(settings, client, MODEL).state().champion == "2"
    print("approval MLflow calls:", dict(counting.calls))
    assert counting.reads + counting.writes <= 10, dict(counting.calls)
    assert counting.calls["get_registered_model"] == 1 and counting.calls["search_model_versions"] == 1
    assert counting.writes > 0, dict(counting.calls)
