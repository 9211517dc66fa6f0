"""`get_run_logger()`: standard logging, bound to the flow run and the task run."""

from __future__ import annotations

import logging

import pytest

from dagy import flow, get_run_logger, task


@task
def extract(source: str) -> int:
    get_run_logger().info("read %d rows from %s", 3, source)
    return 3


def test_lines_name_their_task_run_and_carry_the_runs_fields(caplog: pytest.LogCaptureFixture) -> None:
    @flow(name="nightly")
    def nightly() -> None:
        get_run_logger().warning("starting")
        extract("orders.csv")
        extract.submit("refunds.csv").result()

    with caplog.at_level(logging.INFO, logger="dagy.flow"):
        nightly()
    run = nightly.last_run
    assert run is not None
    lines = [(r.name, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("dagy.flow.nightly", "[nightly] starting"),
        ("dagy.flow.nightly", "[extract-1] read 3 rows from orders.csv"),
        ("dagy.flow.nightly", "[extract-2] read 3 rows from refunds.csv"),
    ]
    assert {(r.flow_name, r.flow_run_id) for r in caplog.records} == {("nightly", run.id)}  # type: ignore[attr-defined]
    assert [r.task_run_name for r in caplog.records] == [None, "extract-1", "extract-2"]  # type: ignore[attr-defined]


def test_outside_a_flow_the_logger_is_bound_to_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dagy.flow"):
        assert extract("plain.csv") == 3
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("dagy.flow", "read 3 rows from plain.csv")]
