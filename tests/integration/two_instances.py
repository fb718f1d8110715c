"""Two service instances on one PostgreSQL database, each on its own port, and what their
tests read of them: a live board's events as they come, the boards' listening connections. The
`pair` fixture (conftest.py) serves them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from orchestrator.booking.schemas import BookingOut
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import Settings
from orchestrator.store.sql.feed import APPLICATION_NAME
from tests.builders import FakeMailer, book, client, issue_tokens
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE
from tests.integration.attendance_kit import END, EVENTS_TOKEN, START, configure

WITHIN = 3.0  # seconds for a change to reach the other instance's board ("a couple")


@dataclass
class Pair:
    """Two service instances on one database, each on its own port."""

    first: httpx.AsyncClient
    second: httpx.AsyncClient
    containers: tuple[Container, Container]
    session: BookingOut
    chair: str
    db_url: str

    @property
    def room(self) -> str:
        assert self.session.room
        return self.session.room


async def hook(http: httpx.AsyncClient, endpoint: str, body: dict[str, Any]) -> None:
    r = await http.post(
        f"/hooks/jitsi/events/{endpoint}",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {EVENTS_TOKEN}", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


class Stream:
    """A live board's server-sent events, read as they come: each site's connection as shown."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self.shown: dict[str, str] = {}
        self.sites: dict[str, dict[str, Any]] = {}
        self.wholes = 0

    async def next(self) -> str:
        event = "message"
        async for line in self._lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                self.wholes += event == "attendance"
                for s in data["sites"]:
                    self.shown[s["site_id"]] = s["connection"]
                    self.sites[s["site_id"]] = s
                return event
        raise AssertionError("the stream ended")

    async def until(self, shows: Callable[[dict[str, str]], bool], within: float) -> float:
        """Read until the board shows what `shows` expects; the seconds it took."""
        t0 = time.monotonic()
        async with asyncio.timeout(within):
            while not shows(self.shown):
                await self.next()
        return time.monotonic() - t0


async def listeners(db_url: str) -> set[int]:
    """The server processes of the boards' listening connections on the test database."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = :name"
                    " AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            )
            return {r.pid for r in rows}
    finally:
        await engine.dispose()


async def kill(db_url: str, pids: set[int]) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            for pid in pids:
                await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await engine.dispose()


async def until_listening(db_url: str, count: int, not_among: set[int], within: float) -> set[int]:
    async with asyncio.timeout(within):
        while True:
            pids = await listeners(db_url)
            if len(pids - not_among) >= count:
                return pids
            await asyncio.sleep(0.05)


async def serve_pair(
    settings: Settings, clock: ManualClock, mailer: FakeMailer, db_url: str
) -> AsyncIterator[Pair]:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite is one instance by design: its boards are fed in-process")
    configured = configure(settings)
    a = build(configured, clock=clock, mailer=mailer)
    b = build(configured, clock=clock, mailer=mailer)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(a.close)
        stack.push_async_callback(b.close)
        await a.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
        session = await book(a, start=START, end=END)
        tokens = await issue_tokens(a)
        first = await stack.enter_async_context(client(a, timeout=30))
        second = await stack.enter_async_context(client(b, timeout=30))
        yield Pair(first, second, (a, b), session, tokens.chair, db_url)
