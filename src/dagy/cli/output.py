"""How commands print: Rich tables and panels on a terminal, JSON for scripts (`--output json`),
errors in red on stderr. Progress bars and spinners go to stderr, so stdout stays parseable."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


class Format(StrEnum):
    table = "table"
    json = "json"


OutputOption = Annotated[
    Format,
    typer.Option("--output", "-o", help="table (for people) or json (for scripts: the API's answer)."),
]


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, title: str | None = None) -> None:
    """A table of `columns` (the items' keys, shown with spaces for underscores)."""
    view = Table(title=title, header_style="bold cyan", show_lines=False)
    for column in columns:
        view.add_column(column.replace("_", " "), overflow="fold")
    count = 0
    for row in rows:
        view.add_row(*(cell(row.get(column)) for column in columns))
        count += 1
    if count == 0:
        err.print("[dim]nothing to show[/dim]")
        return
    out.print(view)


def record(item: dict[str, Any], *, title: str | None = None) -> None:
    """One object as a two-column table, nested JSON printed compactly."""
    view = Table(title=title, show_header=False, box=None, padding=(0, 2))
    view.add_column(style="bold cyan")
    view.add_column(overflow="fold")
    for key, value in item.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) and value else cell(value)
        view.add_row(key, shown)
    out.print(view)


def listing(
    body: dict[str, Any], columns: Sequence[str], output: Format, *, title: str | None = None
) -> None:
    """A list answer (`{"items", "next_token"}`): the table, or the body as JSON."""
    if output is Format.json:
        print_json(body)
        return
    table(body.get("items", []), columns, title=title)
    if body.get("next_token"):
        err.print(f"[dim]more: --next-token {body['next_token']} (or --all)[/dim]")


def show(item: dict[str, Any], output: Format, *, title: str | None = None) -> None:
    if output is Format.json:
        print_json(item)
    else:
        record(item, title=title)


def success(message: str) -> None:
    err.print(f"[green]✓[/green] {message}")


def note(message: str) -> None:
    err.print(message)


def error(message: str, details: dict[str, Any] | None = None) -> None:
    err.print(f"[bold red]error:[/bold red] [red]{_escape(message)}[/red]")
    for field, problem in (details or {}).items():
        shown = problem if isinstance(problem, str) else json.dumps(problem, default=str)
        err.print(f"  [red]{_escape(str(field))}[/red]: {_escape(shown)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
