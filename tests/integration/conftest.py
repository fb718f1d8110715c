"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from orchestrator.domain.clock import ManualClock
from orchestrator.settings import Settings
from tests.builders import FakeMailer
from tests.integration.attendance_kit import Board, serve_board


@pytest.fixture
async def board(settings: Settings, clock: ManualClock, mailer: FakeMailer) -> AsyncIterator[Board]:
    """A six-site session on a real port, event-sync and JaaS webhooks configured."""
    async for served in serve_board(settings, clock, mailer):
        yield served
