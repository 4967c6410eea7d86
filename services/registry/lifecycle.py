"""Lifecycle adapter: where a registered model's champion lives, behind one interface.

Two implementations, chosen by ``[mlflow] lifecycle`` (``settings.lifecycle``):

* :class:`StagesLifecycle` — the workspace registry's stages: the champion is the version in
  ``Production``; a replaced champion goes to ``Archived``; the rollback target (the previous
  champion) is remembered in the registered-model tag ``driftgate.previous_champion``.
* :class:`AliasesLifecycle` — aliases (Unity Catalog compatible): ``champion``, ``previous``
  (rollback target) and ``challenger`` (optional pointer to a candidate under review); a replaced
  champion carries the version tag ``driftgate.archived_at``.

Both derive the same per-version ``state``: ``champion`` > ``previous`` > ``rejected`` (version tag
``driftgate.decision=rejected``) > ``archived`` > ``candidate``. Versions are always ``str``
(MLflow returns ints from SQLite stores and strings over REST).

Transitions are *plans*: lists of :class:`Step` (one registry write each) that the approvals
service runs inside its cross-process guard. Before a plan runs, :meth:`Lifecycle.snapshot`
records everything a plan may touch; :meth:`Lifecycle.restore` puts it back (idempotent), which
is how a transition that fails midway is compensated (never zero or two champions).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.errors import BadInput, NotFound
from services.registry import tags as tag
from services.registry.errors import mlflow_call

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"
MANAGED_ALIASES = (CHAMPION, PREVIOUS, CHALLENGER)

PRODUCTION = "Production"
ARCHIVED = "Archived"

#: Version tags a transition may write; a snapshot records (and a restore resets) all of them.
MANAGED_VERSION_TAGS = (
    tag.DECISION,
    tag.DECISION_BY,
    tag.DECISION_AT,
    tag.DECISION_COMMENT,
    tag.CHAMPION_SINCE,
    tag.ARCHIVED_AT,
    tag.REPLACED_BY,
)

TAG_VALUE_MAX = 5000  # MLflow allows more; Databricks' workspace registry is stricter


def normalise_version(version: object) -> str:
    """``1``, ``"1"``, ``" 01 "`` -> ``"1"``; anything else is :class:`BadInput`."""
    text = str(version).strip() if version is not None else ""
    # ASCII digits only: "²".isdigit() is true and "٢" would become 2.
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadInput(f"not a model version: {text[:40]!r}")
    return str(int(text))


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class VersionView:
    """One registered model version as DriftGate sees it."""

    model: str
    version: str
    stage: str
    aliases: tuple[str, ...]
    state: str
    run_id: str | None
    created_by: str | None
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "READY"
    source: str | None = None
    created_at: str | None = None
    #: Everyone four-eyes counts as an author, read from what MLflow recorded: the version's
    #: ``user_id``, the source run's ``user_id`` and ``mlflow.user`` tag, and the
    #: ``driftgate.author`` tag (comma-separated co-authors). A tag can add authors, never remove
    #: one; :mod:`services.promotion.approvals` adds the authors DriftGate recorded when it first saw it.
    authors: tuple[str, ...] = ()
    user_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "stage": self.stage,
            "aliases": list(self.aliases),
            "state": self.state,
            "run_id": self.run_id,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class RegistryState:
    """What a user is shown and what a decision is checked against (stale -> refused)."""

    champion: str | None
    previous: str | None

    @property
    def token(self) -> str:
        """Compact, comparable form: the champion version or ``""`` when there is none."""
        return self.champion or ""


@dataclass(frozen=True)
class Step:
    """One registry write of a transition plan."""

    name: str
    run: Callable[[], Any]


def _transition_stage(client, model: str, version: str, stage: str, archive_existing: bool) -> Any:
    """Stage transition without MLflow's deprecation warning noise (stages are still supported)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return client.transition_model_version_stage(model, version, stage, archive_existing_versions=archive_existing)


