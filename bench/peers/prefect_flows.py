"""Prefect 3 equivalents of the flows `bench/sdk.py` times: a trivial task called `n` times in a
row, or submitted `n` times and then waited for; each flow returns the seconds its tasks took.
Imported by `bench/sdk.py --side prefect`, run with bench/peers/.venv-prefect/bin/python
(bench/peers/setup.sh creates it)."""

from __future__ import annotations

import time

from prefect import flow, task


@task
def noop(i: int) -> int:
    return i


@flow
def sequential(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        noop(i)
    return time.perf_counter() - started


@flow
def submitted(n: int) -> float:
    started = time.perf_counter()
    futures = [noop.submit(i) for i in range(n)]
    for future in futures:
        future.result()
    return time.perf_counter() - started
