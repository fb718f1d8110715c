"""The event log's hot path (`Store.events`) on real SQLite and PostgreSQL: one statement per
batch that skips repeats, flags what comes after a freeze, announces what it added, reads back
exactly as written, and outlives its connection being cut."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
import pytest
import sqlalchemy as sa

from orchestrator.attendance.eventlog import EventLog, _Room
from orchestrator.attendance.sources import Observation
from orchestrator.domain.clock import SystemClock
from orchestrator.store.base import RetryableStoreError
from orchestrator.store.base.attendance import Appended
from orchestrator.store.base.errors import StoreError
from orchestrator.store.sql import SqlStore, create_engine
from orchestrator.store.sql.appender import SqlEventAppender
from orchestrator.store.sql.attendance import CHANNEL
from tests.builders import NoBoards
from tests.integration.appender_kit import AT, event, written


def flags(added: dict[tuple[str, str], Appended]) -> dict[tuple[str, str], bool]:
    return {k: a.after_freeze for k, a in added.items()}


async def test_a_batch_skips_repeats_and_reads_back_as_written(store: SqlStore) -> None:
    first = [event("a"), event("b"), event("a")]  # a repeat within the batch
    added = await store.events.append(first, "here")
    assert flags(added) == {("jitsi", "a"): False, ("jitsi", "b"): False}
    bare = event("c", site_id=None, occupant=None, data={})
    again = [event("b"), bare, event("c", source="jaas")]
    later = await store.events.append(again, "here")
    assert flags(later) == {("jitsi", "c"): False, ("jaas", "c"): False}
    assert await store.events.append([], "here") == {}
    async with store.read() as uow:
        logged = await uow.attendance.list_events("s-1")
    assert [replace(e, id=None) for e in logged] == written(
        store, [event("a"), event("b")], [bare, event("c", source="jaas")]
    )
    assert {(e.source, e.dedupe_key) for e in logged} == {
        ("jitsi", "a"),
        ("jitsi", "b"),
        ("jitsi", "c"),
        ("jaas", "c"),
    }
    ids = [e.id or 0 for e in logged]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    # each added event's id, as the log numbered it
    told = {**{k: a.id for k, a in added.items()}, **{k: a.id for k, a in later.items()}}
    assert {(e.source, e.dedupe_key): e.id for e in logged} == told


async def test_data_the_fast_encoder_refuses_is_logged_as_written(store: SqlStore) -> None:
    """A batch's JSON is made by orjson, which refuses integers beyond 64 bits: such a batch is
    made by the standard encoder instead, and logged and read back the same as any other."""
    big = 2**70
    with pytest.raises(TypeError):
        orjson.dumps(big)
    odd = event("big", data={"name": "Điểm cầu Cần Thơ", "seen": big, "list": [1.5, None, True]})
    plain = event("plain", data={"name": "Điểm cầu Nghệ An", "email": "na@example.org"})
    added = await store.events.append([odd, plain], "here")
    assert flags(added) == {("jitsi", "big"): False, ("jitsi", "plain"): False}
    async with store.read() as uow:
        logged = await uow.attendance.list_events("s-1")
    assert [replace(e, id=None) for e in logged] == [odd, plain]


async def test_the_log_read_as_the_merge_reads_it_is_the_log_as_written(store: SqlStore) -> None:
    """`read_log` gives `list_events`'s events, in the same order and bounds, with what the
    merge reads of each (check-ins' and overrides' fields from theirs alone)."""
    checkin = event("c1", source="checkin", kind="checkin", occupant=None)
    checkin = replace(checkin, data={"headcount": 12, "names": ["Lan", "Đức"], "actor": "x"})
    override = event("o1", source="override", kind="override", occupant=None)
    override = replace(override, data={"verdict": "absent", "reason": "mất điện", "actor": "y"})
    bare = event("b1", site_id=None, occupant=None, data={})
    await store.events.append([event("a"), checkin, override, bare, event("z", "s-2")], "here")
    async with store.read() as uow:
        written = await uow.attendance.list_events("s-1")
        read = await uow.attendance.read_log("s-1")
        bounded = await uow.attendance.read_log(
            "s-1", after_id=written[0].id or 0, upto_id=written[2].id, limit=1
        )
        none = await uow.attendance.read_log("s-1", limit=0)
    assert [
        (
            r.id,
            r.source,
            r.kind,
            r.at,
            r.dedupe_key,
            r.site_id,
            r.occupant,
            r.after_freeze,
            r.name,
            r.email,
            r.headcount,
            r.names,
            r.verdict,
            r.reason,
        )
        for r in read
    ] == [
        (
            w.id,
            w.source,
            w.kind,
            w.at,
            w.dedupe_key,
            w.site_id,
            w.occupant,
            w.after_freeze,
            w.data.get("name"),
            w.data.get("email"),
            w.data.get("headcount"),
            w.data.get("names"),
            w.data.get("verdict"),
            w.data.get("reason"),
        )
        for w in written
    ]
    assert [r.at.utcoffset() for r in read] == [timedelta(0)] * 4
    assert [r.id for r in bounded] == [written[1].id]
    assert none == []


async def test_events_after_the_freeze_are_flagged_by_the_database(store: SqlStore) -> None:
    before = await store.events.append([event("before")], "here")
    assert flags(before) == {("jitsi", "before"): False}
    async with store.write() as uow:
        await uow.attendance.save_record("s-1", AT, "{}")
    batch = [event("after"), event("elsewhere", session="s-2"), event("nowhere", session=None)]
    assert flags(await store.events.append(batch, "here")) == {
        ("jitsi", "after"): True,
        ("jitsi", "elsewhere"): False,
        ("jitsi", "nowhere"): False,
    }
    async with store.read() as uow:
        logged = [(e.dedupe_key, e.after_freeze) for e in await uow.attendance.list_events("s-1")]
    assert logged == [("before", False), ("after", True)]


@pytest.mark.postgres
async def test_postgresql_announces_what_a_batch_added_on_commit(
    store: SqlStore, db_url: str
) -> None:
    if store.backend != "postgresql":
        pytest.skip("SQLite is one instance by design: nothing is announced")
    heard: list[dict[str, Any]] = []
    two = asyncio.Event()

    def hear(*args: Any) -> None:
        heard.append(json.loads(args[-1]))
        if len(heard) >= 2:
            two.set()

    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    try:
        await conn.add_listener(CHANNEL, hear)
        await store.events.append([event("a"), event("b", session="s-2")], "here")
        await store.events.append([event("a")], "here")  # nothing new: nothing said
        await store.events.append([event("c", session=None)], "here")  # no session: nothing
        async with asyncio.timeout(5):
            await two.wait()
        await asyncio.sleep(0.2)  # anything more would have come by now
    finally:
        await conn.close()
    async with store.read() as uow:
        ids = {s: [e.id for e in await uow.attendance.list_events(s)] for s in ("s-1", "s-2")}
    assert sorted((h["o"], h["s"], h["f"], h["l"]) for h in heard) == [
        ("here", "s-1", ids["s-1"][0], ids["s-1"][0]),
        ("here", "s-2", ids["s-2"][0], ids["s-2"][0]),
    ]


@pytest.mark.postgres
async def test_a_cut_connection_fails_one_batch_then_the_next_connects_afresh(
    store: SqlStore,
) -> None:
    if store.backend != "postgresql":
        pytest.skip("a cut connection is PostgreSQL's (the server ends the backend)")
    await store.events.append([event("a")], "here")
    async with store.engine.connect() as conn:
        # every other backend of this test's own database: the appender's held connection
        await conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    with pytest.raises(RetryableStoreError):
        await store.events.append([event("b")], "here")
    assert flags(await store.events.append([event("b"), event("c")], "here")) == {
        ("jitsi", "b"): False,
        ("jitsi", "c"): False,
    }


async def test_postgresql_writes_several_batches_at_once_and_sqlite_one(store: SqlStore) -> None:
    """The next batches are written while the last one commits (PostgreSQL): `PG_PARALLEL`
    appends at once hold as many connections; SQLite, one writer, holds one."""
    writers = SqlEventAppender.PG_PARALLEL if store.backend == "postgresql" else 1
    assert writers > 1 or store.backend == "sqlite"
    assert store.events.parallel == writers
    every = await asyncio.gather(
        *(
            store.events.append([event(f"{k}{i}") for i in range(300)], "here")
            for k in "abcdef"[: max(2, writers)]
        )
    )
    assert [len(added) for added in every] == [300] * max(2, writers)
    if store.backend == "postgresql":
        async with store.engine.connect() as conn:
            others = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert others == writers  # the appender's, held between batches


@pytest.mark.postgres
async def test_postgresql_holds_no_more_connections_than_the_pool_s_size(db_url: str) -> None:
    """The event log never holds more of PostgreSQL's connections than the pool's size (the
    units of work then run on its overflow)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer")
    most = SqlEventAppender.PG_PARALLEL
    for size, parallel in ((1, 1), (2, min(2, most)), (5, most), (10, most)):
        small = SqlStore(create_engine(db_url, pool_size=size))
        try:
            assert small.events.parallel == parallel
        finally:
            await small.close()


