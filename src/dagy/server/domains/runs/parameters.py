"""A run's parameters against the parameter schema of its code flow's version (read from the entry
function's type hints at registration, domains/flows/parameters.py), each version's check compiled
once; and the versions this process last found, which let a single run's INSERT look its version
up and still be checked."""

from __future__ import annotations

from typing import Any

from dagy.server.domains.flows.parameters import ParameterCheck
from dagy.server.domains.runs.repository import VersionToRun
from dagy.server.errors import InvalidInput

_MAX_CHECKS = 1024
_checks: dict[str, ParameterCheck] = {}


def check_fit(flow_name: str, version: VersionToRun, parameters: dict[str, Any]) -> None:
    """A code flow's parameters must fit its entry function's type hints: every problem at once,
    by `parameters.<name>`, and the names in the message (what a refused sensor event records)."""
    if version.parameter_schema is None:
        return
    problems = _check_of(version, version.parameter_schema).problems(parameters)
    if problems:
        names = ", ".join(key.removeprefix("parameters.") for key in problems)
        message = (
            f"The parameters do not fit the function of flow {flow_name} version {version.version}: {names}."
        )
        raise InvalidInput(message, details=problems)


def fits(version: VersionToRun, parameters: dict[str, Any]) -> bool:
    """Whether `parameters` fit the version (always, for a version without a schema)."""
    schema = version.parameter_schema
    return schema is None or _check_of(version, schema).fits(parameters)


def _check_of(version: VersionToRun, schema: dict[str, Any]) -> ParameterCheck:
    """The version's compiled check, by its id (a version's schema never changes)."""
    check = _checks.get(version.id)
    if check is None:
        if len(_checks) >= _MAX_CHECKS:
            _checks.clear()
        check = _checks[version.id] = ParameterCheck(schema)
    return check


class KnownVersions:
    """The version each flow's label (or its latest) last resolved to in this process, with its
    parameter schema. A hint only: a version never changes its schema, and the INSERT that runs a
    version with one checks that it is the version the parameters were checked against."""

    _MAX = 1024

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str, str | None], VersionToRun] = {}

    def remember(self, org_id: str, flow_name: str, label: str | None, version: VersionToRun) -> None:
        if len(self._versions) >= self._MAX:
            self._versions.clear()
        self._versions[(org_id, flow_name, label)] = version

    def get(self, org_id: str, flow_name: str, label: str | None) -> VersionToRun | None:
        return self._versions.get((org_id, flow_name, label))


known_versions = KnownVersions()
