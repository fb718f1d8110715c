"""One poller per live room (DESIGN 12): instances sharing a database poll each live room from one
of them at a time, through a lease in the database; another takes the room over when the holder
stops renewing it (it died) or gives it up (it stopped). With `[jitsi] muc_size_token` each poll
carries a token for its room, signed with the app secret as the sites' links are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import jwt
import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from orchestrator.booking.schemas import BookingOut
from orchestrator.bootstrap import Container, build, build_presence
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import AttendanceSettings, JitsiSettings, Settings
from tests.builders import book
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE

if TYPE_CHECKING:
    from tests.fake_jitsi import FakeJitsi

START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)
ROUND = timedelta(seconds=30)  # [attendance] poll_seconds: the lease runs three rounds
SECRET = "a-jitsi-app-secret-of-at-least-32-bytes!"
APP_ID = "moet"


def jitsi(fake: FakeJitsi, *, token: bool = False) -> JitsiSettings:
    return JitsiSettings(
        domain=fake.domain,
        app_id=APP_ID,
        app_secret=SecretStr(SECRET),
        muc_size_url=fake.url,
        muc_size_token=token,
    )


def configured(settings: Settings, fake: FakeJitsi, *, token: bool = False) -> Settings:
    return settings.model_copy(
        update={
            "jitsi": jitsi(fake, token=token),
            "attendance": AttendanceSettings(poll_seconds=ROUND.total_seconds()),
        }
    )


async def live_session(c: Container) -> BookingOut:
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    return await book(c, start=START, end=END, provider="jitsi")


@pytest.fixture
async def pollers(
    settings: Settings, clock: ManualClock, fake_jitsi: FakeJitsi
) -> AsyncIterator[tuple[Container, Container, BookingOut]]:
    """Two instances with presence polls on one database, a live Jitsi session booked."""
    s = configured(settings, fake_jitsi)
    async with AsyncExitStack() as stack:
        a = build(s, clock=clock)
        stack.push_async_callback(a.close)
        b = build(s, clock=clock)
        stack.push_async_callback(b.close)
        session = await live_session(a)
        assert session.room
        fake_jitsi.set_room(session.room, [])
        yield a, b, session


def polls(fake: FakeJitsi) -> int:
    return sum(1 for r in fake.requests if r.path == "/room")


async def test_each_round_polls_a_live_room_once_between_two_instances(
    pollers: tuple[Container, Container, BookingOut], clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    a, b, _ = pollers
    now = START + timedelta(minutes=5)
    for n in range(1, 5):
        clock.set(now)
        # both instances run their round (in either order): the room is polled once
        first, second = (a, b) if n % 2 else (b, a)
        polled = await first.attendance.poll_live() + await second.attendance.poll_live()
        assert polled == 1
        assert polls(fake_jitsi) == n
        now += ROUND


async def test_another_instance_takes_the_room_when_the_holder_dies(
    pollers: tuple[Container, Container, BookingOut], clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    a, b, _ = pollers
    clock.set(START + timedelta(minutes=5))
    assert await a.attendance.poll_live() == 1  # a holds the room from now on
    assert await b.attendance.poll_live() == 0
    # a dies without a word: b keeps out while a's lease runs (three rounds), then takes over
    for _ in range(2):
        clock.advance(ROUND)
        assert await b.attendance.poll_live() == 0
    clock.advance(ROUND + timedelta(seconds=1))
    assert await b.attendance.poll_live() == 1
    assert polls(fake_jitsi) == 2
    # and holds it: a, back, finds it taken
    clock.advance(ROUND)
    assert await a.attendance.poll_live() == 0
    assert await b.attendance.poll_live() == 1


async def test_an_instance_that_stops_gives_its_rooms_up_at_once(
    settings: Settings, clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    s = configured(settings, fake_jitsi)
    b = build(s, clock=clock)
    try:
        a = build(s, clock=clock)
        session = await live_session(a)
        assert session.room
        fake_jitsi.set_room(session.room, [])
        clock.set(START + timedelta(minutes=5))
        assert await a.attendance.poll_live() == 1
        await a.close()  # `serve` stopping
        clock.advance(ROUND)
        assert await b.attendance.poll_live() == 1
    finally:
        await b.close()


async def test_polls_carry_a_token_for_their_room(
    settings: Settings, clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    c = build(configured(settings, fake_jitsi, token=True), clock=clock)
    try:
        session = await live_session(c)
        assert session.room
        fake_jitsi.set_room(session.room, [])
        now = START + timedelta(minutes=5)
        clock.set(now)
        assert await c.attendance.poll_live() == 1
        (seen,) = [r for r in fake_jitsi.requests if r.path == "/room"]
        claims = jwt.decode(
            seen.query["token"],
            SECRET,
            algorithms=["HS256"],
            audience=APP_ID,
            issuer=APP_ID,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        assert claims["room"] == seen.query["room"] == session.room
        assert claims["sub"] == fake_jitsi.domain
        assert claims["nbf"] <= now.timestamp() < claims["exp"]
        assert claims["exp"] - now.timestamp() <= 300
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(seen.query["token"], "another-secret-of-at-least-32-bytes!!", ["HS256"])
    finally:
        await c.close()


async def test_no_token_without_the_setting(
    pollers: tuple[Container, Container, BookingOut], clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    a, _, _ = pollers
    clock.set(START + timedelta(minutes=5))
    await a.attendance.poll_live()
    assert all("token" not in r.query for r in fake_jitsi.requests)


def test_a_token_needs_the_jitsi_provider(
    settings: Settings, clock: ManualClock, fake_jitsi: FakeJitsi
) -> None:
    half = settings.model_copy(
        update={"jitsi": JitsiSettings(muc_size_url=fake_jitsi.url, muc_size_token=True)}
    )
    with pytest.raises(PermanentConnectorError, match="muc_size_token"):
        build_presence(half, clock, None)
