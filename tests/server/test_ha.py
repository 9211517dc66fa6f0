"""The high-availability test bed: a whole installation of real processes on one PostgreSQL database
(two API replicas `dagy server --no-services --no-worker`, two `dagy services`, four `dagy worker`),
driven with manual runs, webhook posts and interval schedules; then one process of each kind is
killed (SIGKILL) and the driving goes on against the surviving replica. Every trigger the clients
had acknowledged exists once and completes, no run is executed twice except an attempt whose worker
was killed, every fire time of every schedule runs once, and no request is answered 5xx.

The workers reach the API through a small TCP load balancer in this process (each connection to
the next replica that accepts it), as a production fleet would through its load balancer. The
clients alternate between the two replicas by themselves; a manual trigger whose connection broke
is sent again to the other replica with the same `X-Idempotency-Key`, so it is acknowledged once.
A webhook post whose connection broke is not sent again: its run may or may not exist.

Schedules: interval schedules fire at most once a minute, so forty of them, their `start_at` 1.5 s
apart, fire about every 1.5 s between them. The invariant comes from docs/schedules.md: a second
scheduler stays alive, so no fire time is missed or skipped (catch-up `skip` runs the latest due
time of each tick, and one schedule has one time due per minute); each schedule's fire times before
its final `next_run_at` are exactly the times it queued, once each.

At the end each surviving process is stopped with SIGTERM and must stop cleanly (docs/operations.md):
the API answers the workers' waiting long-poll claims empty at once, no log holds a traceback.

Marked `ha`: scripts/test.sh runs it on its own after the main suite (it takes about three minutes
and keeps the 2 cores busy)."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select

from dagy.server.db.migrate import upgrade
from dagy.server.db.models import NodeRun, Run, RunEvent, RunLog, Schedule, ScheduleFire
from tests.conftest import POSTGRES_URL
from tests.conftest import _create_postgres_database as create_postgres_database
from tests.conftest import _drop_postgres_database as drop_postgres_database
from tests.factories import unique, unique_email
from tests.flow_factories import python_node, spec
from tests.ports import free_port
from tests.worker.live import DAGY

pytestmark = [pytest.mark.ha, pytest.mark.postgres_only, pytest.mark.slow, pytest.mark.timeout(480)]

DRIVE_SECONDS = 80  # all processes up
AFTER_KILL_SECONDS = 20  # one API, one services and one worker process killed
SCHEDULES = 40  # every 60 s each, 1.5 s apart: a fire every 1.5 s
INTERVAL_SECONDS = 60
WORKERS = 4
SUPERADMIN = "root@dagy.test"
LEASE = {"DAGY_QUEUE__LEASE_SECONDS": "5", "DAGY_QUEUE__HEARTBEAT_SECONDS": "0.5"}
FIRST = """
import time

def main(inputs, params):
    print("ran first", flush=True)
    time.sleep(0.3)  # a worker killed at a random moment is likely to be inside a run
    return 1
"""
SECOND = "def main(inputs, params):\n    print('ran second', flush=True)\n    return 2\n"


# ---- the installation's processes -------------------------------------------------------------


@dataclass
class Installation:
    """The processes of the bed, each logging to a file of its own in `folder`."""

    folder: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(self.log_path(name), "wb") as log:
            process = subprocess.Popen(
                [DAGY, *args], env=self.env | (env or {}), stdout=log, stderr=subprocess.STDOUT
            )
        self.processes[name] = process
        return process

    def log_path(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def log(self, name: str) -> str:
        return self.log_path(name).read_text(errors="replace")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self, name: str, timeout: float = 30) -> float:
        """SIGTERM, and the seconds the process took to exit."""
        process = self.processes[name]
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout)
        return time.monotonic() - asked

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def serving(url: str, process: subprocess.Popen[bytes], log: Callable[[], str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/v1/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log()
        time.sleep(0.2)


class Balancer:
    """A TCP load balancer on loopback, in a thread of this process: each connection goes to the
    next of `ports` that accepts it, so a replica that died is passed over."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self._turn = itertools.count()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="balancer", daemon=True)
        self.thread.start()
        listening = asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(listening, self.loop).result(10)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in self.ports:
            port = self.ports[next(self._turn) % len(self.ports)]
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
            return
        writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


