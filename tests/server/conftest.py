"""Fixtures the API tests share: an org owner, a flow of theirs, a worker pool of the test's own and
a database of the module's own.

The settings of a module's app are set by marker (see `tests/conftest.py`): a module whose worker
tests need a queue of their own says `pytestmark = pytest.mark.settings("own_pool_settings")` and
takes `pool`; one whose clock runs ahead of the real one says `"own_database_settings"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import migrated_database
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node, register_flow, spec

RETURN_PARAMS = "def main(inputs, params):\n    return params\n"


@pytest.fixture
def owner(app: FastAPI, client: TestClient) -> Caller:
    """A fresh user who owns a fresh org, signed in."""
    return new_org(app, client)


@pytest.fixture
def flow(client: TestClient, owner: Caller) -> str:
    """A flow of the owner's: one Python node answering its parameters."""
    return register_flow(client, owner, spec(python_node("only", RETURN_PARAMS)))


@pytest.fixture
def pool() -> str:
    """A worker pool of the test's own: its queue holds only the runs this test makes, whatever other
    tests queue on the shared database."""
    return unique("ex")


@pytest.fixture
def own_pool_settings(pool: str) -> dict[str, Any]:
    """Settings fields (`pytest.mark.settings("own_pool_settings")`): the installation's worker pool
    is the test's own `pool`."""
    return {"worker_pools": [pool]}


@pytest.fixture(scope="module")
def own_database_settings(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Settings fields (`pytest.mark.settings("own_database_settings")`): a database of the module's
    own, on the session's backend. For modules whose simulated clock runs months ahead of the real
    one, which would make every schedule other modules left behind due, and queue their runs."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    with migrated_database(backend, tmp_path_factory, "module-db") as url:
        yield {"database_url": url}
