"""Wake-ups across server processes (PostgreSQL `LISTEN/NOTIFY`): two apps on one database, a
claim waiting on one is answered within milliseconds of a run triggered on the other, also after
the listener's connection was cut; a run queued for another executor wakes nobody.

A claim also re-checks the database once a second, which would find the run without any wake-up;
these tests turn that re-check off, so a claim answered with the run before its wait is over was
woken, however long a loaded host (other test processes) takes to trigger the run."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from dagy.server.app import create_app
from dagy.server.domains.workers import long_poll
from dagy.server.orchestration.wakeup import LISTENER_APPLICATION_NAME
from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.flow_factories import claim_runs, python_node, register_flow, spec, trigger, worker_headers

OK = "def main(inputs, params):\n    return params\n"
# A woken claim answers within milliseconds; the median of a few tries keeps a loaded test host
# (other processes competing for the CPU) from deciding the outcome.
WOKEN_WITHIN = 0.1
# How long a claim waits: one that was not woken answers at the end of it, with the run (its last
# look) or without.
CLAIM_WAIT = 10.0

pytestmark = pytest.mark.settings("pools_on_postgres_settings")


@pytest.fixture(autouse=True)
def no_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """A waiting claim looks at the database again only at the end of its wait."""
    monkeypatch.setattr(long_poll, "RECHECK_SECONDS", 10 * CLAIM_WAIT)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Claims may wait `CLAIM_WAIT` seconds."""
    queue = settings.queue.model_copy(update={"claim_wait_seconds": CLAIM_WAIT})
    return settings.model_copy(update={"queue": queue})


@pytest.fixture
def pools() -> tuple[str, str]:
    return unique("ex"), unique("ex")


@pytest.fixture
def pools_on_postgres_settings(database_url: str, pools: tuple[str, str]) -> dict[str, Any]:
    """Settings fields: the test's two `pools`, on PostgreSQL only."""
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite is one process")
    return {"worker_pools": list(pools)}


@pytest.fixture
def replica(settings: Settings) -> Iterator[TestClient]:
    """A second server process on the same database."""
    other = settings.model_copy(update={"home": settings.home.parent / "replica"})
    with TestClient(create_app(other, migrate=False)) as client:
        yield client


def wait_for_listeners(settings: Settings, count: int) -> None:
    engine = create_engine(settings.database_url)
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
        "AND datname = current_database() AND query LIKE 'LISTEN%'"
    )
    deadline = time.monotonic() + 10
    try:
        while True:
            with engine.connect() as conn:
                if conn.execute(query, {"name": LISTENER_APPLICATION_NAME}).scalar_one() >= count:
                    return
            assert time.monotonic() < deadline, "the listeners never connected"
            time.sleep(0.05)
    finally:
        engine.dispose()


def cut_listeners(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            cut = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER_APPLICATION_NAME},
            ).scalar_one()
            conn.commit()
            return int(cut)
    finally:
        engine.dispose()


def claim_while_triggering(
    waiting: TestClient, settings: Settings, pool: str, trigger_run: Any, wait: float = CLAIM_WAIT
) -> tuple[list[dict[str, Any]], float, float]:
    """Claim on `waiting` (long poll) and trigger meanwhile: (claimed runs, seconds from the trigger's
    answer, which comes after its commit, to the claim's answer, seconds the claim was held)."""
    result: dict[str, Any] = {}

    def claim() -> None:
        result["runs"] = claim_runs(waiting, worker_headers(settings), pool, wait=wait)
        result["at"] = time.monotonic()

    thread = threading.Thread(target=claim)
    claimed_at = time.monotonic()
    thread.start()
    time.sleep(0.2)  # the claim is waiting
    trigger_run()
    queued_at = time.monotonic()
    thread.join(wait + 30)
    return result["runs"], result["at"] - queued_at, result["at"] - claimed_at


def woken_claims(
    waiting: TestClient, settings: Settings, pool: str, trigger_run: Any, tries: int = 5
) -> list[float]:
    """Each try's delay; every claim must be woken: get the triggered run before its wait is over."""
    delays = []
    for _ in range(tries):
        run: dict[str, Any] = {}
        runs, delay, held = claim_while_triggering(
            waiting,
            settings,
            pool,
            lambda: run.update(trigger_run()),  # noqa: B023 - called before the loop moves on
        )
        assert [r["run_id"] for r in runs] == [run["run_id"]]
        assert held < CLAIM_WAIT, f"the claim was answered at the end of its wait ({held:.2f} s), not woken"
        delays.append(delay)
    return delays


def test_a_run_triggered_on_one_server_wakes_a_claim_waiting_on_another(
    client: TestClient, replica: TestClient, settings: Settings, owner: Caller, pools: tuple[str, str]
) -> None:
    pool, other_pool = pools
    wait_for_listeners(settings, 2)
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    elsewhere = register_flow(client, owner, spec(python_node("only", OK)), default_executor=other_pool)
    delays = woken_claims(replica, settings, pool, lambda: trigger(client, owner, flow))
    assert statistics.median(delays) < WOKEN_WITHIN, delays

    # A run for another executor does not wake this claim: it answers at its end, empty.
    runs, _, held = claim_while_triggering(
        replica, settings, pool, lambda: trigger(client, owner, elsewhere), wait=0.8
    )
    assert runs == [] and held >= 0.8


def test_the_listener_reconnects_after_its_connection_is_cut(
    client: TestClient, replica: TestClient, settings: Settings, owner: Caller, pools: tuple[str, str]
) -> None:
    pool = pools[0]
    wait_for_listeners(settings, 2)
    assert cut_listeners(settings) >= 2
    wait_for_listeners(settings, 2)  # both reconnected
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    delays = woken_claims(replica, settings, pool, lambda: trigger(client, owner, flow), tries=3)
    assert statistics.median(delays) < WOKEN_WITHIN, delays
