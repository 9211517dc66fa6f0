"""Submitted and mapped tasks: the flow run's pool, futures as arguments, failures that travel."""

from __future__ import annotations

import threading
import time

import pytest

from dagy import flow, task, wait


@task
def square(x: int) -> int:
    return x * x


@task
def total(values: list[int], offset: int = 0) -> int:
    return sum(values) + offset


def test_submit_runs_on_the_pool_and_returns_a_future() -> None:
    threads: set[int] = set()

    @task
    def where(x: int) -> int:
        threads.add(threading.get_ident())
        return x

    @flow
    def fan_out() -> list[int]:
        futures = [where.submit(i) for i in range(8)]
        assert [f.name for f in futures] == [f"where-{i}" for i in range(1, 9)]
        return [f.result() for f in futures]

    assert fan_out() == list(range(8))
    assert threading.get_ident() not in threads


def test_submitted_tasks_run_concurrently_up_to_max_workers() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    @task
    def nap() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    @flow(max_workers=3)
    def naps() -> None:
        for future in [nap.submit() for _ in range(9)]:
            future.result()

    naps()
    assert peak[0] == 3


def test_map_submits_one_run_per_element_and_futures_as_arguments_are_resolved() -> None:
    @flow
    def pipeline(n: int) -> int:
        squares = square.map(range(n))
        return total.submit(squares, offset=square.submit(10)).result()

    assert pipeline(4) == 0 + 1 + 4 + 9 + 100
    names = [t.name for t in pipeline.last_run.task_runs]  # type: ignore[union-attr]
    assert names == ["square-1", "square-2", "square-3", "square-4", "square-5", "total-1"]


def test_a_future_passed_to_a_plain_call_is_waited_for() -> None:
    @task
    def slow(x: int) -> int:
        time.sleep(0.05)
        return x

    @flow
    def mixed() -> int:
        return total([slow.submit(1), slow.submit(2)], offset=3)

    assert mixed() == 6


def test_map_zips_several_iterables_and_passes_keywords_unchanged() -> None:
    @task
    def line(name: str, count: int, *, unit: str) -> str:
        return f"{count} {unit} of {name}"

    @flow
    def order() -> list[str]:
        return [f.result() for f in line.map(["tea", "rice"], [2, 5], unit="kg")]

    assert order() == ["2 kg of tea", "5 kg of rice"]

    @flow
    def uneven() -> None:
        line.map(["tea"], [1, 2], unit="kg")

    with pytest.raises(ValueError, match="zip"):
        uneven()


def test_a_failed_upstream_skips_its_dependents_and_they_carry_its_error() -> None:
    @task
    def broken() -> int:
        raise LookupError("no such row")

    @flow
    def chain() -> int:
        return total.submit([broken.submit()]).result()

    run = chain.run()
    assert run.status == "failed" and isinstance(run.exception, LookupError)
    statuses = {t.name: t.status for t in run.task_runs}
    assert statuses == {"broken-1": "failed", "total-1": "skipped"}
    assert run.failed_task_run is not None and run.failed_task_run.name == "broken-1"


def test_an_unhandled_failure_of_a_submitted_task_fails_the_flow() -> None:
    @task
    def broken(x: int) -> int:
        if x == 2:
            raise ValueError("two is not allowed")
        return x

    @flow
    def forgetful() -> str:
        broken.map([1, 2, 3])
        return "done"

    @flow
    def careful() -> int:
        futures = broken.map([1, 2, 3])
        return sum(f.result() for f in futures if f.exception() is None)

    with pytest.raises(ValueError, match="two is not allowed"):
        forgetful()
    assert careful() == 4


def test_no_submitted_task_outlives_its_flow_run() -> None:
    finished = []

    @task
    def late() -> None:
        time.sleep(0.1)
        finished.append(1)

    @flow
    def hasty() -> str:
        late.submit()
        return "returned"

    assert hasty() == "returned" and finished == [1]
    assert hasty.last_run.task_runs[0].status == "completed"  # type: ignore[union-attr]


def test_wait_returns_done_and_pending_futures_without_raising() -> None:
    gate = threading.Event()

    @task
    def blocked() -> None:
        gate.wait(5)

    @task
    def fails() -> None:
        raise ValueError("x")

    @flow
    def waiting() -> tuple[int, int]:
        slow, quick = blocked.submit(), fails.submit()
        done, pending = wait([slow, quick], timeout=0.2)
        gate.set()
        assert quick.exception() is not None
        return len(done), len(pending)

    assert waiting() == (1, 1)


def test_tasks_may_submit_tasks() -> None:
    @task
    def children(n: int) -> list[int]:
        return [f.result() for f in square.map(range(n))]

    @flow
    def nested() -> list[int]:
        return children.submit(3).result()

    assert nested() == [0, 1, 4]
    assert len(nested.last_run.task_runs) == 4  # type: ignore[union-attr]


def test_submit_outside_a_flow_runs_at_once() -> None:
    future = square.submit(4)
    assert future.done() and future.result() == 16
    assert [f.result() for f in square.map([1, 2])] == [1, 4]


def test_a_subflow_resolves_the_futures_its_parent_hands_it() -> None:
    @flow
    def child(value: object) -> int:
        return total([value])  # type: ignore[list-item]

    @flow
    def parent() -> int:
        return child(square.submit(3))

    assert parent() == 9
