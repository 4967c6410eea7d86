"""Lifecycle adapter: where a registered model's champion lives, behind one interface.

:class:`Lifecycle` (an abc) is the only reader of "which version is the champion"; two
implementations, chosen by ``[mlflow] lifecycle`` (``settings.lifecycle``):

* :class:`StagesLifecycle` — the workspace registry's stages: the champion is the version in
  ``Production``; a replaced champion goes to ``Archived``; the rollback target (the previous
  champion) is remembered in the registered-model tag ``driftgate.previous_champion``.
* :class:`AliasesLifecycle` — aliases (Unity Catalog compatible): ``champion``, ``previous``
  (rollback target) and ``challenger`` (optional pointer to a candidate under review); a replaced
  champion carries the version tag ``driftgate.replaced_by`` (older stores: ``driftgate.archived_at``).

Both derive the same per-version ``state``: ``champion`` > ``previous`` > ``rejected`` (version tag
``driftgate.decision=rejected``) > ``archived`` > ``candidate``. Versions are always ``str``
(MLflow returns ints from SQLite stores and strings over REST).

One registry snapshot per operation: with :attr:`Lifecycle.cache` on, the registered model and
its versions are read once (two calls) and every later question of the operation (the gate, the
stale-state check, the plan, the restore record) is answered from that read until a write.

Transitions are *plans*: lists of :class:`Step` (one registry write each) that the approvals
service runs inside its cross-process guard. Before a plan runs, :meth:`Lifecycle.snapshot`
records everything a plan may touch; :meth:`Lifecycle.restore` puts it back (idempotent), which
is how a transition that fails midway is compensated (never zero or two champions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from services.errors import BadInput, NotFound
from services.registry import tags as tag
from services.registry.errors import mlflow_call
from services.registry.views import (
    ARCHIVED,
    CHALLENGER,
    CHAMPION,
    MANAGED_ALIASES,
    MANAGED_VERSION_TAGS,
    PREVIOUS,
    PRODUCTION,
    TAG_VALUE_MAX,
    RegistryState,
    Step,
    VersionView,
    iso_ms,
    normalise_version,
    transition_stage,
    utc_now,
)

__all__ = [
    "CHAMPION",
    "LIFECYCLES",
    "AliasesLifecycle",
    "Lifecycle",
    "RegistryState",
    "StagesLifecycle",
    "Step",
    "VersionView",
    "champion_version",
    "list_versions",
    "make_lifecycle",
    "normalise_version",
    "utc_now",
]


def _known(names: Sequence[object]) -> tuple[str, ...]:
    """Real user names (``unknown`` and blanks dropped) without exact repeats, first seen first;
    telling spellings of one person apart is :func:`services.promotion.roles.distinct_users`'s job."""
    kept = [str(n).strip() for n in names if n and str(n).strip() and str(n).strip().lower() != "unknown"]
    return tuple(dict.fromkeys(kept))


