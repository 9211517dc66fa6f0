"""One Alembic tree for both databases: it matches the models and it is reversible."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from dagy.server.db.base import Base
from dagy.server.db.migrate import check, downgrade, upgrade
from tests.conftest import POSTGRES_URL, _create_postgres_database, _drop_postgres_database


def test_models_match_the_migrations(database_url: str) -> None:
    check(database_url)  # raises when autogenerate would find a difference


def _round_trip(url: str) -> None:
    upgrade(url)
    downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    engine = create_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
    check(url)


def test_migrations_downgrade_and_upgrade_again_on_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.skipif(not POSTGRES_URL, reason="DAGY_TEST_POSTGRES_URL is not set")
def test_migrations_downgrade_and_upgrade_again_on_postgres() -> None:
    url, name = _create_postgres_database()
    try:
        _round_trip(url)
    finally:
        _drop_postgres_database(name)
