"""One query-construction path for every SQL engine (DuckDB locally, Databricks SQL warehouses).

Why hand-built sqlglot expressions rather than Ibis: the drift profile is a handful of
aggregate queries whose exact shape matters (one pass per side, decile edges that must match
``numpy.quantile``'s linear interpolation, discrete-quantile grids, cumulative bin counts as
``COUNT_IF`` filters, NaN-as-missing), and the two engines spell the quantile aggregates
differently (DuckDB ``QUANTILE_CONT(x, [..])`` vs Databricks ``PERCENTILE(x, ARRAY(..))`` and
``PERCENTILE_DISC(ARRAY(..)) WITHIN GROUP (ORDER BY x)``). sqlglot is already a dependency, builds
the statement as a syntax tree (so an identifier is always a quoted ``Identifier`` node and a value
is always a named ``Placeholder`` — no string pasting of user input anywhere), renders it per
dialect, and re-parses the result as a validity check. Ibis would add a large dependency and
still hide which quantile algorithm runs on each backend.

Every builder returns ``(sql, params)``; params are named (``$name`` in DuckDB, ``:name`` for
databricks-sql-connector's native parameters).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlglot import exp

from services.drift.stats import DECILES, grid_probs
from services.errors import BadInput
from services.warehouse.sql import column, render
from services.warehouse.sql import date_bucket as _bucket
from services.warehouse.sql import param as _param
from services.warehouse.sql import window_condition as _window_condition
from services.warehouse.sql import window_params as _window_params


# -- identifiers and values -----------------------------------------------------------------------
def _lit(x: float) -> exp.Literal:
    return exp.Literal.number(repr(float(x)))


# -- expressions ---------------------------------------------------------------------------------
def numeric_value(name: str) -> exp.Expression:
    """The column as DOUBLE with NaN turned into NULL (missing)."""
    c = exp.cast(column(name), "DOUBLE")
    return exp.Case(ifs=[exp.If(this=exp.IsNan(this=c.copy()), true=exp.null())], default=c)


def _is_inf(name: str) -> exp.Expression:
    inf = exp.cast(exp.Literal.string("Infinity"), "DOUBLE")
    return exp.EQ(this=exp.Abs(this=exp.cast(column(name), "DOUBLE")), expression=inf)


def _quantiles(value: exp.Expression, probs: Sequence[float], dialect: str, discrete: bool) -> exp.Expression:
    arr = exp.Array(expressions=[_lit(p) for p in probs])
    if dialect == "duckdb":
        fn = "QUANTILE_DISC" if discrete else "QUANTILE_CONT"
        return exp.Anonymous(this=fn, expressions=[value, arr])
    if discrete:  # Databricks: exact discrete percentiles over an array literal
        return exp.WithinGroup(
            this=exp.Anonymous(this="PERCENTILE_DISC", expressions=[arr]),
            expression=exp.Order(expressions=[exp.Ordered(this=value, nulls_first=False)]),
        )
    return exp.Anonymous(this="PERCENTILE", expressions=[value, arr])  # exact, linear interpolation


@dataclass(frozen=True)
class CellSpec:
    """DuckDB, large windows: CDF counts per *cell* of a monotone map instead of a HISTOGRAM.

    ``cell(x)`` is ``-2`` below the reference's min, ``n + 1`` above its max, else
    ``clamp(floor((T(x) - lo) * k), -1, n)`` with ``T`` the identity (``linear``), ``ln(x - shift)``
    (``log``, right-skewed columns) or ``-ln(shift - x)`` (``neglog``); the SQL computes a key per
    value that :func:`cell_keys` turns into the cell (see :func:`_cell_expression`). One number per
    value and a GROUP BY cost a fraction of DuckDB's HISTOGRAM aggregate; because the same expression runs on
    both sides, the counts at every cell boundary are exact on both sides (KS/Wasserstein are
    then off by at most the mass inside one cell, as with sampled CDF points). The boundaries'
    positions (for the Wasserstein integral) are ``T^-1(lo + i / k)``."""

    transform: str
    lo: float
    k: float
    n: int
    shift: float
    min: float
    max: float

    def to_json(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "lo": self.lo,
            "k": self.k,
            "n": self.n,
            "shift": self.shift,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CellSpec:
        spec = cls(
            str(doc["transform"]),
            float(doc["lo"]),
            float(doc["k"]),
            int(doc["n"]),
            float(doc["shift"]),
            float(doc["min"]),
            float(doc["max"]),
        )
        if spec.transform not in CELL_TRANSFORMS or not 1 <= spec.n <= 1 << 16 or not spec.k > 0:
            raise ValueError("invalid cell spec")
        return spec

    def inverse(self, t):
        import numpy as np

        t = np.asarray(t, dtype=float)
        if self.transform == "linear":
            return t
        if self.transform == "log":
            return self.shift + np.exp(t)
        return self.shift - np.exp(-t)

    def needs_clamp(self, spread: int = 4) -> bool:
        """Whether a current window's keys must be clamped in SQL: the reference's [min, max] maps
        to more than ``spread`` × n keys (an outlier far beyond the sampled range), so a window
        drifting into that gap could otherwise make a group per value."""
        import numpy as np

        with np.errstate(all="ignore"):
            ends = (np.asarray(self.forward([self.min, self.max])) - self.lo) * self.k
        return not bool(np.all(np.isfinite(ends))) or float(ends[1] - ends[0]) > spread * self.n

    def forward(self, x):
        """``T(x)``, the inverse of :meth:`inverse` (see :func:`cell_transform`)."""
        return cell_transform(self.transform, self.shift, x)

    def points(self) -> list[float]:
        """CDF evaluation points, in the order of :func:`cells_cdf`: the min (counts below it),
        the upper boundary of cells -1 .. n-1, the max."""
        import numpy as np

        with np.errstate(over="ignore", invalid="ignore"):
            inner = self.inverse(self.lo + np.arange(self.n + 1) / self.k)
        inner = np.clip(np.nan_to_num(inner, nan=self.max, posinf=self.max, neginf=self.min), self.min, self.max)
        pts = np.maximum.accumulate(np.concatenate([[self.min], inner, [self.max]]))
        return [float(x) for x in pts]


CELL_TRANSFORMS = ("linear", "log", "neglog")


def cell_transform(transform: str, shift: float, x):
    """``T(x)`` of a cell map (numpy), as the SQL's :func:`_cell_expression`, guard against ln 0
    included."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    if transform == "linear":
        return x
    if transform == "log":
        return np.log(np.maximum(x - shift, _TINY))
    return -np.log(np.maximum(shift - x, _TINY))


