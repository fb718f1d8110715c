"""The migrations build exactly the schema the queries use, on each backend."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from orchestrator.store import migrate
from orchestrator.store.sql import create_engine
from orchestrator.store.tables import metadata


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": False})
    return [d for d in compare_metadata(context, metadata) if not _kept_by_triggers(conn, d)]


def _kept_by_triggers(conn: Connection, diff: Any) -> bool:
    """On PostgreSQL the foreign keys from a session's claims and sites to it are triggers
    (migration 0014; `test_session_rows` proves they keep the rule)."""
    if conn.dialect.name != "postgresql" or not isinstance(diff, tuple) or diff[0] != "add_fk":
        return False
    fk = diff[1]
    return fk.table.name in ("claims", "session_sites") and fk.referred_table.name == "sessions"


async def test_migrations_match_the_tables(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.upgrade(engine)  # running again changes nothing
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
