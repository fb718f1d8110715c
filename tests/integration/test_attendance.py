"""Attendance over HTTP on real SQLite and PostgreSQL: the platforms' webhooks as they send
them, replays in any order with duplicates, check-ins, overrides, exports, the live stream."""

from __future__ import annotations

import asyncio
import io
import json
import random
from datetime import timedelta
from typing import Any

import httpx
from openpyxl import load_workbook

from connectors.jaas_webhooks import sign
from orchestrator.bootstrap import build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Role
from orchestrator.settings import Settings
from tests.builders import book, deliver, with_smtp
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE
from tests.integration.attendance_kit import (
    END,
    EVENTS_TOKEN,
    JAAS_SECRET,
    MIN,
    START,
    Board,
    configure,
    post,
    sync,
)
from tests.smtp_server import SmtpTestServer


def meeting(room: str) -> list[tuple[str, dict[str, Any]]]:
    """The six-site meeting: on time, late, a drop and reconnect, two devices, an absentee,
    and a guest without a site token."""
    m = timedelta(minutes=1)
    out = [
        sync(room, "joined", "ha-noi", "hn@x/1", START - 20 * m),
        sync(room, "joined", "da-nang", "dn@x/1", START - 5 * m),
        sync(room, "joined", "tp-ho-chi-minh", "hcm@x/1", START + 25 * m),  # late
        sync(room, "joined", "can-tho", "ct@x/1", START - 10 * m),
        sync(room, "left", "can-tho", "ct@x/1", START - 10 * m, START + 60 * m),  # drops
        sync(room, "joined", "can-tho", "ct@x/2", START + 70 * m),  # and comes back
        sync(room, "joined", "thai-nguyen", "tn@x/1", START),
        sync(room, "joined", "thai-nguyen", "tn@x/2", START + 5 * m),  # a second device
        sync(room, "left", "thai-nguyen", "tn@x/1", START, START + 100 * m),
        sync(room, "joined", None, "guest@x/1", START + 3 * m),  # no site token
    ]
    return out  # nghe-an never joins


async def test_the_meeting_as_the_chair_sees_it(board: Board, clock: ManualClock) -> None:
    for endpoint, body in meeting(board.room):
        r = await post(board, endpoint, body)
        assert r.status_code == 200, r.text
    clock.set(START + timedelta(minutes=120))
    rec = await board.record(board.chair)
    sites = {s["site_id"]: s for s in rec["sites"]}
    assert sites["ha-noi"]["connection"] == "connected"
    assert sites["ha-noi"]["late"] is False
    assert sites["tp-ho-chi-minh"]["late"] is True
    assert sites["can-tho"]["reconnects"] == 1
    assert sites["can-tho"]["connection"] == "connected"
    assert sites["thai-nguyen"]["connection"] == "connected"  # its second device stays
    assert sites["nghe-an"]["connection"] == "waiting"
    assert sites["nghe-an"]["status"] == "absent"
    assert [u["name"] for u in rec["unmatched"]] == ["Điểm cầu None"]
    assert "5/6" in rec["summary"]


async def test_shuffled_and_repeated_events_give_the_same_record(
    board: Board, clock: ManualClock, settings: Settings
) -> None:
    events = meeting(board.room)
    for endpoint, body in events:
        await post(board, endpoint, body)
    clock.set(END + timedelta(minutes=1))
    first = await board.record()
    # a second session's room receives the same stream shuffled, each event up to three times
    twice = [e for e in events for _ in range(random.Random(7).randint(1, 3))]
    random.Random(42).shuffle(twice)
    clock.set(START - timedelta(days=1))
    other = await book(
        board.container,
        title="Bản sao",
        start=START + timedelta(days=1),
        end=END + timedelta(days=1),
        chair={"name": "C", "email": "chair2@example.org"},
        buffer_before_minutes=30,
    )
    other_room = other.room
    shift = timedelta(days=1)
    for endpoint, body in twice:
        moved = json.loads(json.dumps(body).replace(board.room, other_room))
        person = moved["occupant"]
        person["joined_at"] += int(shift.total_seconds())
        if "left_at" in person:
            person["left_at"] += int(shift.total_seconds())
        assert (await post(board, endpoint, moved)).status_code == 200
    clock.set(END + shift + timedelta(minutes=1))
    r = await board.http.get(
        f"/api/sessions/{other.id}/attendance", headers=board.auth(board.office)
    )
    second = r.json()

    def shape(rec: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (
                s["site_id"],
                s["status"],
                s["late"],
                s["left_early"],
                s["connected_minutes"],
                s["reconnects"],
            )
            for s in rec["sites"]
        ]

    assert shape(second) == shape(first)


