"""Hostile and odd webhooks on real SQLite and PostgreSQL: distinct events are never taken for
resends, one bad webhook fails nothing beside it, and no input answers 5xx."""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.jaas_webhooks import sign
from orchestrator.attendance.eventlog import EventLog
from orchestrator.attendance.service import Attendance
from orchestrator.attendance.sources import Observation, read_event_sync, sync_key
from orchestrator.domain.clock import ManualClock
from orchestrator.store import migrate
from orchestrator.store.base import StoredEvent
from orchestrator.store.sql import create_engine
from orchestrator.store.sql.attendance import SqlAttendanceLog
from orchestrator.store.tables import UTCDateTime
from orchestrator.web import attendance as web_attendance
from orchestrator.web.attendance import BULK_WEBHOOK
from tests.conftest import SIX
from tests.integration.attendance_kit import JAAS_SECRET, START, Board, post, sync

SEC = timedelta(seconds=1)


async def _accepted(board: Board, endpoint: str, body: dict[str, Any]) -> int:
    r = await post(board, endpoint, body)
    assert r.status_code == 200, r.text
    accepted: int = r.json()["accepted"]
    return accepted


async def test_an_occupant_returning_under_its_jid_is_never_taken_for_a_resend(
    board: Board, clock: ManualClock
) -> None:
    room, jid = board.room, "dn@x/Xk2m"
    joins = [sync(room, "joined", "da-nang", jid, START + i * SEC) for i in range(4)]
    assert [await _accepted(board, *j) for j in joins] == [1, 1, 1, 1]
    assert [await _accepted(board, *j) for j in joins] == [0, 0, 0, 0]  # resends
    # back from a breakout room (or a rejoin on the same connection): the same JID again
    leave = sync(room, "left", "da-nang", jid, START + 3 * SEC, START + 10 * SEC)
    back = sync(room, "joined", "da-nang", jid, START + 11 * SEC)
    assert await _accepted(board, *leave) == 1
    assert await _accepted(board, *back) == 1
    clock.set(START + timedelta(minutes=5))
    sites = {s["site_id"]: s for s in (await board.record())["sites"]}
    assert sites["da-nang"]["connection"] == "connected"


async def test_room_events_one_second_apart_are_both_kept(board: Board) -> None:
    def room_event(name: str, field: str, at: datetime) -> dict[str, Any]:
        return {
            "event_name": name,
            "room_name": board.room,
            "room_jid": f"{board.room}@conference.meet.example.org",
            "is_breakout": False,
            field: int(at.timestamp()),
        }

    created = [room_event("muc-room-created", "created_at", START + i * SEC) for i in range(2)]
    assert [await _accepted(board, "room/created", b) for b in created] == [1, 1]
    assert [await _accepted(board, "room/created", b) for b in created] == [0, 0]
    destroyed = room_event("muc-room-destroyed", "destroyed_at", START + 2 * SEC)
    destroyed["all_occupants"] = []
    assert await _accepted(board, "room/destroyed", destroyed) == 1


@pytest.mark.parametrize(
    "value",
    ["1e20", "-1e20", "1e300", "9" * 400, "NaN", "Infinity", "-Infinity", "-1", "0"],
)
async def test_an_impossible_instant_is_refused_by_name(board: Board, value: str) -> None:
    _, body = sync(board.room, "joined", "da-nang", "dn@x/1", START)
    raw = json.dumps(body).replace(str(int(START.timestamp())), value)
    r = await board.http.post(
        "/hooks/jitsi/events/occupant/joined",
        content=raw,
        headers={"Authorization": "Bearer prosody-event-sync-token"},
    )
    assert r.status_code == 400, r.text
    assert "occupant.joined_at" in r.json()["message"]


@pytest.mark.parametrize("timestamp", [10**17, -(10**17), 10**400])
async def test_a_signed_jaas_event_at_an_impossible_instant_is_refused(
    board: Board, clock: ManualClock, timestamp: int
) -> None:
    body = json.dumps(
        {
            "idempotencyKey": "k-1",
            "customerId": "c",
            "appId": "vpaas-magic-cookie-1",
            "eventType": "PARTICIPANT_JOINED",
            "sessionId": "s",
            "timestamp": timestamp,
            "fqn": f"vpaas-magic-cookie-1/{board.room}",
            "data": {"id": "da-nang", "participantJid": "p@x/1", "name": "Đà Nẵng"},
        }
    ).encode()
    now = int(clock.now().timestamp())
    r = await board.http.post(
        "/hooks/jaas",
        content=body,
        headers={
            "X-Jaas-Signature": f"t={now},v1={sign(body, JAAS_SECRET, now)}",
            "Content-Type": "application/json",
        },
    )
    assert r.status_code == 400, r.text
    assert "timestamp" in r.json()["message"]


