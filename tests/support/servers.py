"""Real server processes on 127.0.0.1 for the tests: ``mlflow server`` (plain or basic-auth),
``streamlit run app.py``, an OpenID Connect provider and a header-adding reverse proxy; ports, health polling and shutdown."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tests.support.app import ROOT

# Variables that would point the app somewhere else than the workspace under test, or change what
# it does there: a Databricks job's or app's runtime (DATABRICKS_RUNTIME_VERSION lets
# ``trigger --set-task-values`` run; DATABRICKS_APP_NAME trusts forwarded identity headers), the
# CLI's tracebacks (DRIFTGATE_DEBUG) and the code version retraining runs record.
FOREIGN_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "DRIFTGATE_CONFIG",
    "DRIFTGATE_USER",
    "SPARK_REMOTE",
    "DATABRICKS_RUNTIME_VERSION",
    "DATABRICKS_APP_NAME",
    "DRIFTGATE_DEBUG",
    "DRIFTGATE_CODE_VERSION",
)


def run_tmp(tmp_path_factory: Any) -> Path:
    """A temporary folder of the whole test run, common to its xdist workers (their base folders
    have a common parent), for what is built once per run and then only read."""
    root: Path = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # not the worker_id fixture: runs without xdist too
    return root.parent if worker else root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60, proc=None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s ({last})")


def bin_path(name: str) -> str:
    """The console script ``name`` of this interpreter's environment (else whatever PATH finds)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def stop(proc: subprocess.Popen, log: IO[bytes] | None = None) -> None:
    """Terminate ``proc`` (kill it after 20 s) and close its log file if one is given."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    if log is not None:
        log.close()


@contextmanager
def serving(proc: subprocess.Popen, url: str, health: str, timeout: float) -> Iterator[str]:
    """Wait until ``proc`` answers ``url + health``, yield ``url``, stop ``proc`` on exit (also
    when it never answered)."""
    try:
        wait_http(f"{url}{health}", timeout=timeout, proc=proc)
        yield url
    finally:
        stop(proc)


@contextmanager
def mlflow_server(root: Path, app_name: str | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real ``mlflow server`` (``--app-name app_name`` if given) with its SQLite store and
    artifacts under ``root``; yields its URI and stops it on exit."""
    port = free_port()
    app = ["--app-name", app_name] if app_name else []
    # MLflow 3's server also starts a job runner: seven huey consumer processes (GenAI jobs,
    # periodic tasks), each importing MLflow, ~45 s of CPU per server at start. DriftGate runs no
    # server-side jobs; the tracking and registry REST API is the same without them.
    env = {**(os.environ if env is None else env), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(root / "server.log", "wb") as log:  # the server writes to its own copy of the descriptor
        proc = subprocess.Popen(
            [
                bin_path("mlflow"),
                "server",
                *app,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                f"sqlite:///{(root / 'mlflow.db').as_posix()}",
                "--default-artifact-root",
                (root / "artifacts").as_uri(),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
        )
    with serving(proc, f"http://127.0.0.1:{port}", "/health", timeout=120) as uri:
        yield uri


def start_streamlit(
    log_dir: Path, env: dict | None = None, cwd: Path | None = None, port: int | None = None
) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run app.py`` (not waiting for it); returns (process, base URL).

    ``env`` is added to this environment minus ``FOREIGN_ENV``; ``cwd``: run from that folder
    instead of the repo (Streamlit reads ``.streamlit/secrets.toml`` from its working directory;
    the repo's ``.streamlit/config.toml`` is copied there).
    """
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    full_env.update(env or {})
    if cwd is not None:
        (Path(cwd) / ".streamlit").mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / ".streamlit" / "config.toml", Path(cwd) / ".streamlit" / "config.toml")
    with open(log_dir / f"streamlit-{port}.log", "wb") as log:  # the server writes to its own copy
        proc = subprocess.Popen(
            [
                bin_path("streamlit"),
                "run",
                str(ROOT / "app.py"),
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=cwd or ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}"


@contextmanager
def oidc_provider(root: Path) -> Iterator[str]:
    """``oidc-provider-mock`` on a free loopback port (any client id/secret is accepted; the
    login form signs in whatever subject is typed, with that subject as its e-mail claim)."""
    port = free_port()
    env = dict(os.environ, AUTHLIB_INSECURE_TRANSPORT="1")  # plain http on loopback
    with open(root / "oidc.log", "wb") as log:  # the provider writes to its own copy of the descriptor
        proc = subprocess.Popen(
            [bin_path("oidc-provider-mock"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
        )
    with serving(proc, f"http://127.0.0.1:{port}", "/.well-known/openid-configuration", timeout=60) as url:
        yield url


@contextmanager
def header_proxy(root: Path, upstream: str, headers: dict[str, str]) -> Iterator[str]:
    """A reverse proxy (:mod:`tests.support.proxy`) on a free loopback port in front of
    ``upstream`` that adds ``headers`` to every request, the WebSocket upgrade included."""
    port = free_port()
    args = [sys.executable, "-m", "tests.support.proxy", "--port", str(port), "--upstream", upstream]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    with open(root / f"proxy-{port}.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    with serving(proc, f"http://127.0.0.1:{port}", "/_stcore/health", timeout=60) as url:
        yield url