# ---- the clients -------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients sent and were answered."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)  # (what, status) -> count
    broken: Counter[str] = field(default_factory=Counter)  # connections that broke, by what
    manual: dict[str, str] = field(default_factory=dict)  # idempotency key -> run id
    webhooks: dict[int, str] = field(default_factory=dict)  # event seq -> run id
    webhooks_unanswered: set[int] = field(default_factory=set)  # posts whose connection broke
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, what: str, response: httpx.Response) -> None:
        with self.lock:
            self.answers[what, response.status_code] += 1


class Driver:
    """Client threads triggering runs against the live API replicas (`urls`, alternately) until
    `stop()`; `urls` shrinks to the survivor when a replica is killed."""

    def __init__(self, urls: list[str], key: str, deployment: str, webhook: str) -> None:
        self.urls, self.deployment, self.webhook = list(urls), deployment, webhook
        self.headers = {"Authorization": f"Bearer {key}"}
        self.tally = Tally()
        self._stop = threading.Event()
        self._seq = itertools.count()
        self.threads = [
            threading.Thread(target=self._loop, args=(self._manual,), name="manual-1"),
            threading.Thread(target=self._loop, args=(self._manual,), name="manual-2"),
            threading.Thread(target=self._loop, args=(self._webhook,), name="webhooks"),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(60)

    def only(self, url: str) -> None:
        self.urls = [url]

    def _url(self, n: int) -> str:
        urls = self.urls
        return urls[n % len(urls)]

    def _loop(self, send: Callable[[httpx.Client, int], None]) -> None:
        with httpx.Client(headers=self.headers, timeout=30) as http:
            while not self._stop.is_set():
                send(http, next(self._seq))
                self._stop.wait(0.4)

    def _manual(self, http: httpx.Client, n: int) -> None:
        """A run of the deployment, sent again to the next replica while the connection breaks."""
        key = f"manual-{n}"
        body = {"deployment": self.deployment, "parameters": {"seq": n}}
        for attempt in range(20):
            try:
                answer = http.post(
                    f"{self._url(n + attempt)}/v1/runs", json=body, headers={"X-Idempotency-Key": key}
                )
            except httpx.TransportError:
                self.tally.broken["manual"] += 1
                time.sleep(0.2)
                continue
            self.tally.answered("manual", answer)
            if answer.status_code == 202:
                self.tally.manual[key] = answer.json()["run_id"]
                self._read(http, n, answer.json()["run_id"])
            return

    def _read(self, http: httpx.Client, n: int, run_id: str) -> None:
        try:
            answer = http.get(f"{self._url(n + 1)}/v1/runs/{run_id}")
        except httpx.TransportError:
            self.tally.broken["read"] += 1
            return
        self.tally.answered("read", answer)

    def _webhook(self, http: httpx.Client, n: int) -> None:
        try:
            answer = http.post(f"{self._url(n)}/v1/webhooks/{self.webhook}", json={"seq": n})
        except httpx.TransportError:
            self.tally.broken["webhook"] += 1
            self.tally.webhooks_unanswered.add(n)
            return
        self.tally.answered("webhook", answer)
        if answer.status_code == 202:
            self.tally.webhooks[n] = answer.json()["run_id"]


# ---- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ha_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("the HA bed runs on PostgreSQL (DAGY_TEST_POSTGRES_URL)")
    url, name = create_postgres_database()
    upgrade(url)
    yield url
    drop_postgres_database(name)


@pytest.fixture
def installation(ha_database: str, tmp_path: Path) -> Iterator[Installation]:
    home = tmp_path / "home"
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("DAGY_")}
        | LEASE
        | {
            "DAGY_HOME": str(home),
            "DAGY_DATABASE_URL": ha_database,
            "DAGY_SECRET_KEY": secrets.token_urlsafe(32),
            "DAGY_WORKER_TOKEN": secrets.token_urlsafe(32),
            "DAGY_AUTH_MODE": "email",
            "DAGY_SUPERADMIN_EMAILS": SUPERADMIN,
            "DAGY_RATE_LIMIT_PER_MINUTE": "1000000",
            "DAGY_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "1000000",
            "DAGY_WEBHOOK_RATE_LIMIT_PER_MINUTE": "1000000",
            "DAGY_LOG_LEVEL": "warning",
            "DAGY_QUEUE__REAPER_SECONDS": "0.5",
            # Longer than uvicorn's 5 s of grace: stopping must answer the waiting claims, not wait.
            "DAGY_QUEUE__CLAIM_WAIT_SECONDS": "20",
            "DAGY_VECTOR_DIR": str(tmp_path / "vectors"),
        }
    )
    bed = Installation(tmp_path, env)
    yield bed
    bed.stop_all()


