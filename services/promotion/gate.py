"""Promotion gate: the checks a candidate version must pass before anyone may approve it.

Each check answers ``pass`` / ``fail`` / ``warn`` with a one-line ``detail`` and structured
``evidence`` (values, run ids, links). The gate *passes* when no **required** check fails;
advisory checks are shown but never block.

Config (defaults in :data:`DEFAULTS`; ``[gate]`` for every model, ``[models.<name>]``'s
``selection_metric`` / ``greater_is_better``, then ``[models.<name>.gate]`` win)::

    [gate]
    selection_metric = "roc_auc"
    greater_is_better = true
    min_improvement = 0.005          # absolute margin on the selection metric
    approvals_required = 1
    required = ["candidate_state", "same_eval_window", "beats_champion", "guard_metrics",
                "signature_compatible", "lineage_complete", "rollback_target"]
    advisory = ["feature_consistency"]
    [gate.guards.brier]              # not worse than the champion beyond the tolerance
    tolerance = 0.01
    greater_is_better = false
    [gate.limits.calibration_error]  # absolute limits (fairness / calibration metrics)
    max = 0.05

Checks: ``candidate_state`` (a READY version that is neither champion nor rejected),
``same_eval_window`` (a run evaluated the *current* champion version on the candidate's
``driftgate.eval_window``, see ``_Ctx.baseline``), ``beats_champion`` and ``guard_metrics``
(guards + limits) against that run, ``signature_compatible`` (same input names and types as the
champion's signature), ``lineage_complete`` (source run, ``driftgate.training_data``,
``driftgate.code_version`` or ``mlflow.source.git.commit``, the parent's ``driftgate.trigger``),
``rollback_target`` (a current champion that becomes the rollback target), and
``feature_consistency`` (training-serving skew through the drift engine; advisory: the
candidate run's ``driftgate.training_window`` of the model's scoring log vs the recent window;
``[gate.feature_consistency] enabled = true, max_drift_share = 0.5``; degrades to ``warn`` with
the reason when the drift engine or the data is unavailable).
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow.artifacts
from mlflow.models import Model

from services import drift
from services.config import GATE_CHECKS, Settings
from services.errors import DriftGateError, NotFound
from services.registry import tags as tag
from services.registry.lifecycle import Lifecycle, VersionView, make_lifecycle, normalise_version
from services.warehouse.sources import Window

PASS, FAIL, WARN = "pass", "fail", "warn"

# Reading MLmodel files must not draw download progress bars on a CLI's stderr.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


DEFAULTS: dict[str, Any] = {
    "selection_metric": "roc_auc",
    "greater_is_better": True,
    "min_improvement": 0.005,
    "approvals_required": 1,
    "required": [n for n in GATE_CHECKS if n != "feature_consistency"],
    "advisory": ["feature_consistency"],
    "guards": {"brier": {"tolerance": 0.01, "greater_is_better": False}},
    "limits": {},
    "feature_consistency": {"enabled": True, "max_drift_share": 0.5},
}


def gate_config(settings: Settings, model: str) -> dict[str, Any]:
    cfg = copy.deepcopy(DEFAULTS)
    model_cfg = settings.model(model) if settings is not None else {}
    for layer in (settings.explicit("gate") if settings is not None else {}, model_cfg, model_cfg.get("gate") or {}):
        for key, value in layer.items():
            if key in ("guards", "limits", "feature_consistency") and isinstance(value, dict):
                cfg[key] = {**cfg[key], **value}
            elif key in DEFAULTS or key in ("approval_tag",):
                cfg[key] = value
        # ``guard_metrics = {brier = 0.01}``: metric -> tolerance (direction from the name);
        # a plain list (``["brier"]``) means no tolerance.
        guards = layer.get("guard_metrics") or {}
        if isinstance(guards, (list, tuple)):
            guards = {str(name): 0.0 for name in guards}
        for name, tol in guards.items():
            cfg["guards"][name] = (
                tol
                if isinstance(tol, dict)
                else {"tolerance": float(tol), "greater_is_better": not _lower_is_better(name)}
            )
    if "advisory" in (model_cfg.get("gate") or {}) or "advisory" in (settings.explicit("gate") if settings else {}):
        cfg["required"] = [n for n in cfg["required"] if n not in cfg["advisory"]]
    cfg["approvals_required"] = max(1, int(cfg.get("approvals_required") or 1))
    return cfg


_LOWER = ("loss", "brier", "error", "ece", "mse", "mae", "rmse", "gap", "diff")


def _lower_is_better(metric: str) -> bool:
    return any(k in metric.lower() for k in _LOWER)


@dataclass
class Check:
    name: str
    status: str
    detail: str
    required: bool = True
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "required": self.required,
            "evidence": self.evidence,
        }


@dataclass
class GateResult:
    model: str
    version: str
    checks: list[Check]
    champion: str | None  # champion version the gate compared against (the "expected" state)
    lifecycle: str
    config: dict[str, Any]
    author: str | None = None
    #: Every author of the candidate as the gate read them (its source run included): an approval
    #: with this result checks four-eyes without reading the run again.
    authors: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(c.status != FAIL for c in self.checks if c.required)

    @property
    def blocking(self) -> list[Check]:
        return [c for c in self.checks if c.required and c.status == FAIL]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "passed": self.passed,
            "champion": self.champion,
            "checks": [c.to_json() for c in self.checks],
        }


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _evaluates(run: Any) -> str | None:
    """The registered version a re-evaluation run names (``driftgate.model_version``)."""
    return str(run.data.tags.get(tag.MODEL_VERSION, "")).strip() or None


class _Ctx:
    """Lazily fetched MLflow objects shared by the checks."""

    def __init__(
        self,
        settings: Settings,
        client: Any,
        lc: Lifecycle,
        view: VersionView,
        champion: VersionView | None,
        cfg: dict[str, Any],
    ) -> None:
        self.settings, self.client, self.lc, self.view, self.champion, self.cfg = (
            settings,
            client,
            lc,
            view,
            champion,
            cfg,
        )
        self._runs: dict[str, Any] = {}

    def run(self, run_id: str | None) -> Any:
        if not run_id:
            return None
        if run_id not in self._runs:
            try:
                self._runs[run_id] = self.client.get_run(run_id)
            except Exception:
                self._runs[run_id] = None
        return self._runs[run_id]

    @property
    def cand_run(self) -> Any:
        return self.run(self.view.run_id)

    @property
    def parent_id(self) -> str | None:
        r = self.cand_run
        return r.data.tags.get("mlflow.parentRunId") if r else None

    _baseline_cache: Any = None
    _baseline_done = False

    def baseline(self) -> Any:
        """The current champion's evaluation on the candidate's data, or None. In order: a
        ``driftgate.role=champion`` child of the candidate's retraining run tagged with the champion's
        ``driftgate.model_version``; the champion's source run if a sibling or on the same
        ``driftgate.eval_window``; a run of the experiment tagged with its version and that window;
        a role=champion child naming no version. A former champion's re-evaluation is never used.
        Calls: one search; + get_run and one search when it finds no exact re-evaluation."""
        if not self._baseline_done:
            self._baseline_done = True
            self._baseline_cache = self._find_baseline()
        return self._baseline_cache

    def _search(self, experiment_id: str, filter_string: str) -> list[Any]:
        try:
            return list(self.client.search_runs([experiment_id], filter_string=filter_string, max_results=10))
        except Exception:
            return []

    def _find_baseline(self) -> Any:
        parent, run, champ = self.parent_id, self.cand_run, self.champion
        if not parent or not run or champ is None:
            return None
        exp = run.info.experiment_id
        children = self._search(exp, f"tags.mlflow.parentRunId = '{parent}' and tags.`{tag.ROLE}` = 'champion'")
        exact = [r for r in children if _evaluates(r) == champ.version]
        if exact:
            return exact[0]
        window = run.data.tags.get(tag.EVAL_WINDOW)
        source = self.run(champ.run_id) if champ.run_id != run.info.run_id else None
        if source is not None and (
            source.data.tags.get("mlflow.parentRunId") == parent
            or (window and source.data.tags.get(tag.EVAL_WINDOW) == window)
        ):
            return source
        if window and not any(c in window for c in "'\\`"):  # no quoting in a filter value: no match
            flt = f"tags.`{tag.MODEL_VERSION}` = '{champ.version}' and tags.`{tag.EVAL_WINDOW}` = '{window}'"
            found = self._search(exp, flt)
            if found:
                return found[0]
        untagged = [r for r in children if not _evaluates(r)]
        return untagged[0] if untagged else None

    def link(self, run: Any) -> str | None:
        uri = self.settings.tracking_uri if self.settings is not None else ""
        if run is None or not uri.startswith(("http://", "https://")):
            return None
        return f"{uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"


# -- checks -------------------------------------------------------------------------------------
def check_candidate_state(ctx: _Ctx) -> Check:
    v = ctx.view
    ev = {"state": v.state, "stage": v.stage, "aliases": list(v.aliases), "status": v.status}
    if v.status.upper() != "READY":
        return Check("candidate_state", FAIL, f"version {v.version} is not ready (status {v.status})", evidence=ev)
    if v.state == "champion":
        return Check("candidate_state", FAIL, f"version {v.version} is already the champion", evidence=ev)
    if v.state == "rejected":
        by = v.tags.get(tag.DECISION_BY) or "someone"
        return Check("candidate_state", FAIL, f"version {v.version} was rejected by {by}", evidence=ev)
    what = "a candidate" if v.state == "candidate" else f"{'an' if v.state[:1] in 'aeiou' else 'a'} {v.state} version"
    return Check("candidate_state", PASS, f"version {v.version} is {what} awaiting a decision", evidence=ev)


def check_same_window(ctx: _Ctx) -> Check:
    if ctx.champion is None:
        return Check("same_eval_window", WARN, "no champion yet: nothing to compare against")
    run = ctx.cand_run
    if run is None:
        return Check("same_eval_window", FAIL, "the candidate has no source run")
    if not ctx.parent_id:
        return Check(
            "same_eval_window",
            FAIL,
            "the candidate's run has no parent retraining run, so no like-for-like champion baseline",
        )
    champ = ctx.champion.version
    cw = run.data.tags.get(tag.EVAL_WINDOW)
    base = ctx.baseline()
    if base is None:
        return Check(
            "same_eval_window",
            FAIL,
            f"no evaluation of champion v{champ} on the candidate's evaluation data (a driftgate.role=champion "
            f"child of its retraining run, or a run tagged driftgate.model_version={champ} on its window): "
            "baseline is not like-for-like",
            evidence={"candidate_window": cw, "champion": champ},
        )
    bw = base.data.tags.get(tag.EVAL_WINDOW)
    ev = {
        "candidate_window": cw,
        "champion_window": bw,
        "baseline_run": base.info.run_id,
        "baseline_evaluates": champ if base.info.run_id == ctx.champion.run_id or _evaluates(base) else None,
        "champion": champ,
        "baseline_link": ctx.link(base),
    }
    if not cw or not bw:
        return Check(
            "same_eval_window",
            FAIL,
            "evaluation window tag driftgate.eval_window missing on the candidate or the baseline",
            evidence=ev,
        )
    if cw != bw:
        return Check("same_eval_window", FAIL, f"evaluated on {cw}, champion v{champ} on {bw}", evidence=ev)
    return Check("same_eval_window", PASS, f"candidate and champion v{champ} both evaluated on {cw}", evidence=ev)


def _metric(run: Any, name: str) -> float | None:
    if run is None:
        return None
    v = run.data.metrics.get(name)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def check_beats(ctx: _Ctx) -> Check:
    cfg = ctx.cfg
    metric, gib, margin = cfg["selection_metric"], bool(cfg["greater_is_better"]), float(cfg["min_improvement"])
    cand = _metric(ctx.cand_run, metric)
    ev: dict[str, Any] = {"metric": metric, "greater_is_better": gib, "min_improvement": margin, "candidate": cand}
    if cand is None:
        return Check("beats_champion", FAIL, f"the candidate run has no {metric} metric", evidence=ev)
    if ctx.champion is None:
        return Check("beats_champion", WARN, f"no champion yet; candidate {metric} = {_fmt(cand)}", evidence=ev)
    version, base = ctx.champion.version, ctx.baseline()
    champ = _metric(base, metric)
    ev["champion"], ev["champion_version"] = champ, version
    if champ is None:
        why = "no like-for-like evaluation of" if base is None else f"no {metric} logged by the evaluation of"
        return Check("beats_champion", FAIL, f"{why} champion v{version} to compare with", evidence=ev)
    improvement = (cand - champ) if gib else (champ - cand)
    ev["improvement"] = improvement
    text = f"{metric} {_fmt(cand)} vs champion v{version} {_fmt(champ)}"
    text += f" (improvement {improvement:+.4f}, need >= {margin:.4f})"
    return Check("beats_champion", PASS if improvement >= margin else FAIL, text, evidence=ev)


def check_guards(ctx: _Ctx) -> Check:
    cfg = ctx.cfg
    base = ctx.baseline() if ctx.champion is not None else None
    version = ctx.champion.version if ctx.champion is not None else None
    who = f"champion v{version}" if version else "champion"
    problems, notes, warns = [], [], []
    ev: dict[str, Any] = {"guards": {}, "limits": {}, "champion_version": version}
    for name, g in (cfg.get("guards") or {}).items():
        g = g if isinstance(g, dict) else {"tolerance": float(g), "greater_is_better": not _lower_is_better(name)}
        tol, gib = float(g.get("tolerance", 0.0)), bool(g.get("greater_is_better", False))
        cand, champ = _metric(ctx.cand_run, name), _metric(base, name)
        worse = None if cand is None or champ is None else ((champ - cand) if gib else (cand - champ))
        ev["guards"][name] = {"candidate": cand, "champion": champ, "worse_by": worse, "tolerance": tol}
        if cand is None:
            problems.append(f"{name} missing on the candidate")
        elif champ is None:
            warns.append(f"{name}: no {who} value on the same data")
        elif worse is not None and worse > tol:
            problems.append(f"{name} {_fmt(cand)} worse than {who} {_fmt(champ)} by {worse:.4f} > {tol}")
        else:
            notes.append(f"{name} {_fmt(cand)} vs {_fmt(champ)}")
    for name, lim in (cfg.get("limits") or {}).items():
        lim = lim if isinstance(lim, dict) else {"max": float(lim)}
        cand = _metric(ctx.cand_run, name)
        ev["limits"][name] = {"candidate": cand, **lim}
        if cand is None:
            problems.append(f"{name} missing (limit configured)")
        elif "max" in lim and cand > float(lim["max"]):
            problems.append(f"{name} {_fmt(cand)} > max {lim['max']}")
        elif "min" in lim and cand < float(lim["min"]):
            problems.append(f"{name} {_fmt(cand)} < min {lim['min']}")
        else:
            notes.append(f"{name} {_fmt(cand)} within limit")
    if problems:
        return Check("guard_metrics", FAIL, "; ".join(problems), evidence=ev)
    if warns:
        return Check("guard_metrics", WARN, "; ".join(warns + notes), evidence=ev)
    if not notes:
        return Check("guard_metrics", PASS, "no guard metrics configured", evidence=ev)
    return Check("guard_metrics", PASS, "; ".join(notes), evidence=ev)


def model_signature_inputs(settings: Settings, client: Any, model: str, version: str) -> list[dict[str, Any]] | None:
    """The input schema (list of {name, type, ...}) of a registered version, or None if unsigned."""
    uri = client.get_model_version_download_uri(model, version)
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=uri.rstrip("/") + "/MLmodel",
            dst_path=tmp,
            tracking_uri=getattr(settings, "tracking_uri", None),
            registry_uri=getattr(settings, "registry_uri", None),
        )
        sig = Model.load(Path(path)).signature
    if sig is None or sig.inputs is None:
        return None
    return list(sig.inputs.to_dict())


def _cols(inputs: list[dict[str, Any]]) -> dict[str, str]:
    return {str(c.get("name")): str(c.get("type")) for c in inputs}


def check_signature(ctx: _Ctx) -> Check:
    if ctx.champion is None:
        return Check("signature_compatible", WARN, "no champion signature to compare with")
    try:
        cand = model_signature_inputs(ctx.settings, ctx.client, ctx.lc.model, ctx.view.version)
        champ = model_signature_inputs(ctx.settings, ctx.client, ctx.lc.model, ctx.champion.version)
    except Exception as exc:
        return Check("signature_compatible", FAIL, f"model signatures cannot be read ({type(exc).__name__})")
    if cand is None or champ is None:
        who = "candidate" if cand is None else "champion"
        return Check("signature_compatible", FAIL, f"the {who} has no input signature")
    a, b = _cols(cand), _cols(champ)
    missing = [n for n in b if n not in a]
    extra = [n for n in a if n not in b]
    changed = {n: f"{b[n]} -> {a[n]}" for n in a if n in b and a[n] != b[n]}
    ev = {"candidate": cand, "champion": champ, "missing": missing, "extra": extra, "type_changes": changed}
    if missing or extra or changed:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"new inputs {', '.join(extra)}")
        if changed:
            parts.append("type changes " + ", ".join(f"{k}: {v}" for k, v in changed.items()))
        return Check(
            "signature_compatible",
            FAIL,
            "input signature differs from the champion's: " + "; ".join(parts),
            evidence=ev,
        )
    return Check("signature_compatible", PASS, f"same {len(a)} inputs with the same types as the champion", evidence=ev)


def check_lineage(ctx: _Ctx) -> Check:
    run = ctx.cand_run
    if run is None:
        return Check("lineage_complete", FAIL, "source run missing (the version has no run or it was deleted)")
    tags = run.data.tags
    parent = ctx.run(ctx.parent_id)
    ev = {
        "source_run": run.info.run_id,
        "run_link": ctx.link(run),
        "training_data": tags.get(tag.TRAINING_DATA),
        "code_version": tags.get(tag.CODE_VERSION) or tags.get("mlflow.source.git.commit"),
        "parent_run": ctx.parent_id,
        "trigger": parent.data.tags.get(tag.TRIGGER) if parent else None,
    }
    missing = [k for k in ("training_data", "code_version", "trigger") if not ev[k]]
    if missing:
        names = {
            "training_data": "training data (driftgate.training_data)",
            "code_version": "code version (driftgate.code_version)",
            "trigger": "trigger reason (parent's driftgate.trigger)",
        }
        return Check("lineage_complete", FAIL, "missing " + ", ".join(names[m] for m in missing), evidence=ev)
    return Check(
        "lineage_complete",
        PASS,
        f"run {run.info.run_id[:8]}, data {ev['training_data']}, code {ev['code_version']}, trigger: {ev['trigger']}",
        evidence=ev,
    )


def check_rollback(ctx: _Ctx) -> Check:
    c = ctx.champion
    if c is None:
        return Check("rollback_target", WARN, "first promotion: there is no champion to roll back to")
    ev = {"rollback_to": c.version, "status": c.status}
    if c.status.upper() != "READY":
        return Check(
            "rollback_target", FAIL, f"champion version {c.version} is not ready (status {c.status})", evidence=ev
        )
    return Check(
        "rollback_target", PASS, f"version {c.version} (current champion) becomes the rollback target", evidence=ev
    )


def check_feature_consistency(ctx: _Ctx) -> Check:
    """Training-serving skew: the candidate's training data vs recent scoring data (drift engine)."""
    try:
        return _feature_consistency(ctx)
    except DriftGateError as exc:
        return Check("feature_consistency", WARN, f"not evaluated: {exc}")
    except Exception as exc:
        return Check("feature_consistency", WARN, f"not evaluated: drift engine unavailable ({type(exc).__name__})")