async def test_data_no_json_can_carry_fails_its_batch_as_the_store_s_error(
    store: SqlStore,
) -> None:
    """An event whose data is not JSON (no reader of ours makes one) fails its batch with the
    store's own error, on the loop's connection and in the thread alike; nothing is logged."""
    bad = event("bad", data={"names": {"a set"}})
    for batch in ([bad], [bad, *(event(f"x{i}") for i in range(70))]):
        with pytest.raises(StoreError):
            await store.events.append(batch, "here")
    async with store.read() as uow:
        assert await uow.attendance.list_events("s-1") == []


def _appender(store: SqlStore) -> SqlEventAppender:
    appender = store.events
    assert isinstance(appender, SqlEventAppender)
    return appender


async def test_sqlite_writes_a_webhook_batch_on_the_loop_and_a_room_s_end_in_its_thread(
    store: SqlStore,
) -> None:
    """SQLite over a file: a batch of up to `HERE_ROWS` events is written on the event loop's
    own connection, a larger one on aiosqlite's thread; PostgreSQL never writes on the loop."""
    appender = _appender(store)
    small = await store.events.append([event("a"), event("b"), event("b2")], "here")  # (of 4)
    big = [event(f"end{i}") for i in range(appender.HERE_ROWS + 1)]
    large = await store.events.append(big, "here")
    assert len(small) == 3
    assert len(large) == len(big)
    assert appender.written_here == (0 if store.backend == "postgresql" else 1)
    again = await store.events.append([event("a"), event("c")], "here")  # a repeat skipped
    assert flags(again) == {("jitsi", "c"): False}
    async with store.read() as uow:
        logged = await uow.attendance.list_events("s-1")
    assert [replace(e, id=None) for e in logged] == written(
        store, [event("a"), event("b"), event("b2")], big, [event("c")]
    )


