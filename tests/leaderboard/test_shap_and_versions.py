"""SHAP comparison on the demo's tree models, fallbacks, registered versions side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.compare.shap import compare_versions, explain, load_model, recent_sample
from services.demo import seed as demo
from services.errors import NotFound
from services.registry.mlflow_client import make_client
from services.registry.model_versions import versions_comparison


@pytest.fixture(scope="module")
def client(demo_settings):
    return make_client(demo_settings)


@pytest.fixture(scope="module")
def sample(demo_settings):
    return recent_sample(demo_settings, demo.MODEL_NAME, n=600, days=7)


def test_recent_sample_reads_the_newest_rows(sample, demo_settings):
    X, y = sample
    assert list(X.columns) == demo_settings.model(demo.MODEL_NAME)["features"]
    assert len(X) == 600 and len(y) == len(X)
    known = y[np.isfinite(y)]
    # Spread over the last 7 days: labelled days and the last 3 days whose labels are delayed.
    assert 0.3 < len(known) / len(y) < 0.8 and set(np.unique(known)) <= {0.0, 1.0}
    assert "crypto_wallet" in set(X["payment_method"])  # recent data: the new category exists


def test_tree_shap_matches_a_direct_computation(client, sample):
    import shap  # here, not at the top: importing it costs ~1.5 s in every worker's collection

    X, y = sample
    model = load_model(client, demo.MODEL_NAME, "2")
    imp = explain(model, X, y, "v2")
    assert imp.method == "tree_shap" and imp.n_rows == len(X)
    pre, est = model[:-1], model.steps[-1][1]
    sv = shap.TreeExplainer(est)(pre.transform(X), check_additivity=False).values
    names = [n.split("__", 1)[1] for n in pre.get_feature_names_out()]
    direct = {n: float(np.abs(sv[:, j]).mean()) for j, n in enumerate(names)}
    assert imp.values == pytest.approx(direct)
    # Additivity: SHAP values sum to the model's log-odds minus the expected value.
    explainer = shap.TreeExplainer(est)
    per_row = np.sum([imp.detail[f] for f in direct], axis=0)
    raw = est.decision_function(pre.transform(X.head(len(per_row))))
    assert per_row == pytest.approx(raw - explainer.expected_value, abs=1e-6)


def test_compare_demo_versions_shows_the_concept_drift(client, demo_settings, sample):
    comp = compare_versions(client, demo_settings, demo.MODEL_NAME, "2", "1", sample=sample)
    assert comp.champion.method == comp.candidate.method == "tree_shap"
    by = {r["feature"]: r for r in comp.table}
    # Ground truth: from day 62 churn is driven by support calls and e-check payments.
    assert by["support_calls"]["candidate_share"] > by["support_calls"]["champion_share"] + 0.1
    assert by["payment_method"]["candidate_share"] > by["payment_method"]["champion_share"]
    assert comp.moved_most[0] == "support_calls"
    deltas = [r["abs_delta_share"] for r in comp.table]
    assert deltas == sorted(deltas, reverse=True)
    assert sum(r["candidate_share"] for r in comp.table) == pytest.approx(1.0)


def test_linear_candidate_with_a_missing_feature(client, demo_settings, sample):
    comp = compare_versions(client, demo_settings, demo.MODEL_NAME, "3", "1", sample=sample)
    assert comp.candidate.method == "linear_shap"
    by = {r["feature"]: r for r in comp.table}
    assert by["payment_method"]["missing_in"] == "candidate"  # logreg_stale was trained without it
    assert set(comp.candidate.values) == set(demo.FEATURES) - {"payment_method"}


def test_unexplainable_model_falls_back_to_permutation_importance(client, sample):
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    X, y = sample
    pipeline = load_model(client, demo.MODEL_NAME, "1")
    known = np.isfinite(y)
    X, y = X[known], y[known].astype(int)

    class Opaque:  # no pipeline steps, string inputs: SHAP cannot be applied
        def predict_proba(self, Z):
            return pipeline.predict_proba(Z)

    imp = explain(Opaque(), X, y, "opaque")
    assert imp.method == "permutation_importance" and imp.message is not None
    assert "permutation importance" in imp.message
    direct = permutation_importance(pipeline, X, y, scoring="roc_auc", n_repeats=5, random_state=0)
    assert imp.values == pytest.approx({c: max(v, 0.0) for c, v in zip(X.columns, direct.importances_mean)})
    none = explain(Opaque(), X, None, "opaque")
    assert none.method == "none" and none.message is not None and "cannot be explained" in none.message
    assert roc_auc_score(y, pipeline.predict_proba(X)[:, 1]) > 0.5


@pytest.mark.slow
def test_model_agnostic_explainer_for_other_estimators():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (X["a"] > 0).astype(int).to_numpy()
    imp = explain(KNeighborsClassifier(5).fit(X.to_numpy(), y), X, y, "knn", agnostic_rows=40)
    assert imp.method == "permutation_shap" and imp.n_rows == 40
    assert imp.values["a"] > 3 * imp.values["b"]  # only "a" matters


def test_versions_side_by_side(client, demo_settings):
    view = versions_comparison(client, demo.MODEL_NAME, demo_settings.lifecycle)
    assert [v.version for v in view.versions] == ["3", "2", "1"]
    assert view.champion_version == "1" and [v.is_champion for v in view.versions] == [False, False, True]
    v1 = view.versions[-1]
    assert "champion" in v1.aliases and v1.tags.get("driftgate.author") == "alice"
    assert view.versions[1].tags.get("driftgate.author") == "bob"
    # v1 was re-evaluated on the recent window by the retraining run and scored lower than at training.
    assert [r.version for r in view.reevaluations] == ["1"]
    reevaluated, at_training = view.reevaluations[0].metrics["roc_auc"], v1.metrics["roc_auc"]
    assert reevaluated is not None and at_training is not None and reevaluated < at_training
    assert view.calls <= 6
    with pytest.raises(NotFound):
        versions_comparison(client, "no_such_model")


def test_shap_importance_logged_with_the_run_is_used(demo_copy, sample):
    client = make_client(demo_copy)
    run_id = client.get_model_version(demo.MODEL_NAME, "2").run_id
    assert run_id is not None  # v2 was registered from a run
    # Written into the copy's local artifact store directly: MLflow caches artifact repositories by
    # run id per process, and the copy's run ids are the shared demo's, so log_dict would write there.
    import json
    from pathlib import Path
    from urllib.parse import urlparse

    root = Path(urlparse(client.get_run(run_id).info.artifact_uri).path)
    assert str(demo_copy.home) in str(root)
    (root / "shap").mkdir()
    (root / "shap" / "importance.json").write_text(
        json.dumps({"support_calls": 0.5, "contract": 0.25, "tenure_months": 0.25})
    )
    comp = compare_versions(client, demo_copy, demo.MODEL_NAME, "2", "1", sample=sample)
    assert comp.candidate.method == "artifact" and comp.candidate.message is not None
    assert "shap/importance.json" in comp.candidate.message
    assert comp.candidate.values == {"support_calls": 0.5, "contract": 0.25, "tenure_months": 0.25}
    assert comp.champion.method == "tree_shap"


def test_model_and_artifact_downloads_leave_no_files_behind(client, demo_settings, tmp_path, monkeypatch):
    """Every page view downloads models and artifacts; a long-running console must not fill /tmp."""
    import tempfile

    from services.compare.leaderboard import load_predictions
    from services.compare.shap import importance_artifact
    from services.retraining.retrain import load_version_model

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    run_id = client.get_model_version(demo.MODEL_NAME, "2").run_id
    assert load_model(client, demo.MODEL_NAME, "2") is not None
    assert load_version_model(demo_settings, client, demo.MODEL_NAME, "1") is not None
    preds = load_predictions(client, run_id)
    assert preds is not None and len(preds) > 0  # the download did happen
    assert importance_artifact(client, run_id, "v2") is None  # the demo logs none: a failed download
    assert sorted(p.name for p in scratch.iterdir()) == []
