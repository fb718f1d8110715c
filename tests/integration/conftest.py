"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from orchestrator.domain.clock import ManualClock
from orchestrator.settings import Settings
from orchestrator.store.sql import SqlStore, create_engine
from tests.builders import FakeMailer
from tests.integration.attendance_kit import Board, serve_board
from tests.integration.two_instances import Pair, serve_pair


@pytest.fixture
async def board(settings: Settings, clock: ManualClock, mailer: FakeMailer) -> AsyncIterator[Board]:
    """A six-site session on a real port, event-sync and JaaS webhooks configured."""
    async for served in serve_board(settings, clock, mailer):
        yield served


@pytest.fixture
async def pair(
    settings: Settings, clock: ManualClock, mailer: FakeMailer, db_url: str
) -> AsyncIterator[Pair]:
    """Two instances on one PostgreSQL database, a session booked (skipped on SQLite: one
    instance by design, its boards fed in-process)."""
    async for served in serve_pair(settings, clock, mailer, db_url):
        yield served


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    """The store on the test's database (migrated, empty), closed after the test; a module
    that needs it seeded defines its own."""
    s = SqlStore(create_engine(db_url))
    try:
        yield s
    finally:
        await s.close()
