"""The audit store on a real PostgreSQL server (``[audit] url = "postgresql+psycopg://…"``).

One server per test session (tests/support/postgres.py: Debian's initdb + pg_ctl, an
unprivileged user, 127.0.0.1 on a free port), a fresh database per test, and a small MLflow
workspace (tests/support/minidemo.py) copied per test: the approval flow through the CLI, two
processes racing 20 times, a process killed mid-transition, the append-only trigger, a
least-privilege application role, and one-line errors that never show the password.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from services.cli import main as cli
from services.config import load_settings
from services.errors import Refused, Unavailable
from services.promotion import audit
from services.promotion.approvals import approve
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.promotion.test_race import _race, _worker
from tests.support import minidemo
from tests.support.app import app_test, assert_no_exception
from tests.support.cli import run_cli as cli_process
from tests.support.demo import MODEL, copy_workspace, forget_artifact_repos
from tests.support.postgres import PASSWORD, PostgresServer
from tests.support.registry import registry_view
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mini_home(tmp_path_factory, empty_mlflow_store) -> Path:
    """A small MLflow workspace (v1 champion by alice; v2 passes, v3 fails, both by bob), built once."""
    home = tmp_path_factory.mktemp("pg-mini") / "home"
    minidemo.build(home, tracking_uri=empty_mlflow_store(home / "mlflow.db"))
    return home


def write_config(path: Path, home: Path, audit_url: str) -> Path:
    path.write_text(
        f'[mlflow]\ntracking_uri = "sqlite:///{(home / "mlflow.db").as_posix()}"\nlifecycle = "aliases"\n'
        '[roles]\napprovers = ["alice", "bob", "dave"]\nviewers = ["carol"]\n'
        "[gate]\nguard_metrics = {brier = 0.01}\n"
        f'[audit]\nurl = "{audit_url}"\n'
    )
    return path


@pytest.fixture
def pg_ws(postgres, mini_home, tmp_path, monkeypatch):
    """(settings, client, database name): a private workspace copy whose audit store is a fresh
    PostgreSQL database."""
    home = copy_workspace(mini_home, tmp_path / "home")
    monkeypatch.setenv("DRIFTGATE_HOME", str(home))
    forget_artifact_repos()
    url = postgres.create_database()
    cfg = write_config(home / "pg.toml", home, url)
    settings = load_settings(env={"DRIFTGATE_HOME": str(home)}, config_file=cfg)
    yield settings, make_client(settings), url.rsplit("/", 1)[1]
    forget_artifact_repos()


def rows(postgres, db: str, sql: str, params=None) -> list[tuple]:
    with postgres.connect(db) as con:
        return con.execute(sql, params).fetchall()


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_approval_flow_on_postgres(pg_ws, postgres, capsys):
    settings, client, db = pg_ws
    cfg = str(settings.config_path)
    base = ("--model", MODEL, "--config", cfg)
    code, _, err = run_cli(capsys, "approve", *base, "--version", "2", "--user", "bob")
    assert code == 3 and "four-eyes" in err
    code, _, err = run_cli(capsys, "approve", *base, "--version", "3", "--user", "alice")
    assert code == 3 and "gate failed" in err
    code, out, err = run_cli(
        capsys,
        "approve",
        *base,
        "--version",
        "2",
        "--user",
        "alice",
        "--comment",
        "better on the recent window",
        "--format",
        "json",
    )
    assert (code, err) == (0, "") and json.loads(out)["version_after"] == "2"
    code, out, err = run_cli(
        capsys,
        "reject",
        *base,
        "--version",
        "3",
        "--user",
        "bob",
        "--comment",
        "<b>worse</b> than v1",
        "--format",
        "json",
    )
    assert (code, err) == (0, "") and json.loads(out)["outcome"] == "done"
    code, out, err = run_cli(
        capsys, "rollback", *base, "--user", "alice", "--comment", "regression", "--format", "json"
    )
    assert (code, err) == (0, "") and json.loads(out)["version_after"] == "1"
    assert make_lifecycle(settings, client, MODEL).state().champion == "1"

    code, out, err = run_cli(capsys, "audit", *base, "--format", "json")
    recs = json.loads(out)["records"]
    story = [
        ("bob", "approve", "refused", "2"),
        ("alice", "approve", "refused", "3"),
        ("alice", "approve", "done", "2"),
        ("bob", "reject", "done", "3"),
        ("alice", "rollback", "done", "1"),
    ]
    assert code == 0 and [(r["user"], r["action"], r["outcome"], r["version"]) for r in recs] == story
    assert recs[3]["comment"] == "<b>worse</b> than v1"
    assert (recs[2]["version_before"], recs[2]["version_after"]) == ("1", "2")
    # the records live in PostgreSQL (not in a SQLite file in the workspace), in the same order
    assert rows(postgres, db, 'SELECT "user", action, outcome, version FROM audit_records ORDER BY id') == story
    assert rows(postgres, db, "SELECT model, status, txn FROM transitions") == [(MODEL, "idle", None)]
    assert not (settings.home / "audit.db").exists()


def test_two_processes_race_on_postgres(pg_ws, postgres):
    """Two worker processes approve the same candidate at the same instant, 20 times: exactly one
    transition each round (the loser is refused with stale state) — the guard is PostgreSQL's."""
    settings, _, db = pg_ws
    workers = [_worker(settings.home) for _ in range(2)]
    try:
        _race(settings.home, workers, "aliases", settings=settings, rounds=20)
    finally:
        for p in workers:
            assert p.stdin is not None  # stdin=PIPE
            p.stdin.close()
            p.wait(timeout=30)
    counts = dict(
        rows(postgres, db, "SELECT outcome, count(*) FROM audit_records WHERE action = 'approve' GROUP BY outcome")
    )
    assert counts == {"done": 20, "refused": 20}
    assert rows(postgres, db, "SELECT count(*) FROM audit_records WHERE action = 'rollback' AND outcome = 'done'") == [
        (20,)
    ]


