"""The record before and around the start, over HTTP on SQLite and PostgreSQL: `not_started` in
the API, the exports and the live stream; a drop in the connection test is not leaving early;
the summary follows the chair's override; the stream sends the whole record at the start."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from orchestrator.domain.clock import ManualClock
from tests.integration.attendance_kit import MIN, START, Board, post, sync


def by_site(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["site_id"]: s for s in record["sites"]}


async def test_hours_before_the_start_every_site_is_not_started(
    board: Board, clock: ManualClock
) -> None:
    clock.set(START - timedelta(hours=5))
    rec = await board.record(board.chair)
    assert {(s["status"], s["measured_status"]) for s in rec["sites"]} == {
        ("not_started", "not_started")
    }
    assert rec["summary"] == "0/6 điểm cầu đã kết nối"
    path = f"/api/sessions/{board.session.id}/attendance"
    csv = await board.http.get(f"{path}.csv?lang=en", headers=board.auth(board.office))
    rows = csv.content.decode("utf-8-sig").splitlines()
    assert rows[0].split(",")[:3] == ["Site", "Connection", "Status"]
    assert {r.split(",")[2] for r in rows[1:]} == {"not_started"}


async def test_the_connection_test_a_drop_in_it_and_an_override(
    board: Board, clock: ManualClock
) -> None:
    room = board.room
    clock.set(START - 15 * MIN)
    for body in (
        sync(room, "joined", "ha-noi", "hn@x/1", START - 25 * MIN),
        sync(room, "joined", "da-nang", "dn@x/1", START - 20 * MIN),
        sync(room, "left", "da-nang", "dn@x/1", START - 20 * MIN, START - 18 * MIN),
    ):
        assert (await post(board, *body)).status_code == 200
    sites = by_site(await board.record())
    assert (sites["ha-noi"]["connection"], sites["ha-noi"]["status"]) == (
        "connected",
        "not_started",
    )
    assert sites["ha-noi"]["connected_minutes"] == 0
    assert (sites["da-nang"]["connection"], sites["da-nang"]["left_early"]) == ("dropped", False)

    clock.set(START + 40 * MIN)
    rec = await board.record()
    sites = by_site(rec)
    assert (sites["ha-noi"]["status"], sites["ha-noi"]["connected_minutes"]) == ("present", 40)
    assert (sites["da-nang"]["status"], sites["da-nang"]["left_early"]) == ("absent", False)
    assert "rời sớm" not in rec["summary"]

    # A drop after the start is leaving early, until the chair says the site was present.
    await post(board, *sync(room, "joined", "can-tho", "ct@x/1", START - 5 * MIN))
    await post(board, *sync(room, "left", "can-tho", "ct@x/1", START - 5 * MIN, START + 20 * MIN))
    assert (await board.record())["summary"].endswith("1 rời sớm")
    ov = await board.http.post(
        f"/api/sessions/{board.session.id}/sites/can-tho/override",
        json={"verdict": "present", "reason": "Họp qua điện thoại"},
        headers=board.auth(board.chair),
    )
    assert ov.status_code == 200, ov.text
    rec = await board.record()
    assert "rời sớm" not in rec["summary"]
    assert by_site(rec)["can-tho"]["status"] == "present"


async def test_the_stream_sends_the_whole_record_at_the_start(
    board: Board, clock: ManualClock
) -> None:
    clock.set(START - 10 * MIN)
    await post(board, *sync(board.room, "joined", "ha-noi", "hn@x/1", START - 12 * MIN))
    url = f"/api/sessions/{board.session.id}/attendance/stream"
    async with board.http.stream("GET", url, headers=board.auth(board.chair)) as r:
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
        assert {s["status"] for s in first["sites"]} == {"not_started"}
        assert by_site(first)["ha-noi"]["connection"] == "connected"
        # The start comes: a site's event then brings every site's line, not only its own.
        clock.set(START + 1 * MIN)
        await post(board, *sync(board.room, "joined", "da-nang", "dn@x/1", START + 1 * MIN))
        event, second = await asyncio.wait_for(next_event(), 5)
        assert event == "attendance"
        statuses = {s["site_id"]: s["status"] for s in second["sites"]}
        assert statuses["ha-noi"] == "present"
        assert statuses["nghe-an"] == "absent"
