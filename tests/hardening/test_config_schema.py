"""Issue 13 #2/#6: every config key has a declared type, range and default; a wrong type, an
out-of-range value or an unknown key in a known section is one line naming the key (CLI exit 2),
never coerced."""

from __future__ import annotations

import os

import pytest

from services.config import SCHEMA, load_settings
from services.errors import BadInput
from tests.support.app import app_test, assert_no_exception
from tests.support.cli import run_cli


def _load(tmp_path, toml: str):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    return load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=cfg)


@pytest.mark.parametrize(
    "toml, names",
    [
        ('[auth]\ntrust_proxy_headers = "false"\n', "[auth] trust_proxy_headers"),
        ('[roles]\napprovers = "alice"\n', "[roles] approvers"),
        ("[drift]\nalpha = 7\n", "[drift] alpha"),
        ("[drift]\nnumeric_threshold = -0.1\n", "[drift] numeric_threshold"),
        ("[drift]\ncategorical_threshold = -1\n", "[drift] categorical_threshold"),
        ("[drift]\ndrift_share_threshold = 9\n", "[drift] drift_share_threshold"),
        ('[drift]\nwindow = "month"\n', "[drift] window"),
        ("[drift]\ncurrent_days = 0\n", "[drift] current_days"),
        ('[drift.features.tenure]\ntest = "t-test"\n', "[drift.features.tenure] test"),
        ("[drift.features.tenure]\nthreshold = -3\n", "[drift.features.tenure] threshold"),
        ('[gate]\napprovals_required = "two"\n', "[gate] approvals_required"),
        ("[gate]\napprovals_required = 0\n", "[gate] approvals_required"),
        ('[audit]\nlease_seconds = "soon"\n', "[audit] lease_seconds"),
        ("[audit]\nlease_seconds = 0\n", "[audit] lease_seconds"),
        ('[auth]\nmatch_local_part = "yes"\n', "[auth] match_local_part"),
        ("[roles]\nmatch_local_part = 1\n", "[roles] match_local_part"),
        ('[trigger]\nestimated_performance = "true"\n', "[trigger] estimated_performance"),
        ('[sources.s]\ntype = "excel"\n', "[sources.s] type"),
        ("[spark]\nremote = 15002\n", "[spark] remote"),
        ("[models.m.gate]\napprovals_required = 1.5\n", "[models.m.gate] approvals_required"),
        ("[audit]\nleese_seconds = 60\n", "[audit] leese_seconds: unknown key"),
        ('[roles]\napprover = ["alice"]\n', "[roles] approver: unknown key"),
    ],
)
def test_wrong_type_range_or_unknown_key_is_one_line_naming_it(tmp_path, toml, names):
    with pytest.raises(BadInput) as err:
        _load(tmp_path, toml)
    assert names in str(err.value) and "\n" not in str(err.value)


def test_defaults_are_declared_and_values_are_not_coerced(tmp_path):
    s = _load(
        tmp_path,
        '[mlflow]\ntracking_uri = "http://127.0.0.1:9"\n[drift]\nalpha = 0.01\n'
        '[roles]\napprovers = ["alice"]\n[sources.x]\ntype = "spark"\ntable = "t"\n'
        '[spark]\nremote = "sc://127.0.0.1:15002"\n',
    )
    drift = s.section("drift")
    assert drift["alpha"] == 0.01 and drift["numeric_threshold"] == 0.1 and drift["window"] == "day"
    assert "small_sample" not in drift  # optional legacy key, unset by default
    assert s.section("audit")["lease_seconds"] == 120.0
    assert s.section("auth") == {"trust_proxy_headers": False, "match_local_part": False}
    assert s.section("gate")["approvals_required"] == 1
    assert s.section("trigger")["estimated_performance"] is False
    assert s.section("spark")["remote"] == "sc://127.0.0.1:15002"
    assert s.section("roles")["approvers"] == ["alice"] and s.explicit("roles") == {"approvers": ["alice"]}
    assert s.section("sources", "x") == {"type": "spark", "table": "t"}
    assert set(SCHEMA) >= {
        "mlflow",
        "drift",
        "gate",
        "trigger",
        "retrain",
        "roles",
        "auth",
        "audit",
        "notify",
        "databricks",
        "approvals",
        "demo",
        "spark",
    }


def test_unknown_section_is_named(tmp_path):
    with pytest.raises(BadInput, match=r"\[rolse\]: unknown section"):
        _load(tmp_path, '[rolse]\napprovers = ["e"]\n')


def test_demo_config_validates(tmp_path):
    s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "h")}, cwd=tmp_path)
    assert s.demo and s.model("churn_classifier")["source"] == "scoring_log"


def _cli(args, tmp_path, toml):
    (tmp_path / "c.toml").write_text(toml)
    env = {**os.environ, "DRIFTGATE_HOME": str(tmp_path / "home"), "DRIFTGATE_CONFIG": str(tmp_path / "c.toml")}
    return run_cli(args, env=env)


@pytest.mark.parametrize(
    "toml, key",
    [
        ('[gate]\napprovals_required = "two"\n', "approvals_required"),
        ('[audit]\nlease_seconds = "soon"\n', "lease_seconds"),
    ],
)
def test_cli_bad_config_is_exit_2_one_line(tmp_path, toml, key):
    proc = _cli(["approve", "--model", "churn_classifier", "--version", "2", "--user", "alice"], tmp_path, toml)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and key in proc.stderr and "Traceback" not in proc.stderr


def test_app_shows_the_config_error_and_offers_no_decision(demo_settings, monkeypatch, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[auth]\ntrust_proxy_headers = "false"\n')
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    monkeypatch.setenv("DRIFTGATE_CONFIG", str(cfg))
    at = app_test("pages/promotions.py", query_params={"model": "churn_classifier"}).run()
    assert_no_exception(at)
    errors = [e.value for e in at.error]
    assert any("[auth] trust_proxy_headers" in e for e in errors), errors
    assert not [b for b in at.button if "approve" in str(b.label).lower()]
