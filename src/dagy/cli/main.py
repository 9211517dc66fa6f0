"""`dagy`: the root command and its groups. Server-side imports stay inside the commands, so
`dagy worker` on a host without the server's dependencies works, and `dagy --help` loads neither the
server nor httpx: every module here imports only typer and rich at its top."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from dagy import __version__
from dagy.cli import (
    auth,
    db,
    deploy,
    deployments,
    execute_run,
    flows,
    objects,
    org_secrets,
    project,
    runs,
    scheduler,
    schedules,
    secrets,
    server,
    services,
    users,
    worker,
)
from dagy.cli.context import state
from dagy.cli.exits import CliError, ExitCode, code_for_status


class DagyApp(typer.Typer):
    """The root command: renders every error once (message and details in red, the exit code of
    docs/cli.md), with a traceback only under `--debug`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if state.debug:
                raise
            from dagy.cli import output

            error = _as_cli_error(exc)
            output.error(error.message, error.details)
            sys.exit(int(error.code))


def _as_cli_error(exc: Exception) -> CliError:
    if isinstance(exc, CliError):
        return exc
    errors = sys.modules.get("dagy.client.errors")
    if errors is not None and isinstance(exc, errors.ApiError):
        message = f"{exc.message} ({exc.status_code} {exc.code})"
        return CliError(message, code=code_for_status(exc.status_code), details=exc.details)
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.TransportError):
        return CliError(f"the server did not answer: {exc}", code=ExitCode.UNREACHABLE)
    return CliError(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)")


app = DagyApp(
    help="Dagy: workflow orchestration. Run `dagy COMMAND --help` for examples.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dagy {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    profile: Annotated[
        str, typer.Option(envvar="DAGY_PROFILE", help="Which stored login to use (dagy login --profile).")
    ] = "default",
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Dagy: workflow orchestration."""
    state.profile = profile
    state.debug = debug


app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("init")(project.init)
app.command("deploy")(deploy.deploy)
app.add_typer(flows.app, name="flows")
app.add_typer(deployments.app, name="deployments")
app.add_typer(runs.app, name="runs")
app.add_typer(schedules.app, name="schedules")
secrets.app.command("set")(org_secrets.set_secret)
secrets.app.command("list")(org_secrets.list_secrets)
secrets.app.command("delete")(org_secrets.delete_secret)
app.add_typer(secrets.app, name="secrets")
app.add_typer(objects.app, name="objects")
app.command("server")(server.server)
app.command("worker")(worker.worker)
app.command("services")(services.services)
app.command("scheduler")(scheduler.scheduler)
app.command("execute-run")(execute_run.execute_run)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