async def test_one_unstorable_webhook_fails_nothing_beside_it(
    board: Board, clock: ManualClock
) -> None:
    room = board.room
    good = [
        sync(room, "joined", site, f"{site}@x/{i}", START + i * SEC)
        for i, site in enumerate(["ha-noi", "da-nang", "can-tho", "nghe-an", "thai-nguyen"])
    ]
    bad = sync(room, "joined", "tp-ho-chi-minh", "hcm\u0000@x/1", START)
    answers = await asyncio.gather(*(post(board, *w) for w in [*good[:2], bad, *good[2:]]))
    statuses = [r.status_code for r in answers]
    assert statuses == [200, 200, 400, 200, 200, 200], [r.text for r in answers]
    assert "occupant.occupant_jid" in answers[2].json()["message"]
    assert sum(r.json()["accepted"] for r in answers if r.status_code == 200) == 5
    # NUL in free text is dropped and the event kept
    _, named = sync(room, "joined", "tp-ho-chi-minh", "hcm@x/1", START)
    named["occupant"]["name"] = "Điểm cầu\u0000 TP HCM"
    named["occupant"]["email"] = "\u0000hcm@example.org"
    assert await _accepted(board, "occupant/joined", named) == 1
    clock.set(START + timedelta(minutes=1))
    sites = {s["site_id"]: s for s in (await board.record())["sites"]}
    assert sites["tp-ho-chi-minh"]["connection"] == "connected"


