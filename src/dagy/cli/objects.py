"""`dagy objects put|ls|get|rm`: the org's data files (`/v1/objects`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

import typer

from dagy.cli import output
from dagy.cli.context import connect
from dagy.cli.options import Every, Limit, NextToken
from dagy.cli.output import Format, OutputOption

if TYPE_CHECKING:
    import httpx

app = typer.Typer(help="The org's data files (objects).", no_args_is_help=True)

COLUMNS = ["key", "size", "modified_at"]
CHUNK = 1024 * 1024


def _path(key: str) -> str:
    return f"/objects/{quote(key.lstrip('/'), safe='/')}"


def _check(response: httpx.Response) -> None:
    from dagy.client.errors import raise_for_error

    if response.is_error:
        response.read()
        raise_for_error(response)


@app.command()
def put(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The local file.")],
    key: Annotated[str | None, typer.Argument(help="The object's key (default: the file's name).")] = None,
    output_format: OutputOption = Format.table,
) -> None:
    """Upload a file as an object (replacing one with the same key).

    Examples:

      dagy objects put orders.csv data/orders/2026-11-28.csv

      dagy objects put report.pdf
    """
    target = key or source.name
    with connect() as api, source.open("rb") as handle:
        response = api.raw_client().put(
            _path(target), content=handle.read(), headers={"Content-Type": "application/octet-stream"}
        )
        _check(response)
        body = response.json()
    if output_format is Format.json:
        output.print_json(body)
    else:
        output.success(f"stored {body.get('key', target)} ({body.get('size')} bytes)")


@app.command("ls")
def list_objects(
    prefix: Annotated[str, typer.Argument(help="Only keys starting with this.")] = "",
    limit: Limit = 100,
    next_token: NextToken = None,
    every: Every = False,
    output_format: OutputOption = Format.table,
) -> None:
    """List objects, optionally under a prefix.

    Examples:

      dagy objects ls data/orders/

      dagy objects ls --all -o json
    """
    with connect() as api:
        body = api.page("/objects", limit=limit, next_token=next_token, every=every, prefix=prefix or None)
    output.listing(body, COLUMNS, output_format, title="objects")


@app.command()
def get(
    key: str,
    dest: Annotated[
        str | None, typer.Argument(help="Where to write it (default: the key's last part; - for stdout).")
    ] = None,
) -> None:
    """Download an object.

    Examples:

      dagy objects get data/orders/2026-11-28.csv

      dagy objects get data/orders/2026-11-28.csv - | head
    """
    target = dest or key.rstrip("/").rsplit("/", 1)[-1]
    with connect() as api, api.raw_client().stream("GET", _path(key)) as response:
        _check(response)
        if target == "-":
            for chunk in response.iter_bytes(CHUNK):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        path = Path(target)
        partial = path.with_name(f".{path.name}.part")
        try:
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    output.success(f"wrote {path}")


@app.command("rm")
def remove(key: str) -> None:
    """Delete an object.

    Example:

      dagy objects rm data/orders/2026-11-28.csv
    """
    with connect() as api:
        _check(api.raw_client().delete(_path(key)))
    output.success(f"deleted {key}")
