"""`dagy db upgrade`: apply migrations to DAGY_DATABASE_URL; `dagy db vacuum`: reclaim what the
retention purge freed (docs/operations.md, "Retention")."""

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


@app.command()
def vacuum() -> None:
    """VACUUM (ANALYZE) the tables the retention purge deletes from (PostgreSQL), or VACUUM the file
    (SQLite)."""
    from dagy.server.db.engine import create_database
    from dagy.server.services.retention import vacuum as run_vacuum
    from dagy.server.settings import Settings

    settings = Settings()
    settings.ensure_home()
    db = create_database(settings.database_url)
    try:
        for line in run_vacuum(db):
            typer.echo(line)
    finally:
        db.dispose()
