"""`dagy users set-password EMAIL`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Users of this installation.", no_args_is_help=True)


@app.command("set-password")
def set_password(
    email: str,
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="DAGY_NEW_PASSWORD",
        help="The new password (prompted when omitted).",
    ),
) -> None:
    """Set EMAIL's password (for `password` login mode); the user is created when missing."""
    from dagy.server.db.engine import create_database
    from dagy.server.db.migrate import upgrade
    from dagy.server.domains.auth.service import set_password as set_user_password
    from dagy.server.errors import DagyError
    from dagy.server.settings import Settings

    settings = Settings()
    settings.ensure_home()
    upgrade(settings.database_url)
    db = create_database(settings.database_url)
    try:
        with db.transaction(write=True) as session:
            set_user_password(session, email=email.strip().lower(), password=password)
    except DagyError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(f"password set for {email}")
