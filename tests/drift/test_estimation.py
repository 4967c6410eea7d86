"""Estimated performance (CBPE): simulations with a known realised AUC, the demo's concept-drift
warning, the trigger's advisory evidence, and bad input (one line, exit 2)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from services.demo import seed as demo
from services.drift.estimation import (
    UNRELIABLE,
    buckets_from_arrays,
    calibrate,
    estimate,
    estimate_frames,
    estimate_window,
    estimated_performance,
)
from services.errors import BadInput
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]


def _draw(rng, n, mu=(0.0, 0.0, 0.0), scale=1.0):
    """P(y | x) fixed; the model's score is a monotone, uncalibrated function of the true logit."""
    x = rng.normal(mu, scale, (n, 3))
    logit = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] - 0.3
    p = 1.0 / (1.0 + np.exp(-logit))
    score = 1.0 / (1.0 + np.exp(-(0.6 * logit + 0.5)))
    return score, p


def _labels(rng, p):
    return (rng.random(p.size) < p).astype(int)


def _realised_aucs(rng, p, score, draws: int):
    """The AUC of ``score`` against ``draws`` label draws from ``p`` (the same draws, in the same
    order, as ``draws`` calls of ``_labels``): Mann-Whitney from the scores' ranks, all draws in
    one matrix product (sklearn's ``roc_auc_score`` per draw made this module 15 s)."""
    labels = (rng.random((draws, p.size)) < p).astype(float)
    positives = labels.sum(axis=1)
    rank_sums = labels @ rankdata(score)
    aucs = (rank_sums - positives * (positives + 1) / 2) / (positives * (p.size - positives))
    assert aucs[0] == pytest.approx(roc_auc_score(labels[0], score), abs=1e-12)
    return aucs


@pytest.fixture(scope="module")
def calibrator():
    rng = np.random.default_rng(11)
    score, p = _draw(rng, 30_000)
    return calibrate(buckets_from_arrays(score, _labels(rng, p)))


@pytest.mark.parametrize(
    "mu,scale",
    [
        ((0, 0, 0), 1.0),
        ((0.5, -0.3, 0.4), 1.0),
        ((0.8, 0.0, -0.5), 0.8),
        ((-0.6, 0.4, 0.0), 1.3),
        ((0.3, 0.3, 0.3), 0.6),
    ],
)
def test_covariate_shift_only_estimate_within_003_of_the_realised_auc(calibrator, mu, scale):
    """Per 1,000-row window: the realised AUC of the window's covariates (mean over 200 label
    draws from the fixed P(y|x)) and the estimate from its scores alone differ by < 0.03; a single
    realised draw lies in the band (widened by 0.03)."""
    rng = np.random.default_rng(abs(hash((mu, scale))) % 2**32)
    for _ in range(3):
        score, p = _draw(rng, 1000, mu, scale)
        realised = _realised_aucs(rng, p, score, draws=200)
        est = estimate_window(calibrator, buckets_from_arrays(score))
        assert abs(est["estimated_roc_auc"] - float(np.mean(realised))) < 0.03
        lo, hi = est["band"]
        assert lo - 0.03 <= realised[0] <= hi + 0.03
        assert 0.0 < hi - lo < 0.15 and est["scored"] == 1000


def test_no_warning_without_concept_drift_and_warning_with_it():
    rng = np.random.default_rng(12)
    score, p = _draw(rng, 30_000)
    ref = buckets_from_arrays(score, _labels(rng, p))
    shifted = []
    for k in range(10):
        s, pk = _draw(rng, 1000, (0.08 * k, 0.0, 0.0))
        shifted.append((f"w{k}", buckets_from_arrays(s, _labels(rng, pk))))
    doc = estimate(ref, shifted)
    assert doc["unreliable"] is False and doc["warning"] is None
    assert all(w["realised_roc_auc"] is not None and w["estimated_roc_auc"] is not None for w in doc["windows"])
    # concept drift: the label now ignores the score in half the cases
    drifted = []
    for k in range(5):
        s, pk = _draw(rng, 1000)
        y = np.where(rng.random(1000) < 0.6, rng.integers(0, 2, 1000), _labels(rng, pk))
        drifted.append((f"c{k}", buckets_from_arrays(s, y)))
    doc = estimate(ref, shifted[:3] + drifted)
    assert doc["unreliable"] is True and doc["warning"] == UNRELIABLE
    assert doc["diverged_windows"][:3] == ["c0", "c1", "c2"]


def test_the_demo_estimates_unlabelled_days_and_warns_of_its_concept_drift(demo_settings):
    gt = demo.ground_truth(demo_settings.home)
    start = date.fromisoformat(gt["start_date"])
    doc = estimated_performance(demo_settings, demo.MODEL_NAME, unit="day")
    assert doc["unreliable"] is True and doc["warning"] == "estimates unreliable: concept drift on the labelled windows"
    by_day = {(date.fromisoformat(w["start"]) - start).days: w for w in doc["windows"]}
    assert len(by_day) == demo.DAYS
    for d in range(demo.DAYS - demo.LABEL_DELAY_DAYS, demo.DAYS):  # labels arrive late: estimate only
        w = by_day[d]
        assert w["labelled"] == 0 and w["realised_roc_auc"] is None
        assert 0.6 < w["estimated_roc_auc"] < 0.9 and w["band"][0] < w["estimated_roc_auc"] < w["band"][1]
    first = min((date.fromisoformat(s) - start).days for s in doc["diverged_windows"])
    assert first >= 60
    after = [by_day[d]["diverged"] for d in range(demo.CONCEPT_DAY + 1, demo.DAYS - demo.LABEL_DELAY_DAYS)]
    assert sum(after) >= 0.8 * len(after)
    before = [by_day[d]["diverged"] for d in range(60)]
    assert sum(before) <= 2
    assert abs(doc["reference"]["roc_auc"] - by_day[10]["estimated_roc_auc"]) < 0.03


