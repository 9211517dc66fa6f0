"""OpenTelemetry traces (docs/metrics.md, "Tracing"): a span per HTTP request, per run dispatch, per
run attempt and per node execution, exported over OTLP/HTTP. The server and the worker both use it,
so it imports nothing of `dagy.server` (nor Starlette: a worker host may have neither).

Off by default (`DAGY_TRACING=off`): `start_tracing` answers None, OpenTelemetry's SDK and exporter
are never imported, the server installs no middleware and a run's supervisor gets `UNTRACED`, whose
calls do nothing. With `DAGY_TRACING=otlp` each process has a tracer provider of its own (not
OpenTelemetry's global one) for its service (`dagy-server`, `dagy-worker`): a batch span processor
and the OTLP/HTTP exporter, which finds the collector in the standard variables
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` (`OTEL_TRACES_SAMPLER`,
`OTEL_BSP_*` and `OTEL_RESOURCE_ATTRIBUTES` apply as usual).

One run, one trace, without trace context in the worker protocol: the trace id is derived from the
run id, and the span id of an attempt's `run.dispatch` span from the run id and the attempt number
(`run_trace_id`, `dispatch_span_id`). The server records the dispatch span with those ids when a
claim hands the attempt to a worker; the worker, which knows the run id and the attempt from the
claim, makes its `run.attempt` span a child of it, and the attempt's `node.execute` spans children
of that. Every attempt of a run, on whichever worker, lands in the run's trace. The run's own
process (isolated, without network access to a collector) records nothing: its supervisor turns
the node events it writes into spans.

What never goes in a span: headers, bodies, query strings, raw paths (a webhook's path is its
token), parameters, outputs, log lines, error messages, secret values, tokens. Requests carry their
route template; nodes their id, type, status and tries; failures only their error type.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from dagy import __version__
from dagy.protocol.models import ClaimedRun, NodeRunReport, NodeRunState

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import AttributeValue

TracingMode = Literal["off", "otlp"]
SERVER_SERVICE = "dagy-server"
WORKER_SERVICE = "dagy-worker"
INSTRUMENTATION = "dagy"
LEASE_LOST = "lease_lost"  # an attempt's end when another attempt took the run over
# Node states that end a node's execution: each becomes one `node.execute` span.
NODE_ENDS = frozenset(
    {NodeRunState.COMPLETED, NodeRunState.FAILED, NodeRunState.SKIPPED, NodeRunState.CANCELLED}
)
MAX_ERROR_TYPE_CHARS = 128
# The methods a request span names; any other is `_OTHER` (OpenTelemetry's HTTP conventions), so a
# client cannot add span names at will.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# The ASGI interface as Starlette spells it (`starlette.types`), without importing Starlette.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def run_trace_id(run_id: str) -> int:
    """The trace id of every span of the run `run_id` (128 bits of a SHA-256)."""
    return _derived(f"dagy.run/{run_id}", 16)


def dispatch_span_id(run_id: str, attempt: int) -> int:
    """The span id of the `run.dispatch` span of the run's `attempt` (64 bits of a SHA-256)."""
    return _derived(f"dagy.run/{run_id}/attempt/{attempt}", 8)


def _derived(key: str, size: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:size], "big") or 1  # 0 is invalid


class TracingUnavailable(RuntimeError):
    """Tracing is on but the `tracing` extra is not installed."""


def start_tracing(mode: TracingMode, service_name: str) -> Tracing | None:
    """The process's tracing for `service_name`, or None when tracing is off (TracingUnavailable
    when it is on without the `tracing` extra)."""
    return Tracing(service_name) if mode == "otlp" else None


