"""Prefect 3 equivalents of the flows `bench/sdk.py` times: a trivial task called `n` times in a
row, or submitted `n` times and then waited for. Imported by `bench/sdk.py --side prefect`, run
with bench/peers/.venv-prefect/bin/python (bench/peers/setup.sh creates it)."""

from __future__ import annotations

from prefect import flow, task


@task
def noop(i: int) -> int:
    return i


@flow
def sequential(n: int) -> None:
    for i in range(n):
        noop(i)


@flow
def submitted(n: int) -> None:
    futures = [noop.submit(i) for i in range(n)]
    for future in futures:
        future.result()
