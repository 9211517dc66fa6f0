"""A run's parameters against the parameter schema of its flow version (declared in its spec, or
read from a code flow's entry function at registration: domains/flows/parameters.py), each
version's check compiled once; the defaults a run gets; and the versions this process last found,
which let a single run's INSERT look its version up and still be checked."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from dagy.server.domains.flows.parameters import ParameterCheck
from dagy.server.domains.runs.repository import VersionToRun
from dagy.server.errors import InvalidInput

_MAX_CHECKS = 1024
_checks: dict[str, ParameterCheck] = {}
_PREFIX = "parameters"


def check_fit(
    flow_name: str,
    version: VersionToRun,
    parameters: dict[str, Any],
    *,
    later: Collection[str] = (),
    field: str = _PREFIX,
) -> None:
    """The parameters must fit the version's schema: every problem at once, by `parameters.<name>`
    (`<field>.<name>` for parameters a request names otherwise, a sensor's `flow_params_json`), and
    the names in the message (what a refused sensor event or schedule fire time records). `later`:
    names whose values come when the run is made (a sensor's `event`)."""
    if version.parameter_schema is None:
        return
    problems = _check_of(version, version.parameter_schema).problems(parameters, later=later)
    if problems:
        names = ", ".join(key.removeprefix(f"{_PREFIX}.") for key in problems)
        message = (
            f"The parameters do not fit the parameter schema of flow {flow_name} "
            f"version {version.version}: {names}."
        )
        details = {field + key.removeprefix(_PREFIX): why for key, why in problems.items()}
        raise InvalidInput(message, details=details)


def fitted(flow_name: str, version: VersionToRun, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters a run of `version` gets: checked (`check_fit`), then each top-level property
    of the schema they leave out that has a `default` filled in. The one place defaults are
    filled in, whatever started the run."""
    check_fit(flow_name, version, parameters)
    if version.parameter_schema is None:
        return parameters
    return _check_of(version, version.parameter_schema).with_defaults(parameters)


def fits(version: VersionToRun, parameters: dict[str, Any]) -> bool:
    """Whether `parameters` fit the version (always, for a version without a schema)."""
    schema = version.parameter_schema
    return schema is None or _check_of(version, schema).fits(parameters)


def lacks_defaults(version: VersionToRun, parameters: dict[str, Any]) -> bool:
    """Whether a run of `version` would get defaults `parameters` leave out."""
    schema = version.parameter_schema
    return schema is not None and _check_of(version, schema).lacks_defaults(parameters)


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