class Lifecycle:
    """Common code; subclasses define where the champion lives."""

    mode = "?"

    def __init__(self, client, model: str):
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

    def invalidate(self) -> None:
        """Forget the cached snapshot (after a registry write)."""
        self._memo.clear()

    # -- reading -----------------------------------------------------------------------------
    def _registered_model(self):
        if self.cache and "rm" in self._memo:
            return self._memo["rm"]
        rm = mlflow_call(self.client, f"registered model {self.model!r}", self.client.get_registered_model, self.model)
        if self.cache:
            self._memo["rm"] = rm
        return rm

    def _raw_versions(self, check: bool = True) -> list[Any]:
        if self.cache and "versions" in self._memo:
            return self._memo["versions"]
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

    def alias_map(self, rm=None) -> dict[str, str]:
        """alias -> version (from the registered model: search results omit aliases on SQL stores)."""
        rm = rm if rm is not None else self._registered_model()
        aliases = getattr(rm, "aliases", None) or {}
        if isinstance(aliases, dict):
            return {str(a): normalise_version(v) for a, v in aliases.items()}
        return {str(a.alias): normalise_version(a.version) for a in aliases}

    def model_tags(self, rm=None) -> dict[str, str]:
        rm = rm if rm is not None else self._registered_model()
        return dict(getattr(rm, "tags", None) or {})

    def _tags(self, mv) -> dict[str, str]:
        # Unity Catalog search results carry no tags (``tags`` is a method that raises): read the version.
        tags = mv.tags
        if callable(tags):
            full = mlflow_call(
                self.client,
                f"version {mv.version} of {self.model!r}",
                self.client.get_model_version,
                self.model,
                str(mv.version),
            )
            tags = full.tags
        return dict(tags or {})

    def _run_user(self, run_id: str | None) -> tuple[str | None, str | None]:
        """(``run.info.user_id``, ``mlflow.user`` tag) of the source run; cached per instance."""
        if not run_id:
            return None, None
        if run_id not in self._run_users:
            try:
                run = self.client.get_run(run_id)
                self._run_users[run_id] = (run.info.user_id or None, run.data.tags.get("mlflow.user") or None)
            except Exception:
                self._run_users[run_id] = (None, None)
        return self._run_users[run_id]

    def _authors(self, mv, tags: dict[str, str], with_run: bool = True) -> tuple[str, ...]:
        """Everyone who counts as an author (see :attr:`VersionView.authors`), recorded ones first."""
        run_user, run_tag = self._run_user(getattr(mv, "run_id", None)) if with_run else (None, None)
        names = [
            getattr(mv, "user_id", None),
            run_user,
            run_tag,
            *[a.strip() for a in str(tags.get(tag.AUTHOR) or "").split(",")],
        ]
        names = [n for n in names if n and str(n).strip() and str(n).strip().lower() != "unknown"]
        from services.promotion.roles import distinct_users  # local: roles imports nothing from here

        return tuple(distinct_users(names))

    def _created_by(self, mv, tags: dict[str, str] | None = None) -> str | None:
        """Who created the version: what MLflow recorded (version, then source run) before the
        rewritable ``driftgate.author`` tag."""
        authors = self._authors(mv, self._tags(mv) if tags is None else tags)
        return authors[0] if authors else None

    def versions(self) -> list[VersionView]:
        """Every version, oldest first."""
        rm = self._registered_model()  # unknown model -> NotFound; read once per listing
        raws = self._raw_versions(check=False)
        by_alias = self.alias_map(rm)
        rm_tags = self.model_tags(rm)
        aliases_of: dict[str, list[str]] = {}
        for alias, v in by_alias.items():
            aliases_of.setdefault(v, []).append(alias)
        views = []
        for mv in sorted(raws, key=lambda m: int(m.version)):
            v = normalise_version(mv.version)
            stage = str(mv.current_stage or "None")
            tags = self._tags(mv)
            aliases = tuple(sorted(aliases_of.get(v, [])))
            authors = self._authors(mv, tags, with_run=self.read_authors)
            views.append(
                VersionView(
                    model=self.model,
                    version=v,
                    stage=stage,
                    aliases=aliases,
                    state=self._state(v, stage, aliases, tags, rm_tags),
                    run_id=getattr(mv, "run_id", None) or None,
                    created_by=authors[0] if authors else None,
                    tags=tags,
                    status=str(getattr(mv, "status", "READY") or "READY"),
                    source=getattr(mv, "source", None),
                    created_at=iso_ms(getattr(mv, "creation_timestamp", None)),
                    authors=authors,
                    user_id=getattr(mv, "user_id", None) or None,
                )
            )
        return views

    def get_version(self, version: object) -> VersionView:
        v = normalise_version(version)
        for view in self.versions():
            if view.version == v:
                if not self.read_authors and view.run_id:
                    run_user, run_tag = self._run_user(view.run_id)
                    from services.promotion.roles import distinct_users

                    names = [
                        n
                        for n in (view.user_id, run_user, run_tag, *view.authors)
                        if n and str(n).strip().lower() != "unknown"
                    ]
                    authors = tuple(distinct_users(names))
                    view = dataclasses.replace(view, authors=authors, created_by=authors[0] if authors else None)
                return view
        raise NotFound(f"version {v} of model {self.model!r} not found")

    def state(self) -> RegistryState:
        raise NotImplementedError

    def _state(self, v, stage, aliases, tags, rm_tags) -> str:
        raise NotImplementedError

    @staticmethod
    def _base_state(tags: dict[str, str], archived: bool) -> str:
        if tags.get(tag.DECISION) == "rejected":
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

    def _stage(self, version: str, stage: str, archive_existing: bool) -> Step:
        return Step(
            f"stage v{version} -> {stage}",
            lambda: _transition_stage(self.client, self.model, version, stage, archive_existing),
        )

    def _alias(self, alias: str, version: str) -> Step:
        return Step(
            f"alias {alias} -> v{version}", lambda: self.client.set_registered_model_alias(self.model, alias, version)
        )

    def _unalias(self, alias: str) -> Step:
        return Step(f"remove alias {alias}", lambda: self.client.delete_registered_model_alias(self.model, alias))

    def _stage_of(self, version: str) -> str | None:
        try:
            return self.get_version(version).stage
        except NotFound:
            return None

    def decision_steps(self, version: str, decision: str, user: str, at: str, comment: str | None) -> list[Step]:
        steps = [
            self._set_tag(version, tag.DECISION, decision),
            self._set_tag(version, tag.DECISION_BY, user),
            self._set_tag(version, tag.DECISION_AT, at),
        ]
        if comment:
            steps.append(self._set_tag(version, tag.DECISION_COMMENT, comment))
        return steps

    def promote_plan(
        self, candidate: str, user: str, at: str, comment: str | None, extra_tags: dict[str, str] | None = None
    ) -> list[Step]:
        raise NotImplementedError

    def rollback_plan(self, user: str, at: str, comment: str | None) -> list[Step]:
        raise NotImplementedError

    def reject_plan(self, version: str, user: str, at: str, comment: str) -> list[Step]:
        return self.decision_steps(version, "rejected", user, at, comment)

    # -- snapshot / restore (compensation and crash recovery) ----------------------------------
    def snapshot(self, involved: list[str]) -> dict[str, Any]:
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

    def restore(self, snap: dict[str, Any]) -> None:
        """Put the registry back as ``snap`` recorded it (idempotent; safe to retry)."""
        c, m = self.client, self.model
        self.invalidate()
        views = {v.version: v for v in self.versions()}
        # Stages (both modes: aliases mode mirrors stages only where a version was in Production).
        wanted = {v: s["stage"] for v, s in snap["versions"].items()}
        # First put the snapshot's champion back, then demote the others: never zero champions.
        for v in sorted(wanted, key=lambda v: wanted[v] != PRODUCTION):
            if v in views and views[v].stage != wanted[v]:
                _transition_stage(c, m, v, wanted[v], False)
        # Re-read: the views above predate these stage changes (demoting from them would archive a
        # version just put back to None, and recovery would need a second attempt).
        self.invalidate()
        views = {v.version: v for v in self.versions()}
        for v, view in views.items():
            if view.stage == PRODUCTION and wanted.get(v, view.stage) != PRODUCTION:
                _transition_stage(c, m, v, ARCHIVED, False)
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
        self.invalidate()
        views = {v.version: v for v in self.versions()}
        for v, s in snap["versions"].items():
            if v not in views:
                continue
            have = views[v].tags
            for key in MANAGED_VERSION_TAGS:
                want = s["tags"].get(key)
                if want is not None and have.get(key) != want:
                    c.set_model_version_tag(m, v, key, want)
                elif want is None and key in have:
                    c.delete_model_version_tag(m, v, key)
        self.invalidate()

    def matches(self, snap: dict[str, Any]) -> bool:
        """True when the registry is exactly as ``snap`` (for the parts a plan touches)."""
        return self.snapshot(list(snap["versions"])) == snap

    def champion_count(self) -> int:
        raise NotImplementedError


