"""A session's claims and sites belong to it, kept by the database on both backends: SQLite's
foreign keys, PostgreSQL's triggers that check a whole statement's rows at once (migration
0014). A row naming no session is refused, whatever else the statement wrote; a row cannot move
to a session that does not exist; deleting a session deletes its claims and sites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.bootstrap import Container
from orchestrator.store import tables as t
from orchestrator.store.base import StoreFailure
from orchestrator.store.sql import SqlStore, resource_key
from tests.builders import book

START = datetime(2027, 2, 1, 1, tzinfo=UTC)
NOBODY = "00000000-0000-0000-0000-000000000000"
# outside a unit of work the engine says StoreFailure, inside one IntegrityError
REFUSED = (sa.exc.IntegrityError, StoreFailure)


def _claim(session_id: str, resource: str, day: int) -> dict[str, Any]:
    start = START + timedelta(days=day)
    return {
        "session_id": session_id,
        "resource": resource,
        "resource_key": resource_key(resource),
        "starts_at": start,
        "ends_at": start + timedelta(hours=1),
        "active": True,
    }


def _engine(c: Container) -> sa.ext.asyncio.AsyncEngine:
    store = c.store
    assert isinstance(store, SqlStore)
    return store.engine


async def _count(c: Container, table: sa.Table, session_id: str) -> int:
    async with _engine(c).connect() as conn:
        n = await conn.scalar(
            sa.select(sa.func.count()).select_from(table).where(table.c.session_id == session_id)
        )
    return int(n or 0)


async def test_claims_naming_no_session_are_refused_with_the_rest_of_their_statement(
    container: Container,
) -> None:
    out = await book(container)
    before = await _count(container, t.claims, out.id)
    rows = [_claim(out.id, f"room:{i}", 10 + i) for i in range(3)]
    rows.insert(1, _claim(NOBODY, "room:x", 20))
    with pytest.raises(REFUSED):
        async with _engine(container).begin() as conn:
            await conn.execute(t.claims.insert(), rows)
    assert await _count(container, t.claims, out.id) == before
    # the same rows without the stray one are taken
    async with _engine(container).begin() as conn:
        await conn.execute(t.claims.insert(), [r for r in rows if r["session_id"] == out.id])
    assert await _count(container, t.claims, out.id) == before + 3


async def test_sites_naming_no_session_are_refused(container: Container) -> None:
    with pytest.raises(REFUSED):
        async with _engine(container).begin() as conn:
            await conn.execute(
                t.session_sites.insert(),
                [{"session_id": NOBODY, "site_id": "ha-noi", "position": 0, "join_url": None}],
            )
    assert await _count(container, t.session_sites, NOBODY) == 0


async def test_a_row_cannot_move_to_a_session_that_does_not_exist(container: Container) -> None:
    out = await book(container)
    for table in (t.claims, t.session_sites):
        with pytest.raises(REFUSED):
            async with _engine(container).begin() as conn:
                await conn.execute(
                    table.update().where(table.c.session_id == out.id).values(session_id=NOBODY)
                )
        assert await _count(container, table, out.id) > 0


async def test_deleting_a_session_deletes_its_claims_and_sites(container: Container) -> None:
    gone = await book(container)
    kept = await book(
        container, start=START.isoformat(), end=(START + timedelta(hours=2)).isoformat()
    )
    async with _engine(container).begin() as conn:
        await conn.execute(t.sessions.delete().where(t.sessions.c.id == gone.id))
    for table in (t.claims, t.session_sites):
        assert await _count(container, table, gone.id) == 0
        assert await _count(container, table, kept.id) > 0