@dataclass(frozen=True)
class NumericSpec:
    name: str
    edges: tuple[float, ...] | None = None  # reference edges -> cumulative counts at them
    deciles: bool = False  # compute the decile edges (reference side)
    points: tuple[float, ...] | None = None  # DuckDB: counts at these points (HISTOGRAM) instead of a grid
    cells: CellSpec | None = None  # DuckDB: counts per cell (see CellSpec), edges by COUNT_IF
    grid: bool = True  # sampled quantile grid in SQL (a DuckDB reference samples rows instead)


NUMERIC_FIELDS = ("count", "mean", "std", "min", "max", "median", "infinite", "grid")


# Rendered statements by shape: the SQL text depends only on the table, dialect, column names,
# the number of edges, which aggregates are asked and the window's shape — every value travels as
# a named parameter — so a statement is built (sqlglot) once and reused for every window/profile.
_SQL_CACHE: dict[tuple, str] = {}
_SQL_CACHE_MAX = 512


def _cached(key: tuple, build: Callable[[], tuple[str, dict]]) -> str:
    sql = _SQL_CACHE.get(key)
    if sql is None:
        sql = build()[0]
        if len(_SQL_CACHE) >= _SQL_CACHE_MAX:
            _SQL_CACHE.clear()
        _SQL_CACHE[key] = sql
    return sql


def numeric_query(
    table: exp.Table,
    dialect: str,
    specs: Sequence[NumericSpec],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str | None = None,
    grid: Sequence[float] | None = None,
    only_bins: bool = False,
) -> tuple[str, dict]:
    """:func:`build_numeric_query` with the rendered text cached by shape (parameters rebuilt)."""
    probs = tuple(float(p) for p in grid) if grid is not None else tuple(grid_probs())
    shape = tuple((s.name, len(s.edges or ()), bool(s.deciles), bool(s.points), bool(s.grid)) for s in specs)
    key = (
        "numeric",
        table.sql(dialect),
        dialect,
        shape,
        ts,
        start is not None,
        end is not None,
        group_by,
        probs,
        only_bins,
    )
    placeholder = [
        NumericSpec(name, edges=(0.0,) * n, deciles=d, points=(0.0,) if pts else None, grid=grid)
        for name, n, d, pts, grid in shape
    ]
    sql = _cached(
        key,
        lambda: build_numeric_query(
            table, dialect, placeholder, ts=ts, start=start, end=end, group_by=group_by, grid=probs, only_bins=only_bins
        ),
    )
    return sql, numeric_params(dialect, specs, start=start, end=end, grid=probs, only_bins=only_bins)


def numeric_params(
    dialect: str,
    specs: Sequence[NumericSpec],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    grid: Sequence[float] | None = None,
    only_bins: bool = False,
) -> dict[str, Any]:
    """The named parameters :func:`build_numeric_query` binds (kept in step by a test)."""
    params = _window_params(start, end)
    sorted_path = dialect == "duckdb" and not only_bins
    for i, spec in enumerate(specs):
        if dialect == "duckdb" and spec.points:
            params[f"h{i}"] = hist_bounds(spec)
            if sorted_path:
                params[f"lo{i}"], params[f"hi{i}"] = float(spec.points[0]), float(spec.points[-1])
            continue
        if sorted_path and spec.grid:
            params["grid"] = [float(p) for p in (grid if grid is not None else grid_probs())]
        for j, edge in enumerate(spec.edges or ()):
            params[f"e{i}_{j}"] = float(edge)
    return params


def build_numeric_query(
    table: exp.Table,
    dialect: str,
    specs: Sequence[NumericSpec],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str | None = None,
    grid: Sequence[float] | None = None,
    only_bins: bool = False,
) -> tuple[str, dict]:
    """One pass: row count, and per column: count, mean, std_pop, min, max, median, count of
    infinities, the discrete quantile grid, the deciles (if asked) and ``COUNT_IF(x <= edge)``
    for each given edge. Grouped by ``DATE_TRUNC(group_by, ts)`` when ``group_by`` is set."""
    params: dict[str, Any] = {}
    probs = list(grid) if grid is not None else grid_probs()
    # Inner projection: each column once as DOUBLE with NaN -> NULL, plus the window bucket.
    inner_cols: list[exp.Expression] = [
        exp.alias_(numeric_value(s.name), f"v{i}", quoted=True) for i, s in enumerate(specs)
    ]
    if group_by:
        inner_cols.append(exp.alias_(_bucket(ts, group_by), "w", quoted=True))
    if not inner_cols:
        inner_cols.append(exp.alias_(exp.Literal.number(1), "one", quoted=True))
    inner = exp.select(*inner_cols, copy=False).from_(table.copy(), copy=False)
    cond = _window_condition(ts, start, end, params)
    if cond is not None:
        inner = inner.where(cond)
    if dialect == "duckdb" and not only_bins:
        return _numeric_query_sorted(inner, specs, probs, params, group_by)
    inf = exp.cast(exp.Literal.string("Infinity"), "DOUBLE")
    select: list[exp.Expression] = []
    if group_by:
        select.append(exp.column("w", quoted=True))
    select.append(exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True))
    for i, spec in enumerate(specs):
        v = exp.column(f"v{i}", quoted=True)
        fields: list[exp.Expression] = (
            []
            if only_bins
            else [
                exp.Count(this=v.copy()),
                exp.Avg(this=v.copy()),
                exp.StddevPop(this=v.copy()),
                exp.Min(this=v.copy()),
                exp.Max(this=v.copy()),
                _quantiles(v.copy(), [0.5], dialect, discrete=False),
                exp.CountIf(this=exp.EQ(this=exp.Abs(this=v.copy()), expression=inf.copy())),
                _quantiles(v.copy(), probs, dialect, discrete=True),
            ]
        )
        if spec.deciles and not only_bins:
            fields.append(_quantiles(v.copy(), DECILES, dialect, discrete=False))
        if only_bins and spec.points and dialect == "duckdb":  # one HISTOGRAM: points and edges
            params[f"h{i}"] = hist_bounds(spec)
            fields.append(exp.Anonymous(this="HISTOGRAM", expressions=[v.copy(), _param(f"h{i}")]))
        else:
            for j, edge in enumerate(spec.edges or ()):
                key = f"e{i}_{j}"
                params[key] = float(edge)
                fields.append(exp.CountIf(this=exp.LTE(this=v.copy(), expression=_param(key))))
        select.extend(exp.alias_(f, f"c{i}_{k}", quoted=True) for k, f in enumerate(fields))
    q = exp.select(*select, copy=False).from_(inner.subquery("src", copy=False), copy=False)
    if group_by:
        q = q.group_by(exp.column("w", quoted=True), copy=False).order_by(exp.column("w", quoted=True), copy=False)
    return render(q, dialect), params


