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

Secrets (the Databricks token) come from the environment or ``.streamlit/secrets.toml``; they
live in :class:`Secret` wrappers whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.errors import BadInput

DEFAULT_HOME = ".driftgate"
DEFAULT_CONFIG_NAME = "driftgate.toml"
LIFECYCLES = ("aliases", "stages")


class Secret:
    """A string that never shows itself in a repr, a log or an exception text."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None):
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
    """Everything configurable, resolved once. ``raw`` is the merged TOML document."""

    home: Path
    tracking_uri: str
    registry_uri: str
    demo: bool
    user: str | None
    config_path: Path | None
    raw: Mapping[str, Any]
    databricks: DatabricksSettings

    # -- convenience accessors -------------------------------------------------------------
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
        return str(self.section("mlflow").get("lifecycle", "aliases"))

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return {name: dict(v) for name, v in self.section("models").items()}

    def model(self, name: str) -> dict[str, Any]:
        return self.section("models", name)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def audit_url(self) -> str:
        url = self.section("audit").get("url")
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

    validate_config(file_doc)
    mlflow_doc = file_doc.get("mlflow", {}) if isinstance(file_doc.get("mlflow"), Mapping) else {}
    tracking = env.get("MLFLOW_TRACKING_URI") or mlflow_doc.get("tracking_uri") or ""
    demo = not tracking
    if demo:
        tracking = f"sqlite:///{(home / 'mlflow.db').as_posix()}"
    registry = env.get("MLFLOW_REGISTRY_URI") or mlflow_doc.get("registry_uri") or tracking

    # Defaults <- demo defaults (only for the embedded workspace) <- the TOML file.
    raw: dict[str, Any] = {"mlflow": {"lifecycle": "aliases"}}
    if demo:
        from services.demo.seed import demo_config  # local import: demo imports config

        raw = _deep_merge(raw, demo_config(home))
    raw = _deep_merge(raw, file_doc)
    validate_config(raw)

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
    )


# -- the schema: every key, its type, range and default --------------------------------------
# One pydantic model per known section, strict (no coercion: "false" is not a bool, "alice" is
# not a list) and closed (an unknown key is an error naming it). To add a key: add a field here
# (type + default + range); ``settings.section(name)`` then returns it with its default.
# ``[sources.<name>]`` and ``[models.<name>]`` are tables of tables, validated entry by entry.
from typing import Literal, Union  # noqa: E402

from pydantic import BaseModel, ConfigDict, Field, ValidationError  # noqa: E402

MIN_LEASE_SECONDS = 10.0  # a heartbeat renews the lease every lease/5 s; below this, GC pauses could split it
SOURCE_KINDS = ("csv", "parquet", "delta", "duckdb", "databricks", "spark")
DRIFT_TESTS = ("ks", "chi2", "psi", "jensenshannon", "wasserstein")
GATE_CHECKS = (
    "candidate_state",
    "same_eval_window",
    "beats_champion",
    "guard_metrics",
    "signature_compatible",
    "lineage_complete",
    "rollback_target",
    "feature_consistency",
)
DECISION_ACTIONS = ("request", "approve", "reject", "rollback")
_DateLike = Union[str, dt.date, dt.datetime]


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class MlflowSection(_Section):
    tracking_uri: str | None = None
    registry_uri: str | None = None
    lifecycle: Literal["aliases", "stages"] = "aliases"
    http_timeout_seconds: float = Field(15.0, gt=0, le=300)  # MLflow REST: connect + read, per request
    http_retries: int = Field(1, ge=0, le=10)


class SourceSection(_Section):
    type: Literal["csv", "parquet", "delta", "duckdb", "databricks", "spark"]
    path: str | None = None
    table: str | None = None
    version: int | None = Field(None, ge=0)
    format: Literal["csv", "parquet", "delta"] | None = None  # type = "spark" with a path (default: sniffed)


class DriftFeatureSection(_Section):
    test: Literal["ks", "chi2", "psi", "jensenshannon", "wasserstein"] | None = None
    threshold: float | None = Field(None, ge=0)


class DriftSection(_Section):
    small_sample: int | None = Field(None, ge=1)  # legacy: p-value tests up to this many rows
    alpha: float = Field(0.05, gt=0, lt=1)
    numeric_threshold: float = Field(0.1, ge=0)
    categorical_threshold: float = Field(0.1, ge=0)
    drift_share_threshold: float = Field(0.5, gt=0, le=1)
    current_days: int = Field(7, ge=1, le=3660)
    window: Literal["day", "week"] = "day"
    window_store: bool | str = True  # stored per-window profiles: a DuckDB file path, or false (off)
    features: dict[str, DriftFeatureSection] = Field(default_factory=dict)
    importance: dict[str, float] = Field(default_factory=dict)


class GuardSection(_Section):
    tolerance: float = 0.0  # may be negative: "must be better by"
    greater_is_better: bool = False


class LimitSection(_Section):
    max: float | None = None
    min: float | None = None


class FeatureConsistencySection(_Section):
    enabled: bool = True
    max_drift_share: float = Field(0.5, gt=0, le=1)


_Check = Literal[
    "candidate_state",
    "same_eval_window",
    "beats_champion",
    "guard_metrics",
    "signature_compatible",
    "lineage_complete",
    "rollback_target",
    "feature_consistency",
]


class GateSection(_Section):
    selection_metric: str = "roc_auc"
    greater_is_better: bool = True
    min_improvement: float = 0.005
    approvals_required: int = Field(1, ge=1, le=20)
    required: list[_Check] = Field(default_factory=lambda: [c for c in GATE_CHECKS if c != "feature_consistency"])
    advisory: list[_Check] = Field(default_factory=lambda: ["feature_consistency"])
    guards: dict[str, GuardSection] = Field(default_factory=dict)
    limits: dict[str, LimitSection] = Field(default_factory=dict)
    feature_consistency: FeatureConsistencySection = Field(default_factory=FeatureConsistencySection)
    guard_metrics: dict[str, float] | list[str] | None = None
    approval_tag: str | None = None


class TriggerSection(_Section):
    drift_share_threshold: float = Field(0.5, gt=0, le=1)
    performance_drop_threshold: float = Field(0.05, gt=0, le=1)
    consecutive_windows: int = Field(3, ge=1)
    cooldown_days: float = Field(7.0, ge=0)
    window: Literal["daily", "weekly", "day", "week"] = "daily"
    schedule_days: float | None = Field(None, gt=0)
    lookback_windows: int = Field(30, ge=1, le=1000)
    min_rows: int = Field(30, ge=1)
    min_labels: int = Field(30, ge=2)
    performance_metric: Literal["roc_auc", "accuracy"] = "roc_auc"
    reference_performance: float | None = Field(None, ge=0, le=1)
    reference: Literal["champion", "config"] = "champion"
    estimated_performance: bool = False


class RetrainSection(_Section):
    train_days: int = Field(7, ge=1)
    eval_days: int = Field(3, ge=1)
    candidates: list[Literal["gbm", "rf", "logreg"]] = Field(
        default_factory=lambda: ["gbm", "rf", "logreg"], min_length=1
    )
    min_train_rows: int = Field(200, ge=1)
    min_eval_rows: int = Field(100, ge=1)
    max_train_rows: int = Field(200_000, ge=1)


class ReferenceWindowSection(_Section):
    start: _DateLike | None = None
    end: _DateLike | None = None
    version: int | None = Field(None, ge=0)


class ModelGateSection(GateSection):
    pass


class ModelSection(_Section):
    experiment: str | None = None
    source: str | None = None
    label: str | None = None
    prediction: str | None = None
    timestamp: str | None = None
    model_version_column: str | None = None
    id_columns: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    numerical: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    selection_metric: str | None = None
    greater_is_better: bool | None = None
    guard_metrics: dict[str, float] | list[str] | None = None
    reference_window: ReferenceWindowSection | None = None
    feature_importance: dict[str, float] | None = None
    gate: GateSection | None = None
    trigger: TriggerSection | None = None
    retrain: RetrainSection | None = None


class RolesSection(_Section):
    approvers: list[str] = Field(default_factory=list)
    viewers: list[str] = Field(default_factory=list)
    identity_headers: list[str] = Field(
        default_factory=lambda: ["X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-User"]
    )
    match_local_part: bool = False


class AuthSection(_Section):
    trust_proxy_headers: bool = False
    match_local_part: bool = False


class AuditSection(_Section):
    url: str | None = None
    lease_seconds: float = Field(120.0, ge=MIN_LEASE_SECONDS, le=3600)


class NotifySection(_Section):
    webhook_url: str | None = None
    events: list[Literal["request", "approve", "reject", "rollback"]] = Field(
        default_factory=lambda: list(DECISION_ACTIONS)
    )
    outcomes: list[Literal["done", "refused", "failed"]] = Field(default_factory=lambda: ["done", "failed"])
    timeout_seconds: float = Field(5.0, gt=0, le=30)


class DatabricksSection(_Section):
    mirror_registry: bool = False
    timeout_seconds: float = Field(30.0, gt=0, le=300)  # SQL connector + SDK: connect and per request


class ApprovalsSection(_Section):
    approval_tag: str | None = None


class DemoSection(_Section):
    personas: dict[str, str] = Field(default_factory=dict)


class SparkSection(_Section):
    remote: str | None = Field(None, pattern=r"^sc://")  # Spark Connect, "sc://host:port" (SPARK_REMOTE first)
    connect_retries: int = Field(5, ge=0, le=15)  # Spark Connect client retries (≈ 10 s of backoff at 5)
    # a local session (no remote): its master, driver memory, shuffle partitions, catalog folder
    master: str = "local[*]"
    driver_memory: str = Field("1g", pattern=r"^[0-9]+[kmgtKMGT]?$")
    shuffle_partitions: int = Field(8, ge=1, le=100000)
    warehouse: str | None = None  # default: <temp folder>/driftgate-spark-warehouse


#: Known top-level sections -> their schema. ``sources`` / ``models`` hold one table per name.
SCHEMA: dict[str, type[_Section]] = {
    "mlflow": MlflowSection,
    "drift": DriftSection,
    "gate": GateSection,
    "trigger": TriggerSection,
    "retrain": RetrainSection,
    "roles": RolesSection,
    "auth": AuthSection,
    "audit": AuditSection,
    "notify": NotifySection,
    "databricks": DatabricksSection,
    "approvals": ApprovalsSection,
    "demo": DemoSection,
    "spark": SparkSection,
}
NAMED_SCHEMA: dict[str, type[_Section]] = {"sources": SourceSection, "models": ModelSection}


def _where(section: str, loc: tuple) -> str:
    """``("gate", "limits", "x", "max")`` -> ``[gate.limits.x] max``."""
    parts = [section, *(str(p) for p in loc if not isinstance(p, int))]
    # pydantic adds the Union/Literal branch to the location: keep only the config path.
    parts = [
        p
        for p in parts
        if not p.startswith(("list[", "dict[", "str", "date", "datetime", "function-"))
        and p not in ("literal['aliases','stages']",)
    ]
    if len(parts) == 1:
        return f"[{parts[0]}]"
    return f"[{'.'.join(parts[:-1])}] {parts[-1]}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(section: str, exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = _where(section, tuple(err.get("loc", ())))
    if err.get("type") == "extra_forbidden":
        return f"{where}: unknown key"
    if err.get("type") == "missing":
        return f"{where}: required key missing"
    msg = str(err.get("msg", "invalid value")).replace("Input should be", "must be")
    return f"{where}: {msg}, not {_short(err.get('input'))}"


def validate_config(raw: Mapping[str, Any]) -> None:
    """Check the merged TOML document against :data:`SCHEMA`; the first problem is one
    :class:`BadInput` line naming the key. Values are never coerced (``raw`` is not changed)."""
    for name, value in raw.items():
        if name in NAMED_SCHEMA:
            if not isinstance(value, Mapping):
                raise BadInput(f"[{name}]: must be a table of [{name}.<name>] tables, not {_short(value)}")
            for entry, doc in value.items():
                if not isinstance(doc, Mapping):
                    raise BadInput(f"[{name}.{entry}]: must be a table, not {_short(doc)}")
                try:
                    NAMED_SCHEMA[name].model_validate(dict(doc))
                except ValidationError as exc:
                    raise BadInput(_one_line(f"{name}.{entry}", exc)) from None
            continue
        schema = SCHEMA.get(name)
        if schema is None:
            known = ", ".join(sorted([*SCHEMA, *NAMED_SCHEMA]))
            raise BadInput(f"[{name}]: unknown section (known: {known})")
        if not isinstance(value, Mapping):
            raise BadInput(f"[{name}]: must be a table, not {_short(value)}")
        try:
            schema.model_validate(dict(value))
        except ValidationError as exc:
            raise BadInput(_one_line(name, exc)) from None


def section_defaults(name: str) -> dict[str, Any]:
    """The declared defaults of a known section (keys whose default is "unset" are left out)."""
    schema = SCHEMA.get(name)
    if schema is None:
        return {}
    out: dict[str, Any] = {}
    for key, f in schema.model_fields.items():
        value = f.get_default(call_default_factory=True)
        if value is None:
            continue
        out[key] = value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else copy.deepcopy(value)
    return out
