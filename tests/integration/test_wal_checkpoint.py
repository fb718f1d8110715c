"""SQLite's write-ahead log is copied back into the database in the background after writes
(`WalCheckpointer`), not inside the commit that takes the log past SQLite's own threshold.

What the database file itself holds is read with SQLite's `immutable` flag, which ignores the
log: a row is there only once a checkpoint copied it."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.store.base import StoredEvent
from orchestrator.store.sql import SqlStore, create_engine
from orchestrator.store.sql import checkpoint as ckpt

AT = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
# about 1,700 pages of 4 KiB: past SQLite's own threshold of 1,000 pages in one commit
ROWS, WIDTH = 6_000, 1_000


def in_file(path: Path, sql: str) -> int:
    """`sql`'s answer from the database file alone, the log ignored."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
async def store(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[SqlStore]:
    shutil.copy(sqlite_template, tmp_path / "db.sqlite3")
    s = SqlStore(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"))
    try:
        async with s.engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE filler (n INTEGER, pad TEXT)"))
        await settled(s, 0)  # the table reaches the file
        yield s
    finally:
        await s.close()


async def fill(store: SqlStore, first: int) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.text("INSERT INTO filler VALUES (:n, :pad)"),
            [{"n": first + i, "pad": "x" * WIDTH} for i in range(ROWS)],
        )


async def settled(store: SqlStore, done: int) -> None:
    """Until the checkpointer has run more than `done` times and nothing is pending."""
    checkpoints = store.checkpoints
    assert checkpoints is not None
    for _ in range(500):
        if checkpoints.done > done and checkpoints._running is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no background checkpoint ran")


async def test_a_large_commit_leaves_the_log_to_the_background(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = store.checkpoints
    assert checkpoints is not None
    path = tmp_path / "db.sqlite3"
    # The background waits a minute: whatever reaches the file before, the commit copied.
    monkeypatch.setattr(ckpt, "GAP_S", 60.0)
    checkpoints._last = asyncio.get_running_loop().time()
    await fill(store, 0)
    assert in_file(path, "SELECT count(*) FROM filler") == 0  # the commit did not checkpoint
    async with store.engine.connect() as conn:
        threshold = await conn.scalar(sa.text("PRAGMA wal_autocheckpoint"))
    assert threshold == ckpt.BACKSTOP_PAGES
    # Its turn comes: the rows reach the file without another write.
    done = checkpoints.done
    monkeypatch.setattr(ckpt, "GAP_S", 0.0)
    checkpoints._last = float("-inf")
    assert checkpoints._timer is not None
    checkpoints._timer.cancel()
    checkpoints._timer = None
    checkpoints.wrote()
    await settled(store, done)
    assert in_file(path, "SELECT count(*) FROM filler") == ROWS


async def test_writes_while_one_runs_are_checkpointed_after_it(
    store: SqlStore, tmp_path: Path
) -> None:
    checkpoints = store.checkpoints
    assert checkpoints is not None
    done = checkpoints.done
    await fill(store, 0)
    await fill(store, ROWS)  # likely while the first one's checkpoint runs, or waits its gap
    for _ in range(500):  # the file is read only once no checkpoint writes to it
        if checkpoints._timer is None and checkpoints._running is None:
            break
        await asyncio.sleep(0.01)
    assert in_file(tmp_path / "db.sqlite3", "SELECT count(*) FROM filler") == 2 * ROWS
    assert checkpoints.done > done


async def test_reads_do_not_call_for_a_checkpoint(store: SqlStore) -> None:
    checkpoints = store.checkpoints
    assert checkpoints is not None
    done = checkpoints.done
    for _ in range(3):
        async with store.read() as uow:
            await uow.sessions.get("nobody")
    await asyncio.sleep(ckpt.GAP_S + 0.1)
    assert checkpoints.done == done
    assert checkpoints._timer is None


async def test_webhook_batches_call_for_one(sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "migrated.sqlite3"
    shutil.copy(sqlite_template, path)
    store = SqlStore(create_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        checkpoints = store.checkpoints
        assert checkpoints is not None
        done = checkpoints.done
        await store.events.append(
            [
                StoredEvent(
                    source="jitsi",
                    kind="join",
                    at=AT,
                    dedupe_key="k-1",
                    received_at=AT,
                    session_id=None,
                    room="phong-hop",
                    site_id=None,
                    occupant=None,
                    data={},
                )
            ],
            "here",
        )
        await settled(store, done)
    finally:
        await store.close()


async def test_closing_cancels_what_is_pending(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = store.checkpoints
    assert checkpoints is not None
    monkeypatch.setattr(ckpt, "GAP_S", 60.0)
    checkpoints._last = asyncio.get_running_loop().time()
    await fill(store, 0)
    timer = checkpoints._timer
    assert timer is not None
    await checkpoints.close()
    assert timer.cancelled()
    assert checkpoints._timer is None
    checkpoints.wrote()  # after closing: nothing
    assert checkpoints._timer is None
    assert checkpoints._running is None


def test_postgresql_and_memory_have_none() -> None:
    assert SqlStore(create_engine("sqlite+aiosqlite:///:memory:")).checkpoints is None
    pg = create_engine("postgresql+asyncpg://orch@127.0.0.1/none")
    assert SqlStore(pg).checkpoints is None