def test_killed_mid_transition_is_recovered(pg_ws):
    """A process is SIGKILLed after the first registry write of an approval: while it lives its claim
    holds; once it is dead the next decision restores the registry, records the interruption and
    runs."""
    settings, client, _ = pg_ws
    before = registry_view(settings, client)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.kill_worker",
            str(settings.home),
            str(settings.config_path),
            "approve",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None  # stdout=PIPE
        assert proc.stdout.readline().strip() == "stuck"
        claimed = audit.in_progress(settings)
        assert [r["model"] for r in claimed] == [MODEL] and str(proc.pid) in claimed[0]["owner"]
        assert claimed[0]["snapshot"] is not None
        with pytest.raises(Refused, match="in progress"):  # the owner is alive: its claim holds
            approve(settings, MODEL, "2", "dave", client=client)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert registry_view(settings, client) != before  # half done
    rec = approve(settings, MODEL, "2", "alice", client=client)
    assert rec["outcome"] == "done" and rec["version_after"] == "2"
    story = [(r["user"], r["action"], r["outcome"]) for r in audit.query(settings, model=MODEL)]
    assert story == [("dave", "approve", "refused"), ("driftgate", "approve", "failed"), ("alice", "approve", "done")]
    assert "interrupted" in audit.query(settings, model=MODEL)[1]["reason"]
    lc = make_lifecycle(settings, client, MODEL)
    assert lc.state().champion == "2" and lc.champion_count() == 1
    assert audit.in_progress(settings) == []


def _all_text(at) -> str:
    parts = [
        e.value
        for kind in ("error", "warning", "info", "success", "markdown", "caption", "text")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts) + "".join(str(df.value.to_dict()) for df in at.dataframe)


def test_promotions_page_on_postgres(pg_ws, postgres, monkeypatch):
    """The app with a PostgreSQL audit store: alice approves through the dialog, the record lands
    in PostgreSQL and the page's audit log shows it; with the server unreachable the page says so
    in one error naming the store without its password."""
    settings, client, db = pg_ws
    monkeypatch.setenv("DRIFTGATE_CONFIG", str(settings.config_path))
    monkeypatch.setenv("DRIFTGATE_USER", "alice")
    at = app_test("pages/promotions.py", {"model": MODEL, "version": "2"})
    at.run()
    assert_no_exception(at)
    at.button(key="dg_approve").click().run()
    at.text_area(key="dg_approve_comment").input("fine on the shared store")
    at.button(key="dg_approve_confirm").click().run()
    assert_no_exception(at)
    assert any("version 2 promoted" in s.value for s in at.success)
    assert make_lifecycle(settings, client, MODEL).state().champion == "2"
    assert rows(postgres, db, 'SELECT "user", action, outcome, comment FROM audit_records') == [
        ("alice", "approve", "done", "fine on the shared store")
    ]
    assert any("version 2 promoted" in str(df.value.to_dict()) for df in at.dataframe)

    closed = write_config(settings.home / "closed.toml", settings.home, postgres.url(db, port=free_port()))
    monkeypatch.setenv("DRIFTGATE_CONFIG", str(closed))
    at = app_test("pages/promotions.py", {"model": MODEL, "version": "2"})
    at.run()
    assert_no_exception(at)
    # st.error gets markdown-escaped text (components/text.md): compare what a reader sees.
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error if "audit store" in e.value]
    assert len(errors) == 1 and errors[0].startswith("audit store postgresql+psycopg://***@127.0.0.1:"), errors
    assert "Connection refused" in errors[0] and PASSWORD not in _all_text(at)


