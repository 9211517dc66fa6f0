"""Alembic, driven from code: `dagy db upgrade`, server start-up and the test suite use this."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise when the models and the migrations disagree."""
    command.check(alembic_config(database_url))


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def heads() -> frozenset[str]:
    """The revisions this code's migrations end at."""
    return frozenset(_scripts().get_heads())


def applied(connection: Connection) -> frozenset[str]:
    """The revisions the database is at (none before the first migration)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def known(revision: str) -> bool:
    """Whether `revision` is one of this code's migrations (not one of a newer release)."""
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False
