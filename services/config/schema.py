"""The configuration schema: every key of every TOML section, its type, range and default.

One pydantic model per known section, strict (no coercion: "false" is not a bool, "alice" is
not a list) and closed (an unknown key is an error naming it). To add a key: add a field here
(type + default + range); ``settings.sections.<name>`` then has it, typed, with its default.
``[sources.<name>]`` and ``[models.<name>]`` are tables of tables, validated entry by entry.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.errors import BadInput

MIN_LEASE_SECONDS = 10.0  # a heartbeat renews the lease every lease/5 s; below this, GC pauses could split it
_SourceKind = Literal["csv", "parquet", "delta", "duckdb", "databricks", "spark"]
_DriftTest = Literal["ks", "chi2", "psi", "jensenshannon", "wasserstein"]
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
_Action = Literal["request", "approve", "reject", "rollback"]
SOURCE_KINDS: tuple[str, ...] = get_args(_SourceKind)
DRIFT_TESTS: tuple[str, ...] = get_args(_DriftTest)
_CHECKS: tuple[_Check, ...] = get_args(_Check)
_ADVISORY: tuple[_Check, ...] = ("feature_consistency",)
_REQUIRED: tuple[_Check, ...] = tuple(c for c in _CHECKS if c not in _ADVISORY)
GATE_CHECKS: tuple[str, ...] = _CHECKS
_ACTIONS: tuple[_Action, ...] = get_args(_Action)
DECISION_ACTIONS: tuple[str, ...] = _ACTIONS
_Kind = Literal["gbm", "rf", "logreg"]
_KINDS: tuple[_Kind, ...] = get_args(_Kind)
_Outcome = Literal["done", "refused", "failed"]
_DEFAULT_OUTCOMES: tuple[_Outcome, ...] = ("done", "failed")
_DateLike = Union[str, dt.date, dt.datetime]  # noqa: UP007 - pydantic strict mode reads the Union branches


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class MlflowSection(_Section):
    tracking_uri: str | None = None
    registry_uri: str | None = None
    lifecycle: Literal["aliases", "stages"] = "aliases"
    http_timeout_seconds: float = Field(default=15.0, gt=0, le=300)  # MLflow REST: connect + read, per request
    http_retries: int = Field(default=1, ge=0, le=10)


class SourceSection(_Section):
    type: _SourceKind
    path: str | None = None
    table: str | None = None
    version: int | None = Field(default=None, ge=0)
    format: Literal["csv", "parquet", "delta"] | None = None  # type = "spark" with a path (default: sniffed)


class DriftFeatureSection(_Section):
    test: _DriftTest | None = None
    threshold: float | None = Field(default=None, ge=0)


class DriftSection(_Section):
    small_sample: int | None = Field(default=None, ge=1)  # legacy: p-value tests up to this many rows
    alpha: float = Field(default=0.05, gt=0, lt=1)
    numeric_threshold: float = Field(default=0.1, ge=0)
    categorical_threshold: float = Field(default=0.1, ge=0)
    drift_share_threshold: float = Field(default=0.5, gt=0, le=1)
    current_days: int = Field(default=7, ge=1, le=3660)
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
    max_drift_share: float = Field(default=0.5, gt=0, le=1)


class GateSection(_Section):
    selection_metric: str = "roc_auc"
    greater_is_better: bool = True
    min_improvement: float = 0.005
    approvals_required: int = Field(default=1, ge=1, le=20)
    required: list[_Check] = Field(default_factory=lambda: list(_REQUIRED))
    advisory: list[_Check] = Field(default_factory=lambda: list(_ADVISORY))
    guards: dict[str, GuardSection] = Field(default_factory=dict)
    limits: dict[str, LimitSection] = Field(default_factory=dict)
    feature_consistency: FeatureConsistencySection = Field(default_factory=FeatureConsistencySection)
    guard_metrics: dict[str, float] | list[str] | None = None
    approval_tag: str | None = None


class TriggerSection(_Section):
    drift_share_threshold: float = Field(default=0.5, gt=0, le=1)
    performance_drop_threshold: float = Field(default=0.05, gt=0, le=1)
    consecutive_windows: int = Field(default=3, ge=1)
    cooldown_days: float = Field(default=7.0, ge=0)
    window: Literal["daily", "weekly", "day", "week"] = "daily"
    schedule_days: float | None = Field(default=None, gt=0)
    lookback_windows: int = Field(default=30, ge=1, le=1000)
    min_rows: int = Field(default=30, ge=1)
    min_labels: int = Field(default=30, ge=2)
    performance_metric: Literal["roc_auc", "accuracy"] = "roc_auc"
    reference_performance: float | None = Field(default=None, ge=0, le=1)
    reference: Literal["champion", "config"] = "champion"
    estimated_performance: bool = False


class RetrainSection(_Section):
    train_days: int = Field(default=7, ge=1)
    eval_days: int = Field(default=3, ge=1)
    candidates: list[_Kind] = Field(default_factory=lambda: list(_KINDS), min_length=1)
    min_train_rows: int = Field(default=200, ge=1)
    min_eval_rows: int = Field(default=100, ge=1)
    max_train_rows: int = Field(default=200_000, ge=1)


class ReferenceWindowSection(_Section):
    start: _DateLike | None = None
    end: _DateLike | None = None
    version: int | None = Field(default=None, ge=0)


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
    lease_seconds: float = Field(default=120.0, ge=MIN_LEASE_SECONDS, le=3600)


class NotifySection(_Section):
    webhook_url: str | None = None
    events: list[_Action] = Field(default_factory=lambda: list(_ACTIONS))
    outcomes: list[_Outcome] = Field(default_factory=lambda: list(_DEFAULT_OUTCOMES))
    timeout_seconds: float = Field(default=5.0, gt=0, le=30)


class DatabricksSection(_Section):
    mirror_registry: bool = False
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)  # SQL connector + SDK: connect and per request


class ApprovalsSection(_Section):
    approval_tag: str | None = None


class DemoSection(_Section):
    personas: dict[str, str] = Field(default_factory=dict)


class SparkSection(_Section):
    remote: str | None = Field(default=None, pattern=r"^sc://")  # Spark Connect, "sc://host:port" (SPARK_REMOTE first)
    connect_retries: int = Field(default=5, ge=0, le=15)  # Spark Connect client retries (≈ 10 s of backoff at 5)
    # a local session (no remote): its master, driver memory, shuffle partitions, catalog folder
    master: str = "local[*]"
    driver_memory: str = Field(default="1g", pattern=r"^[0-9]+[kmgtKMGT]?$")
    shuffle_partitions: int = Field(default=8, ge=1, le=100000)
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


def _where(section: str, loc: tuple[Any, ...]) -> str:
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


@dataclass(frozen=True)
class Sections:
    """Every known TOML section, validated and typed (defaults filled in)."""

    mlflow: MlflowSection
    drift: DriftSection
    gate: GateSection
    trigger: TriggerSection
    retrain: RetrainSection
    roles: RolesSection
    auth: AuthSection
    audit: AuditSection
    notify: NotifySection
    databricks: DatabricksSection
    approvals: ApprovalsSection
    demo: DemoSection
    spark: SparkSection
    sources: Mapping[str, SourceSection]
    models: Mapping[str, ModelSection]


def validate_config(raw: Mapping[str, Any]) -> Sections:
    """Parse the merged TOML document against :data:`SCHEMA` into :class:`Sections`; the first
    problem is one :class:`BadInput` line naming the key. Values are never coerced (``raw`` is
    not changed)."""
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        if name in NAMED_SCHEMA:
            if not isinstance(value, Mapping):
                raise BadInput(f"[{name}]: must be a table of [{name}.<name>] tables, not {_short(value)}")
            entries: dict[str, _Section] = {}
            for entry, doc in value.items():
                if not isinstance(doc, Mapping):
                    raise BadInput(f"[{name}.{entry}]: must be a table, not {_short(doc)}")
                try:
                    entries[str(entry)] = NAMED_SCHEMA[name].model_validate(dict(doc))
                except ValidationError as exc:
                    raise BadInput(_one_line(f"{name}.{entry}", exc)) from None
            parsed[name] = entries
            continue
        schema = SCHEMA.get(name)
        if schema is None:
            known = ", ".join(sorted([*SCHEMA, *NAMED_SCHEMA]))
            raise BadInput(f"[{name}]: unknown section (known: {known})")
        if not isinstance(value, Mapping):
            raise BadInput(f"[{name}]: must be a table, not {_short(value)}")
        try:
            parsed[name] = schema.model_validate(dict(value))
        except ValidationError as exc:
            raise BadInput(_one_line(name, exc)) from None
    for name, schema in SCHEMA.items():
        parsed.setdefault(name, schema())
    for name in NAMED_SCHEMA:
        parsed.setdefault(name, {})
    return Sections(**parsed)


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
