"""Cell maths of the DuckDB pushdown engine: the monotone cell maps, cell keys, CDFs at the cells'
boundaries, summaries combined from cells, and exact order statistics from the values of a few cells.

A large numeric column is counted per *cell* of a monotone map (:class:`CellSpec`) chosen on a
reservoir sample (:func:`choose_cells`); because the same map runs on both sides, the CDFs of both
are exact at every cell boundary. The deciles' order statistics fall in known cells, whose values
alone give exact deciles (numpy's linear interpolation, :func:`deciles_from_cells`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from services.drift.stats import DECILES, GRID_SIZE, dedupe_edges

# Cells per column when the reference is larger than the reservoir, and the most reservoir-grid
# slots (1/G of mass each) a cell of distinct values may be predicted to hold; columns no transform
# spreads that well keep the HISTOGRAM at sampled points.
CELLS = 2048
CELL_MAX_SLOTS = 2
# DuckDB reference profiles: the quantile grid (only used to choose the cell maps and points where
# the CDFs are then counted exactly) comes from a reservoir sample of this many rows.
GRID_SAMPLE = 8192
# ... drawn from the window's first SAMPLE_PREFIX rows (a row group of most Parquet writers): a
# tenth of a pass over 1M rows instead of a whole one. Data ordered by a column makes such a
# sample unrepresentative; the cells it picks then hold too much mass (CELL_GATE of a column's
# values in one cell of distinct values, twice the most a representative sample predicts), and
# those columns are sampled again from every row (see reference.duck_reference).
SAMPLE_PREFIX = 131_072
CELL_GATE = 2 * CELL_MAX_SLOTS / GRID_SIZE
FloatArray = NDArray[np.float64]
_TINY = 1e-300


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

    def inverse(self, t: ArrayLike) -> FloatArray:
        t = np.asarray(t, dtype=float)
        if self.transform == "linear":
            return t
        if self.transform == "log":
            return np.asarray(self.shift + np.exp(t), dtype=np.float64)
        return np.asarray(self.shift - np.exp(-t), dtype=np.float64)

    def needs_clamp(self, spread: int = 4) -> bool:
        """Whether a current window's keys must be clamped in SQL: the reference's [min, max] maps
        to more than ``spread`` × n keys (an outlier far beyond the sampled range), so a window
        drifting into that gap could otherwise make a group per value."""
        with np.errstate(all="ignore"):
            ends = (np.asarray(self.forward([self.min, self.max])) - self.lo) * self.k
        return not bool(np.all(np.isfinite(ends))) or float(ends[1] - ends[0]) > spread * self.n

    def forward(self, x: ArrayLike) -> FloatArray:
        """``T(x)``, the inverse of :meth:`inverse` (see :func:`cell_transform`)."""
        return cell_transform(self.transform, self.shift, x)

    def points(self) -> list[float]:
        """CDF evaluation points, in the order of :func:`cells_cdf`: the min (counts below it),
        the upper boundary of cells -1 .. n-1, the max."""
        with np.errstate(over="ignore", invalid="ignore"):
            inner = self.inverse(self.lo + np.arange(self.n + 1) / self.k)
        inner = np.clip(np.nan_to_num(inner, nan=self.max, posinf=self.max, neginf=self.min), self.min, self.max)
        pts = np.maximum.accumulate(np.concatenate([[self.min], inner, [self.max]]))
        return [float(x) for x in pts]


CELL_TRANSFORMS = ("linear", "log", "neglog")


def cell_transform(transform: str, shift: float, x: ArrayLike) -> FloatArray:
    """``T(x)`` of a cell map (numpy), as the SQL's :func:`_cell_expression`, guard against ln 0
    included."""
    x = np.asarray(x, dtype=float)
    if transform == "linear":
        return x
    if transform == "log":
        return np.log(np.maximum(x - shift, _TINY))
    return -np.log(np.maximum(shift - x, _TINY))


def cell_keys(keys: ArrayLike, n: int, tails: bool = True) -> NDArray[np.int64]:
    """Cell keys as cells (int64 array): every key clamped to -1 .. n, except, with ``tails`` (a
    current window's keys), -inf/+inf — its values outside the reference's range — as the tails
    -2 and n + 1. (A reference's own key can be infinite only by overflow: an extreme value.)"""
    k = np.asarray(keys, dtype=float)
    cells = np.clip(k, -1, n)
    if tails:
        cells[k == -np.inf] = -2
        cells[k == np.inf] = n + 1
    return np.asarray(cells, dtype=np.int64)


def cells_cdf(rows: ArrayLike, cells: CellSpec, tails: bool = True) -> tuple[list[int], list[float]]:
    """Counts at :meth:`CellSpec.points` and the tails outside [min, max] from one column's rows
    ``(key, n, s, …)`` (see :func:`cell_keys`): ``(cdf, [sum of (min - x) below min, sum of
    (x - max) above max])``."""
    n = cells.n
    table = np.asarray(rows, dtype=float)
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


def choose_cells(grid: Sequence[float], lo: float, hi: float, count: int, n: int = CELLS) -> CellSpec | None:
    """A :class:`~services.drift.sql.CellSpec` for a column with ``count`` values in ``[lo, hi]``
    whose (sampled) quantile grid is ``grid``: the first transform (linear, log, -log) under which
    no cell is predicted to hold more than ``CELL_MAX_SLOTS`` grid slots of distinct values; None
    (keep the HISTOGRAM) for small columns or when none does."""
    g = np.asarray(grid, dtype=float)
    if count <= GRID_SAMPLE or g.size < 101 or not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return None
    size = g.size - 1
    q_lo, q_hi = float(max(g[size // 1000 or 1], lo)), float(min(g[size - (size // 1000 or 1)], hi))
    if q_hi <= q_lo:
        return None
    d_lo = float(g[size // 100]) - lo  # scale of the left tail: distance of the 1% quantile from the min
    d_hi = hi - float(g[size - size // 100])
    candidates = [("linear", 0.0)]
    if d_lo > 0:
        candidates.append(("log", lo - d_lo))
    if d_hi > 0:
        candidates.append(("neglog", hi + d_hi))
    for transform, shift in candidates:
        with np.errstate(all="ignore"):
            t_lo, t_hi = (float(t) for t in cell_transform(transform, shift, [q_lo, q_hi]))
            if not (np.isfinite(t_lo) and np.isfinite(t_hi)) or t_hi <= t_lo:
                continue
            k = n / (t_hi - t_lo)
            cells = np.clip(np.floor((cell_transform(transform, shift, np.clip(g, lo, hi)) - t_lo) * k), -1, n)
        # runs of grid slots sharing a cell; an atom alone in its cell is exact
        starts = np.flatnonzero(np.concatenate([[True], cells[1:] != cells[:-1]]))
        ends = np.concatenate([starts[1:], [g.size]]) - 1
        spread = g[ends] != g[starts]
        worst = int(np.max(np.where(spread, ends - starts, 0))) if starts.size else 0
        if worst <= CELL_MAX_SLOTS:
            return CellSpec(transform, t_lo, float(k), n, float(shift), float(lo), float(hi))
    return None


def order_ranks(count: int, p: float) -> tuple[int, int, np.float64]:
    """numpy's linear quantile method: the 0-based ranks of the two order statistics behind the
    ``p`` quantile of ``count`` values, and the virtual index (n - 1) p between them."""
    virtual = (count - 1) * np.float64(p)
    if virtual >= count - 1:
        return count - 1, count - 1, virtual
    prev = int(np.floor(virtual))
    return prev, prev + 1, virtual


def lerp(a: float, b: float, virtual: np.float64) -> float:
    """numpy's ``lerp`` arithmetic between the order statistics ``a`` <= ``b`` at ``virtual``."""
    a, b = np.float64(a), np.float64(b)
    t = virtual - np.floor(virtual)
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def rank_cells(cum: Sequence[int], ranks: Sequence[int]) -> list[tuple[int, int, int]]:
    """Where 0-based ranks fall: (rank, its cell, rank of that cell's first value), from a cells
    CDF (``cum[j + 2]`` = values in cells <= j, the profile's ``cdf``)."""
    at = np.asarray(cum, dtype=np.int64)
    slots = np.searchsorted(at, ranks, side="right")
    return [(int(rank), int(slot) - 2, int(at[slot - 1]) if slot else 0) for rank, slot in zip(ranks, slots)]


def decile_ranks(count: int, cum: Sequence[int]) -> list[tuple[int, int, int]]:
    """The two order statistics behind each decile (see :func:`rank_cells`)."""
    return rank_cells(cum, [rank for p in DECILES for rank in order_ranks(count, p)[:2]])


def deciles_from_cells(
    doc: dict[str, Any],
    cum: Sequence[int],
    ranks: list[tuple[int, int, int]],
    values: dict[int, tuple[np.ndarray, np.ndarray]],
) -> None:
    """Exact deciles (the arithmetic of numpy's linear interpolation), the edges and the counts
    <= each edge: all cells before the upper order statistic's cell, plus its values <= the edge."""
    count = int(doc["count"] or 0)

    def value_at(rank: int, cell: int, first: int) -> float:
        xs, cs = values[cell]
        return float(xs[int(np.searchsorted(cs, rank - first, side="right"))])

    deciles, at_most = [], {}
    for j, p in enumerate(DECILES):
        (r0, c0, f0), (r1, c1, f1) = ranks[2 * j], ranks[2 * j + 1]
        e = lerp(value_at(r0, c0, f0), value_at(r1, c1, f1), order_ranks(count, p)[2])
        deciles.append(e)
        xs, cs = values[c1]
        inside = int(np.searchsorted(xs, e, side="right"))
        at_most[e] = int(cum[c1 + 1]) + (int(cs[inside - 1]) if inside else 0)
    doc["deciles"] = deciles
    doc["edges"] = dedupe_edges(deciles)
    doc["cumulative"] = [at_most[e] for e in doc["edges"]]


def summary_from_cells(table: np.ndarray | None, cells: CellSpec, tails: bool = True) -> dict[str, Any]:
    """A column's summaries from its cells' ``(key, n, sum, min, max, var_pop)``: counts, mean,
    population std (Chan et al.'s pairwise combination), min/max, infinities, and the CDF at the
    cells' boundaries plus (``tails``: a current window) the tails outside the reference's range
    (see :func:`cells_cdf`)."""
    table = np.empty((0, 6)) if table is None else table
    cdf, outside = cells_cdf(table, cells, tails)
    out: dict[str, Any] = {
        "count": 0,
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "median": None,
        "infinite": 0,
        "grid": [],
        "cdf": cdf,
        "tails": outside,
    }
    if not table.size:
        return out
    n, sums, lows, highs, var = np.nan_to_num(table[:, 1:6].T, nan=0.0, posinf=np.inf, neginf=-np.inf)
    count = int(n.sum())
    lo, hi = float(lows.min()), float(highs.max())
    out.update(count=count, min=lo, max=hi, infinite=int(lo == -math.inf) + int(hi == math.inf))
    if out["infinite"] or count == 0:
        return out
    # (fsum over Python floats: iterating a numpy array yields numpy scalars, 20x slower; same sum)
    mean = math.fsum(sums.tolist()) / count
    m2 = math.fsum((n * var + n * (sums / n - mean) ** 2).tolist())
    out.update(mean=mean, std=math.sqrt(max(m2, 0.0) / count))
    return out


def cells_well_spread(table: np.ndarray | None, cells: CellSpec, share: float = CELL_GATE) -> bool:
    """Whether no cell of distinct values (its min < its max) holds more than ``share`` of a
    reference column's values, from the column's rows ``(key, n, sum, min, max, …)`` of its cells
    pass (keys as :func:`cell_keys` without tails). KS and Wasserstein are off by at most the mass
    inside one such cell."""
    if table is None or not table.size:
        return True
    cell = cell_keys(table[:, 0], cells.n, tails=False) + 1
    counts = np.bincount(cell, weights=table[:, 1], minlength=cells.n + 2)
    lows = np.full(cells.n + 2, np.inf)
    highs = np.full(cells.n + 2, -np.inf)
    np.minimum.at(lows, cell, table[:, 3])
    np.maximum.at(highs, cell, table[:, 4])
    spread = highs > lows
    return not bool(np.any(counts[spread] > share * counts.sum()))
