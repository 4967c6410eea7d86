"""Append-only audit store and the cross-process transition guard.

Storage: SQLite ``$DRIFTGATE_HOME/audit.db`` by default, or a SQLAlchemy URL from
``[audit] url`` (a shared database when the app runs as several replicas); PostgreSQL through
``postgresql+psycopg://`` (``postgresql://`` means the same), tested against a real server.

Tables
------
``audit_records``  one row per decision or refused attempt, never updated or deleted: the
                   database enforces it (SQLite: ``RAISE(ABORT)`` triggers; PostgreSQL: a plpgsql
                   trigger refusing UPDATE, DELETE and TRUNCATE). Record shape (``to_json``)::

                       {"id", "at", "user", "action": approve|reject|rollback|request,
                        "outcome": done|refused|failed, "model", "version", "version_before",
                        "version_after", "reason", "comment", "evidence": {...}|null,
                        "identity"}

                   ``identity`` says how ``user`` was established (:data:`IDENTITIES`):
                   authenticated by the MLflow tracking server or Databricks, signed in (OIDC),
                   forwarded by a trusted proxy, a demo persona, or ``self-asserted`` (a CLI
                   ``--user`` / ``DRIFTGATE_USER`` nobody verified); ``null`` for records written
                   before the column existed. Callers set it with :func:`attributed` (the
                   decision functions take ``identity=``, see :func:`with_identity`).

``transitions``    one row per model: ``status`` idle|in_progress, the transaction id, the owner
                   (host:pid), start time and the registry snapshot taken before the transition.
                   Claiming a transition is one conditional ``UPDATE ... WHERE status='idle'`` in
                   a write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the UPDATE's
                   row lock, a concurrent claimer re-checks ``status`` once the winner commits),
                   so exactly one process wins across processes and replicas; MLflow itself has
                   no compare-and-set.
``approval_votes`` approvals counted towards ``approvals_required`` > 1.

A transition left ``in_progress`` by a crashed process (dead pid on this host, or a lease older
than ``[audit] lease_seconds``, default 300) is recovered by the next caller
(:func:`services.promotion.approvals.recover`).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.config import redact_uri
from services.errors import BadInput, Unavailable
from services.registry import tags

ACTIONS = ("approve", "reject", "rollback", "request")
OUTCOMES = ("done", "refused", "failed")
COMMENT_MAX = 5000
#: How the user of a record was established (``identity`` column).
IDENTITIES = ("mlflow", "databricks", "oidc", "proxy", "persona", "self-asserted")

_meta = sa.MetaData()
records = sa.Table(
    "audit_records",
    _meta,
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
    _meta,
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
votes = sa.Table(
    "approval_votes",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("version", sa.String(40), nullable=False),
    sa.Column("user", sa.String(320), nullable=False),
    sa.Column("champion_token", sa.String(40), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)

# Who authored a version, as DriftGate first saw it (and every author seen later): four-eyes
# keeps counting them whatever the registry's tags say afterwards. Append-only like the records.
version_authors = sa.Table(
    "version_authors",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(500), nullable=False),
    sa.Column("version", sa.String(40), nullable=False),
    sa.Column("author", sa.String(320), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)
sa.Index("ix_version_authors", version_authors.c.model, version_authors.c.version)

_APPEND_ONLY = (
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
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION driftgate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only (' || TG_OP || ' refused)', "
    "ERRCODE = 'insufficient_privilege'; END $$"  # no '%': the driver would read it as a placeholder
)
_PG_APPEND_ONLY = {"audit_records": "audit", "version_authors": "authors"}  # table -> trigger prefix


def _pg_triggers(table: str) -> dict[str, str]:
    prefix = _PG_APPEND_ONLY[table]
    return {
        f"{prefix}_no_update_delete": f"CREATE TRIGGER {prefix}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION driftgate_audit_append_only()",
        f"{prefix}_no_truncate": f"CREATE TRIGGER {prefix}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION driftgate_audit_append_only()",
    }


_PG_DDL_LOCK = 0x44726966  # pg_advisory_xact_lock key: replicas starting together create the schema once
# The drivers the URL schemes need, for the one-line "not installed" message.
_DRIVER_HINT = {
    "psycopg": "install psycopg[binary] as pinned in requirements.txt",
    "psycopg2": "use a postgresql+psycopg:// URL (psycopg[binary], pinned in requirements.txt)",
}

UNSEEN: Any = object()
_engines: dict[tuple[str, int], sa.Engine] = {}
_lock = threading.Lock()


def audit_url(settings) -> str:
    return settings.audit_url


def shown_url(settings) -> str:
    """The audit URL as messages may show it: no user name, no password."""
    return redact_uri(audit_url(settings))


def _sqlite_path(url: str) -> Path | None:
    u = sa.engine.make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    return Path(u.database) if u.database and u.database != ":memory:" else None


def exists(settings) -> bool:
    """False when nothing was ever recorded in a SQLite store (reads never create the file)."""
    try:
        path = _sqlite_path(audit_url(settings))
    except sa.exc.ArgumentError:
        return True  # not a URL: engine() says so in one line
    return path is None or path.is_file()


def unavailable(settings, what: str, exc: BaseException) -> Unavailable:
    """One secret-free line for a failing audit store: which store (redacted URL), what failed, why."""
    reason = type(exc).__name__
    orig = getattr(exc, "orig", None)
    if orig is not None:
        first = (str(orig).strip().splitlines() or [""])[0].strip()
        try:
            password = sa.engine.make_url(audit_url(settings)).password
        except sa.exc.ArgumentError:
            password = None
        if password:
            first = first.replace(str(password), "***")
        reason = f"{type(orig).__name__}: {first[:300]}" if first else type(orig).__name__
    return Unavailable(f"audit store {shown_url(settings)} {what} ({reason})")


def _url(settings) -> sa.engine.URL:
    try:
        u = sa.engine.make_url(audit_url(settings))
    except sa.exc.ArgumentError:
        raise BadInput(f"[audit] url is not a database URL: {shown_url(settings)}") from None
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")  # the driver requirements.txt pins
    return u


def _create_engine(settings) -> sa.Engine:
    u = _url(settings)
    path = _sqlite_path(audit_url(settings))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        eng = sa.create_engine(u, connect_args={"timeout": 60, "check_same_thread": False}, poolclass=sa.pool.NullPool)

        @sa.event.listens_for(eng, "connect")
        def _connect(dbapi_conn, _rec):  # pragma: no cover - driver plumbing
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            dbapi_conn.execute("PRAGMA busy_timeout = 60000")

        @sa.event.listens_for(eng, "begin")
        def _begin(conn):  # pragma: no cover - driver plumbing
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock up front

        return eng
    connect_args: dict[str, Any] = {}
    if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
        connect_args["connect_timeout"] = 10  # an unreachable host fails in seconds, not minutes
    eng = sa.create_engine(u, pool_pre_ping=True, pool_size=2, max_overflow=8, connect_args=connect_args)

    @sa.event.listens_for(eng, "handle_error")
    def _lost(ctx):  # pragma: no cover - driver plumbing
        # The server went away or refuses us (down, wrong password, network): whichever audit call
        # hit it, the user gets one line naming the store. A failed pre-ping is left to the pool,
        # which reconnects; other database errors (the append-only trigger...) stay as they are.
        if ctx.is_pre_ping or not isinstance(
            ctx.sqlalchemy_exception, (sa.exc.OperationalError, sa.exc.InterfaceError)
        ):
            return
        raise unavailable(settings, "is unavailable", ctx.sqlalchemy_exception) from None

    return eng


def _add_missing_columns(conn) -> None:
    """Stores created before a column existed get it (nullable; ALTER is no UPDATE, the
    append-only triggers do not apply)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(records.name)}
    quote = conn.dialect.identifier_preparer.quote
    for col in records.columns:
        if col.name not in have and col.nullable and not col.primary_key:
            conn.exec_driver_sql(
                f"ALTER TABLE {quote(records.name)} ADD COLUMN {quote(col.name)} "
                f"{col.type.compile(dialect=conn.dialect)}"
            )


