"""Registry helpers: a write-counting MlflowClient wrapper and a before/after registry view."""

from __future__ import annotations

from services.promotion.approvals import REGISTRY_WRITES
from services.registry.lifecycle import make_lifecycle
from tests.support.demo import MODEL


class RegistryWriteHook:
    """A real MlflowClient whose registry writes (``REGISTRY_WRITES``) are counted, 1-based, and
    call ``before_write(n, name)`` first; subclasses make write ``n`` fail, crash or hang there."""

    def __init__(self, client):
        self._client, self.writes = client, 0

    def before_write(self, n: int, name: str) -> None:
        """Called before registry write number ``n``; the base class lets every write through."""

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name not in REGISTRY_WRITES:
            return attr

        def write(*args, **kwargs):
            self.writes += 1
            self.before_write(self.writes, name)
            return attr(*args, **kwargs)

        return write


def registry_view(settings, client, model: str = MODEL) -> dict:
    """Everything a transition may touch, for before/after comparisons."""
    lc = make_lifecycle(settings, client, model)
    versions = [v.version for v in lc.versions()]
    return {"snapshot": lc.snapshot(versions), "versions": [v.to_json() for v in lc.versions()]}
