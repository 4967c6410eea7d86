"""CLI contract: JSON shapes, exit codes 0/2/3, nothing on stdout but JSON, nothing changed on refusal."""

from __future__ import annotations

import json
import os
from pathlib import Path

from services.cli import main
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.cli import run_cli
from tests.support.demo import MODEL
from tests.support.registry import registry_view

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_versions_and_gate_json(demo_copy, capsys):
    code, out, err = run(capsys, "versions", "--model", MODEL, "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["model"] == MODEL and doc["lifecycle"] == "aliases"
    assert [(v["version"], v["state"], v["created_by"]) for v in doc["versions"]] == [
        ("1", "champion", "alice"),
        ("2", "candidate", "bob"),
        ("3", "candidate", "bob"),
    ]
    assert set(doc["versions"][0]) == {"version", "stage", "aliases", "state", "run_id", "created_by"}
    assert doc["versions"][0]["aliases"] == ["champion"] and isinstance(doc["versions"][0]["version"], str)

    code, out, err = run(capsys, "gate", "--model", MODEL, "--version", "2", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] is True and doc["version"] == "2" and doc["model"] == MODEL
    assert all({"name", "status", "detail"} <= set(c) for c in doc["checks"])
    assert all(c["status"] in ("pass", "fail", "warn") for c in doc["checks"])

    code, out, _ = run(capsys, "gate", "--model", MODEL, "--version", "3", "--format", "json")
    doc = json.loads(out)
    failed = {c["name"] for c in doc["checks"] if c["status"] == "fail"}
    assert code == 0 and doc["passed"] is False and {"beats_champion", "signature_compatible"} <= failed


def test_decisions_exit_codes(demo_copy, capsys):
    settings = demo_copy
    client = make_client(settings)
    before = registry_view(settings, client)
    for argv, code_expected, msg in [
        (("approve", "--model", MODEL, "--version", "2", "--user", "bob"), 3, "four-eyes"),
        (("approve", "--model", MODEL, "--version", "2", "--user", "carol"), 3, "approver role"),
        (("approve", "--model", MODEL, "--version", "3", "--user", "alice"), 3, "gate failed"),
        (("reject", "--model", MODEL, "--version", "3", "--user", "bob"), 2, "comment is required"),
        (("rollback", "--model", MODEL, "--user", "alice", "--comment", "x"), 3, "no previous champion"),
        (("approve", "--model", MODEL, "--version", "42", "--user", "alice"), 2, "not found"),
        (("approve", "--model", "nope", "--version", "1", "--user", "alice"), 2, "not found"),
        (("versions", "--model", "nope", "--format", "json"), 2, "not found"),
        (("approve", "--model", MODEL, "--version", "2"), 2, "user is required"),
    ]:
        code, out, err = run(capsys, *argv)
        assert code == code_expected, (argv, code, err)
        assert out == "" and err.startswith("error: ") and msg in err and err.count("\n") == 1, (argv, err)
    assert registry_view(settings, client) == before

    code, out, err = run(
        capsys,
        "approve",
        "--model",
        MODEL,
        "--version",
        "2",
        "--user",
        "alice",
        "--comment",
        "better on the recent window",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert code == 0 and err == "" and doc["outcome"] == "done" and doc["version_after"] == "2"
    assert make_lifecycle(settings, client, MODEL).state().champion == "2"

    code, out, err = run(
        capsys, "rollback", "--model", MODEL, "--user", "alice", "--comment", "regression", "--format", "json"
    )
    assert code == 0 and json.loads(out)["version_after"] == "1"

    code, out, err = run(capsys, "audit", "--model", MODEL, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and list(doc) == ["records"]
    recs = doc["records"]
    assert {"at", "user", "action", "outcome", "model", "version", "reason", "comment"} <= set(recs[0])
    assert [(r["user"], r["action"], r["outcome"]) for r in recs] == [
        ("bob", "approve", "refused"),
        ("carol", "approve", "refused"),
        ("alice", "approve", "refused"),
        ("alice", "rollback", "refused"),
        ("alice", "approve", "done"),
        ("alice", "rollback", "done"),
    ]
    assert recs == sorted(recs, key=lambda r: r["at"])  # oldest first
    assert all(r["at"].endswith("Z") for r in recs)


def test_real_process_json_only(demo_copy):
    env = {**os.environ, "DRIFTGATE_HOME": str(demo_copy.home), "DRIFTGATE_USER": "carol"}
    proc = run_cli(["approve", "--model", MODEL, "--version", "2"], env=env)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.strip() == "error: carol does not hold the approver role"
    proc = run_cli(["audit", "--format", "json"], env=env)
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["records"][0]["user"] == "carol"
