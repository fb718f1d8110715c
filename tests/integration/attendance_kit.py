"""Attendance test kit: a six-site session served on a real port with the webhooks configured,
and the platforms' payloads as they send them. The `board` fixture lives in conftest.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from orchestrator.booking.schemas import BookingOut
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import JaasSettings, JitsiSettings, Settings
from tests.builders import FakeMailer, bearer, book, client, issue_tokens
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE

EVENTS_TOKEN = "prosody-event-sync-token"
JAAS_SECRET = "whsec_00112233445566778899aabbccddeeff"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
MIN = timedelta(minutes=1)
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)  # 11:30


def configure(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "jitsi": JitsiSettings(events_token=SecretStr(EVENTS_TOKEN)),
            "jaas": JaasSettings(webhook_secret=SecretStr(JAAS_SECRET)),
        }
    )


@dataclass
class Board:
    http: httpx.AsyncClient
    container: Container
    session: BookingOut
    office: str
    chair: str

    @property
    def room(self) -> str:
        assert self.session.room
        return self.session.room

    def auth(self, token: str) -> dict[str, str]:
        return bearer(token)

    async def record(self, token: str | None = None) -> dict[str, Any]:
        r = await self.http.get(
            f"/api/sessions/{self.session.id}/attendance", headers=self.auth(token or self.office)
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


async def serve_board(
    settings: Settings, clock: ManualClock, mailer: FakeMailer
) -> AsyncIterator[Board]:
    c = build(configure(settings), clock=clock, mailer=mailer)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    session = await book(c, start=START, end=END)
    tokens = await issue_tokens(c)
    async with client(c) as http:
        yield Board(http, c, session, tokens.office, tokens.chair)
    await c.close()


def sync(
    room: str,
    event: str,
    site: str | None,
    jid: str,
    joined: datetime,
    left: datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    occupant: dict[str, Any] = {
        "name": f"Điểm cầu {site}",
        "email": f"{site}@example.org",
        "id": site,
        "occupant_jid": jid,
        "joined_at": int(joined.timestamp()),
    }
    if left is not None:
        occupant["left_at"] = int(left.timestamp())
    name = "muc-occupant-joined" if event == "joined" else "muc-occupant-left"
    return f"occupant/{event}", {
        "event_name": name,
        "room_name": room,
        "room_jid": f"{room}@conference.meet.example.org",
        "is_breakout": False,
        "active_occupants_count": 1,
        "occupant": occupant,
    }


async def post(
    board: Board, endpoint: str, body: dict[str, Any], token: str = EVENTS_TOKEN
) -> httpx.Response:
    return await board.http.post(
        f"/hooks/jitsi/events/{endpoint}",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
