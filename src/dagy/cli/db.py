"""`dagy db upgrade`: apply migrations to DAGY_DATABASE_URL."""

from __future__ import annotations

import typer

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from dagy.server.db.migrate import upgrade as run_upgrade
    from dagy.server.settings import Settings

    settings = Settings()
    settings.ensure_home()
    run_upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")
