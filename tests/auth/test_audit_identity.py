"""The audit store's ``identity`` column: added to a store created before it existed, filled by
``attributed`` / ``with_identity``, unknown values refused."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from services.config import load_settings
from services.promotion import audit

OLD_SCHEMA = """CREATE TABLE audit_records (id INTEGER PRIMARY KEY AUTOINCREMENT, at VARCHAR(40) NOT NULL,
"user" VARCHAR(320), action VARCHAR(20) NOT NULL, outcome VARCHAR(20) NOT NULL, model VARCHAR(500) NOT NULL,
version VARCHAR(40), version_before VARCHAR(40), version_after VARCHAR(40), reason TEXT, comment TEXT,
evidence TEXT, txn VARCHAR(64))"""


def _rec(user: str) -> dict:
    return {"at": "2026-01-01T00:00:00Z", "user": user, "action": "request", "outcome": "done", "model": "m"}


def test_an_old_store_gains_the_column_and_keeps_its_records(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    con = sqlite3.connect(home / "audit.db")
    con.execute(OLD_SCHEMA)
    con.execute(
        "INSERT INTO audit_records (at, user, action, outcome, model) VALUES ('2025-01-01T00:00:00Z', 'old', 'request', 'done', 'm')"
    )
    con.commit()
    con.close()
    settings = load_settings(env={"DRIFTGATE_HOME": str(home)})
    with audit.attributed("oidc"):
        audit.append(settings, _rec("alice@example.com"))
    audit.append(settings, _rec("bob"))
    rows = [(r["user"], r["identity"]) for r in audit.query(settings)]
    assert rows == [("old", None), ("alice@example.com", "oidc"), ("bob", None)]
    with pytest.raises(Exception, match="append-only"), audit.engine(settings).begin() as conn:  # still append-only
        conn.exec_driver_sql("UPDATE audit_records SET identity = 'mlflow'")


def test_with_identity_attributes_every_record_of_a_call(tmp_path):
    settings = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")})

    @audit.with_identity
    def decide(user):
        audit.append(settings, _rec(user))
        audit.append(settings, _rec(user))

    decide("carol", identity="self-asserted")
    decide("dave")
    assert [(r["user"], r["identity"]) for r in audit.query(settings)] == [
        ("carol", "self-asserted"),
        ("carol", "self-asserted"),
        ("dave", None),
        ("dave", None),
    ]
    with pytest.raises(ValueError, match="unknown identity"):
        decide("eve", identity="trust-me")


@pytest.mark.postgres
def test_an_old_postgresql_store_gains_the_column(tmp_path):
    """The same upgrade on a real PostgreSQL (tests/support/postgres.py): an ``audit_records``
    table from before the column existed; first use adds the column (and the append-only trigger)."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    try:
        url = server.create_database()
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.exec_driver_sql(OLD_SCHEMA.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY"))
            conn.exec_driver_sql(
                'INSERT INTO audit_records (at, "user", action, outcome, model) '
                "VALUES ('2025-01-01T00:00:00Z', 'old', 'request', 'done', 'm')"
            )
        eng.dispose()
        cfg = tmp_path / "pg.toml"
        cfg.write_text(f'[audit]\nurl = "{url}"\n')
        settings = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=cfg)
        with audit.attributed("mlflow"):
            audit.append(settings, _rec("alice"))
        assert [(r["user"], r["identity"]) for r in audit.query(settings)] == [("old", None), ("alice", "mlflow")]
        with pytest.raises(Exception, match="append-only"), audit.engine(settings).begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_records")
    finally:
        audit.dispose_stores("postgresql")
        server.stop()