# DuckDB reference profiles: exact deciles (numpy's linear interpolation; the median is the 5th)
# from one QUANTILE_CONT per column, and the quantile grid (only used to choose the points where
# the CDFs are then counted exactly) from a reservoir sample — no full sort of any column, and
# every column's aggregates run in the same parallel scan.
GRID_SAMPLE = 8192


def hist_bounds(spec: NumericSpec) -> list[float]:
    """DuckDB HISTOGRAM boundaries: the CDF points and the bin edges, one sorted list."""
    return sorted({float(p) for p in spec.points or ()} | {float(e) for e in spec.edges or ()})


def _infinite(i: int) -> exp.Expression:
    """How many of min/max are infinite (> 0 iff the column holds an infinity): free, unlike a
    per-row COUNT_IF."""

    def is_inf(k: int, text: str) -> exp.Expression:
        return exp.cast(
            exp.EQ(this=exp.column(f"c{i}_{k}", quoted=True), expression=exp.cast(exp.Literal.string(text), "DOUBLE")),
            "INT",
        )

    return exp.Add(this=is_inf(3, "-Infinity"), expression=is_inf(4, "Infinity"))


def _numeric_query_sorted(inner: exp.Select, specs, probs, params, group_by) -> tuple[str, dict]:
    size = len(probs) - 1
    if [round(k / size, 12) for k in range(size + 1)] != [round(p, 12) for p in probs]:
        raise ValueError("the DuckDB grid needs probabilities k/G")
    mid: list[exp.Expression] = [exp.column("w", quoted=True)] if group_by else []
    mid.append(exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True))
    out: list[exp.Expression] = [exp.column("w", quoted=True)] if group_by else []
    out.append(exp.column("rows", quoted=True))
    for i, spec in enumerate(specs):
        v = exp.column(f"v{i}", quoted=True)
        if spec.points:  # current window against a reference: counts at its points, no sort
            params[f"h{i}"] = hist_bounds(spec)
            params[f"lo{i}"], params[f"hi{i}"] = float(spec.points[0]), float(spec.points[-1])
            mid += [
                exp.alias_(exp.Count(this=v.copy()), f"c{i}_0", quoted=True),
                exp.alias_(exp.Avg(this=v.copy()), f"c{i}_1", quoted=True),
                exp.alias_(exp.StddevPop(this=v.copy()), f"c{i}_2", quoted=True),
                exp.alias_(exp.Min(this=v.copy()), f"c{i}_3", quoted=True),
                exp.alias_(exp.Max(this=v.copy()), f"c{i}_4", quoted=True),
                exp.alias_(
                    exp.Anonymous(this="QUANTILE_CONT", expressions=[v.copy(), exp.Literal.number(0.5)]),
                    f"c{i}_5",
                    quoted=True,
                ),
                exp.alias_(exp.null(), f"c{i}_7", quoted=True),
            ]
            fields = [exp.column(f"c{i}_{k}", quoted=True) for k in range(6)]
            fields += [_infinite(i), exp.column(f"c{i}_7", quoted=True)]
            mid += [
                exp.alias_(
                    exp.Anonymous(this="HISTOGRAM", expressions=[v.copy(), _param(f"h{i}")]), f"c{i}_h", quoted=True
                ),
                # exact tails outside the reference's range: SUM(lo - x) over x < lo, SUM(x - hi) over x > hi
                exp.alias_(
                    exp.Filter(
                        this=exp.Sum(this=exp.Sub(this=_param(f"lo{i}"), expression=v.copy())),
                        expression=exp.Where(this=exp.LT(this=v.copy(), expression=_param(f"lo{i}"))),
                    ),
                    f"c{i}_lo",
                    quoted=True,
                ),
                exp.alias_(
                    exp.Filter(
                        this=exp.Sum(this=exp.Sub(this=v.copy(), expression=_param(f"hi{i}"))),
                        expression=exp.Where(this=exp.GT(this=v.copy(), expression=_param(f"hi{i}"))),
                    ),
                    f"c{i}_hi",
                    quoted=True,
                ),
            ]
            fields += [
                exp.column(f"c{i}_h", quoted=True),
                exp.column(f"c{i}_lo", quoted=True),
                exp.column(f"c{i}_hi", quoted=True),
            ]
            out.extend(exp.alias_(f, f"o{i}_{k}", quoted=True) for k, f in enumerate(fields))
            continue
        if spec.grid:
            params["grid"] = [float(p) for p in probs]
        mid += [
            exp.alias_(exp.Count(this=v.copy()), f"c{i}_0", quoted=True),
            exp.alias_(exp.Avg(this=v.copy()), f"c{i}_1", quoted=True),
            exp.alias_(exp.StddevPop(this=v.copy()), f"c{i}_2", quoted=True),
            exp.alias_(exp.Min(this=v.copy()), f"c{i}_3", quoted=True),
            exp.alias_(exp.Max(this=v.copy()), f"c{i}_4", quoted=True),
            exp.alias_(
                exp.Anonymous(
                    this="RESERVOIR_QUANTILE", expressions=[v.copy(), _param("grid"), exp.Literal.number(GRID_SAMPLE)]
                )
                if spec.grid
                else exp.null(),
                f"c{i}_7",
                quoted=True,
            ),
        ]
        if spec.deciles:  # the deciles' 5th is the median (0.5): one QUANTILE_CONT for both
            mid.append(exp.alias_(_quantiles(v.copy(), DECILES, "duckdb", discrete=False), f"c{i}_d", quoted=True))
            median: exp.Expression = exp.Bracket(
                this=exp.column(f"c{i}_d", quoted=True), expressions=[exp.Literal.number(DECILES.index(0.5))]
            )  # 0-based here, DuckDB [5]
        else:
            mid.append(
                exp.alias_(
                    exp.Anonymous(this="QUANTILE_CONT", expressions=[v.copy(), exp.Literal.number(0.5)]),
                    f"c{i}_5",
                    quoted=True,
                )
            )
            median = exp.column(f"c{i}_5", quoted=True)
        fields: list[exp.Expression] = [exp.column(f"c{i}_{k}", quoted=True) for k in range(5)]
        fields += [median, _infinite(i), exp.column(f"c{i}_7", quoted=True)]
        if spec.deciles:
            fields.append(exp.column(f"c{i}_d", quoted=True))
        for j, edge in enumerate(spec.edges or ()):
            key = f"e{i}_{j}"
            params[key] = float(edge)
            mid.append(
                exp.alias_(exp.CountIf(this=exp.LTE(this=v.copy(), expression=_param(key))), f"c{i}_e{j}", quoted=True)
            )
            fields.append(exp.column(f"c{i}_e{j}", quoted=True))
        out.extend(exp.alias_(f, f"o{i}_{k}", quoted=True) for k, f in enumerate(fields))
    agg = exp.select(*mid, copy=False).from_(inner.subquery("src", copy=False), copy=False)
    if group_by:
        agg = agg.group_by(exp.column("w", quoted=True), copy=False)
    q = exp.select(*out, copy=False).from_(agg.subquery("agg", copy=False), copy=False)
    if group_by:
        q = q.order_by(exp.column("w", quoted=True), copy=False)
    return render(q, "duckdb"), params


