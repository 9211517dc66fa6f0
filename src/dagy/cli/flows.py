"""`dagy flows list|show|versions|delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from dagy.cli import output
from dagy.cli.context import connect
from dagy.cli.options import Every, Limit, NextToken, Yes, confirm
from dagy.cli.output import Format, OutputOption

app = typer.Typer(help="Flows and their versions.", no_args_is_help=True)

FLOW_COLUMNS = ["flow_name", "flow_version", "status", "namespace", "tags", "updated_at"]
VERSION_COLUMNS = ["flow_version", "deployment_version", "status", "artifact_s3_uri", "created_at"]


@app.command("list")
def list_flows(
    limit: Limit = 20,
    next_token: NextToken = None,
    every: Every = False,
    output_format: OutputOption = Format.table,
) -> None:
    """The org's flows, newest first.

    Examples:

      dagy flows list

      dagy flows list --all -o json | jq -r '.items[].flow_name'
    """
    with connect() as api:
        body = api.page("/flows", limit=limit, next_token=next_token, every=every)
    output.listing(body, FLOW_COLUMNS, output_format, title="flows")


@app.command()
def show(
    name: str,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Default: the latest.")] = None,
    output_format: OutputOption = Format.table,
) -> None:
    """A flow version with its spec (the latest by default).

    Examples:

      dagy flows show hello

      dagy flows show hello --version 3 -o json
    """
    with connect() as api:
        body = api.get(f"/flows/{name}/{version or 'latest'}")
    output.show(body, output_format, title=f"{name} version {body.get('flow_version')}")


@app.command()
def versions(
    name: str,
    limit: Limit = 20,
    next_token: NextToken = None,
    every: Every = False,
    output_format: OutputOption = Format.table,
) -> None:
    """A flow's versions, newest first.

    Example:

      dagy flows versions hello
    """
    with connect() as api:
        body = api.page(f"/flows/{name}/versions", limit=limit, next_token=next_token, every=every)
    output.listing(body, VERSION_COLUMNS, output_format, title=f"versions of {name}")


@app.command()
def delete(name: str, yes: Yes = False) -> None:
    """Delete a flow with all its versions, runs, schedules and deployments.

    Example:

      dagy flows delete hello --yes
    """
    confirm(f"Delete flow {name} with its versions, runs, schedules and deployments?", yes)
    with connect() as api:
        api.call("DELETE", f"/flows/{name}")
    output.success(f"deleted flow {name}")
