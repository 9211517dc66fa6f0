"""Execution-mode limits (the table, a host's overrides, the claim's), secret redaction, and the
spare run process (started ahead, never shared by two runs)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from dagy.client import WorkerApi
from dagy.protocol import ClaimedRun, ExecutionLimits
from dagy.runtime import Redactor
from dagy.runtime.limits import EXECUTION_MODE_LIMITS, limits_for, parse_mode_limits
from dagy.server.settings import Settings
from dagy.worker import RunSupervisor, WorkerConfig
from dagy.worker.processes import Launcher
from tests.payloads import claimed_run


def claimed(mode: str, limits: dict[str, int]) -> ClaimedRun:
    return claimed_run(
        execution_mode=mode,
        limits=ExecutionLimits(**limits),
        secrets={"a": "short", "b": "short-and-longer"},
    )


def test_the_table_and_its_overrides() -> None:
    assert limits_for("medium") == {"memory_mb": 2048, "timeout_seconds": 3600, "max_processes": 2048}
    assert limits_for("unknown") == EXECUTION_MODE_LIMITS["nano"]
    assert limits_for("nano", {"nano": {"timeout_seconds": 5}}) == {
        "memory_mb": 256,
        "timeout_seconds": 5,
        "max_processes": 256,
    }
    assert parse_mode_limits('{"large": {"memory_mb": 100}}') == {"large": {"memory_mb": 100}}
    assert parse_mode_limits("") == {}
    for bad in ('{"huge": {}}', '{"nano": {"cpu": 1}}', '{"nano": {"memory_mb": 0}}', "[]"):
        with pytest.raises(ValueError, match=r"nano|huge|object"):
            parse_mode_limits(bad)


def test_a_bad_limits_setting_stops_the_server_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="execution_mode_limits"):
        Settings(home=tmp_path, execution_mode_limits={"nano": {"memory_mb": -1}})


def test_the_hosts_override_wins_over_the_claim_which_wins_over_the_table() -> None:
    async def limits_of(config: WorkerConfig, run: ClaimedRun) -> dict[str, float]:
        api = WorkerApi(config.url, config.token)
        try:
            return RunSupervisor(api, config, run, 1.0).limits
        finally:
            await api.aclose()

    plain = WorkerConfig(url="http://127.0.0.1:1", token="t")
    tuned = WorkerConfig(url="http://127.0.0.1:1", token="t", mode_limits={"small": {"timeout_seconds": 7}})
    run = claimed("small", {"memory_mb": 999, "timeout_seconds": 60})
    table = {"memory_mb": 1024, "timeout_seconds": 900, "max_processes": 1024}
    assert (
        asyncio.run(limits_of(plain, claimed("small", {"memory_mb": 1024, "timeout_seconds": 900}))) == table
    )
    assert asyncio.run(limits_of(plain, run)) == {**table, "memory_mb": 999, "timeout_seconds": 60}
    assert asyncio.run(limits_of(tuned, run)) == {**table, "memory_mb": 999, "timeout_seconds": 7}


def test_secrets_are_masked_longest_first() -> None:
    redact = Redactor(["short", "short-and-longer", ""])
    assert redact("a short-and-longer and a short one") == "a *** and a *** one"
    assert Redactor([])("nothing to hide") == "nothing to hide"
    assert redact.error({"message": "short", "attempt": 2}) == {"message": "***", "attempt": 2}


def test_the_spare_process_is_handed_out_once_and_replaced() -> None:
    async def scenario() -> tuple[int, int, bool]:
        launcher = Launcher(WorkerConfig(url="http://127.0.0.1:1", token="t"))
        launcher.prepare()
        first = await launcher.take()
        second = await launcher.take()
        try:
            return first.process.pid, second.process.pid, first.alive and second.alive
        finally:
            for started in (first, second):
                await started.discard()
            await launcher.close()
            assert not Path(first.workdir).exists()

    first, second, alive = asyncio.run(scenario())
    assert first != second and alive
