"""Presence polls of live Jitsi rooms as a second source (DESIGN 6.6): an occupant maps to a site
by its email, a failed poll means unknown, never absent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from orchestrator.booking.schemas import BookingOut, BookSessionRequest
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import JitsiSettings, Settings
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE
from tests.fake_jitsi import FakeOccupant

if TYPE_CHECKING:
    from tests.fake_jitsi import FakeJitsi

START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)


@pytest.fixture
async def live(
    settings: Settings, clock: ManualClock, fake_jitsi: FakeJitsi
) -> AsyncIterator[tuple[Container, BookingOut]]:
    configured = settings.model_copy(
        update={
            "jitsi": JitsiSettings(
                domain=fake_jitsi.domain,
                app_id="moet",
                app_secret=SecretStr("a-jitsi-app-secret-of-at-least-32-bytes!"),
                muc_size_url=fake_jitsi.url,
            )
        }
    )
    c = build(configured, clock=clock)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    answer = await c.bookings.book(
        BookSessionRequest.model_validate(
            {
                "title": "Hội nghị",
                "start": START.isoformat(),
                "end": END.isoformat(),
                "host_site": "ha-noi",
                "sites": ["ha-noi", "da-nang", "can-tho"],
                "chair": {"name": "C", "email": "chair@example.org"},
                "provider": "jitsi",
            }
        ),
        OFFICE,
    )
    yield c, answer.value
    await c.close()


async def emails(c: Container) -> dict[str, str]:
    return {s.id: s.coordinator.email or "" for s in (await c.directory.view(OFFICE)).sites}


async def test_polls_show_who_is_in(
    live: tuple[Container, BookingOut], clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    c, session = live
    assert session.room
    mail = await emails(c)
    fake_jitsi.set_room(
        session.room,
        [
            FakeOccupant("hn", email=mail["ha-noi"], display_name="Hà Nội"),
            FakeOccupant("guest", email="someone@else.org", display_name="Khách"),
        ],
    )
    clock.set(START + timedelta(minutes=5))
    assert await c.attendance.poll_live() == 1
    clock.set(START + timedelta(minutes=6))
    rec = await c.attendance.record(session.id, OFFICE)
    sites = {s.site_id: s for s in rec.sites}
    assert sites["ha-noi"].connection == "connected"
    assert sites["da-nang"].connection == "waiting"
    assert [u.name for u in rec.unmatched] == ["Khách"]


async def test_a_failed_poll_is_unknown_never_absent(
    live: tuple[Container, BookingOut], clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    c, session = live
    fake_jitsi.behaviour.status = 500
    clock.set(START + timedelta(minutes=5))
    await c.attendance.poll_live()
    clock.set(START + timedelta(minutes=6))
    rec = await c.attendance.record(session.id, OFFICE)
    assert {s.status for s in rec.sites} == {"unknown"}
    assert {s.connection for s in rec.sites} == {"unknown"}


async def test_only_live_jitsi_sessions_are_polled(
    live: tuple[Container, BookingOut], clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    c, _ = live
    clock.set(START - timedelta(hours=2))
    assert await c.attendance.poll_live() == 0
    assert fake_jitsi.requests == []
