"""``python -m services.cli drift`` as a user runs it: a real subprocess on real files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sstats

from tests.support.cli import run_cli
from tests.support.drift_data import synthetic

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The real thing: a new process running ``python -m services.cli drift`` (tests/support/cli.py)."""
    return run_cli(["drift", *args], cwd=cwd)


@pytest.fixture
def cli_inproc(capsys):
    """Same entry point (services.cli.main) in this process: for the many bad-input cases, where
    a new interpreter per case would cost seconds each. Subprocess cases are marked below."""
    from services.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        try:
            code = main(["drift", *args])
        except SystemExit as exc:  # argparse usage errors
            assert isinstance(exc.code, int)  # argparse exits with a status number
            code = exc.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return run


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    ref, cur = synthetic(600, 1), synthetic(500, 2, shift=0.6, mix=0.15)
    ref.to_csv(d / "ref.csv", index=False)
    cur.to_parquet(d / "cur.parquet", index=False)
    ref.to_parquet(d / "ref.parquet", index=False)
    pd.DataFrame({"x": ["1", "two", "3"], "cat": ["a", "b", "c"]}).to_csv(d / "text.csv", index=False)
    pd.DataFrame({"x": [1.0, float("inf"), 2.0]}).to_parquet(d / "inf.parquet")
    pd.DataFrame({"x": pd.Series([], dtype=float), "cat": pd.Series([], dtype=str)}).to_parquet(d / "empty.parquet")
    pd.DataFrame({"x": [np.nan] * 5, "cat": ["a"] * 5}).to_parquet(d / "allmissing.parquet")
    (d / "garbage.parquet").write_bytes(b"not parquet at all")
    (d / "notes.xyz").write_text("hello")
    odd = {'we"ird': [1.0, 2.0, 3.0] * 100, "semi;colon": ["a", "b", "a"] * 100, "späce é": [1, 2, 3] * 100}
    pd.DataFrame(odd).to_csv(d / "odd_ref.csv", index=False)
    pd.DataFrame(odd).to_parquet(d / "odd_cur.parquet")
    const = pd.DataFrame({"k": [4.0] * 300})
    const.to_parquet(d / "const.parquet")
    return d


@pytest.mark.cli
def test_json_report_matches_scipy(files):
    res = cli("--reference", str(files / "ref.csv"), "--current", str(files / "cur.parquet"), "--format", "json")
    assert res.returncode == 0 and res.stderr == ""
    doc = json.loads(res.stdout)
    assert set(doc) == {"reference", "current", "engine", "approximate", "features", "dataset"}
    assert doc["reference"]["rows"] == 600 and doc["current"]["rows"] == 500
    assert doc["engine"] == "memory" and doc["approximate"] is False
    assert [f["feature"] for f in doc["features"]] == ["x", "count", "gappy", "cat", "region"]
    ref, cur = pd.read_csv(files / "ref.csv"), pd.read_parquet(files / "cur.parquet")
    x = doc["features"][0]
    ks = sstats.ks_2samp(ref["x"], cur["x"])
    w = sstats.wasserstein_distance(ref["x"], cur["x"]) / ref["x"].std(ddof=0)
    # the effect decides with the BH-adjusted significance p-value (spec's default decision)
    assert x["test"] == "wasserstein" and x["threshold"] == 0.1
    assert x["statistic"] == pytest.approx(w) and x["stats"]["ks"]["statistic"] == pytest.approx(ks.statistic)
    assert x["p_value"] == pytest.approx(ks.pvalue, rel=1e-9) and x["p_value_adjusted"] < 0.05
    assert x["drifted"] is True
    sens = x["sensitivity"]  # an added key: the smallest shift these two window sizes can detect
    assert 0 < sens["min_detectable"] < 0.6 and sens["current_rows"] == 500
    assert sens["detectable"] is (sens["min_detectable"] <= 0.1)
    for f in doc["features"]:
        keys = (
            {"ks", "wasserstein", "psi", "jensenshannon"}
            if f["kind"] == "numeric"
            else {"chi2", "psi", "jensenshannon"}
        )
        assert set(f["stats"]) == keys
        assert all(f["stats"][k]["p_value"] is None for k in ("psi", "jensenshannon"))
    assert doc["dataset"]["total_features"] == 5


def test_columns_order_forced_kinds_and_fail_on_drift(files, cli_inproc):
    cli = cli_inproc
    args = [
        "--reference",
        str(files / "ref.parquet"),
        "--current",
        str(files / "cur.parquet"),
        "--columns",
        "cat,x",
        "--categorical",
        "count",
        "--format",
        "json",
        "--engine",
        "duckdb",
    ]
    res = cli(*args)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(f["feature"], f["kind"]) for f in doc["features"]] == [
        ("cat", "categorical"),
        ("x", "numeric"),
        ("count", "categorical"),
    ]
    assert doc["engine"] == "duckdb" and doc["approximate"] is True
    res = cli(*args, "--fail-on-drift")
    assert res.returncode == (1 if doc["dataset"]["drifted"] else 0)
    assert doc["dataset"]["drifted"] is True
    same = cli("--reference", str(files / "ref.parquet"), "--current", str(files / "ref.parquet"), "--fail-on-drift")
    assert same.returncode == 0 and "no drift" in same.stdout


