"""The live stream of the sites a page shows (`?sites=`), over HTTP on SQLite and PostgreSQL:
their lines only, every site's state in words, the states of the sites that changed; without
the parameter the events are as they always were; a bad id is refused before the stream; many
sites changed at once, made a few at a time, come as the record has them, webhooks landing
while they are made included; a watched board is kept out of the collector's full collections
until it is dropped."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.attendance import boards
from orchestrator.attendance.boards import row_state
from orchestrator.attendance.exports import SiteRecordOut
from orchestrator.attendance.service import OverrideRequest
from orchestrator.domain.clock import ManualClock
from tests.conftest import OFFICE
from tests.integration.attendance_kit import MIN, START, Board, post, sync

Events = AsyncIterator[tuple[str, dict[str, Any]]]


@asynccontextmanager
async def _stream(board: Board, query: str) -> AsyncIterator[Events]:
    url = f"/api/sessions/{board.session.id}/attendance/stream{query}"
    async with board.http.stream("GET", url, headers=board.auth(board.chair)) as r:
        assert r.status_code == 200
        lines = r.aiter_lines()

        async def events() -> Events:
            event = "message"
            async for line in lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    yield event, json.loads(line[6:])

        yield events()


async def _next(events: Events) -> tuple[str, dict[str, Any]]:
    return await asyncio.wait_for(anext(events), 5)


async def test_only_the_shown_sites_lines_and_every_sites_state(
    board: Board, clock: ManualClock
) -> None:
    clock.set(START + 30 * MIN)
    room = board.room
    await post(board, *sync(room, "joined", "ha-noi", "hn@x/1", START - 5 * MIN))
    await post(board, *sync(room, "joined", "can-tho", "ct@x/1", START + 20 * MIN))  # late
    async with _stream(board, "?sites=ha-noi,da-nang,no-such-site") as events:
        event, first = await _next(events)
        assert event == "attendance"
        whole = await board.record()
        assert [s["site_id"] for s in first["sites"]] == ["ha-noi", "da-nang"]
        assert first["sites"] == [
            s for s in whole["sites"] if s["site_id"] in ("ha-noi", "da-nang")
        ]
        assert first["states"] == {
            "ha-noi": "connected",
            "da-nang": "waiting absent",
            "tp-ho-chi-minh": "waiting absent",
            "can-tho": "connected late",
            "thai-nguyen": "waiting absent",
            "nghe-an": "waiting absent",
        }
        assert first["summary"] == whole["summary"]
        assert {k: v for k, v in first.items() if k not in ("sites", "states")} == {
            k: v for k, v in whole.items() if k != "sites"
        }

        # a site not shown drops: no line, its state
        await post(
            board, *sync(room, "left", "can-tho", "ct@x/1", START + 20 * MIN, START + 25 * MIN)
        )
        event, second = await _next(events)
        assert (event, second["sites"]) == ("changes", [])
        assert second["states"] == {"can-tho": "dropped late left_early"}
        # a shown site joins: its line and its state
        await post(board, *sync(room, "joined", "da-nang", "dn@x/1", START + 26 * MIN))
        event, third = await _next(events)
        assert [(s["site_id"], s["connection"]) for s in third["sites"]] == [
            ("da-nang", "connected")
        ]
        assert third["states"] == {"da-nang": "connected late"}
        # the chair's verdict settles the flags, as the summary counts them
        await board.container.attendance.override(
            board.session.id, "can-tho", OverrideRequest(verdict="present", reason="đã báo"), OFFICE
        )
        event, fourth = await _next(events)
        assert fourth["states"] == {"can-tho": "dropped"}


async def test_without_sites_the_events_are_unchanged(board: Board, clock: ManualClock) -> None:
    clock.set(START + timedelta(minutes=5))
    async with _stream(board, "") as events:
        event, first = await _next(events)
        assert event == "attendance"
        assert "states" not in first
        assert len(first["sites"]) == 6
        await post(board, *sync(board.room, "joined", "ha-noi", "hn@x/1", START))
        event, second = await _next(events)
        assert event == "changes"
        assert "states" not in second
    # an empty list: the states only
    async with _stream(board, "?sites=") as events:
        event, first = await _next(events)
        assert (event, first["sites"]) == ("attendance", [])
        assert first["states"]["ha-noi"] == "connected"


async def test_a_bad_site_id_is_refused_before_the_stream(board: Board) -> None:
    url = f"/api/sessions/{board.session.id}/attendance/stream?sites=ha-noi,Not%20An%20Id"
    r = await board.http.get(url, headers=board.auth(board.chair))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("cut", ["sites", "time"])
async def test_many_sites_changed_at_once_are_sent_as_the_record_has_them(
    board: Board, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    """The lines of a `changes` event are made a few sites at a time (webhooks are answered in
    between), a slice ending after `CHANGES_SLICE` sites or `CHANGES_SLICE_SECONDS`: every
    changed site still comes, once, in order, as the record has it, with its state; with
    `?sites=` only the shown ones' lines."""
    if cut == "sites":
        monkeypatch.setattr(boards, "CHANGES_SLICE", 2)
    else:  # every step (a site) over its time: a slice each
        monkeypatch.setattr(boards, "CHANGES_SLICE_SECONDS", 0.0)
        monkeypatch.setattr(boards, "SLICE_STEP", 1)
    pauses = 0
    pause = boards._Pace.pause

    async def counted(self: boards._Pace) -> None:
        nonlocal pauses
        pauses += 1
        await pause(self)

    monkeypatch.setattr(boards._Pace, "pause", counted)
    monkeypatch.setattr(boards, "CHANGES_GAP", 0.5)  # the changes below gather in one event
    clock.set(START + 30 * MIN)
    room, many = board.room, ["can-tho", "da-nang", "ha-noi", "nghe-an", "thai-nguyen"]
    for query, shown in (("", many), ("?sites=da-nang,nghe-an", ["da-nang", "nghe-an"])):
        async with _stream(board, query) as events:
            event, _ = await _next(events)
            assert event == "attendance"
            device = len(query)  # a new device for each stream
            await post(board, *sync(room, "joined", "tp-ho-chi-minh", f"t@x/{device}", START))
            event, one = await _next(events)
            assert [s["site_id"] for s in one["sites"]] == (["tp-ho-chi-minh"] if not query else [])
            for site in many:
                await post(board, *sync(room, "joined", site, f"{site}@x/{device}", START))
            sent: list[dict[str, Any]] = []
            states: dict[str, str] = {}
            largest = 0
            while len(states if query else sent) < len(many if query else shown):
                event, change = await _next(events)
                assert event == "changes"
                largest = max(largest, len(change.get("states", change["sites"])))
                sent += change["sites"]
                states.update(change.get("states", {}))
            assert largest > 2  # one event of several slices
            assert pauses >= (2 if cut == "sites" else len(many) - 1)
            pauses = 0
            whole = await board.record()
            rows = {s["site_id"]: s for s in whole["sites"]}
            assert sent == [rows[s] for s in shown]
            assert (change["summary"], change["unmatched"]) == (
                whole["summary"],
                whole["unmatched"],
            )
            if query:
                assert states == {s: row_state(SiteRecordOut(**rows[s])) for s in many}


