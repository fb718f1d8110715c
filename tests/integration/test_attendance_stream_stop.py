"""A live board left open does not hold up the service's stop."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp.test_utils import TestServer

from orchestrator.bootstrap import Container
from orchestrator.domain.models import Role
from orchestrator.web.app import init_app
from tests.integration.test_invites import book


async def test_open_streams_end_when_the_service_stops(container: Container) -> None:
    booked = await book(container)
    token = (await container.access.create_token(Role.OFFICE)).token
    server = TestServer(init_app(container), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        response = await http.get(server.make_url(f"/api/sessions/{booked.id}/attendance/stream"))
        assert response.status == 200
        first = await response.content.readline()
        assert first.startswith(b"event: attendance")
        started = time.monotonic()
        await asyncio.wait_for(server.close(), timeout=20)
        took = time.monotonic() - started
        rest = await asyncio.wait_for(response.content.read(), timeout=5)
        assert b"data:" in rest
        response.release()
    # Without the stop signal the runner waits its whole grace period (60 s) for the stream.
    assert took < 10, f"the stop waited {took:.1f} s for an open live board"