_SKEW_CACHE: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
_SKEW_TTL = 300.0


def _feature_consistency(ctx: _Ctx) -> Check:
    """The candidate's training window of the model's scoring log (``driftgate.training_window``
    on its run, ``START..END``) vs the recent scoring window, through the drift engine
    (``services.drift.model_drift_report``). fail: dataset drift share >= ``max_drift_share``;
    warn: some features drifted; pass: none."""
    opts = ctx.cfg.get("feature_consistency") or {}
    if opts.get("enabled", True) is False:
        return Check("feature_consistency", WARN, "disabled in the config ([gate] feature_consistency.enabled)")
    run = ctx.cand_run
    parsed = tag.training_window(run.data.tags if run else None)
    if parsed is None:
        return Check(
            "feature_consistency",
            WARN,
            f"not evaluated: the candidate run has no usable {tag.TRAINING_WINDOW} tag (START..END)",
        )
    window, start, end = parsed.text, parsed.start, parsed.end
    model_cfg = ctx.settings.model(ctx.lc.model)
    if not model_cfg.get("source"):
        return Check("feature_consistency", WARN, f"not evaluated: [models.{ctx.lc.model}] has no scoring-log source")
    key = (str(ctx.settings.home), ctx.settings.tracking_uri, ctx.lc.model, window, str(ctx.settings.config_path))
    hit = _SKEW_CACHE.get(key)
    if hit and time.monotonic() - hit[0] < _SKEW_TTL:
        report = hit[1]
    else:
        report = drift.model_drift_report(
            ctx.settings, ctx.lc.model, reference=Window(timestamp=model_cfg.get("timestamp"), start=start, end=end)
        )
        _SKEW_CACHE[key] = (time.monotonic(), report)
    ds = report["dataset"]
    drifted = [f["feature"] for f in report["features"] if f.get("drifted")]
    limit = float(opts.get("max_drift_share", 0.5))
    ev = {
        "training_window": window,
        "current_window": report.get("current", {}).get("window"),
        "drift_share": ds.get("drift_share"),
        "max_drift_share": limit,
        "drifted_features": drifted,
        "features": {
            f["feature"]: {
                "test": f["test"],
                "statistic": f["statistic"],
                "threshold": f["threshold"],
                "drifted": f["drifted"],
            }
            for f in report["features"]
        },
    }
    share = float(ds.get("drift_share") or 0.0)
    text = (
        f"training window {window} vs recent scoring data ({ev['current_window']}): "
        f"{len(drifted)} of {ds.get('total_features')} features differ"
        + (f" ({', '.join(drifted)})" if drifted else "")
    )
    if share >= limit:
        return Check("feature_consistency", FAIL, text + f"; share {share:.2f} >= {limit}", evidence=ev)
    return Check("feature_consistency", WARN if drifted else PASS, text, evidence=ev)


