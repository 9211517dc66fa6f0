"""A `for_each`'s direct successor, run once per item.

`max_concurrency` threads take the next item index from one shared counter, so at most that many
items are in flight and nothing per item is created ahead (no futures, no events): a million
items cost a million calls and one result list. The node's output is the per-item outputs in item
order. A failure names its item index; with `fail_fast` no new item starts after it, without it
every item runs and the first failure (by index) is the node's error.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

from dagy.nodes import ExecutableNode, NodeContext, NodeError
from dagy.runtime.node_call import NodeFailed, TryPolicy, call_with_tries


def run_mapped(
    node: ExecutableNode,
    config: dict[str, Any],
    policy: TryPolicy,
    context: NodeContext,
    inputs: dict[str, Any],
    *,
    source: str,
    items: list[Any],
    options: dict[str, Any],
    describe: Callable[[BaseException], dict[str, Any]],
) -> tuple[list[Any], int]:
    """Answer the outputs in item order and the most tries any item took; raise NodeFailed."""
    plain = policy == TryPolicy()  # no retries, no timeout: call directly, the common fast path
    run, total = node.run, len(items)
    results: list[Any] = [None] * total
    failures: list[tuple[int, dict[str, Any], int]] = []
    most_tries = [1]
    counter = itertools.count()
    stop = threading.Event()
    lock = threading.Lock()

    def fail(index: int, error: dict[str, Any], tries: int) -> None:
        with lock:
            failures.append((index, error, tries))
        if options["fail_fast"]:
            stop.set()

    def work() -> None:
        while not stop.is_set():
            index = next(counter)  # atomic: each index is taken once
            if index >= total:
                return
            item_inputs = {**inputs, source: items[index]}
            if plain:
                try:
                    results[index] = run(item_inputs, config, context)
                except (Exception, SystemExit) as exc:  # the item's failure, as for any node
                    fail(index, describe(exc), 1)
                continue
            try:
                once = functools.partial(run, item_inputs, config, context)
                results[index], tries = call_with_tries(once, policy, describe=describe)
            except NodeFailed as failed:
                fail(index, failed.error, failed.tries)
                continue
            most_tries[0] = max(most_tries[0], tries)

    concurrency = max(1, min(int(options["max_concurrency"]), total))
    threads = [
        threading.Thread(target=work, name=f"dagy-item-{i}", daemon=True) for i in range(concurrency - 1)
    ]
    for thread in threads:
        thread.start()
    work()  # this thread takes items too
    for thread in threads:
        thread.join()
    if failures:
        raise _item_failure(failures, fail_fast=options["fail_fast"])
    _check_outputs(results)
    context.logger.info("[dagy] %s ran for %d items", context.node_id, len(items))
    return results, most_tries[0]


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
