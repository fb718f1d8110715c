"""The scheduler as `serve` runs it, on two instances sharing one database: one leads, it does
what is due once, and when it stops the other takes over (short real delays, bounded)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.bootstrap import Container, build
from orchestrator.domain.clock import ManualClock
from orchestrator.scheduler.apscheduler_adapter import ApschedulerJobScheduler
from orchestrator.scheduler.leader import Leadership
from orchestrator.scheduler.runtime import SchedulerRuntime
from orchestrator.settings import Settings
from orchestrator.store import tables as t
from orchestrator.store.base import SessionQuery
from orchestrator.store.sql import SqlStore
from tests.conftest import OFFICE

START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)


def runtime(c: Container) -> SchedulerRuntime:
    assert isinstance(c.store, SqlStore)
    return SchedulerRuntime(
        c.lifecycle,
        ApschedulerJobScheduler,
        Leadership(c.store.engine, retry_seconds=0.2),
        tick_seconds=0.2,
    )


async def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling another task's state, bounded
            await asyncio.sleep(0.05)


async def reminders_queued(c: Container) -> int:
    assert isinstance(c.store, SqlStore)
    async with c.store.engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).where(t.outbox.c.kind == "reminder"))
    return int(count or 0)


async def test_one_leader_does_it_once_and_the_other_takes_over(
    container: Container, settings: Settings, clock: ManualClock
) -> None:
    await container.bookings.book(
        BookSessionRequest.model_validate(
            {
                "title": "Giao ban",
                "start": START.isoformat(),
                "end": (START + timedelta(hours=2)).isoformat(),
                "host_site": "ha-noi",
                "sites": ["ha-noi"],
                "chair": {"name": "C", "email": "c@example.org"},
            }
        ),
        OFFICE,
    )
    clock.set(START - timedelta(minutes=20))  # three reminders are due
    other = build(settings, clock=clock)
    first, second = runtime(container), runtime(other)
    try:
        await first.start()
        await second.start()
        await wait_for(lambda: first.is_leader or second.is_leader, 5)
        await asyncio.sleep(1.0)  # several ticks on the leader
        assert isinstance(container.store, SqlStore)
        if container.store.backend == "sqlite":
            # SQLite is the one-instance setup: each instance leads, and still nothing is
            # done twice, because every action is recorded in the same transaction.
            assert first.is_leader
            assert second.is_leader
            assert await reminders_queued(container) == 3
            return
        assert [first.is_leader, second.is_leader].count(True) == 1
        assert await reminders_queued(container) == 3  # once each, however many ticks
        leader, follower = (first, second) if first.is_leader else (second, first)
        await leader.stop()
        await wait_for(lambda: follower.is_leader, 5)
        clock.set(START + timedelta(minutes=1))
        await asyncio.sleep(0.8)
        assert await reminders_queued(container) == 3  # the new leader repeats nothing
        [session] = await container.bookings.list_sessions(SessionQuery(), OFFICE)
        assert session.status.value == "live"
    finally:
        await first.stop()
        await second.stop()
        await other.close()
