"""Global feature importance (mean |SHAP|) of a candidate vs the champion on recent data.

Explainers, by model:
- scikit-learn ``Pipeline`` (the demo's models): the data goes through the pipeline's
  preprocessing, the final estimator is explained on the transformed columns, and the SHAP values
  of the columns an input feature produced (one-hot columns...) are summed back to that feature;
- tree estimators: ``shap.TreeExplainer`` (exact, fast); linear ones: ``shap.LinearExplainer``;
- anything else: a model-agnostic permutation explainer on a small sample (``agnostic_rows``);
- a model that cannot be explained that way: permutation importance (ROC AUC drop, needs labels),
  with a message saying so.

A run may also carry its own SHAP importance as an artifact (``shap/importance.json``:
``{feature: mean_abs_shap}``); it is used as-is when present (``prefer_artifacts``).

No Streamlit here; the page caches :func:`compare_versions` by (model, versions, sample size).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from services.errors import BadInput, DriftGateError, NotFound, Unavailable
from services.registry.errors import mlflow_call
from services.warehouse.sources import Window, open_backend, resolve_window, source_from_settings

SHAP_ARTIFACT = "shap/importance.json"
DETAIL_ROWS = 300


@dataclass(frozen=True)
class Importance:
    label: str  # e.g. "v2 (candidate)"
    method: str  # tree_shap | linear_shap | permutation_shap | permutation_importance | artifact
    values: dict[str, float]  # input feature -> mean |SHAP| (or importance)
    n_rows: int
    message: str | None = None
    # Per-row SHAP by input feature for the first DETAIL_ROWS rows (per-feature detail charts).
    detail: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class ShapComparison:
    model: str
    champion_version: str
    candidate_version: str
    champion: Importance
    candidate: Importance
    table: tuple[dict[str, Any], ...]  # feature, champion, candidate, delta, abs_delta, ranks
    sample: pd.DataFrame  # the explained rows' feature values (<= DETAIL_ROWS)
    seconds: float = 0.0

    @property
    def moved_most(self) -> list[str]:
        return [r["feature"] for r in self.table[:5]]


# --------------------------------------------------------------------------------------------
# Loading models
# --------------------------------------------------------------------------------------------
def load_model(client: Any, model: str, version: str) -> Any:
    """A registered version as a scikit-learn object (pyfunc model when it is not sklearn)."""
    import mlflow.artifacts  # lazy here and below: mlflow/shap/scikit-learn cost seconds at page and CLI start

    uri = mlflow_call(
        client, f"model '{model}' version {version}", client.get_model_version_download_uri, model, str(version)
    )
    # The download is deleted once the model is in memory (a scikit-learn model), or when the
    # loaded object is garbage-collected (a pyfunc model may read its files lazily).
    tmp = tempfile.mkdtemp(prefix="dg-model-")
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri,
            dst_path=tmp,
            tracking_uri=client.tracking_uri,
            registry_uri=getattr(client, "_registry_uri", None),
        )
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise Unavailable(f"model '{model}' version {version} cannot be downloaded ({type(exc).__name__})") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import mlflow.sklearn

            loaded = mlflow.sklearn.load_model(local)
            shutil.rmtree(tmp, ignore_errors=True)
            return loaded
        except Exception:
            pass
        try:
            import mlflow.pyfunc

            loaded = mlflow.pyfunc.load_model(local)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BadInput(f"model '{model}' version {version} cannot be loaded ({type(exc).__name__})") from None
        weakref.finalize(loaded, shutil.rmtree, tmp, True)
        return loaded


def model_input_features(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    meta = getattr(model, "metadata", None)
    sig = getattr(meta, "signature", None) if meta is not None else None
    if sig is not None and sig.inputs is not None:
        return list(sig.inputs.input_names())
    return None


# --------------------------------------------------------------------------------------------
# Explaining one model
# --------------------------------------------------------------------------------------------
def _is_tree(est: Any) -> bool:
    name = type(est).__name__
    return (
        hasattr(est, "estimators_")
        or hasattr(est, "tree_")
        or any(k in name for k in ("Forest", "Tree", "GradientBoosting", "XGB", "LGBM", "CatBoost", "HistGradient"))
    )


def _positive_class(values: Any) -> np.ndarray:
    """SHAP values of the positive class as an (n, k) array, whatever shape the explainer gives."""
    arr = values.values if hasattr(values, "values") else values
    if isinstance(arr, list):
        arr = arr[-1]
    arr = np.asarray(arr, dtype=float)
    if arr.ndim == 3:
        arr = arr[:, :, -1]
    return arr


def _column_map(out_names: Sequence[str], inputs: Sequence[str]) -> list[str]:
    """Map transformed column names (``cat__contract_one_year``) back to input features."""
    by_len = sorted(inputs, key=len, reverse=True)
    mapped = []
    for name in out_names:
        base = str(name).split("__", 1)[1] if "__" in str(name) else str(name)
        hit = next((f for f in by_len if base == f), None) or next(
            (f for f in by_len if base.startswith(f + "_")), None
        )
        mapped.append(hit or base)
    return mapped


def _aggregate(shap_cols: np.ndarray, mapped: Sequence[str], inputs: Sequence[str]) -> dict[str, np.ndarray]:
    out = {f: np.zeros(shap_cols.shape[0]) for f in inputs}
    for j, f in enumerate(mapped):
        out.setdefault(f, np.zeros(shap_cols.shape[0]))
        out[f] = out[f] + shap_cols[:, j]
    return out


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=float)


def explain(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray | None = None,
    label: str = "model",
    agnostic_rows: int = 100,
    seed: int = 0,
) -> Importance:
    """Mean |SHAP| per input feature of ``model`` on ``X`` (see module doc for the explainer used)."""
    import shap  # lazy: importing shap costs ~2 s (numba, matplotlib)

    inputs = list(X.columns)
    pre, est = None, model
    if hasattr(model, "steps") and len(getattr(model, "steps", [])) > 1:
        pre, est = model[:-1], model.steps[-1][1]
    try:
        if pre is not None:
            Xt = _dense(pre.transform(X))
            try:
                mapped = _column_map(list(pre.get_feature_names_out()), inputs)
            except Exception:
                mapped = inputs if Xt.shape[1] == len(inputs) else [f"column {j}" for j in range(Xt.shape[1])]
        else:
            if not all(pd.api.types.is_numeric_dtype(X[c]) for c in inputs):
                raise TypeError("non-numeric inputs without a preprocessing pipeline")
            Xt, mapped = X.to_numpy(dtype=float), inputs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if _is_tree(est):
                method = "tree_shap"
                sv = _positive_class(shap.TreeExplainer(est)(Xt, check_additivity=False))
            elif hasattr(est, "coef_") and hasattr(est, "intercept_"):
                method = "linear_shap"
                sv = _positive_class(shap.LinearExplainer(est, Xt)(Xt))
            else:
                method = "permutation_shap"
                rng = np.random.default_rng(seed)
                take = rng.choice(len(Xt), size=min(agnostic_rows, len(Xt)), replace=False)
                Xs = Xt[take]
                f = (lambda z: est.predict_proba(z)[:, 1]) if hasattr(est, "predict_proba") else est.predict
                masker = shap.maskers.Independent(Xs, max_samples=50)
                sv = _positive_class(shap.explainers.Permutation(f, masker, seed=seed)(Xs))
        per_feature = _aggregate(sv, mapped, inputs)
        values = {f: float(np.mean(np.abs(v))) for f, v in per_feature.items()}
        detail = {f: [float(x) for x in v[:DETAIL_ROWS]] for f, v in per_feature.items()}
        return Importance(label, method, values, int(sv.shape[0]), None, detail)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}" if str(exc) else type(exc).__name__
        return permutation_fallback(model, X, y, label, reason, seed)


def permutation_fallback(
    model: Any, X: pd.DataFrame, y: np.ndarray | None, label: str, reason: str, seed: int = 0
) -> Importance:
    """ROC AUC drop when a feature is shuffled (``sklearn.inspection.permutation_importance``)."""
    from sklearn.inspection import permutation_importance  # lazy: scikit-learn, only on this fallback

    if y is not None:
        known = np.isfinite(np.asarray(y, dtype=float))
        X, y = X[known], np.asarray(y, dtype=float)[known].astype(int)
    if y is None or len(y) < 20 or len(np.unique(y)) < 2:
        return Importance(
            label,
            "none",
            {},
            len(X),
            f"{label} cannot be explained with SHAP ({reason}) and no labelled rows allow permutation importance",
        )

    from sklearn.base import BaseEstimator, ClassifierMixin  # lazy: as above

    class _Wrap(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # sklearn's scorer needs a classifier-like object; sklearn is untyped
        classes_ = np.array([0, 1])

        def fit(self, *a: Any, **k: Any) -> _Wrap:
            return self

        def predict_proba(self, Z: Any) -> np.ndarray:
            p = np.asarray(model.predict_proba(Z) if hasattr(model, "predict_proba") else model.predict(Z), dtype=float)
            p = p[:, -1] if p.ndim == 2 else p
            return np.column_stack([1 - p, p])

        def predict(self, Z: Any) -> np.ndarray:
            return (self.predict_proba(Z)[:, 1] >= 0.5).astype(int)

    try:
        res = permutation_importance(_Wrap(), X, y, scoring="roc_auc", n_repeats=5, random_state=seed)
    except Exception as exc:
        return Importance(
            label,
            "none",
            {},
            len(X),
            f"{label} cannot be explained ({reason}); permutation importance failed too ({type(exc).__name__})",
        )
    values = {c: float(max(v, 0.0)) for c, v in zip(X.columns, res.importances_mean)}
    return Importance(
        label,
        "permutation_importance",
        values,
        len(X),
        f"{label}: SHAP not available ({reason}); showing permutation importance (ROC AUC drop) instead",
    )


def importance_artifact(client: Any, run_id: str | None, label: str) -> Importance | None:
    """SHAP importance logged with the run (``shap/importance.json``), when present."""
    if not run_id:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="dg-shap-") as tmp:
            local = client.download_artifacts(run_id, SHAP_ARTIFACT, tmp)
            doc = json.loads(Path(local).read_text())
        values = {str(k): float(v) for k, v in doc.items()}
    except Exception:
        return None
    return Importance(label, "artifact", values, 0, f"{label}: importance read from the run's {SHAP_ARTIFACT}")


# --------------------------------------------------------------------------------------------
# Comparing two importances
# --------------------------------------------------------------------------------------------
def _share(values: dict[str, float]) -> dict[str, float]:
    total = sum(v for v in values.values() if np.isfinite(v))
    return {k: (v / total if total > 0 else 0.0) for k, v in values.items()}


def compare_importance(champion: dict[str, float], candidate: dict[str, float]) -> list[dict[str, Any]]:
    """Rows per feature, sorted by how much its share of importance moved (largest first).

    ``champion``/``candidate`` are raw mean |SHAP|; ``delta`` compares the *shares* of total
    importance so models on different output scales stay comparable.
    """
    feats = list(dict.fromkeys(list(champion) + list(candidate)))
    sc, sn = _share(champion), _share(candidate)
    rank_c = {f: i + 1 for i, f in enumerate(sorted(champion, key=lambda f: -champion[f]))}
    rank_n = {f: i + 1 for i, f in enumerate(sorted(candidate, key=lambda f: -candidate[f]))}
    rows = []
    for f in feats:
        c, n = champion.get(f), candidate.get(f)
        d = sn.get(f, 0.0) - sc.get(f, 0.0)
        rows.append(
            {
                "feature": f,
                "champion": c,
                "candidate": n,
                "champion_share": sc.get(f, 0.0),
                "candidate_share": sn.get(f, 0.0),
                "delta_share": d,
                "abs_delta_share": abs(d),
                "champion_rank": rank_c.get(f),
                "candidate_rank": rank_n.get(f),
                "missing_in": "candidate" if n is None else ("champion" if c is None else ""),
            }
        )
    rows.sort(key=lambda r: (-float(r["abs_delta_share"] or 0), str(r["feature"])))
    return rows


# --------------------------------------------------------------------------------------------
# Recent data
# --------------------------------------------------------------------------------------------
def recent_sample(settings: Any, model: str, n: int = 1000, days: int = 7) -> tuple[pd.DataFrame, np.ndarray | None]:
    """``n`` rows spread over the last ``days`` days of the model's configured source.

    Reads ``[models.<model>] source/features/label/timestamp``; the SQL is built with sqlglot
    (quoted identifiers, named parameters) and runs where the data lives (DuckDB / Databricks).
    Returns ``(features frame, labels as floats with NaN where not known yet, or None)``.
    """
    cfg = settings.model(model)
    if not cfg.get("source"):
        raise BadInput(f"model '{model}' has no data source configured ([models.{model}] source)")
    features = [str(f) for f in cfg.get("features", [])]
    label, ts = cfg.get("label"), cfg.get("timestamp")
    source = source_from_settings(settings, str(cfg["source"]))
    with open_backend(source, settings) as backend:
        if not features:
            skip = {label, ts, cfg.get("prediction")}
            features = [c for c in backend.columns if c not in skip]
        missing = [c for c in features + [label] if c and c not in backend.columns]
        if missing:
            raise BadInput(f"column(s) {', '.join(missing)} not in the data source of model '{model}'")
        cols = features + ([label] if label else [])
        query = exp.select(*[exp.column(c, quoted=True) for c in cols]).from_(backend.table.copy())
        params: dict[str, Any] = {}
        if ts:
            start, end = resolve_window(backend, Window(timestamp=ts, days=days))
            if start is not None:
                query = query.where(exp.column(ts, quoted=True) >= exp.Placeholder(this="start"))
                params["start"] = start
            if end is not None:
                query = query.where(exp.column(ts, quoted=True) < exp.Placeholder(this="end"))
                params["end"] = end
            # A spread over the whole window (not only its last hours), reproducible: order by a hash.
            query = query.order_by(exp.Anonymous(this="hash", expressions=[exp.column(ts, quoted=True)]))
        query = query.limit(int(n))
        sql = backend.render(query)
        rows = backend.execute(sql, params)
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        raise BadInput(f"no recent rows for model '{model}' in the last {days} days")
    y = None
    if label:
        lab = pd.to_numeric(frame.pop(label), errors="coerce")
        y = lab.to_numpy(dtype=float) if lab.notna().any() else None  # NaN where the label is not known yet
    for c in frame.columns:  # categoricals as object with None (what the demo models were fit on)
        if not pd.api.types.is_numeric_dtype(frame[c]):
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    return frame, y


def _align(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """The columns the model was trained on (a candidate may use fewer features)."""
    want = model_input_features(model)
    if not want:
        return X
    missing = [c for c in want if c not in X.columns]
    if missing:
        raise BadInput(f"the recent data lacks the model's input column(s): {', '.join(missing)}")
    return X[want]


def compare_versions(
    client: Any,
    settings: Any,
    model: str,
    candidate_version: str,
    champion_version: str,
    n_rows: int = 1000,
    days: int = 7,
    sample: tuple[pd.DataFrame, np.ndarray | None] | None = None,
    prefer_artifacts: bool = True,
) -> ShapComparison:
    """Mean |SHAP| of ``candidate_version`` vs ``champion_version`` on recent data of ``model``."""
    t0 = time.perf_counter()
    X, y = sample if sample is not None else recent_sample(settings, model, n=n_rows, days=days)
    X = X.head(n_rows)
    y = None if y is None else y[: len(X)]
    out: dict[str, Importance] = {}
    for role, version in (("champion", champion_version), ("candidate", candidate_version)):
        label = f"v{version} ({role})"
        imp = None
        if prefer_artifacts:
            mv = mlflow_call(
                client, f"model '{model}' version {version}", client.get_model_version, model, str(version)
            )
            imp = importance_artifact(client, getattr(mv, "run_id", None), label)
        if imp is None:
            m = load_model(client, model, str(version))
            try:
                Xa = _align(m, X)
            except DriftGateError as exc:
                imp = Importance(label, "none", {}, 0, f"{label}: {exc}")
            else:
                imp = explain(m, Xa, y, label)
        out[role] = imp
    table = tuple(compare_importance(out["champion"].values, out["candidate"].values))
    return ShapComparison(
        model,
        str(champion_version),
        str(candidate_version),
        out["champion"],
        out["candidate"],
        table,
        X.head(DETAIL_ROWS).reset_index(drop=True),
        time.perf_counter() - t0,
    )


__all__ = [
    "Importance",
    "ShapComparison",
    "compare_importance",
    "compare_versions",
    "explain",
    "load_model",
    "permutation_fallback",
    "recent_sample",
    "NotFound",
]
