"""Shared fixtures: a seeded demo workspace, private copies of it, a real ``mlflow server``,
``streamlit run`` servers and a Playwright-driven Debian chromium."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from services.config import load_settings
from tests.helpers import free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DRIFTGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Variables that would point the app somewhere else than the workspace under test.
_FOREIGN_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DRIFTGATE_CONFIG", "DRIFTGATE_USER", "SPARK_REMOTE")


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    """No test sees the developer's MLflow server, config or workspace."""
    saved = {k: os.environ.pop(k) for k in _FOREIGN_ENV if k in os.environ}
    saved_home = os.environ.get("DRIFTGATE_HOME")
    os.environ["DRIFTGATE_HOME"] = str(tmp_path_factory.mktemp("unused-home"))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    yield
    os.environ.update(saved)
    if saved_home is None:
        os.environ.pop("DRIFTGATE_HOME", None)
    else:
        os.environ["DRIFTGATE_HOME"] = saved_home


def _reset_mlflow_uris() -> None:
    """Back to the session baseline: no MLFLOW_*_URI in the environment, no global URIs."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(key, None)
    tracking_utils._tracking_uri = None
    registry_utils._registry_uri = None


@pytest.fixture(autouse=True)
def _restore_mlflow_uris():
    """``mlflow.set_tracking_uri`` exports MLFLOW_TRACKING_URI (also when a fixture "restores" the
    previous URI), which would turn the app into "configured server" mode. Every test starts and
    ends at the baseline; tests that want a server say so with monkeypatch.setenv."""
    _reset_mlflow_uris()
    yield
    _reset_mlflow_uris()


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A demo workspace seeded once per test session (read-only for tests)."""
    from services.demo import seed as demo

    home = tmp_path_factory.mktemp("demo") / "home"
    settings = load_settings(env={"DRIFTGATE_HOME": str(home)})
    demo.ensure_demo(settings)
    return home


@pytest.fixture(scope="session")
def demo_settings(demo_home):
    """Settings of the shared seeded demo workspace; DRIFTGATE_HOME points at it."""
    os.environ["DRIFTGATE_HOME"] = str(demo_home)
    return load_settings(env={"DRIFTGATE_HOME": str(demo_home)})


def copy_workspace(src: Path, dst: Path) -> Path:
    """Copy a demo workspace and re-point the absolute paths the MLflow store holds."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
    old, new = src.resolve().as_posix(), dst.resolve().as_posix()
    con = sqlite3.connect(dst / "mlflow.db")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cols = [
                r[1]
                for r in con.execute(f'PRAGMA table_info("{table}")')
                if (r[2] or "").upper().startswith(("VARCHAR", "TEXT"))
            ]
            for col in cols:
                con.execute(
                    f'UPDATE "{table}" SET "{col}" = replace("{col}", ?, ?) WHERE "{col}" LIKE ?',
                    (old, new, f"%{old}%"),
                )
        con.commit()
    finally:
        con.close()
    return dst


@pytest.fixture
def demo_copy(demo_home, tmp_path, monkeypatch):
    """A private, mutable copy of the seeded demo workspace; DRIFTGATE_HOME points at it."""
    home = copy_workspace(demo_home, tmp_path / "home")
    monkeypatch.setenv("DRIFTGATE_HOME", str(home))
    _forget_artifact_repos()  # the copy has the same run ids as the shared workspace
    yield load_settings(env={"DRIFTGATE_HOME": str(home)})
    _forget_artifact_repos()


def _forget_artifact_repos() -> None:
    """MLflow caches artifact repositories per run id for the whole process; a copied workspace
    shares run ids with the original, so without this its artifact writes land in the original."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    cache = getattr(tracking_utils, "_artifact_repos_cache", None)
    if cache is not None:
        cache.clear()


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _stop(proc: subprocess.Popen, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1 with its own SQLite store; yields its URI."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [
            _bin("mlflow"),
            "server",
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
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", timeout=120, proc=proc)
        yield uri
    finally:
        _stop(proc, log)


@pytest.fixture
def streamlit_server(tmp_path):
    """Factory: start ``streamlit run app.py`` on a free port; returns the base URL.

    ``streamlit_server(env={"DRIFTGATE_HOME": ...})``; every call starts a fresh server, so the
    first request it serves is a true first request after a start (a shared deep link).
    ``cwd``: run from that folder instead of the repo (Streamlit reads ``.streamlit/secrets.toml``
    from its working directory; the repo's ``.streamlit/config.toml`` is copied there);
    ``port``: a port chosen beforehand (e.g. for an OIDC redirect URI).
    """
    procs = []

    def start(env: dict | None = None, timeout: float = 90, cwd: Path | None = None, port: int | None = None) -> str:
        port = port or free_port()
        full_env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        full_env.update(env or {})
        if cwd is not None:
            (Path(cwd) / ".streamlit").mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / ".streamlit" / "config.toml", Path(cwd) / ".streamlit" / "config.toml")
        log = open(tmp_path / f"streamlit-{port}.log", "wb")
        proc = subprocess.Popen(
            [
                _bin("streamlit"),
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
        procs.append((proc, log))
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=timeout, proc=proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc, log in procs:
        _stop(proc, log)


@pytest.fixture(scope="session")
def _browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Debian chromium not found at {CHROMIUM}: browser tests cannot be skipped in CI")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(_browser):
    context = _browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()
