"""Schema migrations (alembic), run programmatically on the store's own engine.

alembic (and mako with it, about 11 MB of a process) is imported only to migrate: a service
whose database is at the latest revision reads that revision from `alembic_version` and the
scripts' own `revision = ...` lines, as readiness does every time it is asked.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(None|['\"]([^'\"]+)['\"])\s*$", re.MULTILINE)


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache  # the scripts do not change while the process runs; readiness asks often
def head_revision() -> str:
    """The latest revision of the scripts: the one no other script revises. Read from the
    scripts' text when they form one line of revisions (as they do); alembic decides otherwise."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        own, down = _REVISION.search(text), _DOWN.search(text)
        if own is None or down is None:
            return _alembic_head()
        revisions.add(own.group(1))
        if down.group(2) is not None:
            revised.add(down.group(2))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every migration up to `revision` (idempotent: nothing to do, alembic is not even
    loaded)."""
    wanted = head_revision() if revision == "head" else revision
    if await current_revision(engine) == wanted:
        return
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(_config(c), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision, None before the first migration."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _current(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    if len(rows) <= 1:
        return rows[0] if rows else None
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()  # branches: alembic decides


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Undo migrations down to `revision` (for tests of a migration's data changes)."""
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(_config(c), revision))
