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
from collections.abc import Callable, Mapping
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
    name: str
    order: int  # position in a feature's ``stats`` (report order: ks/chi2, wasserstein, psi, js)
    kinds: frozenset[str]
    p_value: bool  # decides on a p-value (the threshold is a significance level)
    default_threshold: float  # a threshold of a per-feature override that names no threshold
    implementations: Mapping[str, Compute]  # method -> implementation ("counts" serves every method)
    sensitivity: Mapping[str, Sensitivity] = field(default_factory=dict)  # kind -> smallest detectable effect

    def compute(self, pair: Pair) -> Result:
        fn = self.implementations.get(pair.method) or self.implementations["counts"]
        return fn(pair)


def discover() -> dict[str, StatTest]:
    """Every test module of this package, by name, in report order."""
    package = importlib.import_module(__name__.rsplit(".", 1)[0])
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("base", "registry"):
            continue
        test = importlib.import_module(f"{package.__name__}.{info.name}").TEST
        if not isinstance(test, StatTest) or not test.kinds <= set(KINDS):
            raise TypeError(f"stats module {info.name!r} must define TEST = StatTest(...)")
        if not set(test.implementations) <= set(METHODS):
            raise TypeError(f"stats module {info.name!r}: unknown method in {sorted(test.implementations)}")
        found.append(test)
    return {t.name: t for t in sorted(found, key=lambda t: (t.order, t.name))}
