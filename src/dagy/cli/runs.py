"""`dagy runs trigger|list|show|cancel|logs`."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from dagy.cli import output
from dagy.cli.context import Api, connect
from dagy.cli.exits import CliError, ExitCode
from dagy.cli.options import Every, Limit, NextToken
from dagy.cli.output import Format, OutputOption

app = typer.Typer(help="Runs: trigger, follow, inspect, cancel.", no_args_is_help=True)

TERMINAL = frozenset({"completed", "failed", "cancelled"})
COLUMNS = ["run_id", "flow_name", "flow_version", "status", "trigger", "created_at", "duration_seconds"]
POLL_SECONDS = 0.5
LOG_POLL_SECONDS = 1.0


def parse_parameters(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; a value that parses as JSON is that JSON (`n=3`, `xs=[1,2]`), else a string."""
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="-p")
        try:
            parameters[key] = json.loads(text)
        except ValueError:
            parameters[key] = text
    return parameters


@app.command()
def trigger(  # noqa: PLR0917 - a typer command: one parameter per option
    flow: Annotated[str | None, typer.Argument(help="The flow (its latest version).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value, the value JSON when it parses. Repeatable."),
    ] = None,
    deployment: Annotated[
        str | None, typer.Option("--deployment", "-d", help="Run this deployment's version instead.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="A flow version (default: latest).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait for the run to finish.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up waiting after this many seconds.")] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the run id (for scripts).")
    ] = False,
    output_format: OutputOption = Format.table,
) -> None:
    """Start a run. With --wait, exit 0 when it completes and 1 when it fails or is cancelled.

    Examples:

      dagy runs trigger hello -p who=Ada -p times=3 --wait

      dagy runs trigger --deployment hello-prod -p 'cities=["Oslo", "Lima"]'

      RUN_ID=$(dagy runs trigger hello --quiet) && dagy runs logs "$RUN_ID" --follow
    """
    if (flow is None) == (deployment is None):
        raise typer.BadParameter("give FLOW or --deployment (one of them)")
    body: dict[str, Any] = {"parameters": parse_parameters(param or [])}
    body |= {"deployment": deployment} if deployment else {"flow_name": flow}
    if version:
        body["flow_version"] = version
    with connect() as api:
        run = api.call("POST", "/runs", json=body)
        output.note(f"run {run['run_id']} ({run['run_slug']}) {run['status']}")
        if wait:
            run = _wait(api, run["run_id"], timeout)
    if quiet:
        output.out.print(run["run_id"])
    else:
        output.show(run, output_format, title=f"run {run['run_id']}")
    if wait and run["status"] != "completed":
        raise typer.Exit(int(ExitCode.FAILED))


def _wait(api: Api, run_id: str, timeout: float | None) -> dict[str, Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    with output.err.status(f"run {run_id}: waiting") as spinner:
        while True:
            run: dict[str, Any] = api.get(f"/runs/{run_id}")
            if run["status"] in TERMINAL:
                break
            spinner.update(f"run {run_id}: {run['status']}")
            if deadline is not None and time.monotonic() > deadline:
                raise CliError(f"run {run_id} is still {run['status']} after {timeout:g} s")
            time.sleep(POLL_SECONDS)
    colour = "green" if run["status"] == "completed" else "red"
    output.note(f"run {run_id} [{colour}]{run['status']}[/{colour}]")
    return run


@app.command("list")
def list_runs(  # noqa: PLR0917 - a typer command: one parameter per option
    flow: Annotated[str | None, typer.Option("--flow", "-f", help="Only this flow's runs.")] = None,
    status: Annotated[
        str | None, typer.Option(help="queued, running, completed, failed, cancelled, pending.")
    ] = None,
    limit: Limit = 20,
    next_token: NextToken = None,
    every: Every = False,
    output_format: OutputOption = Format.table,
) -> None:
    """Runs, newest first.

    Examples:

      dagy runs list --flow hello --status failed

      dagy runs list -o json
    """
    with connect() as api:
        body = api.page(
            "/runs", limit=limit, next_token=next_token, every=every, flow_name=flow, status=status
        )
    output.listing(body, COLUMNS, output_format, title="runs")


@app.command()
def show(run_id: str, output_format: OutputOption = Format.table) -> None:
    """A run: status, parameters, output or error.

    Example:

      dagy runs show run_0123
    """
    with connect() as api:
        body = api.get(f"/runs/{run_id}")
    output.show(body, output_format, title=f"run {run_id}")


@app.command()
def cancel(run_id: str, output_format: OutputOption = Format.table) -> None:
    """Cancel a queued or running run.

    Example:

      dagy runs cancel run_0123
    """
    with connect() as api:
        body = api.call("POST", f"/runs/{run_id}/cancel")
    output.show(body, output_format, title=f"run {run_id}")


@app.command()
def logs(
    run_id: str,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the run ends.")
    ] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Print each line's time.")] = False,
    output_format: OutputOption = Format.table,
) -> None:
    """A run's log lines; with --follow, new lines as they come until the run ends.

    Examples:

      dagy runs logs run_0123

      dagy runs logs run_0123 --follow

      dagy runs logs run_0123 -o json   # one JSON object per line
    """
    token: str | None = None
    with connect() as api:
        while True:
            page = api.get(f"/runs/{run_id}/logs", next_token=token, limit=1000)
            for event in page.get("events", []):
                _print_event(event, timestamps, output_format)
            token = page.get("next_token") or None
            if token is None:
                return  # the run ended: nothing more will come
            if not page.get("events"):
                if not follow:
                    return
                time.sleep(LOG_POLL_SECONDS)


def _print_event(event: dict[str, Any], timestamps: bool, output_format: Format) -> None:
    if output_format is Format.json:
        typer.echo(json.dumps(event))
    elif timestamps:
        typer.echo(f"{event['timestamp']} {event['message']}")
    else:
        typer.echo(event["message"])
