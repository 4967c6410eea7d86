"""The decision rule: which test decides a feature, at what threshold, and :func:`compare` — the one
place a drift report is decided, for every engine, the over-time windows, the trigger and the gate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.drift import stats as S
from services.drift.profile import Profile, Progress
from services.errors import BadInput

if TYPE_CHECKING:
    from services.config import Settings

DEFAULT_TESTS = {
    ("numeric", "small"): "ks",
    ("categorical", "small"): "chi2",
    ("numeric", "large"): "wasserstein",
    ("categorical", "large"): "jensenshannon",
}


SIGNIFICANCE_TESTS = {"numeric": "ks", "categorical": "chi2"}


@dataclass(frozen=True)
class Policy:
    """Decision rules; defaults are the spec's, every key overridable in ``[drift]``.

    Default ("significant and meaningful", the same at every sample size): a feature drifts when
    its BH-adjusted significance p-value (``ks`` numeric / ``chi2`` categorical; the family is every
    feature with a p-value) is < ``alpha`` **and** its effect (``wasserstein`` / ``jensenshannon``,
    or the per-feature override ``psi`` / ``jensenshannon`` / ``wasserstein``) reaches its
    threshold; ``test = "ks"``/``"chi2"`` decides on the adjusted p-value alone.
    ``small_sample`` (legacy, off by default): the old switch on the reference's size — p-value
    tests up to that many reference values, distance thresholds alone above.
    """

    small_sample: int | None = None  # legacy rule when set (None: the spec's default rule)
    alpha: float = 0.05
    numeric_threshold: float = 0.1  # wasserstein / std
    categorical_threshold: float = 0.1  # jensenshannon
    drift_share: float = 0.5  # dataset drifted when share >= this
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # feature -> {test, threshold}
    importance: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, drift: dict[str, Any] | None, importance: dict[str, float] | None = None) -> Policy:
        d = dict(drift or {})
        try:
            overrides = {str(k): dict(v) for k, v in dict(d.get("features", {})).items()}
            imp = {str(k): float(v) for k, v in dict(d.get("importance", {})).items()}
            if importance:
                imp = {**{str(k): float(v) for k, v in importance.items()}, **imp}
            small = d.get("small_sample")
            pol = cls(
                small_sample=None if small is None or small is False else int(small),
                alpha=float(d.get("alpha", 0.05)),
                numeric_threshold=float(d.get("numeric_threshold", 0.1)),
                categorical_threshold=float(d.get("categorical_threshold", 0.1)),
                drift_share=float(d.get("drift_share_threshold", 0.5)),
                overrides=overrides,
                importance=imp,
            )
        except (TypeError, ValueError):
            raise BadInput("invalid [drift] configuration (numbers expected for thresholds)") from None
        if not 0.0 < pol.alpha < 1.0:
            raise BadInput(f"[drift] alpha must be between 0 and 1 (exclusive), got {pol.alpha:g}")
        for key, value in (
            ("numeric_threshold", pol.numeric_threshold),
            ("categorical_threshold", pol.categorical_threshold),
        ):
            if not value >= 0.0:
                raise BadInput(f"[drift] {key} must not be negative, got {value:g}")
        if not 0.0 <= pol.drift_share <= 1.0:
            raise BadInput(f"[drift] drift_share_threshold must be between 0 and 1, got {pol.drift_share:g}")
        if pol.small_sample is not None and pol.small_sample < 0:
            raise BadInput("[drift] small_sample (legacy rule) must not be negative")
        for name, o in overrides.items():
            test = o.get("test")
            if test is not None and test not in set(S.NUMERIC_TESTS) | set(S.CATEGORICAL_TESTS):
                raise BadInput(f"[drift.features.{name}] test must be one of ks, wasserstein, chi2, psi, jensenshannon")
            if "threshold" in o:
                th = o["threshold"]
                if isinstance(th, bool) or not isinstance(th, (int, float)):
                    raise BadInput(f"[drift.features.{name}] threshold must be a number")
                if not th >= 0:
                    raise BadInput(f"[drift.features.{name}] threshold must not be negative, got {th:g}")
                if test in S.P_VALUE_TESTS and not 0 < th < 1:
                    raise BadInput(f"[drift.features.{name}] threshold of {test} is a p-value level in (0, 1)")
        return pol

    @classmethod
    def from_settings(cls, settings: Settings | None, importance: dict[str, float] | None = None) -> Policy:
        return cls.from_config(settings.section("drift") if settings is not None else {}, importance)

    @property
    def legacy(self) -> bool:
        return self.small_sample is not None

    def significance_test(self, kind: str) -> str:
        return SIGNIFICANCE_TESTS[kind]

    def choose(self, name: str, kind: str, n: int) -> tuple[str, float]:
        """The deciding test of a feature (the report's ``test``) and its threshold: the effect
        test (or, for ``ks``/``chi2`` overrides, the p-value test and its level)."""
        o = self.overrides.get(name, {})
        test = o.get("test")
        if test is not None:
            allowed = S.NUMERIC_TESTS if kind == "numeric" else S.CATEGORICAL_TESTS
            if test not in allowed:
                raise BadInput(f"test {test!r} does not apply to {kind} feature {name!r}")
        elif self.legacy:
            test = DEFAULT_TESTS[(kind, "small" if n <= (self.small_sample or 0) else "large")]
        else:
            test = DEFAULT_TESTS[(kind, "large")]
        if "threshold" in o:
            return test, float(o["threshold"])
        if test in S.P_VALUE_TESTS:
            return test, self.alpha
        if test == "wasserstein":
            return test, self.numeric_threshold
        if test == "jensenshannon" and "test" not in o:
            return test, self.numeric_threshold if kind == "numeric" else self.categorical_threshold
        return test, S.TESTS[test].default_threshold


def compare(
    reference: Profile,
    current: Profile,
    policy: Policy | None = None,
    order: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The spec's drift report for two profiles (the one place the decision rule is applied, for
    every engine, the over-time windows, the trigger and the gate)."""
    policy = policy or Policy()
    names = list(order) if order else list(reference.features)
    rows: list[dict[str, Any]] = []
    pairs: list[S.Pair] = []
    for name in names:
        if progress:
            progress(f"testing {name}")
        ref_f, cur_f = reference.features[name], current.features[name]
        pair = S.pair(ref_f, cur_f)
        pairs.append(pair)
        st = S.feature_stats(pair)
        test, threshold = policy.choose(name, ref_f.kind, ref_f.count)
        sig = test if policy.legacy else policy.significance_test(ref_f.kind)
        rows.append(
            {
                "feature": name,
                "kind": ref_f.kind,
                "test": test,
                "statistic": st[test]["statistic"],
                "p_value": st[sig]["p_value"],
                "p_value_adjusted": None,
                "threshold": threshold,
                "drifted": False,
                "stats": st,
                "summary": {"reference": dict(ref_f.summary), "current": dict(cur_f.summary)},
            }
        )
    if policy.legacy:
        _decide_legacy(rows)
    else:
        _decide(rows, policy, pairs)
    drifted = sum(r["drifted"] for r in rows)
    total = len(rows)
    share = drifted / total if total else 0.0
    return {
        "reference": {"source": reference.source, "rows": reference.rows},
        "current": {"source": current.source, "rows": current.rows},
        "engine": current.engine if current.engine != "memory" or reference.engine == "memory" else reference.engine,
        "approximate": any(p.method in ("cdf", "grid") for p in pairs),
        "features": rows,
        "dataset": {
            "drifted_features": int(drifted),
            "total_features": total,
            "drift_share": share,
            "threshold": policy.drift_share,
            "drifted": bool(total and share >= policy.drift_share),
            "weighted_drift_share": weighted_share(rows, policy.importance),
        },
    }


def _decide(rows: list[dict[str, Any]], policy: Policy, pairs: Sequence[S.Pair]) -> None:
    """The spec's default: BH over every feature with a p-value; drifted = adjusted p < alpha and
    effect >= threshold (a null effect counts as reached); ks/chi2 overrides: adjusted p alone.
    Adds ``alpha``, ``significant`` and ``sensitivity`` to each row (extra keys)."""
    family = [r for r in rows if r["p_value"] is not None]
    for r, padj in zip(family, S.benjamini_hochberg([r["p_value"] for r in family])):
        r["p_value_adjusted"] = padj
    level = policy.alpha / max(len(family), 1)  # what one feature alone must reach under BH
    for r, pair in zip(rows, pairs):
        padj = r["p_value_adjusted"]
        if r["test"] in S.P_VALUE_TESTS:
            r["significant"] = padj is not None and padj < r["threshold"]
            r["drifted"] = bool(r["significant"])
            r["alpha"] = r["threshold"]
        else:
            r["significant"] = padj is not None and padj < policy.alpha
            reached = r["statistic"] is None or r["statistic"] >= r["threshold"]
            r["drifted"] = bool(r["significant"] and reached)
            r["alpha"] = policy.alpha
        r["sensitivity"] = S.sensitivity(
            pair,
            r["test"],
            r["threshold"],
            level if r["test"] not in S.P_VALUE_TESTS else r["threshold"] / max(len(family), 1),
        )


_EFFECT_WORDS = {
    "wasserstein": "a {t:g}-std shift",
    "jensenshannon": "a Jensen-Shannon {t:g} change",
    "psi": "a PSI {t:g} change",
}


def sensitivity_note(row: dict[str, Any]) -> str | None:
    """One line for a feature whose window cannot detect a change of its threshold's size
    ("window too small to detect a 0.1-std shift: 80 rows; need ≈ 1,500"), else None."""
    sens = row.get("sensitivity")
    if not sens or sens.get("detectable", True) or row.get("test") not in _EFFECT_WORDS:
        return None
    what = _EFFECT_WORDS[row["test"]].format(t=float(row["threshold"]))
    need = sens.get("rows_needed")
    tail = f"need ≈ {need:,}" if need else "not reachable with this reference (too few reference rows)"
    return f"window too small to detect {what}: {int(sens['current_rows']):,} rows; {tail}"


def _decide_legacy(rows: list[dict[str, Any]]) -> None:
    """The old rule (``[drift] small_sample`` set): BH over the p-value-decided features,
    distance thresholds alone for the others (their ``p_value`` is null)."""
    family = [r for r in rows if r["test"] in S.P_VALUE_TESTS]
    adjusted = S.benjamini_hochberg([r["p_value"] if r["p_value"] is not None else 1.0 for r in family])
    for r, padj in zip(family, adjusted):
        r["p_value_adjusted"] = padj
        r["drifted"] = bool(padj < r["threshold"])
    for r in rows:
        if r["test"] not in S.P_VALUE_TESTS:
            r["p_value"] = None
            r["drifted"] = True if r["statistic"] is None else bool(r["statistic"] >= r["threshold"])


def weighted_share(rows: Iterable[dict[str, Any]], importance: dict[str, float]) -> float | None:
    if not importance:
        return None
    known = [(r["feature"], r["drifted"]) for r in rows if r["feature"] in importance]
    total = sum(abs(importance[f]) for f, _ in known)
    if not known or total <= 0:
        return None
    return sum(abs(importance[f]) for f, d in known if d) / total
