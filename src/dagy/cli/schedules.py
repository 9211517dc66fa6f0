"""`dagy schedules list|show|pause|resume|delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from dagy.cli import output
from dagy.cli.context import connect
from dagy.cli.options import Every, Limit, NextToken, Yes, confirm
from dagy.cli.output import Format, OutputOption

app = typer.Typer(help="Schedules: when flows run by themselves.", no_args_is_help=True)

COLUMNS = [
    "schedule_id",
    "flow_name",
    "deployment_name",
    "mode",
    "enabled",
    "cron_expression",
    "interval_seconds",
    "timezone",
    "next_run_at",
]


@app.command("list")
def list_schedules(  # noqa: PLR0917 - a typer command: one parameter per option
    flow: Annotated[str | None, typer.Option("--flow", "-f", help="Only this flow's schedules.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--paused", help="Only enabled (or paused) ones.")
    ] = None,
    limit: Limit = 20,
    next_token: NextToken = None,
    every: Every = False,
    output_format: OutputOption = Format.table,
) -> None:
    """The org's schedules.

    Examples:

      dagy schedules list

      dagy schedules list --flow hello --paused -o json
    """
    with connect() as api:
        body = api.page(
            "/schedules",
            limit=limit,
            next_token=next_token,
            every=every,
            flow_name=flow,
            enabled=None if enabled is None else str(enabled).lower(),
        )
    output.listing(body, COLUMNS, output_format, title="schedules")


@app.command()
def show(schedule_id: str, output_format: OutputOption = Format.table) -> None:
    """One schedule, with its next and last fire times.

    Example:

      dagy schedules show hello-daily
    """
    with connect() as api:
        body = api.get(f"/schedules/{schedule_id}")
    output.show(body, output_format, title=f"schedule {schedule_id}")


def _set_enabled(schedule_id: str, enabled: bool, output_format: Format) -> None:
    with connect() as api:
        body = api.call("PATCH", f"/schedules/{schedule_id}", json={"enabled": enabled})
    if output_format is Format.json:
        output.print_json(body)
    else:
        state = "resumed" if enabled else "paused"
        output.success(f"schedule {schedule_id} {state}; next run at {body.get('next_run_at') or '-'}")


@app.command()
def pause(schedule_id: str, output_format: OutputOption = Format.table) -> None:
    """Stop a schedule from firing (it keeps its settings).

    Example:

      dagy schedules pause hello-daily
    """
    _set_enabled(schedule_id, False, output_format)


@app.command()
def resume(schedule_id: str, output_format: OutputOption = Format.table) -> None:
    """Let a paused schedule fire again.

    Example:

      dagy schedules resume hello-daily
    """
    _set_enabled(schedule_id, True, output_format)


@app.command()
def delete(schedule_id: str, yes: Yes = False) -> None:
    """Delete a schedule (its past runs stay).

    Example:

      dagy schedules delete hello-daily --yes
    """
    confirm(f"Delete schedule {schedule_id}?", yes)
    with connect() as api:
        api.call("DELETE", f"/schedules/{schedule_id}")
    output.success(f"deleted schedule {schedule_id}")
