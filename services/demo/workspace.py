"""The demo workspace's state: is it seeded, and seeding it once (under a file lock).

Light on purpose: the app's first start (``components.first_start``) imports this to draw the
seeding progress before anything heavy is imported; the seeding itself
(:mod:`services.demo.seed`: MLflow, scikit-learn, Delta) is imported only when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from services.config import Settings
from services.config.demo_workspace import read_manifest
from services.errors import BadInput

ProgressFn = Callable[[float, str], None]


def is_seeded(home: Path) -> bool:
    return read_manifest(home) is not None


def _quiet(fraction: float, message: str) -> None:
    """No progress shown."""


def ensure_demo(settings: Settings, progress: ProgressFn | None = None, reset: bool = False) -> dict[str, Any]:
    """Seed the embedded workspace unless it is already completely seeded; returns the manifest.

    Refuses to touch anything when the settings point at a configured MLflow server.
    """
    if not settings.demo:
        raise BadInput("the demo workspace is only seeded when no MLFLOW_TRACKING_URI is configured")
    home = Path(settings.home)
    home.mkdir(parents=True, exist_ok=True)
    if not reset:
        manifest = read_manifest(home)
        if manifest:
            return manifest
    with FileLock(str(home / ".seed.lock"), timeout=600):
        if not reset:  # another process may have finished while we waited
            manifest = read_manifest(home)
            if manifest:
                return manifest
        # lazy: importing the seeding takes 27.8 s vs 1.5 s for the settings (load 23); the first
        # start shows its progress before that.
        from services.demo.seed import reseed

        return reseed(settings, progress or _quiet)
