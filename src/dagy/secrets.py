"""Secrets in code: `dagy.secrets.get("name")` in a code flow's tasks and in `python_function` nodes.

A flow declares the secrets its code reads in its spec, `"secrets": ["warehouse-password"]`; in
a run, `get` answers those and no others, with the values of the run's deployment environment,
handed to that run's process only. A name the flow does not declare raises `SecretNotFound`, as
does a declared secret that does not exist (the server then fails the run before it starts).

Outside a run (a flow function called as plain Python, a test), `get` reads the environment
variable `DAGY_SECRET_<NAME>` (the name in upper case, every character other than a letter or a
digit as `_`: `warehouse-password` is `DAGY_SECRET_WAREHOUSE_PASSWORD`), so the same code runs on
a laptop without a server.

Values reach no log, node output, run output or error: the run masks them as `***` wherever they
appear (docs/secrets.md, "Secrets in code").
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

DECLARED_SECRETS = "secrets"  # the spec's list of the secrets its code reads
SECRET_NOT_FOUND = "secret_not_found"  # noqa: S105 - an error type, not a password
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


class SecretNotFound(LookupError):
    """The secret is not declared by the running flow, or does not exist."""

    error_type = SECRET_NOT_FOUND

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class _RunSecrets:
    """The values of the running flow's declared secrets; None outside a run."""

    values: dict[str, str] | None = None
    flow_name = ""


# A node executing on a host that serves several runs at once (a Dask worker): its thread's run.
_THIS_THREAD = threading.local()


def get(name: str) -> str:
    """The value of secret `name` (see the module's description)."""
    values, flow = getattr(_THIS_THREAD, "served", None) or (_RunSecrets.values, _RunSecrets.flow_name)
    if values is not None:
        if name in values:
            return values[name]
        raise SecretNotFound(
            name,
            f"Flow {flow!r} does not declare secret {name!r}: add it to the `secrets` list of the "
            "flow's spec to read it here.",
        )
    variable = environment_variable(name)
    value = os.environ.get(variable)
    if value is None:
        raise SecretNotFound(name, f"Secret {name!r}: outside a Dagy run, set the variable {variable}.")
    return value


def environment_variable(name: str) -> str:
    """The variable `get` reads outside a run."""
    return "DAGY_SECRET_" + _NOT_ALPHANUMERIC.sub("_", name).upper()


def declared_names(specs: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """The names the specs declare in `secrets`, sorted (what is not a list of names is ignored: the
    server refused it at registration)."""
    found: set[str] = set()
    for spec in specs:
        declared = (spec or {}).get(DECLARED_SECRETS)
        if isinstance(declared, list):
            found |= {name for name in declared if isinstance(name, str)}
    return sorted(found)


def referenced_names(specs: Sequence[Mapping[str, Any] | None]) -> list[str]:
    """Every secret a run of the specs needs, sorted: the declared ones and those the nodes' `data`
    reference as `{"secret": "name"}`, at any depth."""
    found = set(declared_names(specs))
    for spec in specs:
        nodes = (spec or {}).get("nodes")
        for node in nodes if isinstance(nodes, list) else ():
            stack: list[Any] = [node.get("data") if isinstance(node, dict) else None]
            while stack:  # iterative: a deeply nested `data` must not hit the recursion limit
                value = stack.pop()
                if isinstance(value, dict):
                    if set(value) == {"secret"} and isinstance(value["secret"], str):
                        found.add(value["secret"])
                    else:
                        stack.extend(value.values())
                elif isinstance(value, list):
                    stack.extend(value)
    return sorted(found)


def serve_run_secrets(values: Mapping[str, str], *, flow_name: str) -> None:
    """Make `values` what `get` answers for the rest of this process: a run's process serves one run."""
    _RunSecrets.values = dict(values)
    _RunSecrets.flow_name = flow_name


@contextmanager
def serving_in_this_thread(values: Mapping[str, str], *, flow_name: str) -> Iterator[None]:
    """Make `values` what `get` answers in this thread while the block runs: for a node executed in a
    process that is not its run's (a Dask worker's thread), where other runs' nodes run beside it."""
    previous = getattr(_THIS_THREAD, "served", None)
    _THIS_THREAD.served = (dict(values), flow_name)
    try:
        yield
    finally:
        _THIS_THREAD.served = previous


__all__ = ["SecretNotFound", "environment_variable", "get"]