def _create_schema(conn) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_DDL_LOCK})
    _meta.create_all(conn)
    _add_missing_columns(conn)
    if dialect == "sqlite":
        for stmt in _APPEND_ONLY:
            conn.exec_driver_sql(stmt)
    elif dialect == "postgresql":
        missing = []
        for table in _PG_APPEND_ONLY:  # fixed names (module constants), not input
            have = set(
                conn.execute(
                    sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"),
                    {"t": table},
                ).scalars()
            )
            missing += [ddl for name, ddl in _pg_triggers(table).items() if name not in have]
        if missing:
            conn.exec_driver_sql(_PG_FUNCTION)
            for ddl in missing:
                conn.exec_driver_sql(ddl)


def engine(settings) -> sa.Engine:
    """One engine per URL and process; creates the schema (and the append-only triggers) on first use.

    A missing driver, a bad URL or an unreachable database is one line naming the URL without
    its credentials (:class:`Unavailable` / :class:`BadInput`, CLI exit 2).
    """
    url = audit_url(settings)
    key = (url, os.getpid())
    with _lock:
        eng = _engines.get(key)
        if eng is not None:
            return eng
        eng = None
        try:
            eng = _create_engine(settings)
            with eng.begin() as conn:
                _create_schema(conn)
        except ImportError as exc:
            module = (exc.name or "").split(".")[0] or "its driver"
            hint = _DRIVER_HINT.get(module, f"pip install {module}")
            raise Unavailable(
                f"audit store {shown_url(settings)} cannot be opened: the database driver "
                f"{module} is not installed; {hint}"
            ) from None
        except sa.exc.NoSuchModuleError:
            raise BadInput(f"[audit] url names an unknown database kind: {shown_url(settings)}") from None
        except sa.exc.SQLAlchemyError as exc:
            if eng is not None:
                eng.dispose()
            raise unavailable(settings, "cannot be opened", exc) from None
        except Unavailable:
            if eng is not None:
                eng.dispose()
            raise
        _engines[key] = eng
        return eng


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- records -------------------------------------------------------------------------------
def _row_to_json(row) -> dict[str, Any]:
    d = dict(row._mapping)
    d.pop("txn", None)
    ev = d.get("evidence")
    try:
        d["evidence"] = json.loads(ev) if ev else None
    except ValueError:
        d["evidence"] = None
    return d