class Tracing:
    """One process's tracer provider for one service, exporting over OTLP/HTTP."""

    def __init__(self, service_name: str) -> None:
        # Imported here, so that with tracing off none of this is ever loaded.
        try:
            from opentelemetry.context import Context  # noqa: PLC0415 - see above
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415 - see above
                OTLPSpanExporter,
            )
            from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - see above
            from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415 - see above
            from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415 - see above
        except ImportError as exc:
            raise TracingUnavailable(
                f"DAGY_TRACING=otlp needs OpenTelemetry's SDK and OTLP exporter ({exc.name} is missing): "
                "pip install 'dagy[tracing]'"
            ) from exc
        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self._ids = _RunIds()
        self.provider: TracerProvider = TracerProvider(
            resource=resource, id_generator=self._ids.generator(), shutdown_on_exit=False
        )
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer: Tracer = self.provider.get_tracer(INSTRUMENTATION, __version__)
        self.root: Context = Context()  # no parent, whatever span is current where a span starts

    def force_flush(self, timeout_seconds: float = 30.0) -> bool:
        """Export every finished span now; False when the exporter did not finish in time."""
        return self.provider.force_flush(int(timeout_seconds * 1000))

    def shutdown(self) -> None:
        """Export what is left and stop the export thread (the process is stopping)."""
        self.provider.shutdown()

    def run_dispatched(
        self,
        *,
        run_id: str,
        attempt: int,
        org_id: str,
        flow_name: str,
        executor: str,
        worker_id: str,
        queued_at: datetime,
        claimed_at: datetime,
    ) -> None:
        """The `run.dispatch` span of an attempt a claim hands to `worker_id`: from the moment the run
        was queued (created, or sent back for a retry) until the claim took it. The first span of
        the attempt in the run's trace; its ids are the ones the worker derives for its parent."""
        queued_seconds = max(0.0, (claimed_at - queued_at).total_seconds())
        attributes: dict[str, AttributeValue] = {
            "dagy.run.id": run_id,
            "dagy.run.attempt": attempt,
            "dagy.org_id": org_id,
            "dagy.flow.name": flow_name,
            "dagy.run.executor": executor,
            "dagy.worker.id": worker_id,
            "dagy.run.queued_seconds": queued_seconds,
        }
        with self._ids.forcing(run_trace_id(run_id), dispatch_span_id(run_id, attempt)):
            span = self.tracer.start_span(
                "run.dispatch", context=self.root, attributes=attributes, start_time=_nanoseconds(queued_at)
            )
        span.end(end_time=max(_nanoseconds(claimed_at), _nanoseconds(queued_at)))

    def attempt(self, run: ClaimedRun, worker_id: str) -> AttemptTrace:
        """The spans of the attempt `run` on this worker, starting now."""
        return _RecordedAttempt(self, run, worker_id)


class _RunIds:
    """Random ids, except for a dispatch span: its trace and span ids are the run's (`forcing`).
    The forced ids live in a context variable, so spans started meanwhile in other threads or
    tasks keep random ones."""

    def __init__(self) -> None:
        self._forced: ContextVar[tuple[int, int] | None] = ContextVar("dagy_forced_span_ids", default=None)

    @contextmanager
    def forcing(self, trace_id: int, span_id: int) -> Iterator[None]:
        token = self._forced.set((trace_id, span_id))
        try:
            yield
        finally:
            self._forced.reset(token)

    def generator(self) -> IdGenerator:
        """The SDK's id generator, answering the forced ids while they are set."""
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator  # noqa: PLC0415 - tracing on

        forced = self._forced

        class RunIdGenerator(RandomIdGenerator):
            def generate_trace_id(self) -> int:
                ids = forced.get()
                return ids[0] if ids is not None else super().generate_trace_id()

            def generate_span_id(self) -> int:
                ids = forced.get()
                return ids[1] if ids is not None else super().generate_span_id()

        return RunIdGenerator()


