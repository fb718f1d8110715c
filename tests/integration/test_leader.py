"""Scheduler leadership (DESIGN 8): on PostgreSQL the holder of an advisory lock leads, and another
instance takes over within seconds when it stops or its connection dies; on SQLite the one
instance leads at once. Short real delays; each test runs on both backends where it makes sense."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orchestrator.scheduler.leader import (
    APPLICATION_NAME,
    SCHEDULER_LOCK_KEY,
    SCHEDULER_LOCK_NAMESPACE,
    Leadership,
)
from orchestrator.store.sql import create_engine

RETRY = 0.2  # seconds between attempts to take the lock
SETTLE = 0.1  # seconds from taking the lock to leading
MARGIN = 1.0  # allowed on top of RETRY + SETTLE for a takeover

HOLDER_SQL = sa.text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    f" AND classid = {SCHEDULER_LOCK_NAMESPACE} AND objid = {SCHEDULER_LOCK_KEY} AND objsubid = 2"
)


@dataclass
class Instance:
    """One service instance's campaign, recording what its callbacks saw."""

    name: str
    leadership: Leadership
    elected: int = 0
    lost: int = 0
    task: asyncio.Task[None] | None = None

    async def on_elected(self) -> None:
        self.elected += 1

    async def on_lost(self) -> None:
        self.lost += 1

    def start(self) -> None:
        self.task = asyncio.create_task(self.leadership.run(self.on_elected, self.on_lost))

    async def stop(self) -> None:
        await self.leadership.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader


async def until(condition: Callable[[], object], within: float) -> float:
    """Wait until `condition()` (awaited if it returns an awaitable) is truthy; the seconds it
    took. Fails after `within` seconds."""
    t0 = time.monotonic()
    async with asyncio.timeout(within):
        # polling is the point: `is_leader` is a plain property, sampled as a caller would
        while not await _value(condition()):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    return time.monotonic() - t0


async def _value(x: object) -> object:
    return await x if inspect.isawaitable(x) else x


class Watch:
    """Samples the instances' `is_leader` every few milliseconds, in the background."""

    def __init__(self, *instances: Instance) -> None:
        self.instances = instances
        self.samples = 0
        self.both = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        # overlaps, when the settling is missing, last milliseconds (see leader.py)
        while True:
            leaders = sum(i.is_leader for i in self.instances)
            self.samples += 1
            self.both += leaders > 1
            await asyncio.sleep(0.0005)

    def __enter__(self) -> Watch:
        self._task = asyncio.create_task(self._sample())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    e = create_engine(db_url)
    try:
        yield e
    finally:
        await e.dispose()


@pytest.fixture
async def pair(engine: AsyncEngine) -> AsyncIterator[tuple[Instance, Instance]]:
    if engine.dialect.name != "postgresql":
        pytest.skip("one instance by design on SQLite: nothing to elect between")
    a = Instance("a", Leadership(engine, retry_seconds=RETRY, settle_seconds=SETTLE))
    b = Instance("b", Leadership(engine, retry_seconds=RETRY, settle_seconds=SETTLE))
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


async def holders(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(HOLDER_SQL)).scalars())


async def test_a_lone_instance_leads_at_once(engine: AsyncEngine) -> None:
    one = Instance("one", Leadership(engine, retry_seconds=RETRY, settle_seconds=SETTLE))
    assert not one.is_leader
    one.start()
    await until(lambda: one.is_leader, within=RETRY + SETTLE + MARGIN)
    assert (one.elected, one.lost) == (1, 0)
    if engine.dialect.name == "postgresql":
        assert len(await holders(engine)) == 1
    await one.stop()
    assert not one.is_leader
    assert one.task is not None
    assert one.task.done()
    assert (one.elected, one.lost) == (1, 0)
    if engine.dialect.name == "postgresql":
        assert await holders(engine) == []  # released


