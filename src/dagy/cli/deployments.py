"""`dagy deployments list|show|rollback|promote|settings`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dagy.cli import output
from dagy.cli.context import Api, connect
from dagy.cli.exits import CliError
from dagy.cli.options import Every, Limit, NextToken
from dagy.cli.output import Format, OutputOption

app = typer.Typer(help="Deployments: which flow version runs where, and how.", no_args_is_help=True)

COLUMNS = [
    "deployment_name",
    "flow_name",
    "flow_version",
    "environment",
    "schedule",
    "execution_mode",
    "updated_at",
]


@app.command("list")
def list_deployments(
    environment: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment's.")] = None,
    limit: Limit = 100,
    next_token: NextToken = None,
    every: Every = False,
    output_format: OutputOption = Format.table,
) -> None:
    """The org's deployments.

    Examples:

      dagy deployments list

      dagy deployments list --env production -o json
    """
    with connect() as api:
        body = api.page(
            "/deployments", limit=limit, next_token=next_token, every=every, environment=environment
        )
    output.listing(body, COLUMNS, output_format, title="deployments")


@app.command()
def show(name: str, output_format: OutputOption = Format.table) -> None:
    """One deployment.

    Example:

      dagy deployments show hello-prod
    """
    with connect() as api:
        body = api.get(f"/deployments/{name}")
    output.show(body, output_format, title=f"deployment {name}")


@app.command()
def rollback(
    name: str,
    to: Annotated[
        str | None, typer.Option("--to", help="The flow version (default: the one before the current).")
    ] = None,
    output_format: OutputOption = Format.table,
) -> None:
    """Point a deployment back at an earlier flow version.

    Examples:

      dagy deployments rollback hello-prod

      dagy deployments rollback hello-prod --to 3
    """
    with connect() as api:
        target = to or _previous_version(api, name)
        body = api.call("POST", f"/deployments/{name}/rollback", json={"target_flow_version": target})
    output.show(body, output_format, title=f"deployment {name}")
    if output_format is Format.table:
        output.success(f"{name}: {body['previous_flow_version']} -> {body['new_flow_version']}")


def _previous_version(api: Api, name: str) -> str:
    current = api.get(f"/deployments/{name}")
    versions = api.page(f"/flows/{current['flow_name']}/versions", limit=100, next_token=None, every=True)
    ordered = sorted(versions["items"], key=lambda item: int(item["deployment_version"]), reverse=True)
    labels = [str(item["flow_version"]) for item in ordered]
    if current["flow_version"] in labels:
        older = labels[labels.index(current["flow_version"]) + 1 :]
        if older:
            return older[0]
    raise CliError(
        f"{name} runs {current['flow_name']} version {current['flow_version']}: no earlier version"
    )


@app.command()
def promote(
    name: str,
    to: Annotated[str, typer.Option("--to", help="The target environment.")],
    as_name: Annotated[
        str | None, typer.Option("--as", help="The target deployment's name (default: the server's).")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Default: the source deployment's version.")
    ] = None,
    output_format: OutputOption = Format.table,
) -> None:
    """Deploy what a deployment runs to another environment (POST /v1/environments/promote).

    Examples:

      dagy deployments promote hello-staging --to production

      dagy deployments promote hello-staging --to production --as hello-prod
    """
    body: dict[str, Any] = {"source_deployment": name, "target_environment": to}
    if as_name:
        body["new_deployment_name"] = as_name
    if version:
        body["flow_version"] = version
    with connect() as api:
        answer = api.call("POST", "/environments/promote", json=body)
    output.show(answer, output_format, title="promoted")


@app.command()
def settings(  # noqa: PLR0917 - a typer command: one parameter per option
    name: str,
    schedule: Annotated[
        str | None, typer.Option(help='Cron (5 fields) or interval ("30m"); "" removes it.')
    ] = None,
    executor: Annotated[str | None, typer.Option(help='A backend; "" for automatic.')] = None,
    mode: Annotated[str | None, typer.Option(help="nano, micro, small, medium, large or xlarge.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="key=value; replaces every tag. Repeatable.")
    ] = None,
    max_retries: Annotated[int | None, typer.Option(min=0, max=10, help="Retries of failed runs.")] = None,
    output_format: OutputOption = Format.table,
) -> None:
    """Change a deployment's runtime settings; the options not given stay as they are.

    Examples:

      dagy deployments settings hello-prod --mode micro --schedule "0 9 * * 1-5"

      dagy deployments settings hello-prod --tag team=data --tag tier=gold
    """
    changes: dict[str, Any] = {
        "schedule": schedule,
        "default_executor": executor,
        "execution_mode": mode,
        "max_retries": max_retries,
    }
    if tag is not None:
        changes["tags"] = dict(_pair(item, "--tag") for item in tag)
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise typer.BadParameter("give at least one setting to change")
    with connect() as api:
        body = api.call("PUT", f"/deployments/{name}/settings", json=changes)
    output.show(body, output_format, title=f"deployment {name}")


def _pair(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"expected key=value, got {text!r}", param_hint=option)
    return key, value