async def test_sqlite_a_batch_waits_for_another_writer_without_holding_the_loop(
    store: SqlStore,
) -> None:
    """Another connection holds SQLite's write lock: the batch is not written on the loop
    (which would wait there, every webhook with it) but in aiosqlite's thread, once the lock is
    given back; meanwhile the loop runs."""
    if store.backend != "sqlite":
        pytest.skip("the loop's own connection is SQLite's")
    appender = _appender(store)
    await store.events.append([event("a")], "here")  # the loop's connection is made
    assert appender.written_here == 1
    path = store.engine.url.database
    assert path
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        began = time.monotonic()
        writing = asyncio.create_task(store.events.append([event("b")], "here"))
        for _ in range(10):
            await asyncio.sleep(0.02)
        assert not writing.done()
        assert time.monotonic() - began < 2  # the loop ran: nothing waited on it for the lock
        other.execute("COMMIT")
        async with asyncio.timeout(10):
            added = await writing
    finally:
        other.close()
    assert flags(added) == {("jitsi", "b"): False}
    assert appender.written_here == 1  # the waiting batch went to the thread
    assert flags(await store.events.append([event("c")], "here")) == {("jitsi", "c"): False}
    assert appender.written_here == 2  # and the next is the loop's again


async def test_sqlite_the_loop_s_connection_never_checkpoints_nor_waits(store: SqlStore) -> None:
    """A checkpoint in one of its commits (past the backstop) would hold the event loop."""
    if store.backend != "sqlite":
        pytest.skip("the loop's own connection is SQLite's")
    appender = _appender(store)
    await store.events.append([event("a")], "here")
    assert appender._here is not None
    assert appender._here.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert appender._here.execute("PRAGMA busy_timeout").fetchone() == (0,)
    assert appender.batch_rows == appender.HERE_ROWS


