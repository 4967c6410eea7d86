"""Issue 13 #5 (bounded Databricks / MLflow REST calls) and #6 (tracebacks where the contract says
one line, exit 2). Each case runs the real CLI as its own process (tests/support/cli.py); its
timeout is only a guard against a hang (which is the bug), not a timing assertion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.app import ROOT
from tests.support.cli import run_cli
from tests.support.servers import free_port

MODEL = "churn_classifier"


def _cli(args, env_extra, cwd=ROOT, guard=150):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MLFLOW_TRACKING", "MLFLOW_REGISTRY"))
    }
    env.update(env_extra)
    env.pop("DRIFTGATE_DEBUG", None)
    return run_cli(args, env=env, cwd=cwd, timeout=guard)


def _one_line_exit_2(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in proc.stderr, proc.stderr


@pytest.mark.parametrize("version", ["²", "٢", "1" * 5000])
def test_non_ascii_or_huge_version_is_bad_input(demo_settings, version):
    proc = _cli(["gate", "--model", MODEL, "--version", version], {"DRIFTGATE_HOME": str(demo_settings.home)})
    _one_line_exit_2(proc, "not a model version")


@pytest.mark.parametrize("limit", ["1e30", "-5", "0", "99999999"])
def test_audit_limit_out_of_range_is_bad_usage(demo_settings, limit):
    proc = _cli(["audit", "--limit", limit], {"DRIFTGATE_HOME": str(demo_settings.home)})
    _one_line_exit_2(proc, "--limit")


@pytest.mark.slow
@pytest.mark.parametrize(
    "args", [["versions", "--model", MODEL], ["leaderboard", "--experiment", MODEL, "--metric", "roc_auc"]]
)
def test_garbage_tracking_uri_is_one_line(tmp_path, args):
    proc = _cli(args, {"DRIFTGATE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": "garbage::://"})
    _one_line_exit_2(proc, "garbage")


@pytest.mark.parametrize(
    "args", [["versions", "--model", MODEL], ["approve", "--model", MODEL, "--version", "2", "--user", "alice"]]
)
@pytest.mark.cli
def test_home_that_is_a_file_is_one_line(tmp_path, args):
    f = tmp_path / "home-file"
    f.write_text("x")
    _one_line_exit_2(_cli(args, {"DRIFTGATE_HOME": str(f)}), "DRIFTGATE_HOME is not a folder")


@pytest.mark.cli
def test_home_under_proc_is_one_line():
    _one_line_exit_2(_cli(["demo"], {"DRIFTGATE_HOME": "/proc/driftgate-cannot-exist"}))


def _databricks_env(tmp_path, toml=""):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[mlflow]\nhttp_timeout_seconds = 2\nhttp_retries = 0\n[databricks]\ntimeout_seconds = 2\n" + toml)
    port = free_port()  # nothing listens there
    return {
        "DRIFTGATE_HOME": str(tmp_path / "home"),
        "DRIFTGATE_CONFIG": str(cfg),
        "DATABRICKS_HOST": f"https://127.0.0.1:{port}",
        "DATABRICKS_TOKEN": "dapi-not-a-real-token",
        "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/none",
    }


@pytest.mark.cli
def test_unreachable_databricks_sql_source_is_bounded_and_one_line(tmp_path):
    env = _databricks_env(
        tmp_path,
        '[sources.log]\ntype = "databricks"\ntable = "main.ml.scoring_log"\n'
        '[models.m]\nsource = "log"\ntimestamp = "ts"\nfeatures = ["x"]\n',
    )
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{(tmp_path / 'm.db').as_posix()}"
    proc = _cli(["trigger", "--model", "m"], env)
    _one_line_exit_2(proc, "Databricks")
    assert "dapi-not-a-real-token" not in proc.stderr


@pytest.mark.slow
def test_unreachable_databricks_tracking_is_bounded_and_one_line(tmp_path):
    env = _databricks_env(tmp_path)
    env["MLFLOW_TRACKING_URI"] = "databricks"
    proc = _cli(["versions", "--model", MODEL], env)
    _one_line_exit_2(proc, "MLflow")
    assert "dapi-not-a-real-token" not in proc.stderr


def test_timeouts_are_configurable_and_default_to_at_most_30_seconds(tmp_path, monkeypatch):
    from services.config import load_settings
    from services.registry.mlflow_client import apply_timeouts

    s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path)}, cwd=tmp_path)
    assert s.section("mlflow")["http_timeout_seconds"] <= 30 and s.section("databricks")["timeout_seconds"] <= 30
    cfg = tmp_path / "t.toml"
    cfg.write_text("[databricks]\ntimeout_seconds = 4\n")
    env = {"DRIFTGATE_HOME": str(tmp_path), "DATABRICKS_HOST": "https://127.0.0.1:9"}
    apply_timeouts(load_settings(env=env, config_file=cfg))
    from databricks.sdk import config as sdk_config

    def dead(host, *args, **kwargs):  # Config()'s discovery probe of the dead host: fails at once
        raise ValueError("unreachable")

    monkeypatch.setattr(sdk_config, "get_host_metadata", dead)
    c = sdk_config.Config(host="https://127.0.0.1:9", token="x", auth_type="pat")
    assert (c.retry_timeout_seconds, c.http_timeout_seconds) == (4, 4.0)


@pytest.mark.cli
def test_a_local_store_does_not_import_the_databricks_sdk(tmp_path):
    """The SDK is bounded only where it can be used: a local store's CLI start skips its import."""
    code = (
        "import sys; from services.config import load_settings; "
        "from services.registry.mlflow_client import make_client; "
        f"make_client(load_settings(env={{'DRIFTGATE_HOME': {str(tmp_path)!r}}})); "
        "print('databricks.sdk' in sys.modules)"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MLFLOW_TRACKING", "MLFLOW_REGISTRY"))
    }
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_a_hosts_discovery_probe_runs_once_and_a_failure_is_retried_later(monkeypatch):
    """databricks-sdk probes a host on every Config(): MLflow builds several per call, so a dead
    host cost its retry timeout several times over. One probe per host; a failure kept a while."""
    from services.registry import mlflow_client

    calls: list[str] = []

    def probe(host, client=None):
        calls.append(host)
        if host == "https://dead":
            raise ValueError("unreachable")
        return {"host": host}

    clock = [100.0]
    monkeypatch.setattr("services.registry.mlflow_client.time.monotonic", lambda: clock[0])
    once = mlflow_client._probe_once(probe, retry_after=60)
    assert once("https://up") == once("https://up", client=object()) == {"host": "https://up"}
    for _ in range(3):
        with pytest.raises(ValueError, match="unreachable"):
            once("https://dead")
    assert calls == ["https://up", "https://dead"]
    clock[0] += 61  # later, the dead host is asked again (it may be back); the live one is not
    with pytest.raises(ValueError):
        once("https://dead")
    once("https://up")
    assert calls == ["https://up", "https://dead", "https://dead"]
