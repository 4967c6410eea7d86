"""Settings: environment variables first, then an optional TOML file, then defaults (spec).

One immutable :class:`Settings` object is built by :func:`load_settings`; the app builds it once
per process (``st.cache_resource`` in ``components.shell``), the CLI once per command.

TOML layout (every section optional)::

    [mlflow]
    tracking_uri = "http://127.0.0.1:5000"   # overridden by MLFLOW_TRACKING_URI
    registry_uri = ""                        # overridden by MLFLOW_REGISTRY_URI
    lifecycle = "aliases"                    # or "stages"

    [sources.<name>]                         # data sources (scoring logs, reference tables)
    type = "delta"                           # delta | parquet | csv | duckdb | databricks | spark
    path = "data/scoring_log"                # relative to the config file's folder (a URI as is)
    table = "main.ml.scoring_log"            # for databricks / duckdb / spark (spark: table or path)
    format = "parquet"                       # spark with a path: csv | parquet | delta (default: sniffed)

    [spark]                                  # the spark engine (services/warehouse/spark.py)
    remote = "sc://host:15002"               # Spark Connect; SPARK_REMOTE first; unset: a local session

    [models.<registered model name>]         # per-model settings (drift, gate, trigger...)
    experiment = "churn_retraining"
    source = "<name of a [sources] entry>"
    ...

    [drift] / [gate] / [trigger] / [roles] / [audit] / [notify]   (read by their services)

Every section is parsed once, by :func:`load_settings`, into the typed models of
:mod:`services.config.schema` (``settings.sections.<name>``); ``[models.<name>]`` into a
:class:`~services.config.models.ModelSpec` (``settings.model_spec(name)``).

Secrets (the Databricks token) come from the environment or ``.streamlit/secrets.toml``; they
live in :class:`Secret` wrappers whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.config.demo_workspace import demo_defaults
from services.config.models import ModelSpec, ReferenceWindow, parse_instant
from services.config.schema import (
    DECISION_ACTIONS,
    DRIFT_TESTS,
    GATE_CHECKS,
    NAMED_SCHEMA,
    SCHEMA,
    SOURCE_KINDS,
    Sections,
    SourceSection,
    section_defaults,
    validate_config,
)
from services.errors import BadInput, NotFound

__all__ = [
    "DECISION_ACTIONS",
    "DRIFT_TESTS",
    "GATE_CHECKS",
    "LIFECYCLES",
    "NAMED_SCHEMA",
    "SCHEMA",
    "SOURCE_KINDS",
    "DatabricksSettings",
    "ModelSpec",
    "ReferenceWindow",
    "Secret",
    "Sections",
    "Settings",
    "load_settings",
    "parse_instant",
    "redact_uri",
    "section_defaults",
    "validate_config",
]

DEFAULT_HOME = ".driftgate"
DEFAULT_CONFIG_NAME = "driftgate.toml"
LIFECYCLES = ("aliases", "stages")


class Secret:
    """A string that never shows itself in a repr, a log or an exception text."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def get(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret(set)" if self._value else "Secret(unset)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class DatabricksSettings:
    host: str | None = None
    http_path: str | None = None
    token: Secret = field(default_factory=lambda: Secret(None))

    @property
    def configured(self) -> bool:
        return bool(self.host and self.http_path)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved once. ``raw`` is the merged TOML document, ``sections``
    the same parsed and typed."""

    home: Path
    tracking_uri: str
    registry_uri: str
    demo: bool
    user: str | None
    config_path: Path | None
    raw: Mapping[str, Any]
    databricks: DatabricksSettings
    sections: Sections

    # -- typed ----------------------------------------------------------------------------------
    def model_spec(self, name: str) -> ModelSpec | None:
        """``[models.<name>]`` typed, or None when the model is not configured."""
        section = self.sections.models.get(name)
        return ModelSpec.parse(name, section) if section is not None else None

    def require_model(self, name: str, what: str) -> ModelSpec:
        """``[models.<name>]`` typed; NotFound naming the configured models when it is missing."""
        spec = self.model_spec(name)
        if spec is None:
            known = ", ".join(sorted(self.sections.models)) or "none"
            raise NotFound(
                f"model {name!r} has no {what} configured ([models.{name}] missing; configured models: {known})"
            )
        return spec

    def source(self, name: str) -> SourceSection | None:
        """``[sources.<name>]`` typed, or None."""
        return self.sections.sources.get(name)

    # -- untyped views of ``raw`` (for readers not moved to ``sections`` yet) -------------------
    def section(self, *keys: str) -> dict[str, Any]:
        """The TOML table at ``keys`` (e.g. ``section("models", "churn")``), or ``{}``.

        A known top-level section (``section("drift")``) comes with its schema defaults filled
        in (see :data:`SCHEMA`); values were validated by :func:`load_settings`."""
        table = self.explicit(*keys)
        if len(keys) == 1 and keys[0] in SCHEMA:
            return {**section_defaults(keys[0]), **table}
        return table

    def explicit(self, *keys: str) -> dict[str, Any]:
        """The TOML table at ``keys`` as configured (no defaults), or ``{}``."""
        node: Any = self.raw
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                return {}
            node = node[key]
        return dict(node) if isinstance(node, Mapping) else {}

    @property
    def lifecycle(self) -> str:
        return self.sections.mlflow.lifecycle

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return {name: dict(v) for name, v in self.section("models").items()}

    def model(self, name: str) -> dict[str, Any]:
        return self.section("models", name)

    @property
    def audit_url(self) -> str:
        url = self.sections.audit.url
        return str(url) if url else f"sqlite:///{(self.home / 'audit.db').as_posix()}"

    def resolve_path(self, value: str | os.PathLike[str]) -> Path:
        """A path from the config: relative ones are relative to the config file's folder,
        or to ``home`` for the demo workspace."""
        p = Path(value).expanduser()
        if p.is_absolute():
            return p
        base = self.config_path.parent if self.config_path else self.home
        return base / p

    def describe(self) -> dict[str, str]:
        """What the page shell shows: where things come from, never secrets."""
        return {
            "workspace": "embedded demo" if self.demo else "configured",
            "tracking": redact_uri(self.tracking_uri),
            "registry": redact_uri(self.registry_uri),
            "lifecycle": self.lifecycle,
            "config": str(self.config_path.name) if self.config_path else "defaults",
        }


_SECRET_QUERY = re.compile(r"([?&](?:password|passwd|pwd|token|access_token)=)[^&#]*", re.IGNORECASE)


def redact_uri(uri: str) -> str:
    """Drop user:password@ (and a ``password=``/``token=`` query value) from a URI before showing it."""
    uri = _SECRET_QUERY.sub(r"\1***", uri)
    if "://" in uri:
        scheme, rest = uri.split("://", 1)
        authority, sep, path = rest.partition("/")
        if "@" in authority:  # the last @ ends the credentials (an unescaped @ in a password too)
            return f"{scheme}://***@{authority.rpartition('@')[2]}{sep}{path}"
    return uri


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise BadInput(f"{what} not found: {path.name}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{what} {path.name} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise BadInput(f"{what} {path.name} cannot be read: {exc.strerror}") from None


def _secrets(cwd: Path) -> dict[str, Any]:
    for candidate in (cwd / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"):
        if candidate.is_file():
            return _read_toml(candidate, "secrets file")
    return {}


def load_settings(
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Build settings from ``env`` (default: ``os.environ``), the TOML file and defaults.

    ``config_file`` (the CLI's ``--config``) wins over ``DRIFTGATE_CONFIG``.
    """
    env = os.environ if env is None else env
    cwd_path = Path(cwd) if cwd is not None else Path.cwd()

    home = Path(env.get("DRIFTGATE_HOME") or (cwd_path / DEFAULT_HOME)).expanduser()
    if not home.is_absolute():
        home = cwd_path / home
    home = home.resolve()
    if home.exists() and not home.is_dir():
        raise BadInput(f"DRIFTGATE_HOME is not a folder: {home}")

    config_path: Path | None = None
    explicit = config_file or env.get("DRIFTGATE_CONFIG")
    if explicit:
        config_path = Path(explicit).expanduser()
        if not config_path.is_absolute():
            config_path = cwd_path / config_path
        file_doc = _read_toml(config_path, "config file")
    elif (cwd_path / DEFAULT_CONFIG_NAME).is_file():
        config_path = cwd_path / DEFAULT_CONFIG_NAME
        file_doc = _read_toml(config_path, "config file")
    else:
        file_doc = {}

    validate_config(file_doc)  # the file's own errors first, before the demo defaults are merged
    mlflow_doc = file_doc.get("mlflow", {}) if isinstance(file_doc.get("mlflow"), Mapping) else {}
    tracking = env.get("MLFLOW_TRACKING_URI") or mlflow_doc.get("tracking_uri") or ""
    demo = not tracking
    if demo:
        tracking = f"sqlite:///{(home / 'mlflow.db').as_posix()}"
    registry = env.get("MLFLOW_REGISTRY_URI") or mlflow_doc.get("registry_uri") or tracking

    # Defaults <- demo defaults (only for the embedded workspace) <- the TOML file.
    raw: dict[str, Any] = {"mlflow": {"lifecycle": "aliases"}}
    if demo:
        raw = _deep_merge(raw, demo_defaults(home))
    raw = _deep_merge(raw, file_doc)
    sections = validate_config(raw)

    secrets = _secrets(cwd_path)
    sec_db = secrets.get("databricks", {}) if isinstance(secrets.get("databricks"), Mapping) else {}
    databricks = DatabricksSettings(
        host=env.get("DATABRICKS_HOST") or sec_db.get("host") or secrets.get("DATABRICKS_HOST"),
        http_path=env.get("DATABRICKS_HTTP_PATH") or sec_db.get("http_path") or secrets.get("DATABRICKS_HTTP_PATH"),
        token=Secret(env.get("DATABRICKS_TOKEN") or sec_db.get("token") or secrets.get("DATABRICKS_TOKEN")),
    )

    return Settings(
        home=home,
        tracking_uri=str(tracking),
        registry_uri=str(registry),
        demo=demo,
        user=env.get("DRIFTGATE_USER") or None,
        config_path=config_path,
        raw=raw,
        databricks=databricks,
        sections=sections,
    )
