"""The one translator of MLflow failures into DriftGate errors (one line, no secret).

Every MLflow call DriftGate makes goes through :func:`mlflow_errors` (a context manager) or
:func:`mlflow_call` (the same around one call); :func:`translate` is the mapping itself:

* "does not exist" answers (``RESOURCE_DOES_NOT_EXIST``, ``NOT_FOUND``, a "not found" message)
  -> :class:`NotFound` ``"<what> not found"``;
* ``INVALID_PARAMETER_VALUE`` / ``BAD_REQUEST`` answers -> :class:`BadInput` with MLflow's first
  line (it names the user's input, never a secret);
* ``PERMISSION_DENIED`` / ``UNAUTHENTICATED`` -> :class:`Unavailable` "denied access";
* anything else (REST errors, timeouts, connection refused) -> :class:`Unavailable`
  ``"MLflow cannot be reached or failed for <what> at <uri> (<kind>)"``, the URI redacted.

A :class:`DriftGateError` raised inside passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from services.config import redact_uri
from services.errors import BadInput, DriftGateError, NotFound, Unavailable

T = TypeVar("T")

_NOT_FOUND_CODES = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "ENDPOINT_NOT_FOUND")
_BAD_INPUT_CODES = ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")
_DENIED_CODES = ("PERMISSION_DENIED", "UNAUTHENTICATED")


def _where(client: Any = None, uri: str | None = None) -> str:
    """`` at <redacted uri>`` of the server the call went to, or ``""`` when unknown."""
    target = uri if uri is not None else getattr(client, "tracking_uri", None)
    return f" at {redact_uri(str(target))}" if target else ""


def translate(exc: BaseException, what: str, client: Any = None, uri: str | None = None) -> DriftGateError:
    """The DriftGate error for ``exc`` raised by an MLflow call about ``what`` (see module doc)."""
    if isinstance(exc, DriftGateError):
        return exc
    code = str(getattr(exc, "error_code", "") or "")
    first_line = (str(getattr(exc, "message", "") or str(exc)).strip().splitlines() or [""])[0][:200]
    if code in _NOT_FOUND_CODES or "not found" in first_line.lower():
        return NotFound(f"{what} not found")
    if code in _BAD_INPUT_CODES and "API request to" not in first_line:
        return BadInput(f"MLflow refused the request for {what}: {first_line}")
    where = _where(client, uri)
    if code in _DENIED_CODES:
        return Unavailable(f"MLflow{where} denied access to {what} ({code.lower()})")
    return Unavailable(f"MLflow cannot be reached or failed for {what}{where} ({type(exc).__name__})")


@contextmanager
def mlflow_errors(what: str, client: Any = None, uri: str | None = None) -> Iterator[None]:
    """``with mlflow_errors("versions of 'm'", client): ...`` -- any failure inside is one line."""
    try:
        yield
    except DriftGateError:
        raise
    except Exception as exc:
        raise translate(exc, what, client, uri) from None


def mlflow_call(client: Any, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` (one MLflow call) inside :func:`mlflow_errors`."""
    with mlflow_errors(what, client):
        return fn(*args, **kwargs)
