"""Tasks called inside a local flow run: records, naming, failures, retries, timeouts, the cache."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time

import pytest

from dagy import TaskTimeoutError, flow, task


@task
def add(a: int, b: int) -> int:
    return a + b


@task(name="times")
def multiply(a: int, b: int) -> int:
    return a * b


def test_a_flow_returns_its_value_and_records_its_task_runs_in_call_order() -> None:
    @flow
    def arithmetic(x: int) -> int:
        return multiply(add(x, 1), add(x, 2))

    assert arithmetic(1) == 6
    run = arithmetic.last_run
    assert run is not None and run.status == "completed" and run.return_value == 6
    assert [(t.name, t.task_name, t.status, t.tries, t.result) for t in run.task_runs] == [
        ("add-1", "add", "completed", 1, 2),
        ("add-2", "add", "completed", 1, 3),
        ("times-1", "times", "completed", 1, 6),
    ]
    assert all(t.duration_seconds is not None and t.duration_seconds >= 0 for t in run.task_runs)
    assert run.parameters == {"x": 1} and run.flow_name == "arithmetic"


def test_tasks_run_in_the_callers_thread_and_keep_their_signature() -> None:
    threads = []

    @task
    def where() -> str:
        threads.append(threading.get_ident())
        return "here"

    @flow(name="threads", version="3")
    def caller() -> str:
        return where()

    assert caller() == "here" and threads == [threading.get_ident()]
    assert caller.name == "threads" and caller.version == "3" and caller.__name__ == "caller"
    assert add.__name__ == "add" and add.__doc__ is None and add.fn(2, 3) == 5


def test_a_task_called_outside_a_flow_is_a_plain_call() -> None:
    calls = []

    @task(retries=3)
    def flaky() -> None:
        calls.append(1)
        raise ValueError("no")

    assert add(2, 3) == 5
    with pytest.raises(ValueError, match="no"):
        flaky()
    assert calls == [1]  # no retries outside a flow run


def test_a_raising_task_fails_the_flow_after_being_recorded() -> None:
    @task
    def explode(n: int) -> int:
        raise RuntimeError(f"exploded at {n}")

    @flow
    def doomed() -> int:
        add(1, 1)
        explode(7)
        return add(2, 2)  # never reached

    with pytest.raises(RuntimeError, match="exploded at 7"):
        doomed()
    run = doomed.last_run
    assert run is not None and run.status == "failed" and isinstance(run.exception, RuntimeError)
    assert [(t.name, t.status) for t in run.task_runs] == [("add-1", "completed"), ("explode-1", "failed")]
    assert run.failed_task_run is run.task_runs[1] and run.task_runs[1].exception is run.exception
    with pytest.raises(RuntimeError):
        run.result()


def test_run_returns_the_record_instead_of_raising() -> None:
    @flow
    def bad() -> None:
        raise KeyError("missing")

    run = bad.run()
    assert run.status == "failed" and isinstance(run.exception, KeyError) and run.failed_task_run is None


def test_a_failure_the_flow_catches_does_not_fail_it() -> None:
    @task
    def explode() -> None:
        raise ValueError("caught")

    @flow
    def careful() -> str:
        try:
            explode()
        except ValueError:
            return "recovered"
        return "unreachable"

    assert careful() == "recovered"
    assert careful.last_run is not None and careful.last_run.status == "completed"
    assert careful.last_run.task_runs[0].status == "failed"


def test_retries_wait_between_tries_and_count_them() -> None:
    tries: list[float] = []

    @task(retries=2, retry_delay_seconds=0.05)
    def third_time_lucky() -> str:
        tries.append(time.monotonic())
        if len(tries) < 3:
            raise ConnectionError("flaky")
        return "ok"

    @flow
    def patient() -> str:
        return third_time_lucky()

    assert patient() == "ok"
    record = patient.last_run.task_runs[0]  # type: ignore[union-attr]
    assert (record.status, record.tries, record.exception) == ("completed", 3, None)
    assert all(later - earlier >= 0.045 for earlier, later in itertools.pairwise(tries))


def test_retries_run_out_and_the_last_error_fails_the_task() -> None:
    @task(retries=1, retry_delay_seconds=[0])
    def never() -> None:
        raise ConnectionError("down")

    @flow
    def hopeless() -> None:
        never()

    run = hopeless.run()
    assert run.status == "failed" and str(run.exception) == "down"
    assert (run.task_runs[0].status, run.task_runs[0].tries) == ("failed", 2)


def test_a_task_over_its_timeout_fails_clearly_and_may_be_retried() -> None:
    release = threading.Event()
    tries = []

    @task(timeout_seconds=0.3, retries=1)
    def slow_then_fast() -> str:
        tries.append(1)
        if len(tries) == 1:
            release.wait(5)  # the abandoned first try
        return "fast"

    @task(timeout_seconds=0.05)
    def hangs() -> None:
        release.wait(5)

    @flow
    def timed() -> str:
        return slow_then_fast()

    @flow
    def stuck() -> None:
        hangs()

    try:
        assert timed() == "fast"
        assert timed.last_run.task_runs[0].tries == 2  # type: ignore[union-attr]
        started = time.monotonic()
        run = stuck.run()
        assert time.monotonic() - started < 2
        assert run.status == "failed" and isinstance(run.exception, TaskTimeoutError)
        assert "'hangs-1' did not finish within its timeout of 0.05 s" in str(run.exception)
    finally:
        release.set()


def test_a_timed_task_still_sees_its_run() -> None:
    from dagy import get_run_logger

    @task(timeout_seconds=5)
    def named() -> str:
        return str(get_run_logger().extra["task_run_name"])  # type: ignore[index]

    @flow
    def outer() -> str:
        return named()

    assert outer() == "named-1"


def test_the_cache_returns_an_earlier_result_within_one_flow_run() -> None:
    calls = []

    @task(cache_key_fn=lambda city, **_: city.lower())
    def forecast(city: str, *, unit: str = "C") -> str:
        calls.append(city)
        return f"{city}: 21 {unit}"

    @flow
    def weather() -> list[str]:
        return [forecast("Paris"), forecast("PARIS", unit="F"), forecast("Oslo")]

    assert weather() == ["Paris: 21 C", "Paris: 21 C", "Oslo: 21 C"]
    assert calls == ["Paris", "Oslo"]
    assert [t.cached for t in weather.last_run.task_runs] == [False, True, False]  # type: ignore[union-attr]
    weather()  # a new flow run starts with an empty cache
    assert calls == ["Paris", "Oslo", "Paris", "Oslo"]


def test_a_cache_key_of_none_and_a_failure_are_not_cached() -> None:
    calls = []

    @task(cache_key_fn=lambda n: None if n < 0 else n)
    def check(n: int) -> int:
        calls.append(n)
        if n == 13:
            raise ValueError("unlucky")
        return n

    @flow
    def checks() -> None:
        check(-1)
        check(-1)
        for _ in range(2):
            with contextlib.suppress(ValueError):
                check(13)

    checks()
    assert calls == [-1, -1, 13, 13]


def test_subflows_name_their_task_runs_under_their_own_name() -> None:
    @flow
    def inner(x: int) -> int:
        return add(x, x)

    @flow
    def outer() -> int:
        return inner(1) + inner(2) + add(0, 0)

    assert outer() == 6
    assert inner.last_run is not None and [t.name for t in inner.last_run.task_runs] == ["inner-2/add-1"]
    assert [t.name for t in outer.last_run.task_runs] == ["add-1"]  # type: ignore[union-attr]


def test_decorators_reject_what_they_cannot_run() -> None:
    async def coroutine() -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        task(coroutine)
    with pytest.raises(TypeError, match="async"):
        flow(coroutine)
    with pytest.raises(ValueError, match="retries"):
        task(retries=-1)(lambda: None)
    with pytest.raises(ValueError, match="timeout_seconds"):
        task(timeout_seconds=0)(lambda: None)
