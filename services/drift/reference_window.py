"""Which reference window a model is checked against: one rule for the drift report (the Drift
page, the Overview's verdict, drift over time and the window store) and the retraining trigger.

``[trigger] reference`` (overridable in ``[models.<name>.trigger]``):

* ``"champion"`` (default): the current champion's training window (its source run's
  ``driftgate.training_window`` tag) when it is known, else the configured ``reference_window``;
* ``"config"``: always ``[models.<name>] reference_window``.

MLflow calls for ``"champion"``: the champion's registered model and version (2; the stages
lifecycle also lists the versions) and its run (1). A model that is not registered, has no
champion or whose champion has no run or tag uses the configured window; any other MLflow failure
is one :class:`~services.errors.Unavailable` line (never a silent switch to another reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.config import ReferenceWindow, Settings
from services.errors import NotFound
from services.registry import tags
from services.registry.errors import mlflow_errors
from services.registry.lifecycle import make_lifecycle
from services.registry.views import VersionView

CHAMPION, CONFIG = "champion", "config"


@dataclass(frozen=True)
class ChampionRun:
    """The champion version with a known training window: its run's metrics and tags and the
    version's tags (when it became champion)."""

    version: str
    run_id: str
    window: tags.TrainingWindow
    metrics: Mapping[str, float] = field(default_factory=dict)
    run_tags: Mapping[str, str] = field(default_factory=dict)
    version_tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """The reference window in use and why. ``champion``: the champion with a known training
    window (looked up under ``"champion"``), also when its window equals the configured one."""

    window: ReferenceWindow
    source: str  # CHAMPION or CONFIG
    champion: ChampionRun | None = None

    @property
    def label(self) -> str:
        """``"champion v2"`` or ``"config"`` (the trigger document's ``reference_window.source``)."""
        return f"champion v{self.champion.version}" if self.source == CHAMPION and self.champion else CONFIG

    @property
    def why(self) -> str:
        """``"v2's training window"`` or ``"the configured reference_window"``."""
        if self.source == CHAMPION and self.champion is not None:
            return f"v{self.champion.version}'s training window"
        return "the configured reference_window"


def reference_mode(settings: Settings, model: str) -> str:
    """``reference`` of ``[models.<model>.trigger]`` when set there, else of ``[trigger]``."""
    spec = settings.model_spec(model)
    over = spec.trigger if spec is not None else None
    if over is not None and "reference" in over.model_fields_set:
        return str(over.reference)
    return str(settings.sections.trigger.reference)


def champion_view(settings: Settings, client: Any, model: str) -> VersionView | None:
    """The champion version of ``model`` (None: no champion or not registered); other MLflow
    failures are one :class:`~services.errors.Unavailable` line."""
    try:
        with mlflow_errors(f"the champion of {model!r}", client):
            return make_lifecycle(settings, client, model).champion()
    except NotFound:
        return None


def champion_run(settings: Settings, client: Any, model: str) -> ChampionRun | None:
    """The champion of ``model`` and its run when its ``driftgate.training_window`` is known."""
    view = champion_view(settings, client, model)
    if view is None or not view.run_id:
        return None
    with mlflow_errors(f"the champion run of {model!r}", client):
        run = client.get_run(view.run_id)
    run_tags = dict(run.data.tags)
    window = tags.training_window(run_tags)
    if window is None:
        return None
    return ChampionRun(
        str(view.version),
        str(view.run_id),
        window,
        dict(run.data.metrics),
        run_tags,
        dict(view.tags),
    )


def choose_reference(settings: Settings, model: str, client: Any, mode: str | None = None) -> Reference:
    """The reference window of ``model`` under ``mode`` (default: the configured
    ``[trigger] reference``); see the module's rule."""
    spec = settings.model_spec(model)
    configured = spec.reference if spec is not None else ReferenceWindow()
    if (mode or reference_mode(settings, model)) != CHAMPION:
        return Reference(configured, CONFIG)
    champ = champion_run(settings, client, model)
    if champ is None:
        return Reference(configured, CONFIG)
    window = ReferenceWindow(champ.window.start, champ.window.end)
    if window == configured:
        return Reference(configured, CONFIG, champ)
    return Reference(window, CHAMPION, champ)