def test_config_overrides_and_profiles(files, tmp_path, cli_inproc):
    cli = cli_inproc
    cfg = tmp_path / "driftgate.toml"
    cfg.write_text('[drift]\ndrift_share_threshold = 0.9\n[drift.features.x]\ntest = "psi"\nthreshold = 0.05\n')
    prof = tmp_path / "ref-profile.json"
    res = cli(
        "--reference",
        str(files / "ref.parquet"),
        "--current",
        str(files / "cur.parquet"),
        "--config",
        str(cfg),
        "--format",
        "json",
        "--save-profile",
        str(prof),
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["features"][0]["test"] == "psi" and doc["features"][0]["threshold"] == 0.05
    assert doc["dataset"]["threshold"] == 0.9
    again = cli(
        "--reference-profile",
        str(prof),
        "--current",
        str(files / "cur.parquet"),
        "--format",
        "json",
        "--config",
        str(cfg),
    )
    assert again.returncode == 0, again.stderr
    doc2 = json.loads(again.stdout)
    assert doc2["approximate"] is True
    assert [f["drifted"] for f in doc2["features"]] == [f["drifted"] for f in doc["features"]]


@pytest.mark.parametrize(
    "toml,needle",
    [
        ("[drift]\nalpha = 1.5\n", ("alpha", "1.5")),
        ("[drift]\nalpha = 0\n", ("alpha", "0")),
        ("[drift]\nnumeric_threshold = -0.1\n", ("numeric_threshold", "-0.1")),
        ('[drift.features.x]\ntest = "psi"\nthreshold = -1\n', ("[drift.features.x] threshold", "-1")),
    ],
)
def test_bad_policy_config_exit_2_one_line(files, tmp_path, cli_inproc, toml, needle):
    cfg = tmp_path / "driftgate.toml"
    cfg.write_text(toml)
    res = cli_inproc(
        "--reference",
        str(files / "ref.parquet"),
        "--current",
        str(files / "cur.parquet"),
        "--config",
        str(cfg),
        "--format",
        "json",
    )
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and all(n in lines[0] for n in needle), lines


SUBPROCESS_CASES = {"missing file", "forced numeric text", "unknown option", "infinities"}


@pytest.mark.parametrize(
    "case,engine,args",
    [
        ("missing file", "memory", ["--reference", "{d}/nope.csv", "--current", "{d}/cur.parquet"]),
        ("unreadable parquet", "duckdb", ["--reference", "{d}/garbage.parquet", "--current", "{d}/cur.parquet"]),
        ("unknown format", "memory", ["--reference", "{d}/notes.xyz", "--current", "{d}/cur.parquet"]),
        (
            "column on one side",
            "duckdb",
            ["--reference", "{d}/ref.csv", "--current", "{d}/cur.parquet", "--columns", "x,nope"],
        ),
        (
            "forced numeric text",
            "memory",
            ["--reference", "{d}/text.csv", "--current", "{d}/text.csv", "--numerical", "cat"],
        ),
        (
            "text in numeric column",
            "duckdb",
            ["--reference", "{d}/text.csv", "--current", "{d}/ref.csv", "--numerical", "x"],
        ),
        (
            "empty window",
            "memory",
            ["--reference", "{d}/ref.parquet", "--current", "{d}/empty.parquet", "--columns", "x"],
        ),
        (
            "empty window",
            "duckdb",
            ["--reference", "{d}/ref.parquet", "--current", "{d}/empty.parquet", "--columns", "x"],
        ),
        ("infinities", "memory", ["--reference", "{d}/ref.parquet", "--current", "{d}/inf.parquet", "--columns", "x"]),
        ("infinities", "duckdb", ["--reference", "{d}/ref.parquet", "--current", "{d}/inf.parquet", "--columns", "x"]),
        (
            "all missing",
            "memory",
            ["--reference", "{d}/ref.parquet", "--current", "{d}/allmissing.parquet", "--columns", "x"],
        ),
        (
            "all missing",
            "duckdb",
            ["--reference", "{d}/ref.parquet", "--current", "{d}/allmissing.parquet", "--columns", "x"],
        ),
        ("unknown option", "memory", ["--reference", "{d}/ref.csv", "--current", "{d}/cur.parquet", "--bogus"]),
        ("bad engine", "polars", ["--reference", "{d}/ref.csv", "--current", "{d}/cur.parquet"]),
        (
            "both kinds",
            "duckdb",
            ["--reference", "{d}/ref.csv", "--current", "{d}/cur.parquet", "--numerical", "x", "--categorical", "x"],
        ),
        ("bad profile", "duckdb", ["--reference-profile", "{d}/notes.xyz", "--current", "{d}/cur.parquet"]),
    ],
)
@pytest.mark.cli
def test_bad_input_exit_2_one_line_nothing_on_stdout(files, case, engine, args, cli_inproc):
    run = cli if case in SUBPROCESS_CASES and engine == "memory" else cli_inproc
    res = run(*[a.format(d=files) for a in args], "--format", "json", "--engine", engine)
    assert res.returncode == 2, (case, res.stdout, res.stderr)
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.stderr


@pytest.mark.cli
def test_odd_column_names_and_constant_columns(files):
    res = cli(
        "--reference",
        str(files / "odd_ref.csv"),
        "--current",
        str(files / "odd_cur.parquet"),
        "--format",
        "json",
        "--engine",
        "duckdb",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [f["feature"] for f in doc["features"]] == ['we"ird', "semi;colon", "späce é"]
    assert not doc["dataset"]["drifted"]
    res = cli(
        "--reference", str(files / "const.parquet"), "--current", str(files / "const.parquet"), "--format", "json"
    )
    assert res.returncode == 0
    f = json.loads(res.stdout)["features"][0]
    assert f["stats"]["wasserstein"]["statistic"] == 0.0 and f["drifted"] is False
    res = cli(
        "--reference",
        str(files / "const.parquet"),
        "--current",
        str(files / "ref.parquet"),
        "--columns",
        "x",
        "--format",
        "json",
    )
    assert res.returncode == 2 and "missing from the reference" in res.stderr