def start_installation(bed: Installation) -> tuple[list[str], Balancer]:
    """Two API replicas, two services processes and four workers behind the balancer."""
    ports = [free_port(), free_port()]
    for name, port in zip(("api-a", "api-b"), ports, strict=True):
        bed.start(name, "server", "--no-services", "--no-worker", "--host", "127.0.0.1", "--port", str(port))
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    for name, url in zip(("api-a", "api-b"), urls, strict=True):
        serving(url, bed.processes[name], lambda n=name: bed.log(n))
    for name in ("services-a", "services-b"):
        bed.start(name, "services", env={"DAGY_LOG_LEVEL": "info"})
    balancer = Balancer(ports)
    for i in range(WORKERS):
        bed.start(
            f"worker-{i}",
            "worker",
            *("--url", f"http://127.0.0.1:{balancer.port}", "--token", bed.env["DAGY_WORKER_TOKEN"]),
            *("--executor", "local", "--concurrency", "4", "--worker-id", f"ha-w{i}", "--drain-seconds", "0"),
        )
    return urls, balancer


@dataclass
class Org:
    key: str
    deployment: str
    webhook: str
    schedules: dict[str, datetime]  # schedule id -> start_at


def set_up_org(url: str) -> Org:
    """An org, its owner, an API key; a two-node flow, its deployment, the schedules, a webhook."""
    admin = httpx.post(f"{url}/v1/auth/login", json={"email": SUPERADMIN}).json()["access_token"]
    with httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {admin}"}) as api:
        org_id = ok(api.post("/orgs", json={"org_name": unique("ha"), "plan": "enterprise"}))["org_id"]
        email = unique_email("owner")
        ok(api.post(f"/orgs/{org_id}/members", json={"email": email, "role": "owner"}))
    token = ok(httpx.post(f"{url}/v1/auth/login", json={"email": email}))["access_token"]
    session = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
    scopes = [
        f"{what}.{how}"
        for what in ("flows", "schedules", "environments", "sensors")
        for how in ("read", "write")
    ]
    body = {"name": "ha-driver", "scopes": [*scopes, "runs.read", "runs.trigger"]}
    key = ok(httpx.post(f"{url}/v1/api-keys", json=body, headers=session))["key"]
    with httpx.Client(base_url=f"{url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        flow = unique("flow")
        flow_spec = spec(
            python_node("first", FIRST), python_node("second", SECOND), edges=(("first", "second"),)
        )
        ok(api.post("/flows", json={"flow_name": flow, "flow_spec": flow_spec}))
        ok(api.post("/environments", json={"env_name": "production"}))
        deployment = unique("dep")
        ok(
            api.post(
                "/deployments", json={"name": deployment, "flow_name": flow, "environment": "production"}
            )
        )
        first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)
        schedules = {}
        for i in range(SCHEDULES):
            start = first + timedelta(seconds=i * INTERVAL_SECONDS / SCHEDULES)
            schedule_id = f"every-minute-{i}"
            body = {
                "schedule_id": schedule_id,
                "flow_name": flow,
                "environment": "production",
                "mode": "interval",
                "interval_seconds": INTERVAL_SECONDS,
                "start_at": start.isoformat(),
            }
            ok(api.post("/schedules", json=body))
            schedules[schedule_id] = start
        sensor = {"name": "ha-webhook", "sensor_type": "webhook", "flow_name": flow}
        webhook = ok(api.post("/sensors", json=sensor))["webhook_token"]
    return Org(key, deployment, webhook, schedules)


