"""Profiles: the small per-feature aggregates every drift statistic is computed from.

A reference profile (decile edges, bin counts, a discrete-quantile grid, category counts,
summaries) is computed once, stored as JSON and reused against many current windows; a current
profile is computed *against* a reference profile (its bin counts use the reference's edges).
The memory engine additionally keeps the raw values (never serialised) for exact KS/Wasserstein.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from services.drift.cells import CellSpec
from services.errors import BadInput

PROFILE_FORMAT = 1
Progress = Callable[[str], None]
Features = Sequence[tuple[str, str]]  # (column, "numeric" | "categorical") in report order
Bounds = tuple[datetime | None, datetime | None]  # a window's [start, end)


class ProfileArgs(TypedDict):
    """What every profiler (memory, pushdown) takes beside the backend and the features."""

    side: str  # "reference" | "current" (messages)
    bounds: Bounds
    ts: str | None  # the timestamp column of a windowed source
    reference: NotRequired[Profile | None]  # a current window: profiled against these edges/cells
    source: NotRequired[str]
    window: NotRequired[str]
    progress: NotRequired[Progress | None]


@dataclass
class FeatureProfile:
    name: str
    kind: str  # "numeric" | "categorical"
    rows: int  # rows of the window (missing included)
    count: int  # non-missing values
    summary: dict[str, Any]
    edges: list[float] = field(default_factory=list)  # numeric: reference decile edges
    bins: list[int] = field(default_factory=list)  # numeric: counts over edges (len(edges)+1)
    grid: list[float] = field(default_factory=list)  # numeric: discrete quantiles at k/G
    counts: dict[str, int] = field(default_factory=dict)  # categorical: category -> count
    points: list[float] = field(default_factory=list)  # numeric: reference CDF evaluation points
    cdf: list[int] = field(default_factory=list)  # numeric: count of values <= each point
    tails: list[float] = field(default_factory=list)  # current: [sum (p0 - x)+, sum (x - pN)+]
    cells: CellSpec | None = None  # DuckDB, large columns: the cell map behind points
    values: np.ndarray | None = None  # memory engine only (exact statistics)

    def to_json(self) -> dict[str, Any]:
        doc = {"name": self.name, "kind": self.kind, "rows": self.rows, "count": self.count, "summary": self.summary}
        if self.kind == "numeric":
            doc.update(
                edges=self.edges, bins=self.bins, grid=self.grid, points=self.points, cdf=self.cdf, tails=self.tails
            )
            if self.cells is not None:
                doc["cells"] = self.cells.to_json()
        else:
            doc["counts"] = self.counts
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FeatureProfile:
        return cls(
            name=doc["name"],
            kind=doc["kind"],
            rows=int(doc["rows"]),
            count=int(doc["count"]),
            summary=dict(doc["summary"]),
            edges=[float(x) for x in doc.get("edges", [])],
            bins=[int(x) for x in doc.get("bins", [])],
            grid=[float(x) for x in doc.get("grid", [])],
            counts={str(k): int(v) for k, v in doc.get("counts", {}).items()},
            points=[float(x) for x in doc.get("points", [])],
            cdf=[int(x) for x in doc.get("cdf", [])],
            tails=[float(x) for x in doc.get("tails", [])],
            cells=CellSpec.from_json(doc["cells"]) if doc.get("cells") else None,
        )


@dataclass
class Profile:
    source: str
    rows: int
    engine: str
    features: dict[str, FeatureProfile]
    window: str = "all rows"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    key: str | None = None  # fingerprint of what was profiled (source, window, features)

    @property
    def exact(self) -> bool:
        return all(f.values is not None for f in self.features.values() if f.kind == "numeric")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "source": self.source,
            "rows": self.rows,
            "engine": self.engine,
            "window": self.window,
            "created_at": self.created_at,
            "key": self.key,
            "features": [f.to_json() for f in self.features.values()],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Profile:
        if not isinstance(doc, dict) or doc.get("format") != PROFILE_FORMAT:
            raise BadInput("not a DriftGate reference profile (or an unsupported format)")
        feats = [FeatureProfile.from_json(f) for f in doc["features"]]
        return cls(
            source=doc["source"],
            rows=int(doc["rows"]),
            engine=doc["engine"],
            features={f.name: f for f in feats},
            window=doc.get("window", "all rows"),
            created_at=doc.get("created_at", ""),
            key=doc.get("key"),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Atomic write (temp file + rename), so a reader never sees half a profile."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".profile-", dir=p.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.to_json(), fh, allow_nan=False)
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Profile:
        p = Path(path)
        if not p.is_file():
            raise BadInput(f"no such profile file: {p.name}")
        try:
            return cls.from_json(json.loads(p.read_text()))
        except (ValueError, KeyError, TypeError):
            raise BadInput(f"unreadable profile file: {p.name}") from None