async def test_webhooks_refuse_bad_credentials_and_bodies(board: Board) -> None:
    endpoint, body = sync(board.room, "joined", "da-nang", "dn@x/1", START)
    assert (await post(board, endpoint, body, token="wrong")).status_code == 401
    assert (await post(board, "occupant/left", body)).status_code == 400  # wrong endpoint
    bad = await board.http.post(
        "/hooks/jitsi/events/occupant/joined",
        content=b"{nope",
        headers={"Authorization": f"Bearer {EVENTS_TOKEN}"},
    )
    assert bad.status_code == 400
    rec = await board.record()
    assert all(s["connection"] == "waiting" for s in rec["sites"])  # nothing was recorded
    unknown = await post(board, *sync("some-other-room", "joined", "da-nang", "x@x/1", START))
    assert unknown.status_code == 200  # acknowledged so Prosody stops retrying, kept apart


async def jaas_post(
    board: Board, body: dict[str, Any], *, now: int, secret: str = JAAS_SECRET
) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await board.http.post(
        "/hooks/jaas",
        content=raw,
        headers={
            "X-Jaas-Signature": f"t={now},v1={sign(raw, secret, now)}",
            "Content-Type": "application/json",
        },
    )


async def test_jaas_webhooks(board: Board, clock: ManualClock) -> None:
    clock.set(START + timedelta(minutes=1))
    now = int(clock.now().timestamp())
    body = {
        "idempotencyKey": "k-1",
        "customerId": "c",
        "appId": "vpaas-magic-cookie-x",
        "eventType": "PARTICIPANT_JOINED",
        "sessionId": "s",
        "timestamp": int(START.timestamp() * 1000),
        "fqn": f"vpaas-magic-cookie-x/{board.room}",
        "data": {
            "id": "da-nang",
            "name": "Đà Nẵng",
            "participantJid": "p1@8x8.vc",
            "moderator": "false",
        },
    }
    assert (await jaas_post(board, body, now=now, secret="whsec_wrong")).status_code == 401
    assert (await jaas_post(board, body, now=now - 3600)).status_code == 401
    assert (await jaas_post(board, body, now=now)).status_code == 200
    again = await jaas_post(board, body, now=now)  # a duplicate delivery
    assert again.json()["accepted"] == 0
    ignored = await jaas_post(
        board, {**body, "idempotencyKey": "k-2", "eventType": "CHAT_UPLOADED"}, now=now
    )
    assert ignored.status_code == 200
    rec = await board.record()
    sites = {s["site_id"]: s for s in rec["sites"]}
    assert sites["da-nang"]["connection"] == "connected"