def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def kill_a_busy_worker(bed: Installation, db: Engine, timeout: float = 30) -> tuple[str, set[str]]:
    """SIGKILL a worker in the middle of runs: one holding a running run's lease is stopped
    (SIGSTOP, so that it finishes nothing more), and killed once the runs it still holds are read.
    Answers its id and those runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for victim in sorted(set(running_runs(db).values())):
            process = bed.processes[f"worker-{victim.removeprefix('ha-w')}"]
            process.send_signal(signal.SIGSTOP)
            time.sleep(0.3)  # what it had sent is answered
            held = {run_id for run_id, owner in running_runs(db).items() if owner == victim}
            if held:
                bed.kill(f"worker-{victim.removeprefix('ha-w')}")
                return victim, held
            process.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("no worker held a run")


def running_runs(db: Engine) -> dict[str, str]:
    """Running run -> the worker holding its lease."""
    with db.connect() as conn:
        rows = conn.execute(select(Run.id, Run.lease_owner).where(Run.status == "running")).all()
    return {run_id: owner for run_id, owner in rows if owner}


def wait_until_drained(db: Engine, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as conn:
            left = conn.execute(select(Run.id).where(Run.status.in_(("queued", "running")))).all()
        if not left:
            return
        assert time.monotonic() < deadline, f"{len(left)} runs still queued or running"
        time.sleep(0.5)


def test_an_installation_keeps_its_promises_through_killed_processes(
    installation: Installation, ha_database: str
) -> None:
    bed = installation
    db = create_engine(ha_database)
    urls, balancer = start_installation(bed)
    try:
        org = set_up_org(urls[0])
        driver = Driver(urls, org.key, org.deployment, org.webhook)
        driver.start()
        try:
            time.sleep(DRIVE_SECONDS)
            killed_at = datetime.now(UTC)
            victim, held = kill_a_busy_worker(bed, db)
            bed.kill("api-a")
            driver.only(urls[1])
            bed.kill("services-a")
            time.sleep(AFTER_KILL_SECONDS)
        finally:
            driver.stop()
        services_stopped_at = datetime.now(UTC)
        assert bed.stop("services-b") < 15
        wait_until_drained(db)
        server_errors = five_hundreds(urls[1])
        api_took = bed.stop("api-b")  # while the workers' claims wait on it
        for i in range(WORKERS):
            if bed.processes[f"worker-{i}"].poll() is None:
                bed.stop(f"worker-{i}")
    finally:
        balancer.close()
        bed.stop_all()

    tally = driver.tally
    assert not [a for a in tally.answers if a[1] >= 500] and not server_errors, (tally.answers, server_errors)
    assert set(tally.answers) <= {("manual", 202), ("webhook", 202), ("read", 200)}, tally.answers
    seconds = DRIVE_SECONDS + AFTER_KILL_SECONDS
    assert len(tally.manual) > seconds and len(tally.webhooks) > seconds / 2, tally  # ~2.5/s and ~1.5/s
    with db.connect() as conn:
        runs = conn.execute(select(Run)).all()
        check_triggers(runs, tally, org)
        check_executions(conn, runs, victim, held)
        check_schedules(conn, org, killed_at, services_stopped_at)
    db.dispose()
    check_stopped_cleanly(bed, api_took)


def five_hundreds(url: str) -> list[str]:
    """The surviving replica's 5xx answers to anyone (workers included), from its /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    counted = [line for line in text.splitlines() if line.startswith("dagy_http_requests_total{")]
    assert any('status="200"' in line for line in counted), text[:2000]
    return [line for line in counted if re.search(r'status="5\d\d"', line)]


def check_triggers(runs: list[Any], tally: Tally, org: Org) -> None:
    """Each acknowledged trigger is one run, and no run exists that nobody triggered."""
    webhook = [r for r in runs if r.sensor_id is not None]
    scheduled = [r for r in runs if r.schedule_id is not None]
    manual = [r for r in runs if r.sensor_id is None and r.schedule_id is None]
    assert sorted(r.id for r in manual) == sorted(tally.manual.values())
    assert {r.deployment_name for r in manual} == {org.deployment}
    by_seq = Counter(r.parameters["event"]["seq"] for r in webhook)
    assert max(by_seq.values()) == 1, "a webhook post made two runs"
    assert set(tally.webhooks) <= set(by_seq) <= set(tally.webhooks) | tally.webhooks_unanswered
    assert set(tally.webhooks.values()) <= {r.id for r in webhook}
    assert all(r.scheduled_for is not None for r in scheduled)
    assert not [(r.id, r.status, r.error) for r in runs if r.status != "completed"]


