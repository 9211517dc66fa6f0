"""`dagy secrets set|list|delete`: the org's secrets through the API (beside the operator's
`dagy secrets rotate-key`, secrets.py). A value is read from stdin or a hidden prompt, never argv."""

from __future__ import annotations

from typing import Annotated

import typer

from dagy.cli import output
from dagy.cli.context import connect
from dagy.cli.options import Yes, confirm
from dagy.cli.output import Format, OutputOption

COLUMNS = ["secret_name", "environment", "created_at", "updated_at"]


def set_secret(
    name: str,
    environment: Annotated[
        str | None, typer.Option("--env", "-e", help="The environment of a new secret.")
    ] = None,
) -> None:
    """Create or replace a secret; the value comes from stdin, or a hidden prompt on a terminal.

    Examples:

      dagy secrets set SLACK_TOKEN            # prompts, hidden

      printf %s "$TOKEN" | dagy secrets set SLACK_TOKEN --env production
    """
    from dagy.client import ApiError

    value = _read_value()
    with connect() as api:
        try:
            api.call("PUT", f"/secrets/{name}", json={"value": value})
            verb = "updated"
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            body = {"secret_name": name, "value": value} | (
                {"environment": environment} if environment else {}
            )
            api.call("POST", "/secrets", json=body)
            verb = "created"
    output.success(f"{verb} secret {name}")


def _read_value() -> str:
    stdin = typer.get_text_stream("stdin")
    if stdin.isatty():
        value = str(typer.prompt("Value", hide_input=True, confirmation_prompt=True))
    else:
        value = stdin.read()
        value = value.removesuffix("\n")
    if not value:
        raise typer.BadParameter("the secret's value is empty")
    return value


def list_secrets(
    environment: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment's.")] = None,
    output_format: OutputOption = Format.table,
) -> None:
    """The org's secrets (names and dates, never values).

    Example:

      dagy secrets list -o json
    """
    with connect() as api:
        body = api.get("/secrets", environment=environment)
    output.listing(body, COLUMNS, output_format, title="secrets")


def delete_secret(name: str, yes: Yes = False) -> None:
    """Delete a secret.

    Example:

      dagy secrets delete SLACK_TOKEN --yes
    """
    confirm(f"Delete secret {name}?", yes)
    with connect() as api:
        api.call("DELETE", f"/secrets/{name}")
    output.success(f"deleted secret {name}")
