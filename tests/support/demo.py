"""Demo workspaces: copies of a seeded workspace and demo-mode settings with a config file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from services.config import load_settings

MODEL = "churn_classifier"


def copy_workspace(src: Path, dst: Path) -> Path:
    """Copy a demo workspace and re-point the absolute paths the MLflow store holds."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
    old, new = src.resolve().as_posix(), dst.resolve().as_posix()
    con = sqlite3.connect(dst / "mlflow.db")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cols = [
                r[1]
                for r in con.execute(f'PRAGMA table_info("{table}")')
                if (r[2] or "").upper().startswith(("VARCHAR", "TEXT"))
            ]
            for col in cols:
                con.execute(
                    f'UPDATE "{table}" SET "{col}" = replace("{col}", ?, ?) WHERE "{col}" LIKE ?',
                    (old, new, f"%{old}%"),
                )
        con.commit()
    finally:
        con.close()
    return dst


def forget_artifact_repos() -> None:
    """MLflow caches artifact repositories per run id for the whole process; a copied workspace
    shares run ids with the original, so without this its artifact writes land in the original."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    cache = getattr(tracking_utils, "_artifact_repos_cache", None)
    if cache is not None:
        cache.clear()


def settings_with(home: Path, extra_toml: str = "", lifecycle: str = "aliases"):
    """Demo-mode settings for ``home`` plus a config file (lifecycle + extra TOML)."""
    cfg = home / "promotion-test.toml"
    cfg.write_text(f'[mlflow]\nlifecycle = "{lifecycle}"\n{extra_toml}\n')
    return load_settings(env={"DRIFTGATE_HOME": str(home)}, config_file=cfg)
