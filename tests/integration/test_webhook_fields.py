"""Each webhook endpoint, sent the platform's own sample (tests/data/wire) with its key field
taken out or spoiled: refused with 400 naming that field, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.jaas_webhooks import sign
from orchestrator.domain.clock import ManualClock
from tests.integration.attendance_kit import EVENTS_TOKEN, JAAS_SECRET, Board

WIRE = Path(__file__).resolve().parents[1] / "data" / "wire"
SAMPLE_ROOM = "hoi-nghi-van-phong-2013-k7q2"


def sample(name: str, room: str) -> dict[str, Any]:
    """A wire sample with its room renamed to the test session's room."""
    text = (WIRE / name).read_text(encoding="utf-8").replace(SAMPLE_ROOM, room)
    body: dict[str, Any] = json.loads(text)
    return body


def without(body: dict[str, Any], path: str) -> dict[str, Any]:
    *parents, last = path.split(".")
    inner = body
    for part in parents:
        inner = inner[part]
    del inner[last]
    return body


async def event_sync(board: Board, endpoint: str, body: dict[str, Any]) -> httpx.Response:
    return await board.http.post(
        f"/hooks/jitsi/events/{endpoint}",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {EVENTS_TOKEN}", "Content-Type": "application/json"},
    )


async def jaas(board: Board, clock: ManualClock, body: dict[str, Any]) -> httpx.Response:
    raw = json.dumps(body).encode()
    now = int(clock.now().timestamp())
    return await board.http.post(
        "/hooks/jaas",
        content=raw,
        headers={
            "X-Jaas-Signature": f"t={now},v1={sign(raw, JAAS_SECRET, now)}",
            "Content-Type": "application/json",
        },
    )


EVENT_SYNC = [
    ("room/created", "event-sync-room-created.json", "created_at"),
    ("room/created", "event-sync-room-created.json", "room_name"),
    ("occupant/joined", "event-sync-occupant-joined.json", "occupant.occupant_jid"),
    ("occupant/joined", "event-sync-occupant-joined.json", "occupant.joined_at"),
    ("occupant/joined", "event-sync-occupant-joined.json", "occupant"),
    ("occupant/left", "event-sync-occupant-left.json", "occupant.left_at"),
    ("occupant/left", "event-sync-occupant-left.json", "occupant.occupant_jid"),
    ("room/destroyed", "event-sync-room-destroyed.json", "destroyed_at"),
    ("room/destroyed", "event-sync-room-destroyed.json", "event_name"),
]


@pytest.mark.parametrize(("endpoint", "name", "field"), EVENT_SYNC)
async def test_an_event_sync_body_missing_its_key_field_is_refused_naming_it(
    board: Board, endpoint: str, name: str, field: str
) -> None:
    assert (await event_sync(board, endpoint, sample(name, board.room))).status_code == 200
    r = await event_sync(board, endpoint, without(sample(name, board.room), field))
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["field"] == field
    assert field in answer["message"]
    assert "missing" in answer["message"]


async def test_a_bad_field_is_named_as_well(board: Board) -> None:
    body = sample("event-sync-occupant-joined.json", board.room)
    body["occupant"]["joined_at"] = "soon"
    r = await event_sync(board, "occupant/joined", body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "occupant.joined_at"
    r = await event_sync(board, "occupant/left", sample("event-sync-room-created.json", board.room))
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "event_name"


async def test_a_body_that_is_not_json_names_no_field(board: Board) -> None:
    r = await board.http.post(
        "/hooks/jitsi/events/room/created",
        content=b"{not json",
        headers={"Authorization": f"Bearer {EVENTS_TOKEN}"},
    )
    assert r.status_code == 400, r.text
    assert "field" not in r.json()
    assert r.json()["message"].startswith("not an event-sync payload")


JAAS = [
    ("jaas-participant-joined.json", "data.participantJid"),
    ("jaas-participant-left.json", "data.participantJid"),
    ("jaas-room-created.json", "fqn"),
    ("jaas-room-destroyed.json", "idempotencyKey"),
    ("jaas-participant-left.json", "timestamp"),
]


@pytest.mark.parametrize(("name", "field"), JAAS)
async def test_a_jaas_body_missing_its_key_field_is_refused_naming_it(
    board: Board, clock: ManualClock, name: str, field: str
) -> None:
    assert (await jaas(board, clock, sample(name, board.room))).status_code == 200
    body = without(sample(name, board.room), field)
    if field == "data.participantJid":
        del body["data"]["participantId"]  # either names the participant
    r = await jaas(board, clock, body)
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["field"] == field
    assert f"{field} is missing" in answer["message"]


async def test_a_jaas_fqn_without_a_room_is_named(board: Board, clock: ManualClock) -> None:
    body = sample("jaas-room-created.json", board.room)
    body["fqn"] = "vpaas-magic-cookie-1"
    r = await jaas(board, clock, body)
    assert r.status_code == 400, r.text
    assert r.json() == {"message": r.json()["message"], "field": "fqn"}
