"""Error types shared by services, pages and the CLI.

Every error a user can cause carries a one-line, secret-free message. The CLI maps the classes
to exit codes (spec): BadInput -> 2, Refused -> 3; pages show ``str(error)`` in ``st.error``.
"""

from __future__ import annotations


class DriftGateError(Exception):
    """Base class: ``str(err)`` is a one-line message fit for a user."""

    exit_code = 2

    def __init__(self, message: str):
        # Keep messages on one line whatever the cause said.
        super().__init__(" ".join(str(message).split()))


class BadInput(DriftGateError):
    """The user's input is wrong (missing file, unknown column, bad option...). Exit 2."""

    exit_code = 2


class NotFound(BadInput):
    """An unknown model, version, experiment, run or data source. Exit 2."""


class Unavailable(DriftGateError):
    """A configured server or data source cannot be reached. Exit 2."""

    exit_code = 2


class Refused(DriftGateError):
    """A decision was refused (role, four-eyes, gate failed, stale state). Exit 3."""

    exit_code = 3
