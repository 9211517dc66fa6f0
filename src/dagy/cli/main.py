"""`dagy`: the root command and its groups. Server-side imports stay inside the commands, so
`dagy worker` on a host without the server's dependencies works."""

from __future__ import annotations

import typer

from dagy.cli import db, scheduler, secrets, server, users, worker

app = typer.Typer(help="Dagy: workflow orchestration.", no_args_is_help=True, add_completion=False)
app.command("server")(server.server)
app.command("worker")(worker.worker)
app.command("scheduler")(scheduler.scheduler)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(secrets.app, name="secrets")
