"""Racing clients over HTTP against two service instances sharing one database (rule 2)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

from orchestrator.bootstrap import Container, build
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Role
from orchestrator.settings import Settings
from orchestrator.store.base import SessionQuery
from orchestrator.web.app import init_app
from tests.conftest import OFFICE

CLIENTS = 24
ROUNDS = 3
HOURS = (8, 9, 10, 14)  # starts inside working hours, Monday to Wednesday


@pytest.fixture
async def instances(
    container: Container, settings: Settings, clock: ManualClock
) -> AsyncIterator[tuple[list[str], str]]:
    """Two service instances (own engine and pool each) on the same database."""
    second = build(settings, clock=clock)
    servers = [TestServer(init_app(c), host="127.0.0.1", port=0) for c in (container, second)]
    for s in servers:
        await s.start_server()
    token = (await container.access.create_token(Role.OFFICE, label="race")).token
    try:
        yield [str(s.make_url("/")).rstrip("/") for s in servers], token
    finally:
        for s in servers:
            await s.close()
        await second.close()


def body(n: int, start: str, end: str) -> dict[str, Any]:
    # Each client books a different title and chair but shares the sites and the leader group.
    return {
        "title": f"Race {n}",
        "start": start,
        "end": end,
        "host_site": "ha-noi",
        "sites": ["ha-noi", "da-nang"],
        "chair": {"name": f"Chair {n}", "email": f"chair{n}@example.org"},
        "leader_groups": ["lanh-dao-bo"],
    }


async def no_overlap_left(container: Container) -> None:
    sessions = await container.bookings.list_sessions(SessionQuery(limit=1000), OFFICE)
    live = [s for s in sessions if s.status.value != "cancelled"]
    for a, b in itertools.combinations(live, 2):
        shared = {x.site_id for x in a.sites} & {x.site_id for x in b.sites}
        overlapping = a.claimed.start < b.claimed.end and b.claimed.start < a.claimed.end
        assert not (shared and overlapping), (a.id, b.id)


async def test_exactly_one_booking_wins_each_round(
    instances: tuple[list[str], str], container: Container
) -> None:
    urls, token = instances
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=60) as http:
        for rnd in range(ROUNDS):
            day = 14 + rnd
            # overlapping but not identical ranges, so the claims differ in time too
            requests = [
                http.post(
                    f"{urls[n % 2]}/api/sessions",
                    json=body(
                        n,
                        f"2026-12-{day}T08:{n % 4 * 15:02d}:00+07:00",
                        f"2026-12-{day}T10:00:00+07:00",
                    ),
                    headers=headers,
                )
                for n in range(CLIENTS)
            ]
            answers = await asyncio.gather(*requests)
            codes = sorted(r.status_code for r in answers)
            assert codes.count(201) == 1, codes
            assert codes.count(409) == CLIENTS - 1, codes
            for r in answers:
                if r.status_code == 409:
                    assert r.json()["conflicts"], r.text
    await no_overlap_left(container)


async def test_exactly_one_reschedule_wins(
    instances: tuple[list[str], str], container: Container
) -> None:
    urls, token = instances
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=60) as http:
        ids = []
        for n in range(CLIENTS // 2):
            r = await http.post(
                f"{urls[0]}/api/sessions",
                json=body(
                    n,
                    f"2026-12-{14 + n // 4}T{HOURS[n % 4]:02d}:00:00+07:00",
                    f"2026-12-{14 + n // 4}T{HOURS[n % 4] + 1:02d}:00:00+07:00",
                )
                | {"buffer_before_minutes": 0, "buffer_after_minutes": 0},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        moves = [
            http.patch(
                f"{urls[i % 2]}/api/sessions/{sid}",
                json={"start": "2026-12-22T08:00:00+07:00", "end": "2026-12-22T09:00:00+07:00"},
                headers=headers,
            )
            for i, sid in enumerate(ids)
        ]
        codes = sorted(r.status_code for r in await asyncio.gather(*moves))
    assert codes.count(200) == 1, codes
    assert codes.count(409) == len(ids) - 1, codes
    await no_overlap_left(container)
