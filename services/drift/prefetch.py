"""Overlap a current window's first statements with the reference's last pass (DuckDB files).

A drift report of two files runs the reference's passes, then the current's. On a few cores the
reference's last pass (the values inside its deciles' cells, a light filter) leaves cores idle,
and the current's category counts and cell counts do not depend on that pass: they need only the
reference's cell maps (known after its second pass). :class:`Prefetch` starts those statements on
the current's backend in a background thread as soon as they are known; the current's own passes
then take their rows instead of running them again (matched by SQL text and parameters; anything
not prefetched, or a prefetch that failed, runs as before — the answer is the same either way).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.drift.cells import CellSpec
    from services.warehouse.sources import Backend

Query = tuple[str, dict[str, Any]]
Rows = list[tuple[Any, ...]]

# Set by the report while the reference is profiled: called with {column: exact CellSpec} after the
# reference's cells pass (see engine._duck_reference).
ON_REFERENCE_CELLS: contextvars.ContextVar[Callable[[dict[str, CellSpec]], None] | None] = contextvars.ContextVar(
    "driftgate_on_reference_cells", default=None
)


def _key(query: Query) -> tuple[str, str]:
    return query[0], json.dumps(query[1], sort_keys=True, default=repr)


class Prefetch:
    """Statements for ``backend`` run early; install with :meth:`install`, always :meth:`close`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._run = backend.execute_many  # the class's method (before install)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftgate-prefetch")
        self._pending: dict[tuple[str, str], tuple[Future[list[Rows]], int]] = {}
        self.hits = 0

    def submit(self, queries: list[Query]) -> None:
        todo = [q for q in queries if _key(q) not in self._pending]
        if not todo:
            return
        future = self._pool.submit(self._run, todo)
        for i, q in enumerate(todo):
            self._pending[_key(q)] = (future, i)

    def install(self) -> Prefetch:
        # an instance attribute shadowing the class's method (undone by close)
        self.backend.execute_many = self.execute_many  # type: ignore[method-assign]
        return self

    def wait(self) -> None:
        """Until every prefetch has finished: nothing else may use the backend's connection
        meanwhile (its cursors are made from it)."""
        for future, _ in list(self._pending.values()):
            future.exception()

    def execute_many(self, queries: Sequence[Query]) -> list[Rows]:
        self.wait()
        out: list[Rows | None] = []
        for q in queries:
            hit = self._pending.pop(_key(q), None)
            rows = None
            if hit is not None and hit[0].exception() is None:
                rows = hit[0].result()[hit[1]]
                self.hits += 1
            out.append(rows)
        missing = [q for q, rows in zip(queries, out) if rows is None]
        if missing:
            ran = iter(self._run(missing))
            return [rows if rows is not None else next(ran) for rows in out]
        return [rows for rows in out if rows is not None]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._pending.clear()
        if self.backend.__dict__.get("execute_many") is not None:
            del self.backend.execute_many
