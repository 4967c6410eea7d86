"""A real PostgreSQL server for the audit-store tests (Debian's ``postgresql`` package).

``initdb`` + ``pg_ctl`` from Debian's versioned bin folder (never whatever ``pg_ctl`` is first on
PATH), run as an unprivileged user when the tests run as root (PostgreSQL refuses root), with a
data folder and a socket folder that user owns, listening on 127.0.0.1 only, on a free port,
password authentication over TCP. Stopped by ``pg_ctl stop`` (then the postmaster PID) and
removed afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.servers import free_port

PG_ROOT = Path("/usr/lib/postgresql")
PREFERRED_MAJOR = "15"
USER = "driftgate"
PASSWORD = "pg-" + uuid.uuid4().hex[:12]  # per session; the tests check it never shows


def bin_dir() -> Path:
    """Debian's PostgreSQL programs (``/usr/lib/postgresql/<major>/bin``), 15 preferred."""
    majors = sorted(
        (p.name for p in PG_ROOT.glob("*") if (p / "bin" / "pg_ctl").is_file()),
        key=lambda m: (m != PREFERRED_MAJOR, -int(m) if m.isdigit() else 0),
    )
    if not majors:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
    return PG_ROOT / majors[0] / "bin"


class PostgresServer:
    def __init__(self) -> None:
        self.bin = bin_dir()
        self.port = free_port()
        # as root the server runs as `nobody`, who must reach the folder: /tmp, whatever TMPDIR says
        self.base = Path(tempfile.mkdtemp(prefix="driftgate-pg-", dir="/tmp" if os.geteuid() == 0 else None))
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.log = self.base / "server.log"
        self.as_user: list[str] = []
        self.pid: int | None = None

    # -- plumbing -----------------------------------------------------------------------------
    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}
        return subprocess.run(
            [*self.as_user, *args], cwd=self.base, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> None:
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr[-2000:]} {log}")

    def start(self) -> PostgresServer:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.sock.mkdir()
        pwfile = self.base / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:  # CI runs as root; PostgreSQL will not
            user = pwd.getpwnam("nobody")
            for p in (self.base, self.sock, pwfile):
                os.chown(p, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self.base.chmod(0o700)
        self._check(
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--pwfile",
                str(pwfile),
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ),
            "initdb",
        )
        pwfile.unlink()
        self.resume()

    def resume(self) -> None:
        """(Re)start the server on the existing data folder, same port."""
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"
        )
        self._check(
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "120",
                "-o",
                opts,
                "start",
            ),
            "pg_ctl start",
        )
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def halt(self) -> None:
        """Stop the server, keeping its data (``resume`` starts it again)."""
        self._check(
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"),
            "pg_ctl stop",
        )

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                if self.pid is None:  # started, but failed before we read its PID
                    self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
                proc = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
                if proc.returncode != 0:
                    self._kill()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def _kill(self) -> None:
        pid = self.pid
        assert pid is not None  # stop() read it from postmaster.pid
        try:
            os.kill(pid, signal.SIGQUIT)  # the postmaster's immediate shutdown
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    # -- databases ------------------------------------------------------------------------------
    def url(self, database: str = "postgres", password: str | None = PASSWORD, port: int | None = None) -> str:
        auth = f"{USER}:{password}" if password is not None else USER
        return f"postgresql+psycopg://{auth}@127.0.0.1:{port or self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=PASSWORD,
            dbname=database,
            connect_timeout=10,
            **kwargs,
        )

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with self.connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a generated identifier, not user input
        return self.url(name)
