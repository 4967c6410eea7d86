"""Shared fixtures: a seeded demo workspace, private copies of it, a real ``mlflow server``,
``streamlit run`` servers and a Playwright-driven Debian chromium (helpers: tests/support)."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from services.config import load_settings
from tests.support import servers
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.demo import copy_workspace, forget_artifact_repos
from tests.support.runs import empty_store

# The slow layers, marked from the fixtures a test uses (its whole fixture closure); `make
# test-fast` deselects them. A module that builds AppTests (imports ``app_test``) is ``apptest``.
LAYER_FIXTURES = {
    "e2e": {"_browser", "browser_page"},
    "server": {"mlflow_server", "streamlit_server", "demo_server", "oidc_provider", "basic_auth_server"},
    "spark": {"spark_session", "scoring_log", "connect_server"},
    "postgres": {"postgres"},
    "demo": {"demo_home"},
}


# What a test of each layer roughly costs, relative to a unit test (for the order below).
LAYER_WEIGHT = {"spark": 30, "e2e": 10, "server": 8, "postgres": 5, "demo": 2, "apptest": 2}


def _group(item: pytest.Item) -> str:
    """The xdist group (``--dist loadgroup``): a test module runs on one worker, as with
    ``--dist loadfile``, except that every Spark test runs on the same worker (one JVM, not one
    per worker: a session takes ~30 s to start)."""
    return "spark" if item.get_closest_marker("spark") else item.nodeid.split("::")[0]


def pytest_collection_finish(session: pytest.Session) -> None:
    # Every test module is imported now: move that heap (mlflow, pandas, plotly, duckdb, pyspark)
    # out of the cyclic collector's view, so the tests' own allocations no longer set off full
    # collections over it (the app does the same per page: components/shell.py).
    gc.freeze()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    weight: dict[str, int] = {}
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in LAYER_FIXTURES.items():
            if used & fixtures:
                item.add_marker(marker)
        if hasattr(getattr(item, "module", None), "app_test"):
            item.add_marker("apptest")
        group = _group(item)
        item.add_marker(pytest.mark.xdist_group(group))
        cost = 1 + sum(w for m, w in LAYER_WEIGHT.items() if item.get_closest_marker(m))
        weight[group] = weight.get(group, 0) + cost
    # Heaviest groups first (stable: a module keeps its order), so that no long module is handed
    # out last and runs alone while the other worker idles.
    items.sort(key=lambda item: -weight[_group(item)])


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    """No test sees the developer's MLflow server, config or workspace."""
    saved = {k: os.environ.pop(k) for k in servers.FOREIGN_ENV if k in os.environ}
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
def empty_mlflow_store(tmp_path_factory):
    """``empty_mlflow_store(path) -> URI``: a new, empty MLflow SQLite store at ``path``, copied
    from one migrated once per test run (tests/support/runs.empty_store)."""
    templates = servers.run_tmp(tmp_path_factory) / "mlflow-template"
    return lambda path: empty_store(Path(path), templates)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A demo workspace seeded once per test run (read-only for tests): the xdist workers share
    it (their base folders have a common parent; the seeding lock lets one of them seed it)."""
    from services.demo import seed as demo

    home = servers.run_tmp(tmp_path_factory) / "shared-demo" / "home"
    settings = load_settings(env={"DRIFTGATE_HOME": str(home)})
    demo.ensure_demo(settings)
    return home


@pytest.fixture(scope="session")
def demo_settings(demo_home):
    """Settings of the shared seeded demo workspace; DRIFTGATE_HOME points at it."""
    os.environ["DRIFTGATE_HOME"] = str(demo_home)
    return load_settings(env={"DRIFTGATE_HOME": str(demo_home)})


@pytest.fixture
def demo_copy(demo_home, tmp_path, monkeypatch):
    """A private, mutable copy of the seeded demo workspace; DRIFTGATE_HOME points at it."""
    home = copy_workspace(demo_home, tmp_path / "home")
    monkeypatch.setenv("DRIFTGATE_HOME", str(home))
    forget_artifact_repos()  # the copy has the same run ids as the shared workspace
    yield load_settings(env={"DRIFTGATE_HOME": str(home)})
    forget_artifact_repos()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory, empty_mlflow_store):
    """A real ``mlflow server`` on 127.0.0.1 with its own SQLite store; yields its URI."""
    root = tmp_path_factory.mktemp("mlflow-server")
    empty_mlflow_store(root / "mlflow.db")  # the server's start skips MLflow's migrations (~3 s)
    with servers.mlflow_server(root) as uri:
        yield uri


@pytest.fixture(scope="session")
def demo_server(demo_home, tmp_path_factory):
    """One ``streamlit run`` on the shared, read-only seeded demo for the browser tests that only
    read it (per worker); tests that need a fresh server or their own workspace use
    ``streamlit_server``."""
    proc, url = servers.start_streamlit(tmp_path_factory.mktemp("demo-server"), env={"DRIFTGATE_HOME": str(demo_home)})
    with servers.serving(proc, url, "/_stcore/health", timeout=120):
        yield url


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
        proc, url = servers.start_streamlit(tmp_path, env=env, cwd=cwd, port=port)
        procs.append(proc)
        servers.wait_http(f"{url}/_stcore/health", timeout=timeout, proc=proc)
        return url

    yield start
    for proc in procs:
        servers.stop(proc)


@pytest.fixture(scope="session")
def _browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Debian chromium not found at {CHROMIUM}: browser tests cannot be skipped in CI")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    # The same allowance for ``expect(...)`` as for the pages' default timeout below (Playwright's
    # is 5 s): on a loaded CI machine a page's second script run (after it wrote its selection
    # into the URL) can take longer than that, and a CI run once failed there.
    expect.set_options(timeout=90_000)
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