async def test_changes_made_while_webhooks_keep_coming_end_as_the_record_has_them(
    board: Board, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `changes` event is made a site at a time with a pause after each slice (here a fixed
    20 ms, so that webhooks land while it is made): the sites that change meanwhile come in
    later events, and once the webhooks stop the stream has every site as the record has it,
    and its summary."""
    posted = 0
    landed: list[int] = []  # webhooks answered during each pause

    async def pause(self: boards._Pace) -> None:
        before = posted
        await asyncio.sleep(0.02)
        landed.append(posted - before)

    monkeypatch.setattr(boards, "CHANGES_SLICE", 1)
    monkeypatch.setattr(boards._Pace, "pause", pause)
    clock.set(START + 30 * MIN)
    room = board.room
    sites = ["can-tho", "da-nang", "ha-noi", "nghe-an", "thai-nguyen", "tp-ho-chi-minh"]

    turns = 0

    async def webhooks() -> None:
        """Joins and leaves, a turn of every site at a time, until some landed during a
        pause (at most 40 turns), ending on leaves."""
        nonlocal posted, turns
        for turn in range(40):
            if turn >= 4 and turn % 2 == 0 and sum(landed):
                break
            turns += 1
            for site in sites:
                device = f"{site}@x/{turn // 2}"
                joined = START + (turn // 2 * 2 + 1) * MIN
                if turn % 2 == 0:
                    r = await post(board, *sync(room, "joined", site, device, joined))
                else:
                    r = await post(board, *sync(room, "left", site, device, joined, joined + MIN))
                assert r.status_code == 200
                posted += 1

    async with _stream(board, "") as events:
        event, _ = await _next(events)
        assert event == "attendance"
        sending = asyncio.create_task(webhooks())
        seen: dict[str, dict[str, Any]] = {}
        summary = None
        while True:
            if sending.done():
                await sending
                whole = await board.record()
                if seen == {s["site_id"]: s for s in whole["sites"]}:
                    assert summary == whole["summary"]
                    break
            event, change = await _next(events)
            assert event in ("changes", "attendance")
            for line in change["sites"]:
                seen[line["site_id"]] = line
            summary = change["summary"]
        assert sum(landed) > 0  # webhooks did land while events were made
        assert turns % 2 == 0
        assert all(
            s["connection"] == "dropped" and len(s["intervals"]) == turns // 2
            for s in seen.values()
        )


async def test_an_open_board_is_settled_and_handed_back_when_dropped(
    board: Board, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge of a board being watched is kept out of the collector's full collections
    (`gc.freeze`); once nobody watches it and it is dropped, what was settled is handed back
    (its merge collected, what still lives settled again)."""
    handed_back: list[bool] = []
    settlings: list[bool] = []
    monkeypatch.setattr(boards, "KEEP_WARM", 0.05)
    monkeypatch.setattr(boards, "unsettled", lambda: handed_back.append(True))
    settle = boards.settled
    monkeypatch.setattr(boards, "settled", lambda: (settlings.append(True), settle()))
    gc.unfreeze()
    clock.set(START + 30 * MIN)
    await post(board, *sync(board.room, "joined", "ha-noi", "hn@x/1", START))
    async with _stream(board, "") as events:
        event, _ = await _next(events)
        assert event == "attendance"
        assert gc.get_freeze_count() > 0
        # a second viewer's whole record of the same merge settles nothing again
        async with _stream(board, "?sites=ha-noi") as second:
            event, _ = await _next(second)
            assert event == "attendance"
        assert settlings == [True]
    for _ in range(100):
        if handed_back:
            break
        await asyncio.sleep(0.05)
    assert handed_back == [True]