CHECKS = {
    "candidate_state": check_candidate_state,
    "same_eval_window": check_same_window,
    "beats_champion": check_beats,
    "guard_metrics": check_guards,
    "signature_compatible": check_signature,
    "lineage_complete": check_lineage,
    "rollback_target": check_rollback,
    "feature_consistency": check_feature_consistency,
}


def evaluate(
    settings: Settings, client: Any, model: str, version: object, lifecycle: Lifecycle | None = None
) -> GateResult:
    """Run every check for ``model`` version ``version``. Unknown model/version -> NotFound."""
    lc = lifecycle or make_lifecycle(settings, client, model)
    v = normalise_version(version)
    views = {x.version: x for x in lc.versions()}
    if v not in views:
        raise NotFound(f"version {v} of model {lc.model!r} not found")
    state = lc.state()
    champion = views.get(state.champion) if state.champion else None
    cfg = gate_config(settings, lc.model)
    ctx = _Ctx(settings, client, lc, views[v], champion, cfg)
    required = set(cfg["required"]) - set(cfg["advisory"])
    checks = []
    for name, fn in CHECKS.items():
        try:
            chk = fn(ctx)
        except Exception as exc:
            chk = Check(name, FAIL, f"check could not run ({type(exc).__name__})")
        chk.required = name in required
        checks.append(chk)
    cand = lc.get_version(v)  # with the source run's authors (read once; a listing may have them)
    champ = champion.version if champion else None
    return GateResult(lc.model, v, checks, champ, lc.mode, cfg, cand.created_by, cand.authors)