async def test_checkin_override_exports_and_freeze(board: Board, clock: ManualClock) -> None:
    c = board.container
    coordinator = (await c.access.create_token(Role.COORDINATOR, site_id="nghe-an")).token
    path = f"/api/sessions/{board.session.id}/sites/nghe-an"
    early = await board.http.post(
        f"{path}/checkin", json={"headcount": 12}, headers=board.auth(coordinator)
    )
    assert early.status_code == 409  # check-in opens with the connection test
    clock.set(START - timedelta(minutes=10))
    ok = await board.http.post(
        f"{path}/checkin",
        json={"headcount": 12, "names": ["Nguyễn Văn A"]},
        headers=board.auth(coordinator),
    )
    assert ok.status_code == 200, ok.text
    other = await board.http.post(
        f"/api/sessions/{board.session.id}/sites/can-tho/checkin",
        json={"headcount": 3},
        headers=board.auth(coordinator),
    )
    assert other.status_code == 403
    ov = await board.http.post(
        f"{path}/override",
        json={"verdict": "present", "reason": "Họp qua điện thoại"},
        headers=board.auth(board.chair),
    )
    assert ov.status_code == 200, ov.text
    clock.set(END + timedelta(minutes=5))
    rec = await board.record(board.chair)
    nghe_an = next(s for s in rec["sites"] if s["site_id"] == "nghe-an")
    assert nghe_an["status"] == "present"
    assert nghe_an["override"]["reason"] == "Họp qua điện thoại"
    assert nghe_an["headcount"] == 12
    log = await c.access.audit_log(OFFICE, target=f"session:{board.session.id}")
    assert "attendance.override" in [e.action for e in log]
    csv = await board.http.get(
        f"/api/sessions/{board.session.id}/attendance.csv", headers=board.auth(board.office)
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert "Điểm cầu" in csv.content.decode("utf-8-sig").splitlines()[0]
    xlsx = await board.http.get(
        f"/api/sessions/{board.session.id}/attendance",
        headers={
            **board.auth(board.office),
            "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert sheet.cell(row=1, column=1).value == "Hội nghị trực tuyến"
    frozen = await board.http.post(
        f"/api/sessions/{board.session.id}/attendance/freeze", headers=board.auth(board.office)
    )
    assert frozen.status_code == 200
    assert frozen.json()["frozen_at"]
    # a late event is stored and flagged, not merged into the frozen record
    await post(board, *sync(board.room, "joined", "da-nang", "dn@x/9", END + timedelta(minutes=6)))
    after = await board.record()
    assert after["late_events"] == 1
    assert after["sites"] == frozen.json()["sites"]


async def test_live_stream_sends_the_record_then_the_changed_sites(
    board: Board, clock: ManualClock
) -> None:
    clock.set(START)
    url = f"/api/sessions/{board.session.id}/attendance/stream"
    async with board.http.stream("GET", url, headers=board.auth(board.chair)) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.aiter_lines()

        async def next_event() -> tuple[str, dict[str, Any]]:
            event = "message"
            async for line in lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data: dict[str, Any] = json.loads(line[6:])
                    return event, data
            raise AssertionError("stream ended")

        event, first = await asyncio.wait_for(next_event(), 5)
        assert event == "attendance"
        assert first == await board.record()
        assert {s["connection"] for s in first["sites"]} == {"waiting"}
        await post(board, *sync(board.room, "joined", "da-nang", "dn@x/1", START))
        event, second = await asyncio.wait_for(next_event(), 5)
        assert event == "changes"
        assert set(second) == {
            "session_id",
            "summary",
            "summary_en",
            "frozen_at",
            "late_events",
            "sites",
            "unmatched",
        }
        assert [(s["site_id"], s["connection"]) for s in second["sites"]] == [
            ("da-nang", "connected")
        ]
        assert second["summary_en"] == "1/6 sites connected"
        # a guest, then a second device of a site: each change sends its site, and the guests
        await post(board, *sync(board.room, "joined", None, "guest@x/1", START))
        event, third = await asyncio.wait_for(next_event(), 5)
        assert (event, third["sites"], len(third["unmatched"])) == ("changes", [], 1)
        clock.set(START + timedelta(minutes=30))
        await post(board, *sync(board.room, "joined", "ha-noi", "hn@x/1", START + 10 * MIN))
        event, fourth = await asyncio.wait_for(next_event(), 5)
        assert [s["site_id"] for s in fourth["sites"]] == ["ha-noi"]
        # the changes applied to the first record give the record as it stands
        shown = {s["site_id"]: s for s in first["sites"]}
        for change in (second, third, fourth):
            shown.update({s["site_id"]: s for s in change["sites"]})
        now = await board.record()
        changed_now = {"ha-noi"}  # da-nang's minutes moved on since its change was sent
        assert {k: v for k, v in shown.items() if k != "da-nang"} == {
            s["site_id"]: s for s in now["sites"] if s["site_id"] != "da-nang"
        }
        assert changed_now <= set(shown)
        assert (fourth["summary"], fourth["unmatched"]) == (now["summary"], now["unmatched"])
    stranger = await board.http.get(url)
    assert stranger.status_code == 401
    site = (await board.container.access.create_token(Role.COORDINATOR, site_id="da-nang")).token
    coordinator = await board.http.get(url, headers=board.auth(site))
    assert coordinator.status_code == 403  # attendance is for the office and the chair
    record = await board.http.get(
        f"/api/sessions/{board.session.id}/attendance", headers=board.auth(site)
    )
    assert record.status_code == 403


async def test_nothing_acknowledged_is_lost_on_restart(
    board: Board, settings: Settings, clock: ManualClock
) -> None:
    await post(board, *sync(board.room, "joined", "da-nang", "dn@x/1", START))
    await board.container.close()
    again = build(configure(settings), clock=clock)
    try:
        clock.set(START + timedelta(minutes=5))
        rec = await again.attendance.record(board.session.id, OFFICE)
        assert {s.site_id: s.connection for s in rec.sites}["da-nang"] == "connected"
    finally:
        await again.close()


async def test_frozen_record_is_mailed_to_the_chair(
    settings: Settings, clock: ManualClock, smtp_server: SmtpTestServer
) -> None:
    c = build(with_smtp(configure(settings), smtp_server), clock=clock)
    try:
        await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
        booked = await book(c, title="Giao ban", start=START, end=END, sites=["ha-noi", "da-nang"])
        session_id = booked.id
        clock.set(END + timedelta(minutes=1))
        await c.attendance.freeze(session_id)
        await c.attendance.freeze(session_id)  # freezing twice changes nothing
        await deliver(c)
        to_chair = [m for m in smtp_server.messages if "chair@moet.example.org" in m.rcpt_tos]
        assert len(to_chair) == 1
        message = to_chair[0].parsed()
        assert "Giao ban" in str(message["Subject"])
        [csv] = [p for p in message.iter_attachments() if p.get_filename() == "attendance.csv"]
        assert "ha-noi" in csv.get_content()
    finally:
        await c.close()


async def test_room_events_are_logged_but_do_not_break_the_record(
    board: Board, clock: ManualClock
) -> None:
    clock.set(START + timedelta(minutes=1))
    created = {
        "event_name": "muc-room-created",
        "room_name": board.room,
        "room_jid": f"{board.room}@conference.meet.example.org",
        "is_breakout": False,
        "created_at": int(START.timestamp()),
    }
    assert (await post(board, "room/created", created)).status_code == 200
    await post(board, *sync(board.room, "joined", "da-nang", "dn@x/1", START))
    rec = await board.record()
    assert {s["site_id"]: s["connection"] for s in rec["sites"]}["da-nang"] == "connected"


async def test_concurrent_webhooks_are_each_acknowledged_once(board: Board) -> None:
    events = [
        sync(board.room, "joined", site, f"{site}@x/{n}", START + timedelta(seconds=n))
        for n, site in enumerate(["ha-noi", "da-nang", "can-tho", "nghe-an"] * 5)
    ]
    answers = await asyncio.gather(*(post(board, e, b) for e, b in events + events))
    assert all(a.status_code == 200 for a in answers)
    assert sum(a.json()["accepted"] for a in answers) == len(events)  # duplicates not counted