class AttemptTrace:
    """The spans of one claimed run's attempt on a worker. This base class records nothing (tracing
    off: `UNTRACED`); the supervisor calls it all the same."""

    def node(self, event: Mapping[str, Any]) -> None:
        """A node event the run's process wrote (runtime/events.py)."""

    def end(self, status: str, error: Mapping[str, Any] | None = None) -> None:
        """The attempt is over: `completed`, `failed`, `cancelled` or `lease_lost`."""


UNTRACED = AttemptTrace()


def attempt_trace(tracing: Tracing | None, run: ClaimedRun, worker_id: str) -> AttemptTrace:
    """The attempt's spans when this worker traces, else `UNTRACED`."""
    return tracing.attempt(run, worker_id) if tracing is not None else UNTRACED


class _RecordedAttempt(AttemptTrace):
    """`run.attempt`, a child of the attempt's `run.dispatch` (ids derived from the claim), open
    from the supervisor's start to `end`; one `node.execute` child per node that ended, timed by the
    node event's `started_at` and `completed_at`."""

    def __init__(self, tracing: Tracing, run: ClaimedRun, worker_id: str) -> None:
        from opentelemetry import trace  # noqa: PLC0415 - only with tracing on
        from opentelemetry.sdk.trace.sampling import Decision  # noqa: PLC0415 - only with tracing on

        self._trace = trace
        self._tracer = tracing.tracer
        trace_id = run_trace_id(run.run_id)
        # Sampled as the server sampled the dispatch span, a root of the same trace id (the same
        # `OTEL_TRACES_SAMPLER` on both sides decides alike); always, by default.
        decision = tracing.provider.sampler.should_sample(tracing.root, trace_id, "run.dispatch").decision
        self._run: dict[str, AttributeValue] = {
            "dagy.run.id": run.run_id,
            "dagy.run.attempt": run.attempt,
            "dagy.org_id": run.org_id,
        }
        dispatch = trace.SpanContext(
            trace_id,
            dispatch_span_id(run.run_id, run.attempt),
            is_remote=True,
            trace_flags=trace.TraceFlags(
                trace.TraceFlags.SAMPLED
                if decision is Decision.RECORD_AND_SAMPLE
                else trace.TraceFlags.DEFAULT
            ),
        )
        attributes: dict[str, AttributeValue] = {
            **self._run,
            "dagy.flow.name": run.flow_name,
            "dagy.flow.version": run.flow_version,
            "dagy.run.execution_mode": run.execution_mode,
            "dagy.worker.id": worker_id,
        }
        parent = trace.set_span_in_context(trace.NonRecordingSpan(dispatch))
        self._span: Span = self._tracer.start_span("run.attempt", context=parent, attributes=attributes)
        self._context: Context = trace.set_span_in_context(self._span)
        self._ended = False

    def node(self, event: Mapping[str, Any]) -> None:
        if self._ended or event.get("status") not in NODE_ENDS:
            return
        try:  # what the run's process wrote is checked as its node-run report is (no output, no error)
            report = NodeRunReport.model_validate({key: event.get(key) for key in _NODE_FIELDS})
        except ValidationError:
            return
        ended = report.completed_at or report.started_at
        if ended is None:
            return
        started = report.started_at or ended
        attributes: dict[str, AttributeValue] = {
            **self._run,
            "dagy.node.id": report.node_id,
            "dagy.node.type": report.node_type,
            "dagy.node.status": str(report.status),
            "dagy.node.tries": report.tries or 1,
        }
        span = self._tracer.start_span(
            "node.execute", context=self._context, attributes=attributes, start_time=_nanoseconds(started)
        )
        if report.status == NodeRunState.FAILED:
            self._fail(span, event.get("error"))
        span.end(end_time=max(_nanoseconds(ended), _nanoseconds(started)))

    def end(self, status: str, error: Mapping[str, Any] | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self._span.set_attribute("dagy.run.status", status)
        if status == LEASE_LOST:
            self._fail(self._span, {"type": LEASE_LOST})
        elif status == "failed":
            self._fail(self._span, error)
        self._span.end()

    def _fail(self, span: Span, error: object) -> None:
        """The span's status is an error; its type only (a message may quote what it should not)."""
        kind = error.get("type") if isinstance(error, Mapping) else None
        if isinstance(kind, str) and kind:
            span.set_attribute("error.type", kind[:MAX_ERROR_TYPE_CHARS])
        span.set_status(self._trace.StatusCode.ERROR)


_NODE_FIELDS = ("node_id", "node_type", "status", "tries", "started_at", "completed_at")


def _nanoseconds(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime, in integers (a float loses them)."""
    return (moment - EPOCH) // MICROSECOND * 1000


class RequestSpans:
    """Pure ASGI middleware: one SERVER span per HTTP request, named `METHOD /route/template` (the
    template the router matched, never the raw path: ids do not multiply span names, and a webhook's
    path is its token), or `METHOD` alone when no route matched (404, or answered before routing).

    Attributes: `http.request.method`, `http.route`, `http.response.status_code`, `dagy.org_id`
    (the org the caller acted in, when known), `error.type` for a 5xx or an exception. A W3C
    `traceparent` the client sent makes the span its child. `routes` answers (template, route) for
    every route of the app, read once at the first request, when every router is included."""

    def __init__(
        self, app: ASGIApp, tracing: Tracing, routes: Callable[[], Iterable[tuple[str, object]]]
    ) -> None:
        from opentelemetry import trace  # noqa: PLC0415 - only with tracing on
        from opentelemetry.trace.propagation.tracecontext import (  # noqa: PLC0415 - only with tracing on
            TraceContextTextMapPropagator,
        )

        self.app = app
        self._tracer = tracing.tracer
        self._root = tracing.root
        self._server = trace.SpanKind.SERVER
        self._error = trace.StatusCode.ERROR
        self._propagator = TraceContextTextMapPropagator()
        self._routes = routes
        self._templates: dict[int, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.time_ns()
        status: int | None = None

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_and_note)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._record(scope, started, status, failure)

    def _record(self, scope: Scope, started: int, status: int | None, failure: BaseException | None) -> None:
        method = scope["method"] if scope["method"] in HTTP_METHODS else "_OTHER"
        route = self._template(scope)
        code = 500 if status is None else status  # what the server error handler answers
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "http.response.status_code": code,
        }
        if route is not None:
            attributes["http.route"] = route
        org_id = _org_of(scope.get("state") or {})
        if org_id is not None:
            attributes["dagy.org_id"] = org_id
        if code >= 500:
            attributes["error.type"] = type(failure).__qualname__ if failure is not None else str(code)
        name = "HTTP" if method == "_OTHER" else method
        span = self._tracer.start_span(
            f"{name} {route}" if route is not None else name,
            context=self._parent(scope),
            kind=self._server,
            attributes=attributes,
            start_time=started,
        )
        if code >= 500:
            span.set_status(self._error)
        span.end()

    def _template(self, scope: Scope) -> str | None:
        route = scope.get("route")
        if route is None:
            return None
        if self._templates is None:
            self._templates = {id(found): template for template, found in self._routes()}
        template = self._templates.get(id(route)) or getattr(route, "path", None)
        return template if isinstance(template, str) else None

    def _parent(self, scope: Scope) -> Context:
        """The client's trace context (W3C `traceparent`, `tracestate`), else none: a root span."""
        carrier = {}
        for name, value in scope["headers"]:
            if name in (b"traceparent", b"tracestate"):
                carrier[name.decode()] = value.decode("latin-1")
        return self._propagator.extract(carrier, context=self._root) if carrier else self._root


def _org_of(state: Mapping[str, Any]) -> str | None:
    """The org the request acted in: its caller's, or the one a caller without one was counted for
    (api/metering.py reads it the same way)."""
    org_id = getattr(state.get("principal"), "org_id", None) or state.get("usage_org_id")
    return org_id if isinstance(org_id, str) else None
