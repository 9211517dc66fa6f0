"""Secret values never leave a run in clear: each is replaced by `***` in log lines, error messages
and tracebacks, node outputs and the run's output, both in the run's process and in the worker
(lines the process did not send as events). What a viewer of the run can read holds no value."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"


class Redactor:
    """Replaces every occurrence of the given values; the longest first, so a secret that contains
    another is masked whole."""

    def __init__(self, values: Iterable[str]) -> None:
        distinct = sorted({v for v in values if v}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, distinct))) if distinct else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def error(self, error: dict[str, Any] | None) -> dict[str, Any] | None:
        """An error dict with its strings (message, traceback, stderr, ...) redacted."""
        if error is None or self._pattern is None:
            return error
        return {k: self(v) if isinstance(v, str) else v for k, v in error.items()}

    def value(self, value: Any) -> Any:
        """A JSON value (an output) with every string in it, keys included, redacted; the value
        itself when nothing in it is secret."""
        if self._pattern is None:
            return value
        return self._value(value)

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._value(v) for v in value]
        return value


NO_REDACTION = Redactor(())
