"""A `for_each`'s direct successor, run once per item.

`max_concurrency` threads take the next item index from one shared counter, so at most that many
items are in flight and nothing per item is created ahead (no futures, no events): a million
items cost a million calls and one result list. The node's output is the per-item outputs in item
order. A failure names its item index; with `fail_fast` no new item starts after it, without it
every item runs and the first failure (by index) is the node's error. On a Dask cluster
(dask_runner.py) each item is a try of its own there, `max_concurrency` of them at once.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dagy.nodes import NodeContext, NodeError
from dagy.runtime.node_call import NodeFailed, TryPolicy, call_with_tries
from dagy.runtime.runners import NodeTry


@dataclass
class MappedCall:
    """The mapped node and everything each of its item calls shares."""

    run: NodeTry  # one try of the node (runners.py)
    config: dict[str, Any]
    policy: TryPolicy
    context: NodeContext
    inputs: dict[str, Any]  # the node's other inputs; `source` gets the item
    source: str
    describe: Callable[[BaseException], dict[str, Any]]


def run_mapped(
    call: MappedCall, items: list[Any], *, max_concurrency: int, fail_fast: bool
) -> tuple[list[Any], int]:
    """Answer the outputs in item order and the most tries any item took; raise NodeFailed."""
    runner = _Items(call, items, fail_fast=fail_fast)
    concurrency = max(1, min(max_concurrency, len(items)))
    threads = [
        threading.Thread(target=runner.work, name=f"dagy-item-{i}", daemon=True)
        for i in range(concurrency - 1)
    ]
    for thread in threads:
        thread.start()
    runner.work()  # this thread takes items too
    for thread in threads:
        thread.join()
    if runner.failures:
        raise _item_failure(runner.failures, fail_fast=fail_fast)
    _check_outputs(runner.results)
    call.context.logger.info("Task %s ran for %d items", call.context.node_id, len(items))
    return runner.results, runner.most_tries


class _Items:
    def __init__(self, call: MappedCall, items: list[Any], *, fail_fast: bool) -> None:
        self.call, self.items, self.fail_fast = call, items, fail_fast
        self.results: list[Any] = [None] * len(items)
        self.failures: list[tuple[int, dict[str, Any], int]] = []
        self.most_tries = 1
        self._counter = itertools.count()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def work(self) -> None:
        call, total = self.call, len(self.items)
        plain = call.policy == TryPolicy()  # no retries, no timeout: call directly, the fast path
        run = call.run
        while not self._stop.is_set():
            index = next(self._counter)  # atomic: each index is taken once
            if index >= total:
                return
            item_inputs = {**call.inputs, call.source: self.items[index]}
            if plain:
                try:
                    self.results[index] = run(item_inputs, call.config, call.context)
                except (Exception, SystemExit) as exc:  # the item's failure, as for any node
                    self._fail(index, call.describe(exc), 1)
                continue
            once = functools.partial(run, item_inputs, call.config, call.context)
            try:
                self.results[index], tries = call_with_tries(once, call.policy, describe=call.describe)
            except NodeFailed as failed:
                self._fail(index, failed.error, failed.tries)
                continue
            self.most_tries = max(self.most_tries, tries)

    def _fail(self, index: int, error: dict[str, Any], tries: int) -> None:
        with self._lock:
            self.failures.append((index, error, tries))
        if self.fail_fast:
            self._stop.set()


def _item_failure(failures: list[tuple[int, dict[str, Any], int]], *, fail_fast: bool) -> NodeFailed:
    index, error, tries = min(failures, key=lambda failure: failure[0])
    error = {**error, "message": f"item {index}: {error.get('message')}", "item_index": index}
    if not fail_fast:
        error["failed_items"] = len(failures)
    return NodeFailed(error, tries)


def _check_outputs(results: list[Any]) -> None:
    """Checked once as a whole; the offending item is looked for only when the whole fails."""
    try:
        json.dumps(results, allow_nan=False)
    except (TypeError, ValueError):
        for index, result in enumerate(results):
            try:
                json.dumps(result, allow_nan=False)
            except (TypeError, ValueError) as exc:
                message = f"item {index}: the node's output is not JSON-serialisable: {exc}"
                raise NodeError("invalid_output", message) from exc
        raise
