"""The schema's revisions read without alembic (`migrate.head_revision`, `current_revision`)
are alembic's own, on both databases; upgrading a database already at the head changes
nothing."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from orchestrator.store import migrate
from orchestrator.store.sql import create_engine


def test_the_head_is_alembics() -> None:
    migrate.head_revision.cache_clear()
    assert (
        migrate.head_revision() == ScriptDirectory.from_config(migrate._config()).get_current_head()
    )


async def test_current_revision_is_alembics(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            theirs = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
        assert await migrate.current_revision(engine) == theirs == migrate.head_revision()
        await migrate.upgrade(engine)  # at the head already: nothing to do
        await migrate.downgrade(engine, "0001")
        assert await migrate.current_revision(engine) == "0001"
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_an_empty_database_has_no_revision(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3")
    try:
        assert await migrate.current_revision(engine) is None
    finally:
        await engine.dispose()
