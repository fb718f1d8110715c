"""The chair's pages over HTTP on real SQLite and PostgreSQL: the sessions list, the board as
drawn by the server from the webhooks' record, the frozen record, roles, exports, projector."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from orchestrator.booking.schemas import BookingOut
from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Principal, Role
from orchestrator.settings import JitsiSettings, Settings
from orchestrator.web.pages.board import spans
from tests.builders import book, client, sign_in
from tests.conftest import OFFICE

EVENTS_TOKEN = "board-pages-events-token"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
END = START + timedelta(hours=3)
CHAIR = "chair@moet.example.org"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        jitsi=JitsiSettings(events_token=SecretStr(EVENTS_TOKEN)),
    )


PRINCIPALS = {
    "chair": Principal(role=Role.CHAIR, token_id="t-c", email=CHAIR),
    "other-chair": Principal(role=Role.CHAIR, token_id="t-o", email="someone@example.org"),
    "office": Principal(role=Role.OFFICE, token_id="t-off", label="office"),
    "ha-noi": Principal(role=Role.COORDINATOR, token_id="t-hn", site_id="ha-noi"),
}


@dataclass
class Chair:
    http: httpx.AsyncClient
    container: Container
    session: BookingOut
    cookies: dict[str, str]

    async def get(self, path: str, who: str = "chair", lang: str = "vi") -> httpx.Response:
        if who not in self.cookies:
            self.cookies[who] = (await sign_in(self.container, PRINCIPALS[who])).cookie
        cookie = f"orch_session={self.cookies[who]}; orch_lang={lang}"
        return await self.http.get(path, headers={"Cookie": cookie})

    def fresh(self) -> None:
        self.cookies.clear()

    async def joined(self, site: str | None, jid: str, at: datetime) -> None:
        await self._hook("joined", site, jid, at)

    async def left(self, site: str | None, jid: str, joined: datetime, at: datetime) -> None:
        await self._hook("left", site, jid, joined, at)

    async def _hook(
        self, event: str, site: str | None, jid: str, joined: datetime, left: datetime | None = None
    ) -> None:
        assert self.session.room
        occupant: dict[str, Any] = {
            "name": f"Điểm cầu {site}" if site else "Khách",
            "email": f"{site or 'guest'}@example.org",
            "id": site,
            "occupant_jid": jid,
            "joined_at": int(joined.timestamp()),
        }
        if left is not None:
            occupant["left_at"] = int(left.timestamp())
        body = {
            "event_name": f"muc-occupant-{event}",
            "room_name": self.session.room,
            "room_jid": f"{self.session.room}@conference.meet.example.org",
            "is_breakout": False,
            "active_occupants_count": 1,
            "occupant": occupant,
        }
        r = await self.http.post(
            f"/hooks/jitsi/events/occupant/{event}",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {EVENTS_TOKEN}"},
        )
        assert r.status_code == 200, r.text


@pytest.fixture
async def chair(container: Container) -> AsyncIterator[Chair]:
    session = await book(container, title="Hội nghị công tác văn phòng", start=START, end=END)
    async with client(container, timeout=30) as http:
        yield Chair(http, container, session, {})


def tile(html: str, site: str) -> str:
    found = re.search(rf'<li class="tile [^"]*" id="tile-{site}".*?</li>', html, re.S)
    assert found, f"no tile for {site}"
    return found.group(0)


async def test_the_chairs_list_and_the_offices(chair: Chair) -> None:
    r = await chair.get("/chair")
    assert r.status_code == 200
    assert f"/chair/sessions/{chair.session.id}" in r.text
    r = await chair.get("/chair", "other-chair")
    assert f"/chair/sessions/{chair.session.id}" not in r.text
    r = await chair.get("/chair", "office")
    assert f"/chair/sessions/{chair.session.id}" in r.text
    assert "Chủ trì: Chánh Văn phòng" in r.text
    r = await chair.get("/chair", "ha-noi")
    assert r.status_code == 403


async def test_only_the_sessions_chair_and_the_office_open_its_board(chair: Chair) -> None:
    path = f"/chair/sessions/{chair.session.id}"
    r = await chair.get(path, "other-chair")
    assert r.status_code == 404
    assert "Hội nghị công tác văn phòng" not in r.text
    r = await chair.get(path, "ha-noi")
    assert r.status_code == 403
    r = await chair.get(path, "office")
    assert r.status_code == 200
    r = await chair.get("/chair/sessions/no-such-session")
    assert r.status_code == 404


async def test_the_board_before_anyone_joins(chair: Chair) -> None:
    r = await chair.get(f"/chair/sessions/{chair.session.id}")
    assert r.status_code == 200
    assert r.text.count('class="tile conn-waiting"') == 6
    assert "Hà Nội" in tile(r.text, "ha-noi")
    assert "Chưa vào" in tile(r.text, "nghe-an")
    assert "Chưa kết nối lần nào" in tile(r.text, "nghe-an")
    assert f'data-stream="/api/sessions/{chair.session.id}/attendance/stream"' in r.text
    assert 'id="board-frozen" class="notice ok" hidden' in r.text


async def test_the_board_draws_the_webhooks_record(chair: Chair, clock: ManualClock) -> None:
    m = timedelta(minutes=1)
    clock.set(START + 60 * m)
    chair.fresh()
    await chair.joined("ha-noi", "hn@x/1", START - 20 * m)
    await chair.joined("da-nang", "dn@x/1", START + 25 * m)  # late
    await chair.joined("can-tho", "ct@x/1", START)
    await chair.left("can-tho", "ct@x/1", START, START + 30 * m)  # dropped
    await chair.joined(None, "guest@x/1", START + 5 * m)  # no site token
    r = await chair.get(f"/chair/sessions/{chair.session.id}")
    hn, dn, ct = tile(r.text, "ha-noi"), tile(r.text, "da-nang"), tile(r.text, "can-tho")
    assert "conn-connected" in hn
    assert "Đang kết nối" in hn
    assert "Vào muộn" in dn
    assert "Vào muộn" not in hn
    assert "conn-dropped" in ct
    assert "Mất kết nối" in ct
    # the bar: window 07:30 to 11:00 (210 min); Cần Thơ from 08:00 to 08:30
    assert re.search(r'class="tl-span" style="left:14\.286%;width:14\.286%"', ct)
    assert 'aria-label="Các khoảng đã kết nối: 08:00–08:30"' in ct
    record = await chair.container.attendance.record(chair.session.id, OFFICE)
    assert record.summary in r.text
    assert "Khách" in r.text  # the unmatched guest, listed apart
    english = await chair.get(f"/chair/sessions/{chair.session.id}", lang="en")
    assert record.summary_en in english.text
    assert "Connected" in tile(english.text, "ha-noi")
    assert f"/api/sessions/{chair.session.id}/attendance.csv?lang=en" in english.text


async def test_the_frozen_record_says_so(chair: Chair, clock: ManualClock) -> None:
    clock.set(START + timedelta(minutes=5))
    chair.fresh()
    await chair.joined("ha-noi", "hn@x/1", START)
    clock.set(END + timedelta(minutes=1))
    chair.fresh()
    await chair.container.attendance.freeze(chair.session.id)
    await chair.joined("nghe-an", "na@x/1", END + timedelta(minutes=1))  # after freezing
    r = await chair.get(f"/chair/sessions/{chair.session.id}")
    assert "Biên bản đã chốt lúc T5 10/12/2026 11:01" in r.text
    assert "1 sự kiện đến sau khi chốt" in r.text
    assert "conn-waiting" in tile(r.text, "nghe-an")


async def test_exports_download_with_the_cookie(chair: Chair) -> None:
    page = await chair.get(f"/chair/sessions/{chair.session.id}")
    for suffix, kind in ((".csv", "text/csv"), (".xlsx", "spreadsheetml")):
        path = f"/api/sessions/{chair.session.id}/attendance{suffix}"
        assert f'href="{path}"' in page.text
        r = await chair.get(path)
        assert r.status_code == 200
        assert kind in r.headers["Content-Type"]
        assert "attachment" in r.headers["Content-Disposition"]


async def test_projector_view(chair: Chair) -> None:
    r = await chair.get(f"/chair/sessions/{chair.session.id}?projector=1")
    assert re.search(r'<body class="[^"]*\bprojector\b', r.text)
    r = await chair.get(f"/chair/sessions/{chair.session.id}")
    assert not re.search(r'<body class="[^"]*\bprojector\b', r.text)


def test_spans_are_cut_to_the_window() -> None:
    start = START - timedelta(minutes=30)
    out = spans(
        [
            (START - timedelta(hours=1), START),  # begins before the window
            (START + timedelta(minutes=60), START + timedelta(minutes=60, seconds=1)),  # tiny
            (END, END + timedelta(hours=1)),  # after it
        ],
        start,
        END,
    )
    assert [(s.left, s.width) for s in out] == [(0.0, 14.286), (42.857, 0.4)]
    assert spans([(START, END)], END, START) == []


async def test_counts_of_one_site_read_as_one_in_english(chair: Chair) -> None:
    r = await chair.get(f"/chair/sessions/{chair.session.id}", lang="en")
    assert r.status_code == 200
    text = re.sub(r"<[^>]+>", " ", r.text)
    assert not re.search(r"\b1 sites\b", text), "a count of one site reads “1 sites”"
    assert re.search(r"\b1 site\b", text)  # four of the six regions hold one site each
    assert re.search(r"\b2 sites\b", text)
    r = await chair.get(f"/chair/sessions/{chair.session.id}", lang="vi")
    assert "1 điểm cầu" in re.sub(r"<[^>]+>", " ", r.text)
