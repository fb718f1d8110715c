"""Boards across instances (DESIGN 12): what one `serve` instance logs reaches the live boards open
on another at once, through PostgreSQL's LISTEN/NOTIFY, also after the listening connection was
killed. PostgreSQL only: SQLite is one instance by design, its boards are fed in-process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from orchestrator.domain.clock import ManualClock
from orchestrator.store.base import StoredEvent
from orchestrator.store.sql import SqlStore, create_engine
from orchestrator.store.sql.attendance import CHANNEL
from orchestrator.store.sql.feed import PgChangeFeed
from tests.builders import bearer, issue_tokens
from tests.conftest import OFFICE
from tests.integration.attendance_kit import START, sync
from tests.integration.two_instances import WITHIN, Pair, Stream, hook, kill, until_listening


async def test_a_webhook_to_one_instance_reaches_the_board_on_the_other(
    pair: Pair, clock: ManualClock
) -> None:
    clock.set(START)
    # each instance listens on a connection of its own, from the start
    before = await until_listening(pair.db_url, 2, set(), 5)
    url = f"/api/sessions/{pair.session.id}/attendance/stream"
    async with pair.second.stream("GET", url, headers=bearer(pair.chair)) as r:
        assert r.status_code == 200
        board = Stream(r.aiter_lines())
        assert await asyncio.wait_for(board.next(), 5) == "attendance"
        assert board.shown["da-nang"] == "waiting"

        await hook(pair.first, *sync(pair.room, "joined", "da-nang", "dn@x/1", START))
        took = await board.until(lambda s: s["da-nang"] == "connected", WITHIN)
        assert took < WITHIN
        wholes = board.wholes

        # The database ends the listening connections (as a restart would): the instances
        # reconnect, the board reads its whole record once more, and changes flow again.
        await kill(pair.db_url, before)
        await until_listening(pair.db_url, 2, before, 10)
        await board.until(lambda _: board.wholes > wholes, WITHIN)
        await hook(pair.first, *sync(pair.room, "joined", "can-tho", "ct@x/1", START))
        await board.until(lambda s: s["can-tho"] == "connected", WITHIN)
        clock.set(START + timedelta(minutes=2))
        left = sync(pair.room, "left", "da-nang", "dn@x/1", START, START + timedelta(minutes=1))
        await hook(pair.first, *left)
        await board.until(lambda s: s["da-nang"] == "dropped", WITHIN)


async def test_a_check_in_elsewhere_reaches_the_board_and_nothing_is_heard_twice(
    pair: Pair, clock: ManualClock
) -> None:
    """The instance that logged the events feeds its own boards directly and ignores its own
    announcements; the other hears each once."""
    clock.set(START)
    await until_listening(pair.db_url, 2, set(), 5)
    tokens = await issue_tokens(pair.containers[1], "can-tho", chair_email=None)
    url = f"/api/sessions/{pair.session.id}/attendance/stream"
    async with (
        pair.first.stream("GET", url, headers=bearer(pair.chair)) as r1,
        pair.second.stream("GET", url, headers=bearer(pair.chair)) as r2,
    ):
        here, there = Stream(r1.aiter_lines()), Stream(r2.aiter_lines())
        await asyncio.wait_for(here.next(), 5)
        await asyncio.wait_for(there.next(), 5)
        r = await pair.second.post(
            f"/api/sessions/{pair.session.id}/sites/can-tho/checkin",
            json={"headcount": 12, "names": []},
            headers=bearer(tokens.coordinators["can-tho"]),
        )
        assert r.status_code in (200, 201), r.text
        await here.until(lambda _: here.sites["can-tho"]["headcount"] == 12, WITHIN)
        await hook(pair.second, *sync(pair.room, "joined", "can-tho", "ct@x/1", START))
        await there.until(lambda s: s.get("can-tho") == "connected", WITHIN)
        await here.until(lambda s: s.get("can-tho") == "connected", WITHIN)
        # each board shows the record as the log has it, each event once
        assert here.sites == there.sites
        for c in pair.containers:
            record = await c.attendance.record(pair.session.id, OFFICE)
            line = next(s for s in record.sites if s.site_id == "can-tho")
            assert (line.connection, line.headcount) == ("connected", 12)


async def test_the_feed_retries_an_unreachable_database_with_backoff_logging_each_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No server behind the address: each attempt is logged, the waits grow up to the cap, and
    the feed keeps trying until it is stopped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    engine = create_engine(f"postgresql+asyncpg://orch:orch@127.0.0.1:{port}/orch")
    feed = PgChangeFeed(engine, first_retry=0.02, max_retry=0.08)
    caplog.set_level(logging.WARNING, logger="orchestrator.store.sql.feed")
    task = asyncio.create_task(feed.follow(lambda _: None, lambda: None))
    try:
        await asyncio.sleep(0.6)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
    attempts = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert len(attempts) >= 4
    waits = [a.rsplit("next attempt in ", 1)[1] for a in attempts[:4]]
    assert waits == ["0.02 s", "0.04 s", "0.08 s", "0.08 s"]  # doubling, then the cap
    assert [f"attempt {n}:" in a for n, a in enumerate(attempts[:4], 1)] == [True] * 4
    assert not feed.connected.is_set()


async def test_announcements_are_heard_on_commit_only_and_stay_small(
    db_url: str, clock: ManualClock
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite is one instance by design: nothing is announced")
    store = SqlStore(create_engine(db_url))
    heard: list[str] = []
    both = asyncio.Event()

    def hear(*args: Any) -> None:
        heard.append(args[3])
        if len(heard) == 2:
            both.set()

    listener = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    await listener.add_listener(CHANNEL, hear)

    def event(key: str, session: str) -> StoredEvent:
        now = clock.now()
        return StoredEvent("checkin", "checkin", now, key, now, session_id=session, site_id="x")

    try:

        async def rolled_back() -> None:
            async with store.write() as uow:
                await uow.attendance.add_events([event("k0", "s-1")])
                await uow.attendance.announce("here")
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await rolled_back()
        async with store.write() as uow:
            await uow.attendance.add_events([event("k1", "s-1"), event("k2", "s-2")])
            await uow.attendance.add_events([event("k3", "s-1"), event("k1", "s-1")])
            await uow.attendance.announce("here")
            await asyncio.sleep(0.2)
            assert heard == []  # not before the commit
        await asyncio.wait_for(both.wait(), 5)
        async with store.read() as uow:
            ids = {r.dedupe_key: r.id for r in await uow.attendance.list_events("s-1")}
            ids |= {r.dedupe_key: r.id for r in await uow.attendance.list_events("s-2")}
        news = sorted((json.loads(h) for h in heard), key=lambda n: n["s"])
        assert news == [
            {"o": "here", "s": "s-1", "f": ids["k1"], "l": ids["k3"]},
            {"o": "here", "s": "s-2", "f": ids["k2"], "l": ids["k2"]},
        ]
        assert "k0" not in ids
        assert max(len(h.encode()) for h in heard) < 200  # NOTIFY's limit is 8,000 bytes
    finally:
        await listener.close()
        await store.close()
