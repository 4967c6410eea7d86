"""The audit store's tables and the DDL that makes two of them append-only in the database.

``audit_records``  one row per decision or refused attempt, never updated or deleted (SQLite:
                   ``RAISE(ABORT)`` triggers; PostgreSQL: a plpgsql trigger refusing UPDATE,
                   DELETE and TRUNCATE).
``transitions``    one row per model: ``status`` idle|in_progress, the transaction id, the owner
                   (host:pid), the lease, the registry snapshot taken before the transition and
                   ``state_token``, the audit generation (the last transition that wrote).
``approval_votes`` approvals counted towards ``approvals_required`` > 1.
``version_authors`` who authored a version as DriftGate first saw it (append-only).
"""

from __future__ import annotations

import sqlalchemy as sa

ACTIONS = ("approve", "reject", "rollback", "request")
OUTCOMES = ("done", "refused", "failed")
COMMENT_MAX = 5000
#: How the user of a record was established (``identity`` column).
IDENTITIES = ("mlflow", "databricks", "oidc", "proxy", "persona", "self-asserted")

metadata = sa.MetaData()
records = sa.Table(
    "audit_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("user", sa.String(320)),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("version", sa.String(40)),
    sa.Column("version_before", sa.String(40)),
    sa.Column("version_after", sa.String(40)),
    sa.Column("reason", sa.Text),
    sa.Column("comment", sa.Text),
    sa.Column("evidence", sa.Text),
    sa.Column("txn", sa.String(64)),
    sa.Column("identity", sa.String(40)),
)
sa.Index("ix_audit_model", records.c.model, records.c.id)
transitions = sa.Table(
    "transitions",
    metadata,
    sa.Column("model", sa.String(500), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("txn", sa.String(64)),
    sa.Column("owner", sa.String(300)),
    sa.Column("action", sa.String(20)),
    sa.Column("started_at", sa.String(40)),
    sa.Column("started_epoch", sa.Float),
    sa.Column("snapshot", sa.Text),
    sa.Column("state_token", sa.String(40)),
)


def _per_version(name: str, *columns: sa.Column[str]) -> sa.Table:
    """An append-only row about one model version: id, model, version, ``columns``, at."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        *columns,
        sa.Column("at", sa.String(40), nullable=False),
    )


votes = _per_version(
    "approval_votes",
    sa.Column("user", sa.String(320), nullable=False),
    sa.Column("champion_token", sa.String(40), nullable=False),
)

# Who authored a version, as DriftGate first saw it (and every author seen later): four-eyes
# keeps counting them whatever the registry's tags say afterwards. Append-only like the records.
version_authors = _per_version("version_authors", sa.Column("author", sa.String(320), nullable=False))
sa.Index("ix_version_authors", version_authors.c.model, version_authors.c.version)

SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_records "
    "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_records "
    "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS authors_no_update BEFORE UPDATE ON version_authors "
    "BEGIN SELECT RAISE(ABORT, 'version authors are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS authors_no_delete BEFORE DELETE ON version_authors "
    "BEGIN SELECT RAISE(ABORT, 'version authors are append-only'); END",
)
# PostgreSQL: one plpgsql function; per append-only table a row trigger for UPDATE/DELETE and a
# statement trigger for TRUNCATE. Created only when missing (so a role that does not own the
# tables can run the app).
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION driftgate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only (' || TG_OP || ' refused)', "
    "ERRCODE = 'insufficient_privilege'; END $$"  # no '%': the driver would read it as a placeholder
)
PG_APPEND_ONLY = {"audit_records": "audit", "version_authors": "authors"}  # table -> trigger prefix


def pg_triggers(table: str) -> dict[str, str]:
    prefix = PG_APPEND_ONLY[table]
    return {
        f"{prefix}_no_update_delete": f"CREATE TRIGGER {prefix}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION driftgate_audit_append_only()",
        f"{prefix}_no_truncate": f"CREATE TRIGGER {prefix}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION driftgate_audit_append_only()",
    }


PG_DDL_LOCK = 0x44726966  # pg_advisory_xact_lock key: replicas starting together create the schema once
