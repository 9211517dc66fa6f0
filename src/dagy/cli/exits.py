"""What the `dagy` command's exit status means, and the errors that choose it.

Every command raises; `DagyApp` (main.py) renders the error once, in red on stderr, and exits with
its code. Scripts can rely on the numbers (docs/cli.md, "Exit codes").
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the API refused the request, or the run failed or was cancelled
    USAGE = 2  # a bad option or argument (click's own code)
    AUTH = 3  # not logged in, an expired session, a refused credential or permission
    NOT_FOUND = 4  # the flow, deployment, run, ... does not exist
    UNREACHABLE = 5  # no answer from the server


class CliError(Exception):
    """A failure the user can act on: a message, optional details (field -> problem), an exit code."""

    def __init__(
        self, message: str, *, code: ExitCode = ExitCode.FAILED, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}


class NotLoggedIn(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code=ExitCode.AUTH)


def code_for_status(status_code: int) -> ExitCode:
    """The exit code of an API error status."""
    if status_code in (401, 403):
        return ExitCode.AUTH
    if status_code == 404:
        return ExitCode.NOT_FOUND
    return ExitCode.FAILED