class AliasesLifecycle(Lifecycle):
    mode = "aliases"

    def state(self) -> RegistryState:
        aliases = self.alias_map()
        return RegistryState(champion=aliases.get(CHAMPION), previous=aliases.get(PREVIOUS))

    def _state(self, v, stage, aliases, tags, rm_tags) -> str:
        if CHAMPION in aliases:
            return "champion"
        if PREVIOUS in aliases:
            return "previous"
        return self._base_state(tags, archived=tag.ARCHIVED_AT in tags)

    def champion_count(self) -> int:
        return 1 if CHAMPION in self.alias_map() else 0

    def promote_plan(self, candidate, user, at, comment, extra_tags=None):
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
        steps += self.decision_steps(candidate, "approved", user, at, comment)
        steps.append(self._set_tag(candidate, tag.CHAMPION_SINCE, at))
        for k, val in (extra_tags or {}).items():
            steps.append(self._set_tag(candidate, k, val))
        if old:
            steps += [self._set_tag(old, tag.ARCHIVED_AT, at), self._set_tag(old, tag.REPLACED_BY, candidate)]
        return steps

    def rollback_plan(self, user, at, comment):
        st = self.state()
        if not st.previous:
            raise BadInput("no previous champion to roll back to")
        steps = [self._alias(CHAMPION, st.previous), self._unalias(PREVIOUS)]
        if st.champion and self._stage_of(st.champion) == PRODUCTION:
            steps.append(self._stage(st.previous, PRODUCTION, True))
        if st.champion:
            steps += self.decision_steps(st.champion, "rolled_back", user, at, comment)
            steps += [
                self._set_tag(st.champion, tag.ARCHIVED_AT, at),
                self._set_tag(st.champion, tag.REPLACED_BY, st.previous),
            ]
        steps += [self._del_tag_if(st.previous, tag.ARCHIVED_AT), self._set_tag(st.previous, tag.CHAMPION_SINCE, at)]
        return [s for s in steps if s is not None]

    def _del_tag_if(self, version: str, key: str) -> Step | None:
        try:
            present = key in self.get_version(version).tags
        except NotFound:
            present = False
        return self._del_tag(version, key) if present else None

    def reject_plan(self, version, user, at, comment):
        steps = super().reject_plan(version, user, at, comment)
        if self.alias_map().get(CHALLENGER) == version:
            steps.append(self._unalias(CHALLENGER))
        return steps