_TINY = 1e-300


def _union_all(branches: Sequence[exp.Expression]) -> exp.Expression:
    union = branches[0]
    for b in branches[1:]:
        union = exp.Union(this=union, expression=b, distinct=False)
    return union


def _greatest(*args: exp.Expression) -> exp.Expression:
    # Verbatim GREATEST/LEAST: sqlglot's nodes render DuckDB NULL-guards that evaluate the
    # arguments three times; the values here are never NULL.
    return exp.Anonymous(this="GREATEST", expressions=list(args))


def _least(*args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="LEAST", expressions=list(args))


def _cell_expression(v: exp.Expression, i: int, cells: CellSpec, tails: bool = True) -> exp.Expression:
    """The cell key of :class:`CellSpec` for value ``v`` (a DOUBLE; parameters ``cm/cx/cl/ck/cs{i}``).

    The key is ``floor((T(x) - lo) * k)``, *unclamped* where that is safe: the clamp to [-1, n]
    (LEAST/GREATEST) costs a third of a cells statement, and the reader clamps the few keys beyond
    (:func:`cell_keys`). Without ``tails`` (the reference itself) only its values outside the
    sample's range fall beyond -1..n (about 2 in 8,193 rows of a reservoir sample, a few extra
    groups). With ``tails`` (a current window) values outside the reference's [min, max] get the
    keys -inf/+inf, and the rest is clamped in SQL only when the reference's range spans many more
    keys than cells (:meth:`CellSpec.needs_clamp`: an outlier far beyond the sample), so that a
    window drifting into that gap cannot make a group per value."""
    if cells.transform == "linear":
        t: exp.Expression = v.copy()
    elif cells.transform == "log":
        t = exp.Ln(this=_greatest(exp.Sub(this=v.copy(), expression=_param(f"cs{i}")), exp.Literal.number(_TINY)))
    else:
        t = exp.Neg(
            this=exp.Ln(this=_greatest(exp.Sub(this=_param(f"cs{i}"), expression=v.copy()), exp.Literal.number(_TINY)))
        )
    key: exp.Expression = exp.Floor(
        this=exp.Mul(this=exp.Paren(this=exp.Sub(this=t, expression=_param(f"cl{i}"))), expression=_param(f"ck{i}"))
    )
    if not tails:
        return key
    if cells.needs_clamp():
        key = _least(_greatest(key, exp.Literal.number(-1)), exp.Literal.number(cells.n))
    infinity = exp.cast(exp.Literal.string("inf"), "DOUBLE")
    return exp.Case(
        ifs=[
            exp.If(this=exp.LT(this=v.copy(), expression=_param(f"cm{i}")), true=exp.Neg(this=infinity)),
            exp.If(this=exp.GT(this=v.copy(), expression=_param(f"cx{i}")), true=infinity.copy()),
        ],
        default=key,
    )


def _cell_params(k: int, cells: CellSpec) -> dict[str, Any]:
    """The map's parameters ``cl/ck`` (and ``cs``) of column ``k`` in :func:`_cell_expression`."""
    params = {f"cl{k}": cells.lo, f"ck{k}": cells.k}
    if cells.transform != "linear":
        params[f"cs{k}"] = cells.shift
    return params


def cells_query(
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    tails: bool = True,
) -> tuple[str, dict]:
    """DuckDB: per column (``k`` = its position in its group), rows ``(k, key, n, sum, min, max,
    var_pop)`` — the summaries are combined from the cells; keys as :func:`_cell_expression`
    (``tails=False``: the reference itself, no value outside its own range, no tail tests), read
    by :func:`cell_keys`. One UNION ALL statement (each branch reads one column)."""
    shape = tuple((k, s.name, s.cells.transform, s.cells.n, tails and s.cells.needs_clamp()) for k, s in specs)
    key = ("cells", table.sql("duckdb"), shape, ts, start is not None, end is not None, tails)

    def build() -> tuple[str, dict]:
        branches = []
        for k, spec in specs:
            # (builders with copy=False: the default deep-copies the growing tree at every call)
            v = exp.column(f"v{k}", quoted=True)
            aggregates = [
                exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
                exp.alias_(exp.Sum(this=v.copy()), "s", quoted=True),
                exp.alias_(exp.Min(this=v.copy()), "lo", quoted=True),
                exp.alias_(exp.Max(this=v.copy()), "hi", quoted=True),
                exp.alias_(exp.Anonymous(this="VAR_POP", expressions=[v.copy()]), "var", quoted=True),
            ]
            q = (
                exp.select(
                    exp.alias_(exp.Literal.number(k), "k", quoted=True),
                    exp.alias_(_cell_expression(v, k, spec.cells, tails=tails), "cell", quoted=True),
                    *aggregates,
                    copy=False,
                )
                .from_(_values_source(table, [(k, spec.name)], ts, start, end), copy=False)
                .where(exp.Not(this=exp.Is(this=v.copy(), expression=exp.null())), copy=False)
                .group_by(exp.column("cell", quoted=True), copy=False)
            )
            branches.append(q)
        return render(_union_all(branches), "duckdb"), {}

    sql = _cached(key, build)
    params = _window_params(start, end)
    for k, spec in specs:
        params.update(_cell_params(k, spec.cells))
        if tails:
            params.update({f"cm{k}": spec.cells.min, f"cx{k}": spec.cells.max})
    return sql, params