async def test_a_failing_batch_is_written_member_by_member(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever slips past validation and fails a group commit fails only its own webhook."""
    attendance = board.container.attendance
    commit = Attendance._commit

    async def poisoned(self: Attendance, every: list[StoredEvent]) -> set[tuple[str, str]]:
        await asyncio.sleep(0.01)  # let the other webhooks join the batch
        if any(e.occupant == "poison" for e in every):
            raise RuntimeError("the database refused a row")
        return await commit(self, every)

    monkeypatch.setattr(Attendance, "_commit", poisoned)

    def observation(occupant: str, i: int) -> list[Observation]:
        at = START + i * SEC
        key = sync_key(board.room, None, occupant, "muc-occupant-joined", at)
        return [Observation("jitsi", "join", board.room, at, key, "da-nang", occupant)]

    results = await asyncio.gather(
        *(attendance.ingest(observation(o, i)) for i, o in enumerate(["a", "b", "poison", "c"])),
        return_exceptions=True,
    )
    assert results[:2] == [1, 1]
    assert isinstance(results[2], RuntimeError)
    assert results[3] == 1


async def test_migration_rekeys_the_events_logged_before(db_url: str) -> None:
    """Events logged with the coarse keys are re-keyed, so a resend of one is still known."""
    engine = create_engine(db_url)
    at = datetime(2026, 12, 10, 1, 0, 7, tzinfo=UTC)
    joined = {
        "event_name": "muc-occupant-joined",
        "room_name": "phong-a",
        "is_breakout": True,
        "breakout_room_id": "br-1",
        "occupant": {"occupant_jid": "dn@x/1", "id": "da-nang", "joined_at": at.timestamp()},
    }
    events = sa.table(
        "attendance_events",
        *(sa.column(n) for n in ("id", "session_id", "room", "source", "kind", "site_id")),
        sa.column("occupant"),
        sa.column("at", UTCDateTime),
        sa.column("received_at", UTCDateTime),
        sa.column("dedupe_key"),
        sa.column("data", sa.JSON),
        sa.column("after_freeze", sa.Boolean),
    )
    ts = at.timestamp()
    old = [  # as the first version keyed them (`{when:g}`)
        (
            "join",
            "dn@x/1#br-1",
            {"breakout": "br-1"},
            f"phong-a|br-1|dn@x/1|muc-occupant-joined|{ts:g}",
        ),
        ("created", None, {}, f"phong-a|br-7|created|{ts:g}"),
        ("destroyed", None, {}, f"phong-a||destroyed|{ts:g}"),
    ]
    try:
        await migrate.downgrade(engine, "0007")
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(events),
                [
                    {
                        "session_id": None,
                        "room": "phong-a",
                        "source": "jitsi",
                        "kind": kind,
                        "site_id": None,
                        "occupant": occupant,
                        "at": at,
                        "received_at": at,
                        "dedupe_key": key,
                        "data": data,
                        "after_freeze": False,
                    }
                    for kind, occupant, data, key in old
                ],
            )
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            keys = (await conn.execute(sa.select(events.c.dedupe_key).order_by("id"))).scalars()
            stored = list(keys)
    finally:
        await engine.dispose()
    [resent] = read_event_sync("occupant/joined", json.dumps(joined).encode())
    micros = int(ts) * 1_000_000
    assert stored == [
        resent.dedupe_key,
        f"phong-a|br-7|created|{micros}",
        f"phong-a||destroyed|{micros}",
    ]


async def test_a_rooms_first_webhooks_arriving_together_read_its_session_once(
    board: Board, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A national session's first webhooks come together: they wait for one read of its
    sites, not one read each (32 reads of 10,000 sites at once filled the pool and memory)."""
    reads: list[str] = []
    original = SqlAttendanceLog.room_sites

    async def counted(self: SqlAttendanceLog, room: str) -> Any:
        reads.append(room)
        await asyncio.sleep(0.05)  # a long read: the others come meanwhile
        return await original(self, room)

    monkeypatch.setattr(SqlAttendanceLog, "room_sites", counted)
    clock.set(START + timedelta(minutes=5))
    joins = [sync(board.room, "joined", site, f"{site}@x/1", START) for site in SIX]
    assert await asyncio.gather(*(_accepted(board, *j) for j in joins)) == [1] * len(SIX)
    assert reads == [board.room]
    record = await board.record()
    assert {s["site_id"] for s in record["sites"] if s["connection"] == "connected"} == set(SIX)


async def test_tokens_naming_no_site_of_the_session_do_not_reload_it_per_event(
    board: Board, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    original = SqlAttendanceLog.room_sites

    async def counted(self: SqlAttendanceLog, room: str) -> Any:
        reads.append(room)
        return await original(self, room)

    monkeypatch.setattr(SqlAttendanceLog, "room_sites", counted)
    clock.set(START + timedelta(minutes=5))
    await _accepted(board, *sync(board.room, "joined", "da-nang", "dn@x/1", START))
    reads.clear()
    guests = [
        {"occupant_jid": f"g{i}@x/1", "id": f"guest-{i}", "joined_at": int(START.timestamp()) + i}
        for i in range(50)
    ]
    destroyed = {
        "event_name": "muc-room-destroyed",
        "room_name": board.room,
        "is_breakout": False,
        "destroyed_at": int(START.timestamp()) + 100,
        "all_occupants": guests,
    }
    assert await _accepted(board, "room/destroyed", destroyed) == 51
    assert reads == [board.room]  # once for the whole webhook, not once per guest
    await _accepted(board, *sync(board.room, "joined", "guest-1", "g1@x/2", START))
    assert reads == [board.room]  # a guest found missing moments ago: not read again
    clock.advance(timedelta(seconds=31))
    await _accepted(board, *sync(board.room, "joined", "guest-1", "g1@x/3", START))
    assert reads == [board.room, board.room]  # later, read again (it may have been added)
    record = await board.record()
    assert {s["site_id"] for s in record["sites"]} == set(SIX)
    # the 50 guests' connections and guest-1's two later ones, none taken for a site
    assert len(record["unmatched"]) == 52
    assert {u["site_id"] for u in record["unmatched"]} == {None}


async def test_a_large_rooms_end_is_read_with_the_collector_held_off_then_running_again(
    board: Board, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `room/destroyed` past `BULK_WEBHOOK` (hundreds of occupants) is read with the cyclic
    collector held off and logged with it running (the logging may wait for the database):
    every event of it logged once, and a bad one refused as any other, the collector on
    again afterwards."""
    clock.set(START + timedelta(minutes=5))
    seen: list[tuple[str, bool]] = []
    read, ingest = web_attendance.read_event_sync, EventLog.ingest

    def reading(endpoint: str, body: bytes) -> list[Observation]:
        seen.append(("read", gc.isenabled()))
        return read(endpoint, body)

    async def logging(self: EventLog, observations: Any) -> int:
        seen.append(("log", gc.isenabled()))
        return await ingest(self, observations)

    monkeypatch.setattr(web_attendance, "read_event_sync", reading)
    monkeypatch.setattr(EventLog, "ingest", logging)
    t0 = int(START.timestamp())
    guests = [
        {
            "occupant_jid": f"guest-{i:04d}@meet.example.org/{'x' * 80}",
            "name": f"Khách mời số {i} của hội nghị toàn quốc",
            "id": f"guest-{i}",
            "joined_at": t0 + i,
            "left_at": t0 + 600 + i,
        }
        for i in range(400)
    ]
    destroyed = {
        "event_name": "muc-room-destroyed",
        "room_name": board.room,
        "is_breakout": False,
        "destroyed_at": t0 + 3600,
        "all_occupants": guests,
    }
    assert len(json.dumps(destroyed)) > BULK_WEBHOOK
    assert await _accepted(board, "room/destroyed", destroyed) == 801
    assert await _accepted(board, "room/destroyed", destroyed) == 0  # a resend: nothing new
    await _accepted(board, *sync(board.room, "joined", "da-nang", "dn@x/1", START))
    held, running = ("read", False), ("log", True)
    assert seen == [held, running, held, running, ("read", True), running]
    assert gc.isenabled()
    bad = {**destroyed, "destroyed_at": "soon"}
    r = await post(board, "room/destroyed", bad)
    assert r.status_code == 400, r.text
    assert gc.isenabled()