class StagesLifecycle(Lifecycle):
    mode = "stages"

    def state(self) -> RegistryState:
        prod = [v.version for v in self.versions() if v.stage == PRODUCTION]
        prev = self.model_tags().get(tag.PREVIOUS_CHAMPION)
        # Several versions in Production (possible outside DriftGate): the newest serves.
        return RegistryState(champion=prod[-1] if prod else None, previous=prev or None)

    def _state(self, v, stage, aliases, tags, rm_tags) -> str:
        if stage == PRODUCTION:
            return "champion"
        if rm_tags.get(tag.PREVIOUS_CHAMPION) == v:
            return "previous"
        return self._base_state(tags, archived=stage == ARCHIVED)

    def champion_count(self) -> int:
        return sum(1 for v in self.versions() if v.stage == PRODUCTION)

    def promote_plan(self, candidate, user, at, comment, extra_tags=None):
        candidate = normalise_version(candidate)
        st = self.state()
        # One call moves the candidate into Production and archives the old champion(s).
        steps = [self._stage(candidate, PRODUCTION, True)]
        aliases = self.alias_map()
        if CHAMPION in aliases:  # mirror onto aliases where they are in use
            steps += [self._alias(PREVIOUS, aliases[CHAMPION]), self._alias(CHAMPION, candidate)]
        if st.champion:
            steps.append(
                Step(
                    f"remember previous v{st.champion}",
                    lambda: self.client.set_registered_model_tag(self.model, tag.PREVIOUS_CHAMPION, st.champion),
                )
            )
        elif st.previous:
            steps.append(
                Step(
                    "forget previous",
                    lambda: self.client.delete_registered_model_tag(self.model, tag.PREVIOUS_CHAMPION),
                )
            )
        steps += self.decision_steps(candidate, "approved", user, at, comment)
        steps.append(self._set_tag(candidate, tag.CHAMPION_SINCE, at))
        for k, val in (extra_tags or {}).items():
            steps.append(self._set_tag(candidate, k, val))
        if st.champion:
            steps += [
                self._set_tag(st.champion, tag.ARCHIVED_AT, at),
                self._set_tag(st.champion, tag.REPLACED_BY, candidate),
            ]
        return steps

    def rollback_plan(self, user, at, comment):
        st = self.state()
        if not st.previous:
            raise BadInput("no previous champion to roll back to")
        steps = [
            self._stage(st.previous, PRODUCTION, True),
            Step("forget previous", lambda: self.client.delete_registered_model_tag(self.model, tag.PREVIOUS_CHAMPION)),
        ]
        aliases = self.alias_map()
        if CHAMPION in aliases:
            steps.append(self._alias(CHAMPION, st.previous))
            if PREVIOUS in aliases:
                steps.append(self._unalias(PREVIOUS))
        if st.champion:
            steps += self.decision_steps(st.champion, "rolled_back", user, at, comment)
            steps += [
                self._set_tag(st.champion, tag.ARCHIVED_AT, at),
                self._set_tag(st.champion, tag.REPLACED_BY, st.previous),
            ]
        if tag.ARCHIVED_AT in self.get_version(st.previous).tags:
            steps.append(self._del_tag(st.previous, tag.ARCHIVED_AT))
        steps.append(self._set_tag(st.previous, tag.CHAMPION_SINCE, at))
        return steps


def make_lifecycle(settings, client, model: str) -> Lifecycle:
    """The adapter ``[mlflow] lifecycle`` asks for (``aliases`` by default)."""
    mode = getattr(settings, "lifecycle", "aliases")
    return StagesLifecycle(client, model) if mode == "stages" else AliasesLifecycle(client, model)


def champion_version(settings, client, model: str) -> str | None:
    """The champion version of ``model`` under the configured lifecycle (for other pages)."""
    return make_lifecycle(settings, client, model).state().champion


def list_versions(settings, client, model: str) -> dict[str, Any]:
    """The ``versions`` CLI document."""
    lc = make_lifecycle(settings, client, model)
    return {"model": lc.model, "lifecycle": lc.mode, "versions": [v.to_json() for v in lc.versions()]}