def _record(i: int) -> dict:
    return {
        "at": f"2026-01-01T00:00:{i:02d}Z",
        "user": "alice",
        "action": "approve",
        "outcome": "refused",
        "model": MODEL,
        "version": str(i),
        "reason": "r",
        "evidence": {"i": i},
    }


def test_append_only_enforced_by_postgres(pg_ws, postgres):
    settings, _, db = pg_ws
    for i in range(3):
        audit.append(settings, _record(i))
    assert audit.remember_authors(settings, MODEL, "2", ["bob"], "2026-01-01T00:00:00Z") == ["bob"]
    with postgres.connect(db) as con:  # any client, not only DriftGate, is refused
        for stmt, params in (
            ('UPDATE audit_records SET "user" = %s', ("mallory",)),
            ("DELETE FROM audit_records", None),
            ("TRUNCATE audit_records", None),
            ("UPDATE version_authors SET author = %s", ("mallory",)),
            ("DELETE FROM version_authors", None),
            ("TRUNCATE version_authors", None),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="is append-only"):
                con.execute(stmt, params)
            con.rollback()
        assert con.execute("SELECT author FROM version_authors").fetchall() == [("bob",)]
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), audit.engine(settings).begin() as conn:
        conn.execute(audit.records.delete().where(audit.records.c.version == "1"))
    assert [(r["user"], r["version"], r["evidence"]) for r in audit.query(settings)] == [
        ("alice", str(i), {"i": i}) for i in range(3)
    ]
    # a second start (another replica) finds the triggers and adds none
    with audit.engine(settings).begin() as conn:
        audit.store_for(settings).create_schema(conn)
    assert rows(postgres, db, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname") == [
        ("audit_no_truncate",),
        ("audit_no_update_delete",),
        ("authors_no_truncate",),
        ("authors_no_update_delete",),
    ]


_OPEN_AT = """
import sys, time
from services.promotion import audit
from services.config import load_settings
settings = load_settings(env={"DRIFTGATE_HOME": sys.argv[3]}, config_file=sys.argv[1])
while time.time() < float(sys.argv[2]):
    time.sleep(0.001)
audit.engine(settings)
print("opened")
"""


