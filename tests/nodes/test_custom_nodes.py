"""shell_command running real commands in the run's directory, and subflow handing its flow to the
run's subflow runner (here a function of the test standing in for the runtime's)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from dagy.nodes import HostSettings, NodeContext, NodeError
from dagy.nodes.custom import ShellCommandNode, SubflowNode

LOGGER = "tests.shell"


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The run's directory: a run process works in a fresh directory of its own."""
    directory = tmp_path / "run"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def context(env: dict[str, str] | None = None, run_subflow: Any = None) -> NodeContext:
    return NodeContext(
        run_id="run-9",
        node_id="step",
        params={},
        logger=logging.getLogger(LOGGER),
        env=env or {},
        settings=HostSettings(),
        run_subflow=run_subflow,
    )


def shell(
    command: str, inputs: dict[str, Any] | None = None, ctx: NodeContext | None = None, **data: Any
) -> Any:
    return ShellCommandNode().run(inputs or {}, {"command": command, **data}, ctx or context())


def failure_of(command: str, **data: Any) -> NodeError:
    with pytest.raises(NodeError) as failure:
        shell(command, **data)
    return failure.value


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for its reaper has ended too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_until_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- shell_command --------------------------------------------------------------------------------


def test_the_output_is_stdout_stripped_and_each_line_reaches_the_log(
    run_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    output = shell("echo first; echo second; echo oops >&2; pwd")
    assert output == f"first\nsecond\n{run_dir.resolve()}"
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert ("INFO", "first") in lines and ("INFO", "second") in lines and ("WARNING", "oops") in lines


def test_json_output_is_parsed_and_bad_json_fails(run_dir: Path) -> None:
    assert shell("""echo '{"rows": [1, 2], "ok": true}'""", output_format="json") == {
        "rows": [1, 2],
        "ok": True,
    }
    failure = failure_of("echo not json", output_format="json")
    assert failure.error_type == "invalid_json_output"


def test_the_input_arrives_on_stdin_as_json(run_dir: Path) -> None:
    rows = [{"id": 1, "name": "Zoë"}, {"id": 2, "name": "Li"}]
    assert shell("cat", {"load": rows}, output_format="json") == rows
    assert shell("cat", {"a": 1, "b": "x"}, output_format="json") == {"a": 1, "b": "x"}
    assert shell("cat; echo end") == "end"  # no input: stdin is empty


def test_the_environment_is_the_process_then_the_deployment_then_the_node(run_dir: Path) -> None:
    ctx = context(env={"REGION": "eu", "TIER": "gold"})
    output = shell(
        'echo "$REGION $TIER $EXTRA"; command -v cat', ctx=ctx, env={"TIER": "silver", "EXTRA": "1"}
    )
    first, cat_path = output.splitlines()
    assert first == "eu silver 1"
    assert cat_path.endswith("/cat")  # PATH came from the run process


def test_sh_runs_the_command_too(run_dir: Path) -> None:
    assert shell('printf "%s" "$0"', shell="sh").endswith("sh")  # noqa: S604 - the node's shell setting


def test_a_failing_command_fails_with_its_exit_code_and_stderr_tail(run_dir: Path) -> None:
    failure = failure_of("for i in $(seq 1 50); do echo line$i >&2; done; exit 3")
    assert failure.error_type == "command_failed"
    assert "exited with code 3" in failure.message
    assert failure.message.endswith("line31\nline32" + "".join(f"\nline{i}" for i in range(33, 51)))
    assert "line30\n" not in failure.message


def test_a_timeout_kills_the_whole_process_group_quickly(run_dir: Path) -> None:
    # bash runs sh, which starts `sleep 30` in the background and waits: a child of a child.
    command = "sh -c 'sleep 30 & echo $! > grandchild.pid; wait'"
    started = time.monotonic()
    failure = failure_of(command, timeout_seconds=0.5)
    assert failure.error_type == "timeout"
    assert time.monotonic() - started < 3
    assert wait_until_gone(int((run_dir / "grandchild.pid").read_text()))


def test_background_jobs_end_with_the_command(run_dir: Path) -> None:
    pid = int(shell("sleep 30 > /dev/null 2>&1 & echo $!"))
    assert wait_until_gone(pid)


def test_output_past_10_mb_is_cut_with_a_marker(run_dir: Path) -> None:
    output = shell("head -c 11000000 /dev/zero | tr '\\0' a")
    assert output.startswith("a" * 1000) and output.endswith(
        "[output truncated: only its first 10 MB are kept]"
    )
    assert len(output.split("\n")[0]) == 10 * 1024 * 1024
    assert failure_of("head -c 11000000 /dev/zero", output_format="json").error_type == "invalid_json_output"


def test_the_working_dir_is_inside_the_run_directory(run_dir: Path) -> None:
    (run_dir / "data" / "raw").mkdir(parents=True)
    assert shell("pwd", working_dir="data/raw") == str((run_dir / "data" / "raw").resolve())
    (run_dir / "outside").symlink_to(run_dir.parent)
    for working_dir in ("/tmp", "../", "data/../../x", "outside", "missing"):
        failure = failure_of("pwd", working_dir=working_dir)
        assert failure.error_type == "invalid_working_dir", working_dir


def test_validation_reports_bad_shell_settings() -> None:
    problems = ShellCommandNode.validate(
        {"command": "ls", "working_dir": "/etc", "env": {"A": 1}, "timeout_seconds": 0}
    )
    assert set(problems) == {"working_dir", "env", "timeout_seconds"}
    assert ShellCommandNode.validate({"command": "ls", "working_dir": "out/x", "env": {"A": "1"}}) == {}


def test_env_values_must_be_strings(run_dir: Path) -> None:
    assert failure_of("true", env={"PORT": 8080}).error_type == "invalid_config"


# --- subflow --------------------------------------------------------------------------------------


class ChildFlows:
    """The test's own subflow runner: it records each call and answers like a finished child flow."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []

    def __call__(self, flow_name: str, flow_version: str | None, parameters: dict[str, Any]) -> Any:
        self.calls.append((flow_name, flow_version, parameters))
        return {"flow": flow_name, "total": sum(v for v in parameters.values() if isinstance(v, int))}


def test_a_subflow_runs_with_its_parameters_and_an_object_input_on_top() -> None:
    children = ChildFlows()
    config = {"flow_name": "enrich", "flow_version": "3", "parameters": {"limit": 10, "region": "eu"}}
    output = SubflowNode().run({"load": {"region": "us", "batch": 5}}, config, context(run_subflow=children))
    assert output == {"flow": "enrich", "total": 15}
    assert children.calls == [("enrich", "3", {"limit": 10, "region": "us", "batch": 5})]


def test_a_subflow_ignores_an_input_that_is_not_an_object() -> None:
    children = ChildFlows()
    SubflowNode().run({"load": [1, 2, 3]}, {"flow_name": "enrich"}, context(run_subflow=children))
    assert children.calls == [("enrich", None, {})]


def test_a_subflow_without_a_runner_fails_plainly() -> None:
    with pytest.raises(NodeError) as failure:
        SubflowNode().run({}, {"flow_name": "enrich"}, context())
    assert failure.value.error_type == "subflow_unavailable"


def test_the_subflow_definition_has_no_wait_field() -> None:
    assert "wait" not in {f.name for f in SubflowNode.definition.config_schema}