_identity: ContextVar[str | None] = ContextVar("driftgate_audit_identity", default=None)


@contextmanager
def attributed(identity: str | None):
    """Records appended inside carry ``identity`` (how their user was established)."""
    if identity is not None and identity not in IDENTITIES:
        raise ValueError(f"unknown identity {identity!r}")
    token = _identity.set(identity)
    try:
        yield
    finally:
        _identity.reset(token)


def with_identity(fn):
    """Decorator: the decision function takes ``identity=`` (one of :data:`IDENTITIES`) and every
    record it appends carries it."""

    @functools.wraps(fn)
    def wrapper(*args, identity: str | None = None, **kwargs):
        with attributed(identity):
            return fn(*args, **kwargs)

    return wrapper


def append(settings, record: dict[str, Any], conn=None) -> int:
    """Append one record (spec shape) and return its id. ``conn``: inside a caller's transaction."""
    if record.get("action") not in ACTIONS:
        raise ValueError(f"unknown audit action {record.get('action')!r}")
    if record.get("outcome") not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {record.get('outcome')!r}")
    values = {c.name: record.get(c.name) for c in records.columns if c.name != "id"}
    values["identity"] = record.get("identity") or _identity.get()
    if values.get("comment"):
        values["comment"] = str(values["comment"])[:COMMENT_MAX]
    if record.get("evidence") is not None and not isinstance(record["evidence"], str):
        values["evidence"] = json.dumps(record["evidence"], default=str)
    stmt = records.insert().values(**values)
    if conn is not None:
        return int(conn.execute(stmt).inserted_primary_key[0])
    try:
        with engine(settings).begin() as c:
            return int(c.execute(stmt).inserted_primary_key[0])
    except sa.exc.SQLAlchemyError as exc:
        raise Unavailable(f"audit store write failed ({type(exc).__name__})") from None


def query(
    settings,
    model: str | None = None,
    limit: int | None = None,
    user: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
) -> list[dict[str, Any]]:
    """Records oldest first (the newest ``limit`` when given)."""
    if not exists(settings):
        return []
    stmt = sa.select(records)
    if model:
        stmt = stmt.where(records.c.model == model)
    if user:
        stmt = stmt.where(records.c.user == user)
    if action:
        stmt = stmt.where(records.c.action == action)
    if outcome:
        stmt = stmt.where(records.c.outcome == outcome)
    stmt = stmt.order_by(records.c.id.desc())
    if limit:
        stmt = stmt.limit(int(limit))
    try:
        with engine(settings).connect() as conn:
            rows = conn.execute(stmt).fetchall()
    except sa.exc.SQLAlchemyError as exc:
        raise Unavailable(f"audit store read failed ({type(exc).__name__})") from None
    return [_row_to_json(r) for r in reversed(rows)]


