"""Jitsi's reservation API, spoken exactly as Prosody's mod_reservations speaks it (DESIGN 6.5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from connectors.jaas_webhooks import sign
from orchestrator.booking.schemas import BookingOut
from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import JaasSettings
from tests.builders import book, client
from tests.conftest import OFFICE

TOKEN = "prosody-secret"
CHAIR = {"name": "C", "email": "chair@example.org"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PREFIX = "/hooks/jitsi/reservations"
# Thursday 10 December 2026, 08:00-11:30 in Hà Nội, 30 minutes of connection test before.
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)
GRACE = timedelta(minutes=15)  # [booking] link_grace_minutes, the default


@pytest.fixture
async def prosody(container: Container) -> AsyncIterator[tuple[httpx.AsyncClient, BookingOut]]:
    container.settings = container.settings.model_copy(
        update={
            "jitsi": container.settings.jitsi.model_copy(
                update={"reservations_token": SecretStr(TOKEN)}
            )
        }
    )
    session = await book(container, start=START, end=END, chair=CHAIR)
    async with client(container) as http:
        yield http, session


def form(room: str, start: datetime) -> str:
    # Prosody: http.formencode{name, start_time = yyyy-MM-dd'T'HH:mm:ss.SSSX, mail_owner}
    return urlencode(
        {
            "name": room,
            "start_time": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "mail_owner": "5f1c2d9e-0a43-4b8e-9d7e-2c3a1b0f9e11@meet.example.org",
        }
    )


async def post(http: httpx.AsyncClient, body: str, headers: dict[str, str] | None = None) -> Any:
    return await http.post(
        f"{PREFIX}/conference", content=body, headers={**FORM, **(headers or AUTH)}
    )


async def test_room_opens_inside_the_window(
    prosody: tuple[httpx.AsyncClient, BookingOut], clock: ManualClock
) -> None:
    http, session = prosody
    assert session.room
    opened = START - timedelta(minutes=5)  # 07:55:12 in Hà Nội, as in the sample request
    clock.set(opened + timedelta(seconds=12))
    r = await post(http, form(session.room.upper(), opened + timedelta(seconds=12)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == session.room.lower()
    assert body["id"] == session.id
    assert body["mail_owner"].endswith("@meet.example.org")
    assert body["start_time"] == (opened + timedelta(seconds=12)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # duration in seconds, counted from the start_time Prosody sent, to the end plus the grace
    assert body["duration"] == int((END + GRACE - opened - timedelta(seconds=12)).total_seconds())
    assert body["max_occupants"] >= 6 * 2  # several devices per site
    again = await http.get(f"{PREFIX}/conference/{body['id']}", headers=AUTH)
    assert again.status_code == 200
    assert again.json()["name"] == body["name"]
    gone = await http.delete(f"{PREFIX}/conference/{body['id']}", headers=AUTH)
    assert gone.status_code == 200


@pytest.mark.parametrize(
    ("at", "status", "words"),
    [
        (START - timedelta(minutes=31), 403, "opens at"),  # before the connection test
        (END + timedelta(minutes=15), 403, "ended"),  # after end + grace
    ],
)
async def test_room_stays_shut_outside_the_window(
    prosody: tuple[httpx.AsyncClient, BookingOut],
    clock: ManualClock,
    at: datetime,
    status: int,
    words: str,
) -> None:
    http, session = prosody
    assert session.room
    clock.set(at)
    r = await post(http, form(session.room, at))
    assert r.status_code == status
    assert words in r.json()["message"]


async def test_unknown_cancelled_and_unauthorised(
    prosody: tuple[httpx.AsyncClient, BookingOut], clock: ManualClock, container: Container
) -> None:
    http, session = prosody
    assert session.room
    clock.set(START)
    unknown = await post(http, form("someone-elses-room", START))
    assert unknown.status_code == 404
    assert unknown.json()["message"]
    assert (
        await post(http, form(session.room, START), {"Authorization": "Bearer x"})
    ).status_code == 401
    bad = await post(http, "name=x")
    assert bad.status_code == 400
    malformed = await post(
        http, urlencode({"name": session.room, "start_time": "soon", "mail_owner": "a@b"})
    )
    assert malformed.status_code == 400
    clock.set(START - timedelta(days=1))
    await container.bookings.cancel(session.id, OFFICE)
    clock.set(START)
    cancelled = await post(http, form(session.room, START))
    assert cancelled.status_code == 403
    assert "cancelled" in cancelled.json()["message"]
    missing = await http.get(f"{PREFIX}/conference/{session.id}", headers=AUTH)
    assert missing.status_code == 404


async def test_not_configured_is_refused(container: Container) -> None:
    async with client(container) as http:
        r = await post(http, form("room", START))
    assert r.status_code == 503
    assert "not configured" in r.json()["message"]


JAAS_SECRET = "whsec_0123456789abcdef0123456789abcdef"
APP = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef"


@pytest.fixture
async def jaas(container: Container) -> AsyncIterator[tuple[httpx.AsyncClient, BookingOut]]:
    container.settings = container.settings.model_copy(
        update={"jaas": JaasSettings(app_id=APP, webhook_secret=SecretStr(JAAS_SECRET))}
    )
    session = await book(container, title="Giao ban", start=START, end=END, chair=CHAIR)
    async with client(container) as http:
        yield http, session


async def settings_call(
    http: httpx.AsyncClient, body: bytes, now: int, secret: str = JAAS_SECRET
) -> httpx.Response:
    header = f"t={now},v1={sign(body, secret, now)}"
    return await http.post(
        "/hooks/jaas/settings",
        content=body,
        headers={"Content-Type": "application/json", "X-Jaas-Signature": header},
    )


async def test_jaas_settings_from_the_booking(
    jaas: tuple[httpx.AsyncClient, BookingOut], clock: ManualClock
) -> None:
    http, session = jaas
    now = int(clock.now().timestamp())
    body = f'{{"fqn": "{APP}/{session.room}"}}'.encode()
    r = await settings_call(http, body, now)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["lobbyEnabled"] is False
    assert 6 * 2 <= answer["maxOccupants"] <= 500
    assert answer["visitorsEnabled"] is False
    unknown = await settings_call(http, f'{{"fqn": "{APP}/nobody-booked-this"}}'.encode(), now)
    assert unknown.json() == {"lobbyEnabled": True, "maxOccupants": 2, "visitorsEnabled": False}
    forged = await settings_call(http, body, now, secret="whsec_wrong")
    assert forged.status_code == 401
    stale = await settings_call(http, body, now - 3600)
    assert stale.status_code == 401
    other_app = await settings_call(http, f'{{"fqn": "someone-else/{session.room}"}}'.encode(), now)
    assert other_app.status_code == 400
    garbage = await settings_call(http, b"not json", now)
    assert garbage.status_code == 400
