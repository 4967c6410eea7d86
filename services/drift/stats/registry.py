"""The registry of drift statistics: one :class:`StatTest` per module of this package.

Like Evidently's stat-test registry: a test has a name, the feature kinds it applies to, whether it
is a p-value test, its default threshold, and one implementation per *method* — how the engine
that profiled the feature represents it:

* ``exact``: the raw values (memory engine, scipy's own functions);
* ``cdf``: exact counts at the reference's CDF points or cells (DuckDB pushdown);
* ``grid``: discrete-quantile grids (Databricks SQL, Spark);
* ``counts``: count vectors — bins at the reference's decile edges (numeric) or aligned category
  counts (categorical); the same on every engine.

Every module in ``services/drift/stats/`` except ``base`` and ``registry`` defines ``TEST`` and is
found by :func:`discover`: adding a statistic is adding one module (``docs/adding-a-statistic.md``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.drift.profile import FeatureProfile

KINDS = ("numeric", "categorical")
METHODS = ("exact", "cdf", "grid", "counts")


@dataclass(frozen=True)
class Pair:
    """One feature's reference and current profiles, as a test reads them."""

    ref: FeatureProfile
    cur: FeatureProfile
    method: str  # "exact" | "cdf" | "grid" (numeric), "counts" (categorical)
    ref_counts: list[int] = field(default_factory=list)  # bins (numeric) / aligned category counts
    cur_counts: list[int] = field(default_factory=list)


Result = tuple[float | None, float | None]  # (statistic, p-value or None)
Compute = Callable[[Pair], Result]
Sensitivity = Callable[[Pair, float, float], dict[str, Any] | None]


@dataclass(frozen=True)
class StatTest:
    """A statistic; its implementations and sensitivities are registered by decorators
    (:meth:`implements`, :meth:`detects`) in its module."""

    name: str
    order: int  # position in a feature's ``stats`` (report order: ks/chi2, wasserstein, psi, js)
    kinds: frozenset[str]
    p_value: bool  # decides on a p-value (the threshold is a significance level)
    default_threshold: float  # a threshold of a per-feature override that names no threshold
    implementations: dict[str, Compute] = field(default_factory=dict)  # method -> implementation
    sensitivity: dict[str, Sensitivity] = field(default_factory=dict)  # kind -> smallest detectable effect

    def implements(self, *methods: str) -> Callable[[Compute], Compute]:
        """Register the decorated function for ``methods`` ("counts" serves every method)."""

        def register(fn: Compute) -> Compute:
            self.implementations.update(dict.fromkeys(methods, fn))
            return fn

        return register

    def binned(self, fn: Callable[[list[int], list[int]], Any]) -> Callable[[list[int], list[int]], Any]:
        """Register a function of the two count vectors (bins or aligned categories) returning the
        statistic or ``(statistic, p-value)``, for every method."""

        def counts(p: Pair) -> Result:
            out = fn(p.ref_counts, p.cur_counts)
            return (out[0], out[1]) if isinstance(out, tuple) else (out, None)

        self.implementations["counts"] = counts
        return fn

    def detects(self, kind: str) -> Callable[[Sensitivity], Sensitivity]:
        """Register the decorated function as the sensitivity for features of ``kind``."""

        def register(fn: Sensitivity) -> Sensitivity:
            self.sensitivity[kind] = fn
            return fn

        return register

    def compute(self, pair: Pair) -> Result:
        fn = self.implementations.get(pair.method) or self.implementations["counts"]
        return fn(pair)


NUMERIC = frozenset({"numeric"})
CATEGORICAL = frozenset({"categorical"})
BOTH = NUMERIC | CATEGORICAL


def discover() -> dict[str, StatTest]:
    """Every test module of this package, by name, in report order (``_name`` modules are helpers)."""
    package = importlib.import_module(__name__.rsplit(".", 1)[0])
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("base", "registry") or info.name.startswith("_"):
            continue
        test = importlib.import_module(f"{package.__name__}.{info.name}").TEST
        if not isinstance(test, StatTest) or not test.kinds <= set(KINDS):
            raise TypeError(f"stats module {info.name!r} must define TEST = StatTest(...)")
        if not set(test.implementations) <= set(METHODS):
            raise TypeError(f"stats module {info.name!r}: unknown method in {sorted(test.implementations)}")
        found.append(test)
    return {t.name: t for t in sorted(found, key=lambda t: (t.order, t.name))}
