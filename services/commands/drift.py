"""CLI commands of this area (see the spec). Not built yet."""

from __future__ import annotations


def register(sub) -> None:  # noqa: ARG001 - filled in by the area's issue
    return None