async def test_sqlite_a_failed_loop_connection_fails_one_batch_then_the_next_connects_afresh(
    store: SqlStore,
) -> None:
    if store.backend != "sqlite":
        pytest.skip("the loop's own connection is SQLite's")
    appender = _appender(store)
    await store.events.append([event("a")], "here")
    assert appender._here is not None
    appender._here.close()  # gone under it, as a file it can no longer use would be
    with pytest.raises(StoreError):
        await store.events.append([event("b")], "here")
    assert flags(await store.events.append([event("b")], "here")) == {("jitsi", "b"): False}
    assert appender.written_here == 2


async def test_webhooks_flooding_in_are_each_logged_once_however_their_batches_overlap(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Webhooks arriving over 60 ms, each event three times (Prosody's retries), into batches
    written one at a time (SQLite) or several at once (PostgreSQL, each batch taking its keys
    in one order): every event is acknowledged as new exactly once, and no batch fails."""
    log = EventLog(store, SystemClock(), NoBoards(), set())
    log._rooms["room-x"] = _Room("s-1", frozenset())  # known: no look-up between webhooks
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    events = [
        Observation(
            "jitsi", "join", "room-x", at + timedelta(seconds=i), f"k{i:03d}", None, f"o{i}"
        )
        for i in range(150)
    ]
    rng = random.Random(7)

    async def webhook(ob: Observation) -> int:
        await asyncio.sleep(rng.uniform(0, 0.06))
        return await log.ingest([ob])

    with caplog.at_level(logging.WARNING, logger="orchestrator.attendance.eventlog"):
        accepted = await asyncio.gather(*(webhook(ob) for ob in events * 3))
    assert sum(accepted) == len(events)
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]
    async with store.read() as uow:
        logged = await uow.attendance.list_events("s-1")
    assert sorted(e.dedupe_key for e in logged) == [ob.dedupe_key for ob in events]


@pytest.mark.postgres
async def test_postgresql_batches_sharing_events_in_any_order_never_lock_in_a_circle(
    db_url: str,
) -> None:
    """Batches written at once that share events, each listing them in another order (one
    reversed, one shuffled): every batch writes its rows in one order of their keys, so each
    waits at most for another's commit, never in a circle (PostgreSQL would break one after a
    second, and fail its batch); every event is logged once."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer")
    store = SqlStore(create_engine(db_url))
    try:
        assert store.events.parallel >= 2
        rng = random.Random(5)
        for r in range(6):
            keys = [event(f"r{r}-{i:02d}") for i in range(40)]
            shuffled = rng.sample(keys, len(keys))
            batches = [keys, keys[::-1], shuffled][: store.events.parallel]
            added = await asyncio.wait_for(
                asyncio.gather(*(store.events.append(b, "here") for b in batches)), 10
            )
            assert sorted(k for a in added for k in a) == sorted(
                ("jitsi", e.dedupe_key) for e in keys
            )
    finally:
        await store.close()
