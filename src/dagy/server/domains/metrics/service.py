"""What `GET /metrics` exposes: the HTTP request metrics this process counts, and the gauges read
from the database at scrape time (docs/metrics.md).

The gauges are instance-wide (every org's rows) and carry only operator-chosen labels: run
statuses, executor (worker pool) names and sensor types; never an org, a user or an id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.metrics import repository as repo
from dagy.server.orchestration.states import ACTIVE_RUN_STATES

log = logging.getLogger("dagy.server.metrics")

# A worker counts as online when heard from within this (as `GET /v1/workers` says: workers domain).
WORKER_ONLINE = timedelta(minutes=1)
# The sensor types the sensor loop checks (webhook sensors are pushed, never checked).
CHECKED_SENSOR_TYPES = ("s3", "polling")
# Request latency buckets (seconds): the default ones and the long-polled worker claims (25 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HttpMetrics:
    """The request counter and latency histogram of one app, in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "dagy_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "dagy_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

        # (method, route, status) -> its counter and histogram children: `labels()` validates and
        # locks on each call, a third of the cost of noting a request. The keys are bounded (route
        # templates, known methods, status codes).
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)


class DatabaseCollector(Collector):
    """Reads the run queue, workers, scheduler, sensors and alert outbox at each scrape, in one
    short read transaction. A database that cannot be read gives `dagy_database_metrics_up 0`
    (and the HTTP metrics still answer)."""

    def __init__(self, db: Database, executors: Iterable[str]) -> None:
        self.db = db
        self.executors = tuple(dict.fromkeys(executors))  # reported at 0 when nothing is there

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("dagy_database_metrics_up", "1 when the database gauges below were read.")
        try:
            with self.db.transaction(write=False) as session:
                families = list(self._families(session, utcnow()))
        except SQLAlchemyError:
            log.exception("metrics: the database could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, session: Session, now: datetime) -> Iterator[Metric]:
        yield self._runs(session)
        yield from self._queue(session, now)
        yield from self._workers(session, now)
        yield from self._triggers(session, now)
        yield from self._outbox(session, now)

    def _runs(self, session: Session) -> Metric:
        family = GaugeMetricFamily(
            "dagy_runs",
            "Runs in a non-terminal state, by status and executor.",
            labels=("status", "executor"),
        )
        counts: dict[tuple[str, str], int] = {
            (str(status), executor): 0 for status in sorted(ACTIVE_RUN_STATES) for executor in self.executors
        }
        for status, executor, count in repo.count_runs(session, ACTIVE_RUN_STATES):
            counts[(status, executor)] = count
        for (status, executor), count in sorted(counts.items()):
            family.add_metric([status, executor], count)
        return family

    def _queue(self, session: Session, now: datetime) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "dagy_run_queue_depth",
            "Queued runs workers may claim (orgs not suspended), by executor.",
            labels=("executor",),
        )
        oldest = GaugeMetricFamily(
            "dagy_run_queue_oldest_age_seconds",
            "Age of the oldest claimable queued run (since it was created), by executor; 0 when none.",
            labels=("executor",),
        )
        rows = {executor: (0, now) for executor in self.executors}
        rows |= {executor: (count, created) for executor, count, created in repo.queued_by_executor(session)}
        for executor, (count, created) in sorted(rows.items()):
            depth.add_metric([executor], count)
            oldest.add_metric([executor], _seconds_since(created, now))
        yield depth
        yield oldest

    def _workers(self, session: Session, now: datetime) -> Iterator[Metric]:
        online = GaugeMetricFamily(
            "dagy_workers_online",
            "Workers heard from (a claim or a heartbeat) in the last minute, by executor.",
            labels=("executor",),
        )
        silence = GaugeMetricFamily(
            "dagy_worker_last_heartbeat_age_seconds",
            "Seconds since any worker of the executor was last heard from.",
            labels=("executor",),
        )
        for executor, count, seen in sorted(
            repo.workers_by_executor(session, online_since=now - WORKER_ONLINE)
        ):
            online.add_metric([executor], count)
            silence.add_metric([executor], _seconds_since(seen, now))
        yield online
        yield silence

    def _triggers(self, session: Session, now: datetime) -> Iterator[Metric]:
        scheduler = GaugeMetricFamily(
            "dagy_scheduler_lag_seconds",
            "How far past its fire time the earliest due enabled schedule is; 0 when none is due.",
        )
        scheduler.add_metric([], _seconds_since(repo.earliest_due_schedule(session), now))
        yield scheduler
        sensors = GaugeMetricFamily(
            "dagy_sensor_check_lag_seconds",
            "How far past its check time the earliest due enabled sensor is, by type; 0 when none is due.",
            labels=("sensor_type",),
        )
        due: dict[str, datetime | None] = dict.fromkeys(CHECKED_SENSOR_TYPES, None)
        due |= dict(repo.earliest_due_sensor_checks(session, CHECKED_SENSOR_TYPES))
        for sensor_type, at in sorted(due.items()):
            sensors.add_metric([sensor_type], _seconds_since(at, now))
        yield sensors

    def _outbox(self, session: Session, now: datetime) -> Iterator[Metric]:
        count, earliest = repo.pending_deliveries(session)
        depth = GaugeMetricFamily("dagy_alert_outbox_pending", "Alert deliveries not yet sent nor failed.")
        depth.add_metric([], count)
        yield depth
        lag = GaugeMetricFamily(
            "dagy_alert_outbox_oldest_due_age_seconds",
            "How far past its next attempt time the earliest pending alert delivery is; 0 when none is due.",
        )
        lag.add_metric([], _seconds_since(earliest, now))
        yield lag


def _seconds_since(then: datetime | None, now: datetime) -> float:
    """Seconds from `then` to `now`, never negative; 0 for nothing."""
    if then is None:
        return 0.0
    return max(0.0, (now - then).total_seconds())


def metrics_registry(
    db: Database, executors: Iterable[str], *, multiprocess_dir: Path | None = None
) -> tuple[CollectorRegistry, HttpMetrics]:
    """(the registry a scrape reads, the HTTP metrics the middleware counts into).

    One process: a registry of the app's own (tests build many apps in one process) holding both
    the HTTP metrics and the database collector. Several (`multiprocess_dir`): each process writes
    its HTTP metrics to files there, and a scrape sums every process's files and reads the database
    once, whichever process answers it."""
    own = CollectorRegistry(auto_describe=False)
    http = HttpMetrics(own)
    scraped = own
    if multiprocess_dir is not None:
        scraped = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(scraped, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]  # untyped upstream
    scraped.register(DatabaseCollector(db, executors))
    return scraped, http
