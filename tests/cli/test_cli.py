"""The `dagy` command end to end: real subprocesses against a real `dagy server` (tests/cli/conftest.py)."""

from __future__ import annotations

import json
import stat

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.factories import unique

pytestmark = pytest.mark.slow


def test_version_and_help_need_no_server(cli: Cli) -> None:
    assert cli.ok("--version").strip() == "dagy 0.1.0"
    assert "Examples" in cli.ok("runs", "trigger", "--help")


def test_login_by_email_stores_a_private_profile_and_whoami_reads_it(
    cli: Cli, owner: tuple[str, str]
) -> None:
    email, org_id = owner
    cli.ok("login", "--url", cli.server.url, "--email", email)
    profiles = cli.config_dir / "profiles.json"
    assert stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(profiles.stat().st_mode) == 0o600
    stored = json.loads(profiles.read_text())["profiles"]["default"]
    assert stored["kind"] == "session" and stored["expires_at"]

    me = cli.json("whoami")
    assert me["user_email"] == email and me["org_id"] == org_id and me["role"] == "owner"

    cli.ok("logout")
    assert cli.run("whoami").returncode == 3


def test_login_with_an_api_key_and_the_environment_overrides(cli: Cli, owner: tuple[str, str]) -> None:
    email, org_id = owner
    token = httpx.post(f"{cli.server.url}/v1/auth/login", json={"email": email}).json()["access_token"]
    created = httpx.post(
        f"{cli.server.url}/v1/api-keys",
        json={"name": unique("key"), "scopes": ["flows.read", "runs.read"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]

    cli.ok("--profile", "ci", "login", "--url", cli.server.url, "--api-key", "-", input=key + "\n")
    assert cli.json("--profile", "ci", "whoami")["org_id"] == org_id
    assert cli.run("whoami").returncode == 3  # the default profile is not logged in

    cli.env = {"DAGY_API_URL": cli.server.url, "DAGY_API_KEY": key}
    assert cli.json("flows", "list") == {"items": [], "next_token": None}


def test_not_logged_in_exits_3_and_unreachable_exits_5(cli: Cli) -> None:
    done = cli.run("flows", "list")
    assert done.returncode == 3
    assert "not logged in" in done.stderr and "Traceback" not in done.stderr

    cli.env = {"DAGY_API_URL": "http://127.0.0.1:9", "DAGY_API_KEY": "dagy_sk_x_nothing"}
    done = cli.run("flows", "list")
    assert done.returncode == 5, done.stderr


def test_a_missing_object_exits_4_with_the_api_message(logged_in: Cli) -> None:
    done = logged_in.run("flows", "show", "no-such-flow")
    assert done.returncode == 4
    assert "not found" in done.stderr.lower() and "Traceback" not in done.stderr
    assert logged_in.run("runs", "show", "run_nothing").returncode == 4


def test_refused_input_exits_1_with_the_details(logged_in: Cli) -> None:
    done = logged_in.run("deployments", "settings", "nope", "--mode", "huge")
    assert done.returncode == 1, done.stderr
    assert "invalid_input" in done.stderr and "execution_mode:" in done.stderr


def test_a_failed_registration_aborts_the_upload_and_exits_1(logged_in: Cli) -> None:
    project = logged_in.cwd / "badcron"
    logged_in.ok("init", str(project), "--name", "badcron")
    done = logged_in.run("deploy", str(project), "--schedule", "not a cron")
    assert done.returncode == 1
    assert "aborted" in done.stderr and "schedule:" in done.stderr
    assert logged_in.run("flows", "show", "badcron").returncode == 4


def test_init_deploy_skip_trigger_logs_and_listings(logged_in: Cli) -> None:
    project = logged_in.cwd / "hello"
    logged_in.ok("init", str(project), "--name", "hello")
    assert {p.name for p in project.iterdir()} == {"dagy.yaml", "hello_flow.py", ".dagyignore"}
    (project / "notes.log").write_text("left out")
    (project / ".gitignore").write_text("*.log\n")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "x.pyc").write_bytes(b"\0")

    dry = logged_in.json("deploy", str(project), "--dry-run")
    assert [f["path"] for f in dry["files"]] == [".dagyignore", ".gitignore", "dagy.yaml", "hello_flow.py"]
    assert logged_in.json("deploy", str(project), "--dry-run")["code_hash"] == dry["code_hash"]

    deployed = logged_in.json("deploy", str(project))
    assert deployed["flow_name"] == "hello" and deployed["flow_version"] == "1"
    assert deployed["deployment_name"] == "hello" and deployed["code_hash"] == dry["code_hash"]

    again = logged_in.run("deploy", str(project), "--output", "json")
    assert again.returncode == 0, again.stderr
    assert "nothing uploaded" in again.stderr
    assert json.loads(again.stdout)["flow_version"] == "1"
    versions = logged_in.json("flows", "versions", "hello")["items"]
    assert [v["flow_version"] for v in versions] == ["1"]

    run = logged_in.json("runs", "trigger", "hello", "-p", "who=Ada", "-p", "times=2", "--wait")
    assert run["status"] == "completed", run
    assert run["parameters"] == {"who": "Ada", "times": 2}
    assert run["output"] == {"message": "HELLO, ADA HELLO, ADA"}

    logs = logged_in.ok("runs", "logs", run["run_id"])
    assert "greeting Ada" in logs
    quiet = logged_in.ok("runs", "trigger", "hello", "-p", "who=Bo", "--wait", "--quiet").strip()
    assert "greeting Bo" in logged_in.ok("runs", "logs", quiet)

    flows = logged_in.json("flows", "list")
    assert [f["flow_name"] for f in flows["items"]] == ["hello"]

    (project / "hello_flow.py").write_text((project / "hello_flow.py").read_text() + "\n# changed\n")
    assert logged_in.json("deploy", str(project))["flow_version"] == "2"
    assert logged_in.json("deployments", "show", "hello")["flow_version"] == "2"


def test_runs_trigger_wait_exits_1_when_the_run_fails(logged_in: Cli) -> None:
    project = logged_in.cwd / "boom"
    logged_in.ok("init", str(project), "--name", "boom")
    done = logged_in.run("deploy", str(project))
    assert done.returncode == 0, done.stderr
    failed = logged_in.run("runs", "trigger", "boom", "-p", "times=not-a-number", "--wait", "-o", "json")
    assert failed.returncode == 1, failed.stderr


def test_secrets_set_from_stdin_then_list(logged_in: Cli) -> None:
    logged_in.ok("secrets", "set", "API_TOKEN", input="s3cr3t-value\n")
    logged_in.ok("secrets", "set", "API_TOKEN", input="another\n")  # replaces
    listed = logged_in.json("secrets", "list")
    assert [s["secret_name"] for s in listed["items"]] == ["API_TOKEN"]
    assert "s3cr3t" not in json.dumps(listed)
    logged_in.ok("secrets", "delete", "API_TOKEN", "--yes")
    assert logged_in.json("secrets", "list")["items"] == []
    assert "rotate-key" in logged_in.ok("secrets", "--help")


def test_objects_round_trip(logged_in: Cli) -> None:
    source = logged_in.cwd / "orders.csv"
    source.write_bytes(b"id,qty\n1,3\n")
    logged_in.ok("objects", "put", str(source), "data/orders.csv")
    listed = logged_in.json("objects", "ls", "data/")
    assert [(o["key"], o["size"]) for o in listed["items"]] == [("data/orders.csv", 11)]
    logged_in.ok("objects", "get", "data/orders.csv", "copy.csv")
    assert (logged_in.cwd / "copy.csv").read_bytes() == source.read_bytes()
    assert logged_in.ok("objects", "get", "data/orders.csv", "-") == "id,qty\n1,3\n"
    logged_in.ok("objects", "rm", "data/orders.csv")
    assert logged_in.run("objects", "get", "data/orders.csv", "gone.csv").returncode == 4
    assert not (logged_in.cwd / "gone.csv").exists()


def test_a_deployment_schedule_can_be_paused_and_resumed(logged_in: Cli) -> None:
    project = logged_in.cwd / "daily"
    logged_in.ok("init", str(project), "--name", "daily")
    logged_in.ok("deploy", str(project), "--schedule", "0 6 * * *")
    schedules = logged_in.json("schedules", "list", "--flow", "daily")["items"]
    assert len(schedules) == 1 and schedules[0]["enabled"] is True
    schedule_id = schedules[0]["schedule_id"]
    logged_in.ok("schedules", "pause", schedule_id)
    assert logged_in.json("schedules", "show", schedule_id)["enabled"] is False
    assert [s["schedule_id"] for s in logged_in.json("schedules", "list", "--paused")["items"]] == [
        schedule_id
    ]
    logged_in.ok("schedules", "resume", schedule_id)
    assert logged_in.json("schedules", "show", schedule_id)["enabled"] is True