def recent_records(settings, model: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` records (spec shape + ids/versions/evidence), oldest first.

    ``[]`` when no audit store exists yet (never creates one).
    """
    return query(settings, model=model, limit=limit)


def spec_record(rec: dict[str, Any]) -> dict[str, Any]:
    """The keys the spec's ``audit`` JSON lists, plus before/after and ``identity`` (extra keys
    are allowed)."""
    keys = (
        "at",
        "user",
        "action",
        "outcome",
        "model",
        "version",
        "reason",
        "comment",
        "version_before",
        "version_after",
        "identity",
    )
    return {k: rec.get(k) for k in keys}


# -- transition guard ----------------------------------------------------------------------
def _ensure_transition_row(conn, model: str) -> None:
    """The model's ``transitions`` row exists (idle when new). Two first-time claimers on
    PostgreSQL (no write lock up front, unlike SQLite's BEGIN IMMEDIATE) would both insert:
    ``ON CONFLICT DO NOTHING`` lets the second one fall through to the conditional UPDATE."""
    if conn.dialect.name in ("postgresql", "sqlite"):
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(
            insert(transitions).values(model=model, status="idle").on_conflict_do_nothing(index_elements=["model"])
        )
        return
    if conn.execute(sa.select(transitions.c.model).where(transitions.c.model == model)).first() is None:
        conn.execute(transitions.insert().values(model=model, status="idle"))


class LostClaim(Unavailable):
    """This process no longer holds the transition claim it started with (a recoverer took it
    over): it must not write to the registry nor record an outcome for it."""


# Claims this process holds right now (txn ids). A claim whose owner is this process but whose txn
# is not here was left by a call that died (an exception that skipped the release): provably gone.
_live: set[str] = set()
_live_lock = threading.Lock()


def holds(txn: str | None) -> bool:
    with _live_lock:
        return bool(txn) and txn in _live


def forget(txn: str) -> None:
    """The calling code is done with ``txn`` (released, lost or crashed)."""
    with _live_lock:
        _live.discard(txn)


def _hold(txn: str) -> None:
    with _live_lock:
        _live.add(txn)


def claim(settings, model: str, txn: str, action: str, at: str, epoch: float) -> dict[str, Any] | None:
    """Atomically mark ``model`` as in transition for ``txn``.

    Returns ``None`` when this caller won, else the row of the transition in progress.
    ``started_epoch`` is the lease: set here, renewed by :func:`renew` (the heartbeat).
    """
    eng = engine(settings)
    try:
        with eng.begin() as conn:
            _ensure_transition_row(conn, model)
            res = conn.execute(
                transitions.update()
                .where(transitions.c.model == model, transitions.c.status == "idle")
                .values(
                    status="in_progress",
                    txn=txn,
                    owner=owner_id(),
                    action=action,
                    started_at=at,
                    started_epoch=epoch,
                    snapshot=None,
                )
            )
            if res.rowcount == 1:
                _hold(txn)
                return None
            return dict(conn.execute(sa.select(transitions).where(transitions.c.model == model)).first()._mapping)
    except sa.exc.SQLAlchemyError as exc:
        raise Unavailable(f"audit store cannot take the transition lock ({type(exc).__name__})") from None


def _owned(model: str, txn: str):
    return (transitions.c.model == model, transitions.c.txn == txn, transitions.c.status == "in_progress")


def renew(settings, model: str, txn: str, epoch: float | None = None) -> bool:
    """Heartbeat and fencing check in one conditional UPDATE: renew ``txn``'s lease; False when
    ``txn`` no longer holds the model's claim (then nothing may be written for it)."""
    try:
        with engine(settings).begin() as conn:
            res = conn.execute(
                transitions.update()
                .where(*_owned(model, txn))
                .values(started_epoch=time.time() if epoch is None else epoch)
            )
            return res.rowcount == 1
    except sa.exc.SQLAlchemyError as exc:
        raise unavailable(settings, "cannot renew the transition lease", exc) from None


def save_snapshot(settings, model: str, txn: str, snapshot: dict[str, Any]) -> None:
    with engine(settings).begin() as conn:
        res = conn.execute(
            transitions.update()
            .where(*_owned(model, txn))
            .values(snapshot=json.dumps(snapshot), started_epoch=time.time())
        )
        if res.rowcount != 1:
            raise LostClaim(f"the transition of {model} is no longer held by this process (taken over)")


def release(
    settings, model: str, txn: str, state_token: str | None, record: dict[str, Any] | None = None
) -> int | None:
    """End ``txn``'s transition and append its audit record in the same transaction — only while
    ``txn`` still holds the claim (else :class:`LostClaim`, nothing recorded)."""
    try:
        with engine(settings).begin() as conn:
            res = conn.execute(
                transitions.update()
                .where(*_owned(model, txn))
                .values(status="idle", txn=None, owner=None, snapshot=None, state_token=state_token)
            )
            if res.rowcount != 1:
                raise LostClaim(
                    f"the transition of {model} was taken over before it ended; its outcome is not recorded"
                )
            return append(settings, record, conn=conn) if record else None
    finally:
        forget(txn)


def generation(settings, model: str) -> str | None:
    """The model's audit generation: the transaction id of the last transition that ended with
    registry writes (``None`` before the first). A decision reads it before its registry snapshot
    and checks it under the claim: a change means another transition ran in between (stale)."""
    if not exists(settings):
        return None
    try:
        with engine(settings).connect() as conn:
            row = conn.execute(sa.select(transitions.c.state_token).where(transitions.c.model == model)).first()
    except sa.exc.SQLAlchemyError as exc:
        raise unavailable(settings, "read failed", exc) from None
    return row[0] if row is not None else None


def in_progress(settings) -> list[dict[str, Any]]:
    if not exists(settings):
        return []
    with engine(settings).connect() as conn:
        rows = conn.execute(sa.select(transitions).where(transitions.c.status == "in_progress")).fetchall()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["snapshot"] = json.loads(d["snapshot"]) if d.get("snapshot") else None
        out.append(d)
    return out


def take_over(settings, model: str, stale_txn: str, new_txn: str, seen_epoch: float | None = UNSEEN) -> bool:
    """Hand a crashed transition to a recovering caller (exactly one recoverer wins). With
    ``seen_epoch`` (the lease the caller judged expired), a heartbeat since then makes it fail."""
    cond = [*_owned(model, stale_txn)]
    if seen_epoch is not UNSEEN:
        cond.append(
            transitions.c.started_epoch.is_(None) if seen_epoch is None else transitions.c.started_epoch == seen_epoch
        )
    with engine(settings).begin() as conn:
        res = conn.execute(
            transitions.update().where(*cond).values(txn=new_txn, owner=owner_id(), started_epoch=time.time())
        )
        if res.rowcount == 1:
            _hold(new_txn)
            return True
        return False


# -- approval votes (approvals_required > 1) -------------------------------------------------
def add_vote(settings, model: str, version: str, user: str, champion_token: str, at: str) -> list[str]:
    """Record ``user``'s approval; returns the distinct approvers for this version and champion."""
    with engine(settings).begin() as conn:
        conn.execute(
            votes.insert().values(model=model, version=version, user=user, champion_token=champion_token, at=at)
        )
        rows = conn.execute(
            sa.select(votes.c.user)
            .where(votes.c.model == model, votes.c.version == version, votes.c.champion_token == champion_token)
            .order_by(votes.c.id)
        ).fetchall()
    seen: list[str] = []
    for (u,) in rows:
        if u not in seen:
            seen.append(u)
    return seen


# -- version authors (four-eyes) ------------------------------------------------------------------
def remember_authors(settings, model: str, version: str, authors, at: str) -> list[str]:
    """Record ``authors`` of ``model`` version ``version`` (those not recorded yet) and return
    every recorded author, oldest first. Rows are never updated or deleted."""
    from services.promotion.roles import distinct_users, identity_key

    try:
        with engine(settings).begin() as conn:
            known = [
                a
                for (a,) in conn.execute(
                    sa.select(version_authors.c.author)
                    .where(version_authors.c.model == model, version_authors.c.version == str(version))
                    .order_by(version_authors.c.id)
                ).fetchall()
            ]
            for a in distinct_users(authors):
                if identity_key(a) not in {identity_key(k) for k in known}:
                    conn.execute(
                        version_authors.insert().values(model=model, version=str(version), author=str(a), at=at)
                    )
                    known.append(str(a))
    except sa.exc.SQLAlchemyError as exc:
        raise unavailable(settings, "cannot record the version's authors", exc) from None
    return distinct_users(known)


def recorded_authors(settings, model: str, version: str) -> list[str]:
    """The authors recorded for a version (``[]`` when none; never creates a store)."""
    if not exists(settings):
        return []
    from services.promotion.roles import distinct_users

    try:
        with engine(settings).connect() as conn:
            rows = conn.execute(
                sa.select(version_authors.c.author)
                .where(version_authors.c.model == model, version_authors.c.version == str(version))
                .order_by(version_authors.c.id)
            ).fetchall()
    except sa.exc.SQLAlchemyError as exc:
        raise unavailable(settings, "read failed", exc) from None
    return distinct_users(a for (a,) in rows)


# -- export --------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+``, ``-``, ``@``,
    tab, CR) gets a leading ``'``: shown as text, never evaluated (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_export(frame) -> bytes:
    """The audit table (a pandas DataFrame) as CSV bytes with every text cell made inert."""
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = safe[col].astype(object).map(csv_cell)  # any dtype: non-text cells pass through
    safe.columns = [csv_cell(str(c)) for c in safe.columns]
    return safe.to_csv(index=False).encode()


# -- champion history (MLflow keeps none) ---------------------------------------------------------
def champion_history(records: list[dict[str, Any]], versions: list[Any], now: str) -> list[dict[str, Any]]:
    """Which version was champion from when to when: ``[{"version", "start", "end", "via"}]``.

    Built from the ``done`` approve/rollback records (oldest first) and the registry: the first
    champion starts at its ``driftgate.champion_since`` tag or its creation time; the current
    champion's segment ends at ``now``. ``versions``: VersionView-like objects (version, state,
    tags, created_at).
    """
    by_v = {str(v.version): v for v in versions}
    events = sorted(
        (
            r
            for r in records
            if r.get("outcome") == "done"
            and r.get("action") in ("approve", "rollback")
            and r.get("version_after")
            and r.get("version_before") != r.get("version_after")
        ),
        key=lambda r: r.get("at") or "",
    )

    def since(v: str | None) -> str | None:
        view = by_v.get(str(v)) if v else None
        if view is None:
            return None
        return tags.champion_since(view.tags) or registered_at(view)

    segments: list[dict[str, Any]] = []
    if not events:
        champ = next((v for v in versions if v.state == "champion"), None)
        if champ is not None:
            segments.append(
                {"version": champ.version, "start": since(champ.version) or now, "end": now, "via": "registry"}
            )
        return segments
    first = events[0].get("version_before")
    if first:
        # The champion before DriftGate's first decision: since its champion_since tag (the demo's
        # seeded history included) or its registration, never later than that first decision.
        start = since(first)
        if not start or _instant(start) > _instant(events[0]["at"]):
            start = events[0]["at"]
        segments.append({"version": str(first), "start": start, "end": events[0]["at"], "via": "registry"})
    for i, ev in enumerate(events):
        end = events[i + 1]["at"] if i + 1 < len(events) else now
        segments.append({"version": str(ev["version_after"]), "start": ev["at"], "end": end, "via": ev["action"]})
    return segments


def registered_at(view: Any) -> str | None:
    """When a version was registered: the ``driftgate.registered_at`` tag (seeded/imported history,
    whose MLflow creation time is the time of the import) or MLflow's creation time."""
    tags = getattr(view, "tags", None) or {}
    return tags.get("driftgate.registered_at") or getattr(view, "created_at", None)


def _instant(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def latest_id(settings) -> int:
    """Id of the newest audit record (0 when none): a cheap cache key that changes with every
    decision, so cached registry views (e.g. the Overview) refresh right after one."""
    if not exists(settings):
        return 0
    try:
        with engine(settings).connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(records.c.id))).scalar() or 0)
    except sa.exc.SQLAlchemyError as exc:
        raise Unavailable(f"audit store read failed ({type(exc).__name__})") from None