def test_replicas_starting_together_create_the_schema_once(postgres, tmp_path):
    """Four processes open the same fresh store at the same instant (replicas starting): all
    succeed (concurrent CREATE TABLE would collide; the advisory lock serialises it), one set of
    tables and triggers."""
    url = postgres.create_database()
    cfg = write_config(tmp_path / "c.toml", tmp_path, url)
    start_at = time.time() + 5  # after the imports of all four
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, str(cfg), str(start_at), str(tmp_path / "home")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append((p.returncode, out.strip(), err.strip()[-300:]))
    assert results == [(0, "opened", "")] * 4, results
    db = url.rsplit("/", 1)[1]
    assert rows(postgres, db, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal") == [(4,)]
    assert rows(postgres, db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [
        (len(audit.metadata.tables),)
    ]


def test_least_privilege_role(pg_ws, postgres, tmp_path, monkeypatch):
    """As README says: the schema's owner creates it, the app runs as a role that may only read and
    insert records (its password from PGPASSWORD, not the config file); it works, and it cannot
    remove the trigger either."""
    settings, _, db = pg_ws
    audit.append(settings, _record(0))  # the owner creates the schema
    with postgres.connect(db, autocommit=True) as con:
        con.execute("CREATE ROLE dg_app LOGIN PASSWORD 'app-pw-7'")
        for grant in (
            "GRANT SELECT, INSERT ON audit_records, approval_votes, version_authors TO dg_app",
            "GRANT SELECT, INSERT, UPDATE ON transitions TO dg_app",
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO dg_app",
        ):
            con.execute(grant)
    cfg = write_config(
        tmp_path / "app.toml", settings.home, postgres.url(db).replace(f"driftgate:{PASSWORD}@", "dg_app@")
    )
    monkeypatch.setenv("PGPASSWORD", "app-pw-7")  # libpq reads it
    app = load_settings(env={"DRIFTGATE_HOME": str(settings.home)}, config_file=cfg)
    assert audit.append(app, _record(1)) == 2
    assert audit.store_for(app).claim(MODEL, "t1", "approve", "now", 0.0) is None
    held = audit.store_for(app).claim(MODEL, "t2", "approve", "now", 0.0)
    assert held is not None and held["txn"] == "t1"
    with audit.engine(app).connect() as conn:
        for stmt in (
            "DROP TRIGGER audit_no_update_delete ON audit_records",
            "ALTER TABLE audit_records DISABLE TRIGGER ALL",
        ):
            with pytest.raises(sa.exc.ProgrammingError, match="must be owner"):
                conn.exec_driver_sql(stmt)
            conn.rollback()
    assert [r["version"] for r in audit.query(app)] == ["0", "1"]


def _one_line(code: int, out: str, err: str, *secrets: str) -> str:
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("error: audit store postgresql+psycopg://***@127.0.0.1:") and err.count("\n") == 1, err
    assert "Traceback" not in err and all(s not in err for s in secrets), err
    return err


def test_unreachable_store_is_one_line_without_password(pg_ws, postgres, capsys):
    settings, client, db = pg_ws
    before = registry_view(settings, client)
    closed = free_port()  # nothing listens there
    cfg = write_config(settings.home / "closed.toml", settings.home, postgres.url(db, port=closed))
    err = _one_line(*run_cli(capsys, "audit", "--config", str(cfg), "--format", "json"), PASSWORD, "driftgate:")
    assert f":{closed}/{db} " in err and "Connection refused" in err
    err = _one_line(
        *run_cli(capsys, "approve", "--model", MODEL, "--version", "2", "--user", "alice", "--config", str(cfg)),
        PASSWORD,
    )
    assert "Connection refused" in err
    assert registry_view(settings, client) == before  # nothing changed
    cfg = write_config(settings.home / "badpw.toml", settings.home, postgres.url(db, password="wrong-pw-41"))
    err = _one_line(*run_cli(capsys, "audit", "--config", str(cfg), "--format", "json"), PASSWORD, "wrong-pw-41")
    assert "password authentication failed" in err


def test_server_lost_after_start_is_one_line_then_reconnects(tmp_path, capsys):
    """The server stops while the app runs (engine and pooled connections already there): every
    audit call is one line naming the store, the CLI exits 2; once it is back, the pool reconnects."""
    server = PostgresServer().start()  # a private one: this test stops it
    try:
        url = server.create_database()
        cfg = write_config(tmp_path / "c.toml", tmp_path, url)
        settings = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=cfg)
        audit.append(settings, _record(0))
        assert audit.store_for(settings).claim(MODEL, "t1", "approve", "now", 0.0) is None
        server.halt()
        shown = f"audit store postgresql+psycopg://***@127.0.0.1:{server.port}/{url.rsplit('/', 1)[1]} is unavailable"
        for call in (
            lambda: audit.query(settings),
            lambda: audit.in_progress(settings),
            lambda: audit.store_for(settings).release(MODEL, "t1", "1", _record(1)),
            lambda: audit.append(settings, _record(2)),
            lambda: audit.latest_id(settings),
        ):
            with pytest.raises(Unavailable) as info:
                call()
            assert str(info.value).startswith(shown) and PASSWORD not in str(info.value), str(info.value)
        code, out, err = run_cli(capsys, "audit", "--config", str(cfg), "--format", "json")
        assert _one_line(code, out, err, PASSWORD).startswith(f"error: {shown}")
        server.resume()
        assert [r["version"] for r in audit.query(settings)] == ["0"]  # nothing half-written
        assert [r["txn"] for r in audit.in_progress(settings)] == ["t1"]
        audit.store_for(settings).release(MODEL, "t1", "1", _record(1))
        assert [r["version"] for r in audit.query(settings)] == ["0", "1"] and audit.in_progress(settings) == []
    finally:
        server.stop()


def test_missing_driver_is_one_line_without_password(postgres, tmp_path):
    """A real process without psycopg (hidden from the import system) names the URL, not the
    password, and says what to install: exit 2, no traceback."""
    cfg = write_config(tmp_path / "c.toml", tmp_path, postgres.url("anything"))
    code = "import sys; sys.modules['psycopg'] = None; from services.cli import main; raise SystemExit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", code, "audit", "--config", str(cfg), "--format", "json"],
        cwd=ROOT,
        env={**os.environ, "DRIFTGATE_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = _one_line(proc.returncode, proc.stdout, proc.stderr, PASSWORD)
    assert "driver psycopg is not installed" in err and "requirements.txt" in err
    # a URL naming a driver that is really absent here (psycopg2) says to use psycopg
    cfg = write_config(tmp_path / "c2.toml", tmp_path, postgres.url("anything").replace("+psycopg", "+psycopg2"))
    proc = cli_process(["audit", "--config", str(cfg)], env={**os.environ, "DRIFTGATE_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and PASSWORD not in proc.stderr
    assert proc.stderr.startswith("error: audit store postgresql+psycopg2://***@127.0.0.1:")
    assert "driver psycopg2 is not installed" in proc.stderr and "postgresql+psycopg://" in proc.stderr