class Lifecycle(ABC):
    """Reading and plan building common to both lifecycles; subclasses say where the champion lives."""

    mode: ClassVar[str] = "?"
    #: ``state()`` needs the version listing (stages) or the registered model alone (aliases).
    state_needs_versions: ClassVar[bool] = False

    def __init__(self, client: Any, model: str) -> None:
        if not model or not str(model).strip():
            raise BadInput("a registered model name is required")
        self.client = client
        self.model = str(model).strip()
        self._run_users: dict[str, tuple[str | None, str | None]] = {}
        #: One registry snapshot per operation: with ``cache`` on (the approvals service), the
        #: registered model and its versions are read once and reused until :meth:`invalidate`
        #: (called after every write). Off by default: other callers always read afresh.
        self.cache = False
        #: ``False``: listings skip the per-version run look-up for authors; :meth:`get_version`
        #: still reads the one version's authors in full.
        self.read_authors = True
        self._memo: dict[str, Any] = {}

    def share_snapshot(self, other: Lifecycle) -> None:
        """Answer from ``other``'s registry snapshot and run look-ups (same operation, e.g. a
        fenced client for the writes)."""
        self._memo = dict(other._memo)
        self._run_users = other._run_users

    def invalidate(self) -> None:
        """Forget the cached snapshot (after a registry write)."""
        self._memo.clear()

    # -- reading -----------------------------------------------------------------------------
    def _registered_model(self) -> Any:
        if self.cache and "rm" in self._memo:
            return self._memo["rm"]
        rm = mlflow_call(self.client, f"registered model {self.model!r}", self.client.get_registered_model, self.model)
        if self.cache:
            self._memo["rm"] = rm
        return rm

    def _raw_versions(self, check: bool = True) -> list[Any]:
        if self.cache and "versions" in self._memo:
            cached: list[Any] = self._memo["versions"]
            return cached
        if check:
            self._registered_model()  # unknown model -> NotFound
        out = self._fetch_versions()
        if self.cache:
            self._memo["versions"] = out
        return out

    def _fetch_versions(self) -> list[Any]:
        out: list[Any] = []
        token = None
        while True:
            page = mlflow_call(
                self.client,
                f"versions of {self.model!r}",
                self.client.search_model_versions,
                f"name = '{self.model.replace(chr(39), chr(39) * 2)}'",
                max_results=1000,
                page_token=token,
            )
            out.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return out

    def alias_map(self, rm: Any = None) -> dict[str, str]:
        """alias -> version (from the registered model: search results omit aliases on SQL stores)."""
        rm = rm if rm is not None else self._registered_model()
        aliases = getattr(rm, "aliases", None) or {}
        if isinstance(aliases, dict):
            return {str(a): normalise_version(v) for a, v in aliases.items()}
        return {str(a.alias): normalise_version(a.version) for a in aliases}

    def model_tags(self, rm: Any = None) -> dict[str, str]:
        rm = rm if rm is not None else self._registered_model()
        return dict(getattr(rm, "tags", None) or {})

    def _tags(self, mv: Any) -> dict[str, str]:
        # Unity Catalog search results carry no tags (``tags`` is a method that raises): read the version.
        found = mv.tags
        if callable(found):
            full = mlflow_call(
                self.client,
                f"version {mv.version} of {self.model!r}",
                self.client.get_model_version,
                self.model,
                str(mv.version),
            )
            found = full.tags
        return dict(found or {})

    def _run_user(self, run_id: str | None) -> tuple[str | None, str | None]:
        """(``run.info.user_id``, ``mlflow.user`` tag) of the source run; cached per instance."""
        if not run_id:
            return None, None
        if run_id not in self._run_users:
            try:
                run = self.client.get_run(run_id)
                self._run_users[run_id] = (run.info.user_id or None, run.data.tags.get("mlflow.user") or None)
            except Exception:  # authors are best effort: the version's own user and tags still count
                self._run_users[run_id] = (None, None)
        return self._run_users[run_id]

    def _authors(self, mv: Any, version_tags: Mapping[str, str], with_run: bool = True) -> tuple[str, ...]:
        """Everyone who counts as an author (see :attr:`VersionView.authors`), recorded ones first."""
        run_user, run_tag = self._run_user(getattr(mv, "run_id", None)) if with_run else (None, None)
        co_authors = [a.strip() for a in str(version_tags.get(tag.AUTHOR) or "").split(",")]
        return _known([getattr(mv, "user_id", None), run_user, run_tag, *co_authors])

    def _view(
        self, mv: Any, aliases_of: Mapping[str, list[str]], rm_tags: Mapping[str, str], with_run: bool
    ) -> VersionView:
        v = normalise_version(mv.version)
        stage = str(mv.current_stage or "None")
        version_tags = self._tags(mv)
        aliases = tuple(sorted(aliases_of.get(v, [])))
        authors = self._authors(mv, version_tags, with_run=with_run)
        return VersionView(
            model=self.model,
            version=v,
            stage=stage,
            aliases=aliases,
            state=self._state(v, stage, aliases, version_tags, rm_tags),
            run_id=getattr(mv, "run_id", None) or None,
            created_by=authors[0] if authors else None,
            tags=version_tags,
            status=str(getattr(mv, "status", "READY") or "READY"),
            source=getattr(mv, "source", None),
            created_at=iso_ms(getattr(mv, "creation_timestamp", None)),
            authors=authors,
            user_id=getattr(mv, "user_id", None) or None,
        )

    def _aliases_of(self, rm: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for alias, v in self.alias_map(rm).items():
            out.setdefault(v, []).append(alias)
        return out

    def versions(self) -> list[VersionView]:
        """Every version, oldest first."""
        rm = self._registered_model()  # unknown model -> NotFound; read once per listing
        raws = self._raw_versions(check=False)
        aliases_of, rm_tags = self._aliases_of(rm), self.model_tags(rm)
        return [
            self._view(mv, aliases_of, rm_tags, self.read_authors) for mv in sorted(raws, key=lambda m: int(m.version))
        ]

    def find(self, version: object) -> VersionView:
        """One version from the listing, without a look-up of its run's authors."""
        v = normalise_version(version)
        for view in self.versions():
            if view.version == v:
                return view
        raise NotFound(f"version {v} of model {self.model!r} not found")

    def get_version(self, version: object) -> VersionView:
        """One version with every author (its source run's user read once when the listing did not)."""
        view = self.find(version)
        if self.read_authors or not view.run_id:
            return view
        authors = _known([view.user_id, *self._run_user(view.run_id), *view.authors])
        return replace(view, authors=authors, created_by=authors[0] if authors else None)

    def state(self) -> RegistryState:
        rm = self._registered_model()
        raws = self._raw_versions(check=False) if self.state_needs_versions else []
        aliases = self.alias_map(rm)
        return RegistryState(
            champion=self.champion_in(raws, aliases), previous=self.previous_in(aliases, self.model_tags(rm))
        )

    def champion(self) -> VersionView | None:
        """The champion's version (no author look-ups), or ``None`` when there is none."""
        rm = self._registered_model()
        aliases = self.alias_map(rm)
        raws = self._raw_versions(check=False) if self.state_needs_versions else []
        version = self.champion_in(raws, aliases)
        if version is None:
            return None
        mv = next((m for m in raws if normalise_version(m.version) == version), None)
        if mv is None:
            mv = mlflow_call(
                self.client, f"version {version} of {self.model!r}", self.client.get_model_version, self.model, version
            )
        return self._view(mv, self._aliases_of(rm), self.model_tags(rm), with_run=False)

    @staticmethod
    @abstractmethod
    def champion_in(raw_versions: Sequence[Any], aliases: Mapping[str, str]) -> str | None:
        """The champion among MLflow ``ModelVersion`` objects and the model's alias map."""

    @staticmethod
    @abstractmethod
    def previous_in(aliases: Mapping[str, str], rm_tags: Mapping[str, str]) -> str | None:
        """The rollback target."""

    @abstractmethod
    def _state(
        self, v: str, stage: str, aliases: tuple[str, ...], version_tags: Mapping[str, str], rm_tags: Mapping[str, str]
    ) -> str: ...

    @abstractmethod
    def champion_count(self) -> int: ...

    @staticmethod
    def _base_state(version_tags: Mapping[str, str], archived: bool) -> str:
        if version_tags.get(tag.DECISION) == "rejected":
            return "rejected"
        if archived:
            return "archived"
        return "candidate"

    # -- writing: plans ----------------------------------------------------------------------
    def _set_tag(self, version: str, key: str, value: str) -> Step:
        value = str(value)[:TAG_VALUE_MAX]
        return Step(f"tag v{version} {key}", lambda: self.client.set_model_version_tag(self.model, version, key, value))

    def _del_tag(self, version: str, key: str) -> Step:
        return Step(f"untag v{version} {key}", lambda: self.client.delete_model_version_tag(self.model, version, key))

    def _del_tags_if(self, version: str, *keys: str) -> list[Step]:
        try:
            present = self.find(version).tags
        except NotFound:
            return []
        return [self._del_tag(version, k) for k in keys if k in present]

    def _stage(self, version: str, stage: str, archive_existing: bool) -> Step:
        return Step(
            f"stage v{version} -> {stage}",
            lambda: transition_stage(self.client, self.model, version, stage, archive_existing),
        )

    def _alias(self, alias: str, version: str) -> Step:
        return Step(
            f"alias {alias} -> v{version}", lambda: self.client.set_registered_model_alias(self.model, alias, version)
        )

    def _unalias(self, alias: str) -> Step:
        return Step(f"remove alias {alias}", lambda: self.client.delete_registered_model_alias(self.model, alias))

    def _model_tag(self, value: str | None) -> Step:
        """Remember (or forget, ``None``) the rollback target in the registered-model tag."""
        if value is None:
            return Step(
                "forget previous", lambda: self.client.delete_registered_model_tag(self.model, tag.PREVIOUS_CHAMPION)
            )
        return Step(
            f"remember previous v{value}",
            lambda: self.client.set_registered_model_tag(self.model, tag.PREVIOUS_CHAMPION, value),
        )

    def _stage_of(self, version: str) -> str | None:
        try:
            return self.find(version).stage
        except NotFound:
            return None

    def decision_steps(self, version: str, decision: str, user: str, at: str, comment: str | None) -> list[Step]:
        """The decision as version tags: what, who, when, why. An approval's time is also when the
        version became champion (:func:`services.registry.tags.champion_since`)."""
        steps = [
            self._set_tag(version, tag.DECISION, decision),
            self._set_tag(version, tag.DECISION_BY, user),
            self._set_tag(version, tag.DECISION_AT, at),
        ]
        if comment:
            steps.append(self._set_tag(version, tag.DECISION_COMMENT, comment))
        return steps

    def _approval_steps(
        self, candidate: str, old: str | None, user: str, at: str, comment: str | None, extra: Mapping[str, str] | None
    ) -> list[Step]:
        steps = self.decision_steps(candidate, "approved", user, at, comment)
        steps += [self._set_tag(candidate, k, val) for k, val in (extra or {}).items()]
        if old:
            steps.append(self._set_tag(old, tag.REPLACED_BY, candidate))
        return steps

    def _rollback_steps(self, st: RegistryState, target: str, user: str, at: str, comment: str | None) -> list[Step]:
        steps: list[Step] = []
        if st.champion:
            steps += self.decision_steps(st.champion, "rolled_back", user, at, comment)
            steps.append(self._set_tag(st.champion, tag.REPLACED_BY, target))
        steps += self._del_tags_if(target, tag.ARCHIVED_AT, tag.REPLACED_BY)
        # The target's period as champion resumes: when it first became champion (its tag or its
        # approval) stays the start, so the evidence gathered against it since still counts and
        # "champion since" is not reset to the rollback. Only a champion with no known start
        # (registered outside DriftGate, no seeded tag) gets the rollback's time.
        if tag.champion_since(self.find(target).tags) is None:
            steps.append(self._set_tag(target, tag.CHAMPION_SINCE, at))
        return steps

    @abstractmethod
    def promote_plan(
        self, candidate: str, user: str, at: str, comment: str | None, extra_tags: Mapping[str, str] | None = None
    ) -> list[Step]: ...

    @abstractmethod
    def rollback_plan(self, user: str, at: str, comment: str | None) -> list[Step]: ...

    def reject_plan(self, version: str, user: str, at: str, comment: str) -> list[Step]:
        steps = self.decision_steps(version, "rejected", user, at, comment)
        if self.alias_map().get(CHALLENGER) == version:
            steps.append(self._unalias(CHALLENGER))
        return steps

    def _rollback_target(self) -> tuple[RegistryState, str]:
        st = self.state()
        if not st.previous:
            raise BadInput("no previous champion to roll back to")
        return st, st.previous

    # -- snapshot / restore (compensation and crash recovery) ----------------------------------
    def snapshot(self, involved: Sequence[str | None]) -> dict[str, Any]:
        """A JSON-able record of everything a plan over ``involved`` versions may change."""
        views = {v.version: v for v in self.versions()}
        involved_set = {normalise_version(v) for v in involved if v}
        involved_set |= {v for v, view in views.items() if view.stage == PRODUCTION or view.aliases}
        return {
            "mode": self.mode,
            "aliases": {a: v for a, v in self.alias_map().items() if a in MANAGED_ALIASES},
            "model_tags": {k: v for k, v in self.model_tags().items() if k == tag.PREVIOUS_CHAMPION},
            "versions": {
                v: {
                    "stage": views[v].stage,
                    "tags": {k: views[v].tags[k] for k in MANAGED_VERSION_TAGS if k in views[v].tags},
                }
                for v in sorted(involved_set, key=int)
                if v in views
            },
        }

    def _fresh_views(self) -> dict[str, VersionView]:
        self.invalidate()
        return {v.version: v for v in self.versions()}

    def restore(self, snap: Mapping[str, Any]) -> None:
        """Put the registry back as ``snap`` recorded it (idempotent; safe to retry)."""
        c, m = self.client, self.model
        views = self._fresh_views()
        # Stages (both modes: aliases mode mirrors stages only where a version was in Production).
        wanted = {v: s["stage"] for v, s in snap["versions"].items()}
        # First put the snapshot's champion back, then demote the others: never zero champions.
        for v in sorted(wanted, key=lambda v: wanted[v] != PRODUCTION):
            if v in views and views[v].stage != wanted[v]:
                transition_stage(c, m, v, wanted[v], False)
        # Re-read: the views above predate these stage changes (demoting from them would archive a
        # version just put back to None, and recovery would need a second attempt).
        for v, view in self._fresh_views().items():
            if view.stage == PRODUCTION and wanted.get(v, view.stage) != PRODUCTION:
                transition_stage(c, m, v, ARCHIVED, False)
        self.invalidate()
        current_prev = self.model_tags().get(tag.PREVIOUS_CHAMPION)
        want_prev = snap["model_tags"].get(tag.PREVIOUS_CHAMPION)
        if want_prev and current_prev != want_prev:
            c.set_registered_model_tag(m, tag.PREVIOUS_CHAMPION, want_prev)
        elif not want_prev and current_prev is not None:
            c.delete_registered_model_tag(m, tag.PREVIOUS_CHAMPION)
        # Aliases (both modes: stages mode mirrors the aliases only when they are in use).
        self.invalidate()
        current = {a: v for a, v in self.alias_map().items() if a in MANAGED_ALIASES}
        for alias in MANAGED_ALIASES:
            want = snap["aliases"].get(alias)
            if want and current.get(alias) != want:
                c.set_registered_model_alias(m, alias, want)
            elif not want and alias in current:
                c.delete_registered_model_alias(m, alias)
        views = self._fresh_views()
        for v, s in snap["versions"].items():
            if v in views:
                self._restore_tags(v, views[v].tags, s["tags"])
        self.invalidate()

    def _restore_tags(self, version: str, have: Mapping[str, str], want_tags: Mapping[str, str]) -> None:
        for key in MANAGED_VERSION_TAGS:
            want = want_tags.get(key)
            if want is not None and have.get(key) != want:
                self.client.set_model_version_tag(self.model, version, key, want)
            elif want is None and key in have:
                self.client.delete_model_version_tag(self.model, version, key)

    def matches(self, snap: Mapping[str, Any]) -> bool:
        """True when the registry is exactly as ``snap`` (for the parts a plan touches)."""
        return self.snapshot(list(snap["versions"])) == snap


class AliasesLifecycle(Lifecycle):
    mode = "aliases"

    @staticmethod
    def champion_in(raw_versions: Sequence[Any], aliases: Mapping[str, str]) -> str | None:
        return aliases.get(CHAMPION)

    @staticmethod
    def previous_in(aliases: Mapping[str, str], rm_tags: Mapping[str, str]) -> str | None:
        return aliases.get(PREVIOUS)

    def _state(
        self, v: str, stage: str, aliases: tuple[str, ...], version_tags: Mapping[str, str], rm_tags: Mapping[str, str]
    ) -> str:
        if CHAMPION in aliases:
            return "champion"
        if PREVIOUS in aliases:
            return "previous"
        replaced = tag.REPLACED_BY in version_tags or tag.ARCHIVED_AT in version_tags
        return self._base_state(version_tags, archived=replaced)

    def champion_count(self) -> int:
        return 1 if CHAMPION in self.alias_map() else 0

    def promote_plan(
        self, candidate: str, user: str, at: str, comment: str | None, extra_tags: Mapping[str, str] | None = None
    ) -> list[Step]:
        candidate = normalise_version(candidate)
        aliases = self.alias_map()
        old = aliases.get(CHAMPION)
        steps: list[Step] = []
        if old:
            steps.append(self._alias(PREVIOUS, old))
        elif PREVIOUS in aliases:
            steps.append(self._unalias(PREVIOUS))
        steps.append(self._alias(CHAMPION, candidate))  # one call: the alias moves atomically
        if old and self._stage_of(old) == PRODUCTION:
            # Mirror onto stages only where they are in use (never on Unity Catalog).
            steps.append(self._stage(candidate, PRODUCTION, True))
        if aliases.get(CHALLENGER) == candidate:
            steps.append(self._unalias(CHALLENGER))
        return steps + self._approval_steps(candidate, old, user, at, comment, extra_tags)

    def rollback_plan(self, user: str, at: str, comment: str | None) -> list[Step]:
        st, target = self._rollback_target()
        steps = [self._alias(CHAMPION, target), self._unalias(PREVIOUS)]
        if st.champion and self._stage_of(st.champion) == PRODUCTION:
            steps.append(self._stage(target, PRODUCTION, True))
        return steps + self._rollback_steps(st, target, user, at, comment)


class StagesLifecycle(Lifecycle):
    mode = "stages"
    state_needs_versions = True

    @staticmethod
    def champion_in(raw_versions: Sequence[Any], aliases: Mapping[str, str]) -> str | None:
        prod = sorted(int(mv.version) for mv in raw_versions if str(mv.current_stage or "") == PRODUCTION)
        # Several versions in Production (possible outside DriftGate): the newest serves.
        return str(prod[-1]) if prod else None

    @staticmethod
    def previous_in(aliases: Mapping[str, str], rm_tags: Mapping[str, str]) -> str | None:
        return rm_tags.get(tag.PREVIOUS_CHAMPION) or None

    def _state(
        self, v: str, stage: str, aliases: tuple[str, ...], version_tags: Mapping[str, str], rm_tags: Mapping[str, str]
    ) -> str:
        if stage == PRODUCTION:
            return "champion"
        if rm_tags.get(tag.PREVIOUS_CHAMPION) == v:
            return "previous"
        return self._base_state(version_tags, archived=stage == ARCHIVED)

    def champion_count(self) -> int:
        return sum(1 for mv in self._raw_versions() if str(mv.current_stage or "") == PRODUCTION)

    def promote_plan(
        self, candidate: str, user: str, at: str, comment: str | None, extra_tags: Mapping[str, str] | None = None
    ) -> list[Step]:
        candidate = normalise_version(candidate)
        st = self.state()
        # One call moves the candidate into Production and archives the old champion(s).
        steps = [self._stage(candidate, PRODUCTION, True)]
        aliases = self.alias_map()
        if CHAMPION in aliases:  # mirror onto aliases where they are in use
            steps += [self._alias(PREVIOUS, aliases[CHAMPION]), self._alias(CHAMPION, candidate)]
        if st.champion:
            steps.append(self._model_tag(st.champion))
        elif st.previous:
            steps.append(self._model_tag(None))
        return steps + self._approval_steps(candidate, st.champion, user, at, comment, extra_tags)

    def rollback_plan(self, user: str, at: str, comment: str | None) -> list[Step]:
        st, target = self._rollback_target()
        steps = [self._stage(target, PRODUCTION, True), self._model_tag(None)]
        aliases = self.alias_map()
        if CHAMPION in aliases:
            steps.append(self._alias(CHAMPION, target))
            if PREVIOUS in aliases:
                steps.append(self._unalias(PREVIOUS))
        return steps + self._rollback_steps(st, target, user, at, comment)


LIFECYCLES: dict[str, type[Lifecycle]] = {"aliases": AliasesLifecycle, "stages": StagesLifecycle}


def make_lifecycle(settings: Any, client: Any, model: str) -> Lifecycle:
    """The adapter ``[mlflow] lifecycle`` asks for (``aliases`` by default)."""
    mode = getattr(settings, "lifecycle", "aliases")
    return LIFECYCLES.get(mode, AliasesLifecycle)(client, model)


def champion_version(settings: Any, client: Any, model: str) -> str | None:
    """The champion version of ``model`` under the configured lifecycle (for other pages)."""
    return make_lifecycle(settings, client, model).state().champion


def list_versions(settings: Any, client: Any, model: str) -> dict[str, Any]:
    """The ``versions`` CLI document."""
    lc = make_lifecycle(settings, client, model)
    return {"model": lc.model, "lifecycle": lc.mode, "versions": [v.to_json() for v in lc.versions()]}