def check_executions(conn: Any, runs: list[Any], victim: str, held: set[str]) -> None:
    """A run was executed again only because its worker was killed: its lease expired and it went
    back to the queue (an `on_retry` event naming the worker). A claim whose answer was lost with the
    killed replica went back without using a retry (`attempt` counts it, `retry_count` does not).
    Every other run ran each node once; every run's last attempt completed both nodes, and the runs
    the killed worker held were completed by another worker."""
    requeues = conn.execute(
        select(RunEvent.run_id, RunEvent.payload).where(RunEvent.type == "on_retry")
    ).all()
    for run_id, payload in requeues:
        error = payload["error"]
        assert error["type"] == "lease_expired" and f"Worker {victim} " in error["message"], (run_id, error)
    retried = Counter(run_id for run_id, _ in requeues)
    assert len(retried) <= 4, f"{len(retried)} runs lost their worker; the killed one had 4 slots"
    assert all(r.retry_count == retried[r.id] for r in runs)
    undelivered = sum(r.attempt - 1 - r.retry_count for r in runs)
    assert 0 <= undelivered <= WORKERS * 4, undelivered  # claims in flight on the killed replica at most
    nodes = conn.execute(select(NodeRun.run_id, NodeRun.attempt, NodeRun.node_id, NodeRun.status)).all()
    assert max(Counter((n.run_id, n.attempt, n.node_id) for n in nodes).values()) == 1
    last = {(r.id, r.attempt) for r in runs}
    completed = Counter(n.run_id for n in nodes if (n.run_id, n.attempt) in last and n.status == "completed")
    assert all(completed[r.id] == 2 for r in runs), "a run's last attempt did not complete both nodes"
    markers = RunLog.message.in_(("ran first", "ran second"))
    ran = Counter(conn.execute(select(RunLog.run_id, RunLog.message).where(markers)).all())
    for run in runs:
        if run.attempt == 1:
            assert ran[run.id, "ran first"] == ran[run.id, "ran second"] == 1, run.id
    recovered = {r.id: (r.attempt, r.lease_owner) for r in runs if r.id in held}
    assert len(recovered) == len(held) and all(a > 1 and o != victim for a, o in recovered.values()), (
        recovered
    )


def check_schedules(conn: Any, org: Org, killed_at: datetime, stopped_at: datetime) -> None:
    """Each schedule's fire times before its `next_run_at` were each queued once, with one run."""
    schedules = conn.execute(select(Schedule.id, Schedule.schedule_id, Schedule.next_run_at)).all()
    fires = conn.execute(
        select(
            ScheduleFire.schedule_id, ScheduleFire.scheduled_for, ScheduleFire.outcome, ScheduleFire.run_id
        )
    ).all()
    runs = conn.execute(select(Run.schedule_id, Run.scheduled_for).where(Run.schedule_id.is_not(None))).all()
    assert max(Counter(runs).values()) == 1, "a fire time ran twice"
    assert {f.outcome for f in fires} == {"queued"} and all(f.run_id for f in fires)
    after_kill = 0
    for row_id, name, next_run_at in schedules:
        start = org.schedules[name]
        next_at = utc(next_run_at)
        assert next_at >= stopped_at - timedelta(seconds=5), f"{name} stopped firing at {next_at}"
        expected = [start + timedelta(seconds=INTERVAL_SECONDS * k) for k in range(10)]
        expected = [t for t in expected if t < next_at]
        fired = sorted(utc(f.scheduled_for) for f in fires if f.schedule_id == row_id)
        assert fired == expected, name
        after_kill += sum(t > killed_at for t in fired)
    assert after_kill >= AFTER_KILL_SECONDS / (INTERVAL_SECONDS / SCHEDULES) - 3, "few fires after the kill"
    assert len(runs) == len(fires)


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_stopped_cleanly(bed: Installation, api_took: float) -> None:
    """The survivors stopped on SIGTERM without a traceback; the API answered the claims waiting on
    it at once instead of letting uvicorn cancel them after its grace period."""
    assert api_took < 4, f"the API took {api_took:.1f} s to stop"
    assert bed.processes["services-b"].returncode == 0
    assert "services stopped" in bed.log("services-b")
    for name, process in bed.processes.items():
        if name in ("api-a", "services-a") or process.returncode == -signal.SIGKILL:
            continue
        log = bed.log(name)
        assert process.returncode in (0, -signal.SIGTERM), (name, process.returncode, log[-3000:])
        assert "Traceback" not in log and "CancelledError" not in log, (name, log[-5000:])