def test_trigger_shows_estimates_as_advisory_and_counts_them_only_when_configured(demo_settings, tmp_path):
    from services.config import load_settings
    from services.retraining import trigger
    from services.retraining.policy import TriggerPolicy, TriggerWindow, mark_estimated

    decision = trigger.evaluate(demo_settings, demo.MODEL_NAME).to_dict()
    last = decision["windows"][-1]
    assert last["labelled_rows"] == 0 and last["performance"] is None
    assert last["estimated_performance"] is not None and last["performance_estimated"] is False
    assert any("advisory, not counted" in n and UNRELIABLE in n for n in last["notes"])
    # counted when configured and the estimates are reliable
    start, end = datetime(2026, 3, 1), datetime(2026, 3, 8)  # a week: the dates play no part
    w = TriggerWindow(start=start, end=end)
    est = {"estimated_roc_auc": 0.70, "band": [0.66, 0.74]}
    mark_estimated(w, est, {"unreliable": False}, TriggerPolicy(estimated_performance=True), "roc_auc", 0.78)
    assert w.performance_estimated and w.performance_breach and w.performance_drop == pytest.approx(0.08)
    w2 = TriggerWindow(start=start, end=end)
    mark_estimated(w2, est, {"unreliable": False}, TriggerPolicy(), "roc_auc", 0.78)
    assert not w2.performance_breach and w2.estimated_performance == 0.70 and "advisory" in w2.notes[0]
    w3 = TriggerWindow(start=start, end=end)
    mark_estimated(
        w3, est, {"unreliable": True, "warning": UNRELIABLE}, TriggerPolicy(estimated_performance=True), "roc_auc", 0.78
    )
    assert not w3.performance_breach and UNRELIABLE in w3.notes[0]
    cfg = tmp_path / "driftgate.toml"
    cfg.write_text("[trigger]\nestimated_performance = true\n")
    on = load_settings(env={"DRIFTGATE_HOME": str(demo_settings.home), "DRIFTGATE_CONFIG": str(cfg)})
    doc = trigger.evaluate(on, demo.MODEL_NAME).to_dict()
    assert doc["policy"]["estimated_performance"] is True
    assert any("not counted: " + UNRELIABLE in n for n in doc["windows"][-1]["notes"])  # the demo's concept drift


# -- bad input -----------------------------------------------------------------------------------
def _cli(*args):
    return run_cli(["estimate", *args])


@pytest.fixture(scope="module")
def est_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("est")
    rng = np.random.default_rng(13)
    score, p = _draw(rng, 5000)
    pd.DataFrame({"prediction": score, "label": _labels(rng, p)}).to_parquet(d / "ref.parquet")
    s2, _ = _draw(rng, 1000, (0.5, 0, 0))
    pd.DataFrame({"prediction": s2}).to_parquet(d / "cur.parquet")
    pd.DataFrame({"prediction": s2[:1]}).to_parquet(d / "one.parquet")
    pd.DataFrame({"prediction": [np.nan] * 50}).to_parquet(d / "nopred.parquet")
    pd.DataFrame({"prediction": s2 * 3 - 1}).to_parquet(d / "outside.parquet")
    pd.DataFrame({"prediction": score, "label": rng.integers(0, 3, 5000)}).to_parquet(d / "ref3.parquet")
    return d


@pytest.mark.cli
def test_cli_estimate_on_files(est_files):
    import json

    res = _cli(
        "--reference", str(est_files / "ref.parquet"), "--current", str(est_files / "cur.parquet"), "--format", "json"
    )
    assert res.returncode == 0 and res.stderr == ""
    doc = json.loads(res.stdout)
    (w,) = doc["windows"]
    assert w["rows"] == 1000 and w["labelled"] == 0 and 0.6 < w["estimated_roc_auc"] < 0.95
    assert doc["assumption"].startswith("Estimated from the predicted probabilities")


@pytest.mark.parametrize(
    "ref,cur,needle",
    [
        ("ref.parquet", "one.parquet", "has 1 row"),
        ("ref.parquet", "nopred.parquet", "every prediction in 'prediction' is missing"),
        ("ref.parquet", "outside.parquet", "probabilities in [0, 1]"),
        ("ref3.parquet", "cur.parquet", "binary label (0/1)"),
    ],
)
@pytest.mark.cli
def test_cli_estimate_bad_input_is_one_line_exit_2(est_files, ref, cur, needle):
    res = _cli("--reference", str(est_files / ref), "--current", str(est_files / cur), "--format", "json")
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], lines


def test_bad_input_in_the_api_is_bad_input(est_files):
    ref = pd.read_parquet(est_files / "ref.parquet")
    with pytest.raises(BadInput, match="binary label"):
        estimate_frames(
            ref.assign(label=ref.label.astype(str).replace({"1": "yes"})), ref, prediction="prediction", label="label"
        )
    with pytest.raises(BadInput, match="labelled rows of both classes"):
        estimate_frames(ref.assign(label=0), ref, prediction="prediction", label="label")
    win = estimate_window(
        calibrate(buckets_from_arrays(ref.prediction, ref.label)), buckets_from_arrays(np.full(10, np.nan))
    )
    assert win["estimated_roc_auc"] is None and "all missing" in win["note"]