async def test_a_new_holder_settles_before_it_leads(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("no lock on SQLite")
    one = Instance("one", Leadership(engine, retry_seconds=RETRY, settle_seconds=0.5))
    one.start()
    try:
        await until(lambda: holders(engine), within=RETRY + MARGIN)
        assert not one.is_leader  # holds the lock, does not lead yet
        assert one.elected == 0
        waited = await until(lambda: one.is_leader, within=0.5 + MARGIN)
        assert waited >= 0.3  # the lock was seen within a few milliseconds of being taken
        assert one.elected == 1
    finally:
        await one.stop()


async def test_exactly_one_of_two_leads(
    pair: tuple[Instance, Instance], engine: AsyncEngine
) -> None:
    a, b = pair
    with Watch(a, b) as watch:
        a.start()
        b.start()
        await until(lambda: a.is_leader or b.is_leader, within=RETRY + SETTLE + MARGIN)
        await asyncio.sleep(4 * RETRY)  # the other has tried several times meanwhile
    assert watch.samples > 50
    assert watch.both == 0
    assert a.is_leader != b.is_leader
    assert sorted((a.elected, b.elected)) == [0, 1]
    assert len(await holders(engine)) == 1


async def test_when_the_leader_stops_the_other_takes_over(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    a.start()
    await until(lambda: a.is_leader, within=RETRY + SETTLE + MARGIN)
    b.start()
    await asyncio.sleep(2 * RETRY)
    assert not b.is_leader
    with Watch(a, b) as watch:
        await a.stop()
        took = await until(lambda: b.is_leader, within=RETRY + SETTLE + MARGIN)
        await asyncio.sleep(2 * RETRY)
    assert took <= RETRY + SETTLE + MARGIN
    assert watch.both == 0
    assert (a.elected, a.lost) == (1, 0)  # a stop is not a loss
    assert (b.elected, b.lost) == (1, 0)
    assert b.is_leader


async def test_when_the_leaders_connection_dies_the_other_takes_over(
    engine: AsyncEngine, db_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("one instance by design on SQLite: nothing to elect between")
    a = Instance("a", Leadership(engine, retry_seconds=RETRY, settle_seconds=SETTLE))
    # b polls every 1 ms: it takes the lock within moments of its release, before a's driver has
    # seen the connection close; only the settling keeps it from leading alongside a
    b = Instance("b", Leadership(engine, retry_seconds=0.001, settle_seconds=SETTLE))
    admin = create_async_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        a.start()
        await until(lambda: a.is_leader, within=RETRY + SETTLE + MARGIN)
        b.start()
        await asyncio.sleep(2 * RETRY)
        assert not b.is_leader
        [pid] = await holders(engine)
        with Watch(a, b) as watch:
            async with admin.connect() as conn:
                killed = await conn.scalar(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE pid = :pid AND application_name = :app"
                    ),
                    {"pid": pid, "app": APPLICATION_NAME},
                )
            assert killed is True
            took = await until(lambda: b.is_leader, within=RETRY + SETTLE + MARGIN)
            await until(lambda: a.lost == 1, within=RETRY + SETTLE + MARGIN)
            # the old leader campaigns again, and loses while b holds the lock
            await asyncio.sleep(3 * RETRY)
        assert took <= RETRY + SETTLE + MARGIN
        assert watch.samples > 100
        assert watch.both == 0
        assert (a.elected, a.lost) == (1, 1)
        assert (b.elected, b.lost) == (1, 0)
        assert b.is_leader
        assert not a.is_leader
        assert await holders(engine) not in ([], [pid])
    finally:
        await admin.dispose()
        await a.stop()
        await b.stop()


async def test_an_unreachable_database_is_retried_not_raised() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody:secret@127.0.0.1:9/none")
    try:
        lone = Instance("lone", Leadership(engine, retry_seconds=RETRY, settle_seconds=SETTLE))
        lone.start()
        await asyncio.sleep(3 * RETRY)
        assert lone.task is not None
        assert not lone.task.done()
        assert not lone.is_leader
        assert lone.elected == 0
        await lone.stop()
    finally:
        await engine.dispose()
