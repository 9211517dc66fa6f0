"""Options several commands share (typer `Annotated` aliases)."""

from __future__ import annotations

from typing import Annotated

import typer

Limit = Annotated[int, typer.Option(min=1, max=500, help="Items per page.")]
NextToken = Annotated[
    str | None, typer.Option("--next-token", help="Continue a listing where its last page stopped.")
]
Every = Annotated[bool, typer.Option("--all", help="Fetch every page.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(question: str, yes: bool) -> None:
    if not yes:
        typer.confirm(question, abort=True)