def grouped_cells_query(
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    *,
    ts: str,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[str, dict]:
    """DuckDB, per-window (grouped) current passes: rows ``(k, w, key, n, sum)`` — the counts per
    cell of each column in each window (keys as :func:`cells_query` with tails; the sums serve the
    tails beyond the reference's range, see :func:`cells_cdf`). One number per value and a GROUP BY
    instead of a HISTOGRAM at the ~2,000 cell boundaries (a third of the statement's cost)."""
    shape = tuple((k, s.name, s.cells.transform, s.cells.n, s.cells.needs_clamp()) for k, s in specs)
    key = ("gcells", table.sql("duckdb"), shape, ts, group_by, start is not None, end is not None)

    def build() -> tuple[str, dict]:
        branches = []
        for k, spec in specs:
            v = exp.column(f"v{k}", quoted=True)
            w = exp.column("w", quoted=True)
            inner = exp.select(
                exp.alias_(numeric_value(spec.name), f"v{k}", quoted=True),
                exp.alias_(_bucket(ts, group_by), "w", quoted=True),
                copy=False,
            ).from_(table.copy(), copy=False)
            cond = _window_condition(ts, start, end, {})
            if cond is not None:
                inner = inner.where(cond, copy=False)
            branches.append(
                exp.select(
                    exp.alias_(exp.Literal.number(k), "k", quoted=True),
                    w.copy(),
                    exp.alias_(_cell_expression(v, k, spec.cells, tails=True), "cell", quoted=True),
                    exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
                    exp.alias_(exp.Sum(this=v.copy()), "s", quoted=True),
                    copy=False,
                )
                .from_(inner.subquery("src", copy=False), copy=False)
                .where(exp.Not(this=exp.Is(this=v.copy(), expression=exp.null())), copy=False)
                .group_by(w.copy(), exp.column("cell", quoted=True), copy=False)
            )
        return render(_union_all(branches), "duckdb"), {}

    params = _window_params(start, end)
    for k, spec in specs:
        params.update(_cell_params(k, spec.cells))
        params.update({f"cm{k}": spec.cells.min, f"cx{k}": spec.cells.max})
    return _cached(key, build), params


def range_values_query(
    table: exp.Table,
    specs: Sequence[tuple[int, str, int]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[str, dict]:
    """Per column ``(k, name, number of edges)``: rows ``(k, COUNT_IF(x < $a<k>), LIST(x) of the
    values in [$a<k>, $b<k>], [COUNT_IF(x <= $e<k>_<j>), …])`` — the few values around an order
    statistic whose cell is known, and the counts at the reference's edges. One UNION ALL branch
    per column (DuckDB runs them in parallel); bounds and edges are parameters."""
    shape = tuple(specs)
    key = ("range", table.sql("duckdb"), shape, ts, start is not None, end is not None)

    def build() -> tuple[str, dict]:
        branches = []
        for k, name, n_edges in specs:
            v = exp.column(f"v{k}", quoted=True)
            inside = exp.and_(
                exp.GTE(this=v.copy(), expression=_param(f"a{k}")), exp.LTE(this=v.copy(), expression=_param(f"b{k}"))
            )
            at_edges = exp.Array(
                expressions=[
                    exp.CountIf(this=exp.LTE(this=v.copy(), expression=_param(f"e{k}_{j}"))) for j in range(n_edges)
                ]
            )
            branches.append(
                exp.select(
                    exp.alias_(exp.Literal.number(k), "k", quoted=True),
                    exp.alias_(
                        exp.CountIf(this=exp.LT(this=v.copy(), expression=_param(f"a{k}"))), "below", quoted=True
                    ),
                    exp.alias_(
                        exp.Filter(
                            this=exp.Anonymous(this="LIST", expressions=[v.copy()]), expression=exp.Where(this=inside)
                        ),
                        "values",
                        quoted=True,
                    ),
                    exp.alias_(at_edges, "at_edges", quoted=True),
                    copy=False,
                ).from_(_values_source(table, [(k, name)], ts, start, end), copy=False)
            )
        return render(_union_all(branches), "duckdb"), {}

    return _cached(key, build), _window_params(start, end)


def cell_keys(keys: Any, n: int, tails: bool = True) -> Any:
    """Cell keys as cells (int64 array): every key clamped to -1 .. n, except, with ``tails`` (a
    current window's keys), -inf/+inf — its values outside the reference's range — as the tails
    -2 and n + 1. (A reference's own key can be infinite only by overflow: an extreme value.)"""
    import numpy as np

    keys = np.asarray(keys, dtype=float)
    cells = np.clip(keys, -1, n)
    if tails:
        cells[keys == -np.inf] = -2
        cells[keys == np.inf] = n + 1
    return cells.astype(np.int64)


def cells_cdf(table: Any, cells: CellSpec, tails: bool = True) -> tuple[list[int], list[float]]:
    """Counts at :meth:`CellSpec.points` and the tails outside [min, max] from one column's rows
    ``(key, n, s, …)`` (see :func:`cell_keys`): ``(cdf, [sum of (min - x) below min, sum of
    (x - max) above max])``."""
    import numpy as np

    n = cells.n
    table = np.asarray(table, dtype=float)
    if table.ndim != 2:
        table = table.reshape(0, 3)
    cell = cell_keys(table[:, 0], n, tails)
    cnt = table[:, 1].astype(np.int64)
    counts = np.bincount(cell + 2, weights=cnt, minlength=n + 4).astype(np.int64)
    cum = np.cumsum(counts)
    out = []
    for edge, sign, bound in ((-2, 1.0, cells.min), (n + 1, -1.0, cells.max)):
        at = table[cell == edge]
        tail = sign * (float(at[:, 1].sum()) * bound - float(np.nansum(at[:, 2]))) if at.size else 0.0
        out.append(max(tail, 0.0))
    return cum[: n + 3].tolist(), out


def _values_source(
    table: exp.Table, names: Sequence[tuple[int, str]], ts: str | None, start: datetime | None, end: datetime | None
) -> exp.Subquery:
    """``(SELECT <column k as DOUBLE, NaN as NULL> AS v<k>, … FROM table WHERE <window>) AS src``."""
    inner = exp.select(*[exp.alias_(numeric_value(name), f"v{k}", quoted=True) for k, name in names], copy=False).from_(
        table.copy(), copy=False
    )
    cond = _window_condition(ts, start, end, {})
    if cond is not None:
        inner = inner.where(cond, copy=False)
    return inner.subquery("src", copy=False)


SAMPLE_SEED = 20261123


def sample_query(
    table: exp.Table,
    names: Sequence[str],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    size: int = GRID_SAMPLE,
) -> tuple[str, dict]:
    """DuckDB: a reservoir sample of ``size`` rows; one row with, per numeric column, the list of its
    sampled finite values — for the reference's quantile grid — one sample of rows is far cheaper than a RESERVOIR_QUANTILE per
    column, and a window of at most ``size`` rows comes back whole (its grid is then exact)."""
    key = ("sample", table.sql("duckdb"), tuple(names), ts, start is not None, end is not None, int(size))

    def build() -> tuple[str, dict]:
        # sample the raw rows first, convert (NaN -> NULL) only the sampled ones
        raw = exp.select(
            *[exp.alias_(column(name), f"r{k}", quoted=True) for k, name in enumerate(names)], copy=False
        ).from_(table.copy(), copy=False)
        cond = _window_condition(ts, start, end, {})
        if cond is not None:
            raw = raw.where(cond, copy=False)
        sampled = exp.select(exp.Star(), copy=False).from_(raw.subquery("src", copy=False), copy=False)
        sampled.set(
            "sample",
            exp.TableSample(
                method=exp.var("RESERVOIR"), size=exp.Literal.number(int(size)), seed=exp.Literal.number(SAMPLE_SEED)
            ),
        )
        # one row: per column the LIST of its sampled finite values (cheap to turn into numpy)
        values = exp.select(
            *[
                exp.alias_(exp.cast(exp.column(f"r{k}", quoted=True), "DOUBLE"), f"v{k}", quoted=True)
                for k in range(len(names))
            ],
            copy=False,
        ).from_(sampled.subquery("sample", copy=False), copy=False)
        lists = []
        for k in range(len(names)):
            v = exp.column(f"v{k}", quoted=True)
            finite = exp.Anonymous(this="ISFINITE", expressions=[v.copy()])  # NaN, NULL and infinities out
            lists.append(
                exp.alias_(
                    exp.Filter(this=exp.Anonymous(this="LIST", expressions=[v]), expression=exp.Where(this=finite)),
                    f"v{k}",
                    quoted=True,
                )
            )
        q = exp.select(*lists, copy=False).from_(values.subquery("sampled_values", copy=False), copy=False)
        return render(q, "duckdb"), {}

    return _cached(key, build), _window_params(start, end)


def reference_quantiles_query(
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[str, dict]:
    """DuckDB reference, second pass, columns without cells: one row with, per column, its count,
    mean, population std, min, max and exact deciles (QUANTILE_CONT)."""
    shape = tuple((k, s.name) for k, s in specs)
    key = ("refq", table.sql("duckdb"), shape, ts, start is not None, end is not None)

    def build() -> tuple[str, dict]:
        select = []
        for k, spec in specs:
            v = exp.column(f"v{k}", quoted=True)
            fields = [
                exp.Count(this=v.copy()),
                exp.Avg(this=v.copy()),
                exp.StddevPop(this=v.copy()),
                exp.Min(this=v.copy()),
                exp.Max(this=v.copy()),
                _quantiles(v.copy(), DECILES, "duckdb", discrete=False),
            ]
            select += [exp.alias_(f, f"c{k}_{j}", quoted=True) for j, f in enumerate(fields)]
        q = exp.select(*select, copy=False).from_(
            _values_source(table, [(k, s.name) for k, s in specs], ts, start, end), copy=False
        )
        return render(q, "duckdb"), {}

    return _cached(key, build), _window_params(start, end)


def edge_counts_query(
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[str, dict]:
    """Per column, in order: ``COUNT_IF(x <= edge)`` for each edge, then ``HISTOGRAM(x, points)``
    (counts at the CDF points); one row."""
    shape = tuple((k, s.name, len(s.edges or ())) for k, s in specs)
    key = ("edges", table.sql("duckdb"), shape, ts, start is not None, end is not None)

    def build() -> tuple[str, dict]:
        select = []
        for k, s in specs:
            v = exp.column(f"v{k}", quoted=True)
            select += [
                exp.alias_(
                    exp.CountIf(this=exp.LTE(this=v.copy(), expression=_param(f"e{k}_{j}"))), f"c{k}_{j}", quoted=True
                )
                for j in range(len(s.edges or ()))
            ]
            select.append(
                exp.alias_(
                    exp.Anonymous(this="HISTOGRAM", expressions=[v.copy(), _param(f"h{k}")]), f"h{k}", quoted=True
                )
            )
        q = exp.select(*select, copy=False).from_(
            _values_source(table, [(k, s.name) for k, s in specs], ts, start, end), copy=False
        )
        return render(q, "duckdb"), {}

    params = _window_params(start, end)
    for k, spec in specs:
        for j, edge in enumerate(spec.edges or ()):
            params[f"e{k}_{j}"] = float(edge)
        params[f"h{k}"] = sorted({float(p) for p in spec.points or ()})
    return _cached(key, build), params


def cell_values_query(
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    want: dict[int, Sequence[int]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[str, dict]:
    """DuckDB: the exact values (``LIST(x)``; faster here than a value -> count HISTOGRAM) inside the
    cells ``want[k]`` of column ``k`` — the few cells that hold the order statistics of its deciles.
    Rows ``(k, key, values)`` by unclamped key (:func:`_cell_expression`): a wanted cell -1 or n
    takes every key at or beyond it (``$lo<k>``/``$hi<k>``; ±inf when not wanted; see
    :func:`cell_keys`)."""
    shape = tuple((k, s.name, s.cells.transform, s.cells.n) for k, s in specs)
    key = ("cellvalues", table.sql("duckdb"), shape, ts, start is not None, end is not None)

    def build() -> tuple[str, dict]:
        branches = []
        for k, spec in specs:
            v = exp.column(f"v{k}", quoted=True)
            inner = (
                exp.select(
                    exp.alias_(_cell_expression(v, k, spec.cells, tails=False), "cell", quoted=True),
                    exp.alias_(v.copy(), "x", quoted=True),
                    copy=False,
                )
                .from_(_values_source(table, [(k, spec.name)], ts, start, end), copy=False)
                .where(exp.Not(this=exp.Is(this=v.copy(), expression=exp.null())), copy=False)
            )
            cell = exp.column("cell", quoted=True)
            branches.append(
                exp.select(
                    exp.alias_(exp.Literal.number(k), "k", quoted=True),
                    cell.copy(),
                    exp.alias_(
                        exp.Anonymous(this="LIST", expressions=[exp.column("x", quoted=True)]), "values", quoted=True
                    ),
                    copy=False,
                )
                .from_(inner.subquery("cells", copy=False), copy=False)
                .where(
                    exp.or_(
                        exp.LTE(this=cell.copy(), expression=_param(f"lo{k}")),
                        exp.GTE(this=cell.copy(), expression=_param(f"hi{k}")),
                        exp.Anonymous(this="LIST_CONTAINS", expressions=[_param(f"want{k}"), cell.copy()]),
                    ),
                    copy=False,
                )
                .group_by(cell.copy(), copy=False)
            )
        return render(_union_all(branches), "duckdb"), {}

    params = _window_params(start, end)
    for k, spec in specs:
        wanted = sorted({int(x) for x in want[k]})
        params.update(_cell_params(k, spec.cells))
        params.update(
            {
                f"want{k}": [float(x) for x in wanted],
                f"lo{k}": -1.0 if -1 in wanted else -math.inf,
                f"hi{k}": float(spec.cells.n) if spec.cells.n in wanted else math.inf,
            }
        )
    return _cached(key, build), params


def decode_numeric(
    row: Sequence[Any], specs: Sequence[NumericSpec], grouped: bool, only_bins: bool = False, sorted_lists: bool = False
) -> tuple[Any, int, list[dict]]:
    """Split one result row of :func:`numeric_query` into (window, rows, per-column dicts)."""
    pos = 0
    window = None
    if grouped:
        window, pos = row[0], 1
    rows = int(row[pos] or 0)
    pos += 1
    out = []
    for spec in specs:
        hist = bool(spec.points) and sorted_lists
        if only_bins:
            if hist:
                d = _from_hist(row[pos], spec)
                pos += 1
            else:
                n_edges = len(spec.edges or ())
                d = {"cumulative": [int(x or 0) for x in row[pos : pos + n_edges]]}
                pos += n_edges
            out.append(d)
            continue
        d = dict(zip(NUMERIC_FIELDS, row[pos : pos + len(NUMERIC_FIELDS)]))
        pos += len(NUMERIC_FIELDS)
        d["median"] = _scalar(d["median"])
        d["grid"] = floats_or_empty(d["grid"])
        if spec.deciles:
            dec = row[pos]
            pos += 1
            d["deciles"] = floats_or_empty(dec)
        if hist:
            d.update(_from_hist(row[pos], spec))
            d["tails"] = [float(row[pos + 1] or 0.0), float(row[pos + 2] or 0.0)]
            pos += 3
        else:
            n_edges = len(spec.edges or ())
            d["cumulative"] = [int(x or 0) for x in row[pos : pos + n_edges]]
            pos += n_edges
        out.append(d)
    return window, rows, out


def _from_hist(hist: Any, spec: NumericSpec) -> dict[str, list[int]]:
    """Counts <= each CDF point ("cdf") and <= each bin edge ("cumulative") from one HISTOGRAM."""
    bounds = hist_bounds(spec)
    at = dict(zip(bounds, histogram_cdf(hist, bounds)))
    return {"cdf": [at[float(p)] for p in spec.points or ()], "cumulative": [at[float(e)] for e in spec.edges or ()]}


def histogram_cdf(hist: Any, points: Sequence[float]) -> list[int]:
    """Cumulative counts <= each point from DuckDB's HISTOGRAM(x, points) map ((prev, p] buckets)."""
    hist = dict(hist or {})
    out, running = [], 0
    for p in points:
        running += int(hist.get(p, 0) or 0)
        out.append(running)
    return out


def floats_or_empty(values: Any) -> list[float]:
    """A list of floats, or [] when the engine had no values (NULL list or NULL entries)."""
    if values is None:
        return []
    values = list(values)
    if any(v is None for v in values):
        return []
    return [float(v) for v in values]


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, str):
        return float(value[0]) if len(value) else None
    return float(value)


def categorical_query(
    table: exp.Table,
    dialect: str,
    columns: Sequence[tuple[str, bool]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str | None = None,
) -> tuple[str, dict]:
    """:func:`build_categorical_query`, rendered once per shape (only window bounds are parameters)."""
    cols = tuple((str(n), bool(f)) for n, f in columns)
    key = ("categorical", table.sql(dialect), dialect, cols, ts, start is not None, end is not None, group_by)
    sql = _cached(
        key, lambda: build_categorical_query(table, dialect, cols, ts=ts, start=start, end=end, group_by=group_by)
    )
    return sql, _window_params(start, end)


def build_categorical_query(
    table: exp.Table,
    dialect: str,
    columns: Sequence[tuple[str, bool]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str | None = None,
) -> tuple[str, dict]:
    """Category counts of every column, one UNION ALL statement: rows (w?, k, v, n), where k is
    the column's position. ``columns`` = (name, is_float); NaN in a float column is missing."""
    params: dict[str, Any] = {}
    branches: list[exp.Select] = []
    for i, (name, is_float) in enumerate(columns):
        raw = column(name)
        value = exp.cast(raw.copy(), "VARCHAR")
        select: list[exp.Expression] = []
        if group_by:
            select.append(exp.alias_(_bucket(ts, group_by), "w", quoted=True))
        select += [
            exp.alias_(exp.Literal.number(i), "k", quoted=True),
            exp.alias_(value, "v", quoted=True),
            exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
        ]
        cond: exp.Expression = exp.Not(this=exp.Is(this=raw.copy(), expression=exp.null()))
        if is_float:
            cond = exp.and_(cond, exp.Not(this=exp.IsNan(this=exp.cast(raw.copy(), "DOUBLE"))))
        wc = _window_condition(ts, start, end, params)
        if wc is not None:
            cond = exp.and_(cond, wc)
        q = exp.select(*select).from_(table.copy()).where(cond)
        # group by the expressions (Databricks does not accept output aliases of casts everywhere)
        q = q.group_by(*([_bucket(ts, group_by)] if group_by else []), value.copy())
        branches.append(q)
    if not branches:
        raise BadInput("no categorical columns to count")
    return render(_union_all(branches), dialect), params


def performance_query(
    table: exp.Table,
    dialect: str,
    *,
    ts: str,
    label: str,
    prediction: str,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
    buckets: int = 1000,
    cutoff: float = 0.5,
) -> tuple[str, dict]:
    """Per window and score bucket: positives and negatives among labelled rows (for a binned
    ROC AUC), correct predictions at ``cutoff`` and the label mean — aggregates only."""
    params: dict[str, Any] = {"cutoff": float(cutoff), "buckets": int(buckets)}
    score = exp.cast(column(prediction), "DOUBLE")
    y = exp.cast(column(label), "DOUBLE")
    bucket = exp.Floor(this=exp.Mul(this=score.copy(), expression=_param("buckets")))
    correct = exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(
                    this=exp.Paren(this=exp.GTE(this=score.copy(), expression=_param("cutoff"))),
                    expression=exp.Paren(this=exp.EQ(this=y.copy(), expression=exp.Literal.number(1))),
                ),
                true=exp.Literal.number(1),
            )
        ],
        default=exp.Literal.number(0),
    )
    q = exp.select(
        exp.alias_(_bucket(ts, group_by), "w", quoted=True),
        exp.alias_(bucket, "b", quoted=True),
        exp.alias_(exp.Sum(this=y.copy()), "pos", quoted=True),
        exp.alias_(exp.Count(this=y.copy()), "n", quoted=True),
        exp.alias_(exp.Sum(this=correct), "correct", quoted=True),
    ).from_(table.copy())
    cond: exp.Expression = exp.and_(
        exp.Not(this=exp.Is(this=column(label), expression=exp.null())),
        exp.Not(this=exp.Is(this=column(prediction), expression=exp.null())),
    )
    wc = _window_condition(ts, start, end, params)
    if wc is not None:
        cond = exp.and_(cond, wc)
    q = q.where(cond).group_by(_bucket(ts, group_by), bucket.copy())
    return render(q, dialect), params


def rows_query(
    table: exp.Table,
    dialect: str,
    *,
    ts: str,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[str, dict]:
    params: dict[str, Any] = {}
    q = exp.select(
        exp.alias_(_bucket(ts, group_by), "w", quoted=True), exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True)
    ).from_(table.copy())
    wc = _window_condition(ts, start, end, params)
    if wc is not None:
        q = q.where(wc)
    q = q.group_by(_bucket(ts, group_by))
    return render(q, dialect), params


def score_buckets_query(
    table: exp.Table,
    dialect: str,
    *,
    ts: str,
    label: str,
    prediction: str,
    group_by: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
    buckets: int = 1000,
) -> tuple[str, dict]:
    """Per window (or the whole range when ``group_by`` is None) and score bucket (NULL for a
    missing prediction): every row, the labelled rows, their positives and the labels that are not
    0/1 — what confidence-based performance estimation needs, labelled or not (aggregates only)."""
    params: dict[str, Any] = {"buckets": int(buckets)}
    score = exp.cast(column(prediction), "DOUBLE")
    y = exp.TryCast(this=column(label), to=exp.DataType.build("DOUBLE"))
    bucket = exp.Floor(this=exp.Mul(this=score.copy(), expression=_param("buckets")))
    not_binary = exp.Case(
        ifs=[
            exp.If(
                this=exp.and_(
                    exp.Not(this=exp.Is(this=column(label), expression=exp.null())),
                    exp.or_(
                        exp.Is(this=y.copy(), expression=exp.null()),
                        exp.Not(this=exp.In(this=y.copy(), expressions=[exp.Literal.number(0), exp.Literal.number(1)])),
                    ),
                ),
                true=exp.Literal.number(1),
            )
        ],
        default=exp.Literal.number(0),
    )
    labelled = exp.Case(
        ifs=[
            exp.If(
                this=exp.In(this=y.copy(), expressions=[exp.Literal.number(0), exp.Literal.number(1)]),
                true=exp.Literal.number(1),
            )
        ],
        default=exp.Literal.number(0),
    )
    positive = exp.Case(
        ifs=[exp.If(this=exp.EQ(this=y.copy(), expression=exp.Literal.number(1)), true=exp.Literal.number(1))],
        default=exp.Literal.number(0),
    )
    window = _bucket(ts, group_by) if group_by else exp.Literal.number(0)
    q = exp.select(
        exp.alias_(window, "w", quoted=True),
        exp.alias_(bucket, "b", quoted=True),
        exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
        exp.alias_(exp.Sum(this=labelled), "labelled", quoted=True),
        exp.alias_(exp.Sum(this=positive), "pos", quoted=True),
        exp.alias_(exp.Sum(this=not_binary), "bad", quoted=True),
    ).from_(table.copy())
    wc = _window_condition(ts, start, end, params)
    if wc is not None:
        q = q.where(wc)
    q = q.group_by(*([window.copy()] if group_by else []), bucket.copy())
    return render(q, dialect), params
