"""DuckDB statements of the cell path (see :mod:`services.drift.cells`): the reference's sample,
cell counts, the values inside chosen cells, QUANTILE_CONT deciles and HISTOGRAM counts for the
other columns, and a current window's values around its median. One UNION ALL branch per column
where DuckDB would otherwise scan every column for each aggregate."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Unpack

from sqlglot import exp

from services.drift.cells import _TINY, GRID_SAMPLE, CellSpec
from services.drift.sql import NumericSpec, Query, Scope, _cached, _union_all, _values_source, numeric_value
from services.drift.stats import DECILES
from services.warehouse.sql import DUCKDB, column, date_bucket, param, render, window_condition, window_params


def _greatest(*args: exp.Expr) -> exp.Expr:
    # Verbatim GREATEST/LEAST: sqlglot's nodes render DuckDB NULL-guards that evaluate the
    # arguments three times; the values here are never NULL.
    return exp.Anonymous(this="GREATEST", expressions=list(args))


def _least(*args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="LEAST", expressions=list(args))


def _cell_expression(v: exp.Expr, i: int, cells: CellSpec, tails: bool = True) -> exp.Expr:
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
        t: exp.Expr = v.copy()
    elif cells.transform == "log":
        t = exp.Ln(this=_greatest(exp.Sub(this=v.copy(), expression=param(f"cs{i}")), exp.Literal.number(_TINY)))
    else:
        t = exp.Neg(
            this=exp.Ln(this=_greatest(exp.Sub(this=param(f"cs{i}"), expression=v.copy()), exp.Literal.number(_TINY)))
        )
    key: exp.Expr = exp.Floor(
        this=exp.Mul(this=exp.Paren(this=exp.Sub(this=t, expression=param(f"cl{i}"))), expression=param(f"ck{i}"))
    )
    if not tails:
        return key
    if cells.needs_clamp():
        key = _least(_greatest(key, exp.Literal.number(-1)), exp.Literal.number(cells.n))
    infinity = exp.cast(exp.Literal.string("inf"), "DOUBLE")
    return exp.Case(
        ifs=[
            exp.If(this=exp.LT(this=v.copy(), expression=param(f"cm{i}")), true=exp.Neg(this=infinity)),
            exp.If(this=exp.GT(this=v.copy(), expression=param(f"cx{i}")), true=infinity.copy()),
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
) -> Query:
    """DuckDB: per column (``k`` = its position in its group), rows ``(k, key, n, sum, min, max,
    var_pop)`` — the summaries are combined from the cells; keys as :func:`_cell_expression`
    (``tails=False``: the reference itself, no value outside its own range, no tail tests), read
    by :func:`cell_keys`. One UNION ALL statement (each branch reads one column)."""
    shape = tuple(
        (k, s.name, s.cell_map().transform, s.cell_map().n, tails and s.cell_map().needs_clamp()) for k, s in specs
    )
    key = ("cells", table.sql("duckdb"), shape, ts, start is not None, end is not None, tails)

    def build() -> Query:
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
                    exp.alias_(_cell_expression(v, k, spec.cell_map(), tails=tails), "cell", quoted=True),
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
    params = window_params(start, end)
    for k, spec in specs:
        params.update(_cell_params(k, spec.cell_map()))
        if tails:
            params.update({f"cm{k}": spec.cell_map().min, f"cx{k}": spec.cell_map().max})
    return sql, params


def grouped_cells_query(
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    *,
    ts: str,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Query:
    """DuckDB, per-window (grouped) current passes: rows ``(k, w, key, n, sum)`` — the counts per
    cell of each column in each window (keys as :func:`cells_query` with tails; the sums serve the
    tails beyond the reference's range, see :func:`cells_cdf`). One number per value and a GROUP BY
    instead of a HISTOGRAM at the ~2,000 cell boundaries (a third of the statement's cost)."""
    shape = tuple((k, s.name, s.cell_map().transform, s.cell_map().n, s.cell_map().needs_clamp()) for k, s in specs)
    key = ("gcells", table.sql("duckdb"), shape, ts, group_by, start is not None, end is not None)

    def build() -> Query:
        branches = []
        for k, spec in specs:
            v = exp.column(f"v{k}", quoted=True)
            w = exp.column("w", quoted=True)
            inner = exp.select(
                exp.alias_(numeric_value(spec.name), f"v{k}", quoted=True),
                exp.alias_(date_bucket(ts, group_by), "w", quoted=True),
                copy=False,
            ).from_(table.copy(), copy=False)
            cond = window_condition(ts, start, end, {})
            if cond is not None:
                inner = inner.where(cond, copy=False)
            branches.append(
                exp.select(
                    exp.alias_(exp.Literal.number(k), "k", quoted=True),
                    w.copy(),
                    exp.alias_(_cell_expression(v, k, spec.cell_map(), tails=True), "cell", quoted=True),
                    exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
                    exp.alias_(exp.Sum(this=v.copy()), "s", quoted=True),
                    copy=False,
                )
                .from_(inner.subquery("src", copy=False), copy=False)
                .where(exp.Not(this=exp.Is(this=v.copy(), expression=exp.null())), copy=False)
                .group_by(w.copy(), exp.column("cell", quoted=True), copy=False)
            )
        return render(_union_all(branches), "duckdb"), {}

    params = window_params(start, end)
    for k, spec in specs:
        params.update(_cell_params(k, spec.cell_map()))
        params.update({f"cm{k}": spec.cell_map().min, f"cx{k}": spec.cell_map().max})
    return _cached(key, build), params


def range_values_query(
    table: exp.Table,
    specs: Sequence[tuple[int, str, int]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Query:
    """Per column ``(k, name, number of edges)``: rows ``(k, COUNT_IF(x < $a<k>), LIST(x) of the
    values in [$a<k>, $b<k>], [COUNT_IF(x <= $e<k>_<j>), …])`` — the few values around an order
    statistic whose cell is known, and the counts at the reference's edges. One UNION ALL branch
    per column (DuckDB runs them in parallel); bounds and edges are parameters."""
    shape = tuple(specs)
    key = ("range", table.sql("duckdb"), shape, ts, start is not None, end is not None)

    def build() -> Query:
        branches = []
        for k, name, n_edges in specs:
            v = exp.column(f"v{k}", quoted=True)
            inside = exp.and_(
                exp.GTE(this=v.copy(), expression=param(f"a{k}")), exp.LTE(this=v.copy(), expression=param(f"b{k}"))
            )
            at_edges = exp.Array(
                expressions=[
                    exp.CountIf(this=exp.LTE(this=v.copy(), expression=param(f"e{k}_{j}"))) for j in range(n_edges)
                ]
            )
            branches.append(
                exp.select(
                    exp.alias_(exp.Literal.number(k), "k", quoted=True),
                    exp.alias_(
                        exp.CountIf(this=exp.LT(this=v.copy(), expression=param(f"a{k}"))), "below", quoted=True
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

    return _cached(key, build), window_params(start, end)


SAMPLE_SEED = 20261123


def sample_query(
    table: exp.Table,
    names: Sequence[str],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    size: int = GRID_SAMPLE,
    prefix: int | None = None,
) -> Query:
    """DuckDB: a reservoir sample of ``size`` rows; one row with, per numeric column, the list of its
    sampled finite values — for the reference's quantile grid — one sample of rows is far cheaper than a RESERVOIR_QUANTILE per
    column, and a window of at most ``size`` rows comes back whole (its grid is then exact).
    ``prefix``: sample only the window's first ``prefix`` rows (the scan stops there: a tenth of a
    full pass on a 1M-row file; see :func:`services.drift.reference.duck_reference` for the check
    that such a sample was representative)."""
    key = ("sample", table.sql("duckdb"), tuple(names), ts, start is not None, end is not None, int(size), prefix)

    def build() -> Query:
        # sample the raw rows first, convert (NaN -> NULL) only the sampled ones
        raw = exp.select(
            *[exp.alias_(column(name), f"r{k}", quoted=True) for k, name in enumerate(names)], copy=False
        ).from_(table.copy(), copy=False)
        cond = window_condition(ts, start, end, {})
        if cond is not None:
            raw = raw.where(cond, copy=False)
        if prefix is not None:
            raw = raw.limit(exp.Literal.number(int(prefix)), copy=False)
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

    return _cached(key, build), window_params(start, end)


def _one_row(
    kind: str,
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    shape: tuple[Any, ...],
    window: Scope,
    fields: Callable[[int, NumericSpec, exp.Column], list[exp.Expr]],
) -> str:
    """A cached one-row statement: ``fields(k, spec, v<k>)`` per column over the window's values."""
    ts, start, end = window.get("ts"), window.get("start"), window.get("end")
    key = (kind, table.sql("duckdb"), shape, ts, start is not None, end is not None)

    def build() -> Query:
        select = []
        for k, spec in specs:
            v = exp.column(f"v{k}", quoted=True)
            select += [exp.alias_(f, f"c{k}_{j}", quoted=True) for j, f in enumerate(fields(k, spec, v))]
        source = _values_source(table, [(k, s.name) for k, s in specs], ts, start, end)
        return render(exp.select(*select, copy=False).from_(source, copy=False), "duckdb"), {}

    return _cached(key, build)


def reference_quantiles_query(
    table: exp.Table, specs: Sequence[tuple[int, NumericSpec]], **window: Unpack[Scope]
) -> Query:
    """DuckDB reference, second pass, columns without cells: one row with, per column, its count,
    mean, population std, min, max and exact deciles (QUANTILE_CONT)."""

    def fields(k: int, spec: NumericSpec, v: exp.Column) -> list[exp.Expr]:
        return [
            exp.Count(this=v.copy()),
            exp.Avg(this=v.copy()),
            exp.StddevPop(this=v.copy()),
            exp.Min(this=v.copy()),
            exp.Max(this=v.copy()),
            DUCKDB.quantiles(v.copy(), DECILES, discrete=False),
        ]

    shape = tuple((k, s.name) for k, s in specs)
    return _one_row("refq", table, specs, shape, window, fields), window_params(window.get("start"), window.get("end"))


def edge_counts_query(table: exp.Table, specs: Sequence[tuple[int, NumericSpec]], **window: Unpack[Scope]) -> Query:
    """Per column, in order: ``COUNT_IF(x <= edge)`` for each edge, then ``HISTOGRAM(x, points)``
    (counts at the CDF points); one row."""

    def fields(k: int, spec: NumericSpec, v: exp.Column) -> list[exp.Expr]:
        edges: list[exp.Expr] = [
            exp.CountIf(this=exp.LTE(this=v.copy(), expression=param(f"e{k}_{j}")))
            for j in range(len(spec.edges or ()))
        ]
        return [*edges, exp.Anonymous(this="HISTOGRAM", expressions=[v.copy(), param(f"h{k}")])]

    shape = tuple((k, s.name, len(s.edges or ())) for k, s in specs)
    params = window_params(window.get("start"), window.get("end"))
    for k, spec in specs:
        for j, edge in enumerate(spec.edges or ()):
            params[f"e{k}_{j}"] = float(edge)
        params[f"h{k}"] = sorted({float(p) for p in spec.points or ()})
    return _one_row("edges", table, specs, shape, window, fields), params


def cell_values_query(
    table: exp.Table,
    specs: Sequence[tuple[int, NumericSpec]],
    want: dict[int, Sequence[int]],
    *,
    ts: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Query:
    """DuckDB: the exact values (``LIST(x)``; faster here than a value -> count HISTOGRAM) inside the
    cells ``want[k]`` of column ``k`` — the few cells that hold the order statistics of its deciles.
    Rows ``(k, key, values)`` by unclamped key (:func:`_cell_expression`): a wanted cell -1 or n
    takes every key at or beyond it (``$lo<k>``/``$hi<k>``; ±inf when not wanted; see
    :func:`cell_keys`)."""
    shape = tuple((k, s.name, s.cell_map().transform, s.cell_map().n) for k, s in specs)
    key = ("cellvalues", table.sql("duckdb"), shape, ts, start is not None, end is not None)

    def build() -> Query:
        branches = []
        for k, spec in specs:
            v = exp.column(f"v{k}", quoted=True)
            inner = (
                exp.select(
                    exp.alias_(_cell_expression(v, k, spec.cell_map(), tails=False), "cell", quoted=True),
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
                        exp.LTE(this=cell.copy(), expression=param(f"lo{k}")),
                        exp.GTE(this=cell.copy(), expression=param(f"hi{k}")),
                        exp.Anonymous(this="LIST_CONTAINS", expressions=[param(f"want{k}"), cell.copy()]),
                    ),
                    copy=False,
                )
                .group_by(cell.copy(), copy=False)
            )
        return render(_union_all(branches), "duckdb"), {}

    params = window_params(start, end)
    for k, spec in specs:
        wanted = sorted({int(x) for x in want[k]})
        params.update(_cell_params(k, spec.cell_map()))
        params.update(
            {
                f"want{k}": [float(x) for x in wanted],
                f"lo{k}": -1.0 if -1 in wanted else -math.inf,
                f"hi{k}": float(spec.cell_map().n) if spec.cell_map().n in wanted else math.inf,
            }
        )
    return _cached(key, build), params
