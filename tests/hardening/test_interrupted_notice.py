"""Issue 13 #4: after a crash was rolled back, the Overview and Promotions say so."""

from __future__ import annotations

import pytest

from services.promotion.approvals import approve, recover
from services.registry.mlflow_client import make_client
from tests.hardening.test_lease_recovery import Crash, CrashAt
from tests.support.app import app_test, assert_no_exception
from tests.support.demo import MODEL


@pytest.mark.parametrize("page", ["app.py", "pages/promotions.py"])
def test_pages_say_a_transition_was_interrupted_and_rolled_back(demo_copy, page):
    client = make_client(demo_copy)
    with pytest.raises(Crash):
        approve(demo_copy, MODEL, "2", "alice", client=CrashAt(client, 2))
    rec = recover(demo_copy, client, MODEL)[0]
    at = app_test(page, query_params={"model": MODEL}).run()
    assert_no_exception(at)
    warnings = [w.value for w in at.warning]
    assert f"a transition was interrupted and rolled back at {rec['at']}" in warnings, warnings
