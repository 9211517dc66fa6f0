"""A real Dask cluster for the tests of the `dask` executor: `distributed.LocalCluster` on loopback
with two worker processes of one thread each, so two nodes that run at once run on two workers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster


@contextmanager
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        with Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster


def worker_addresses(cluster: LocalCluster) -> set[str]:
    return set(cluster.scheduler_info["workers"])
