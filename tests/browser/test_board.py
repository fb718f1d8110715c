"""The chair's live board in the browser: tiles change through the stream as Jitsi's event-sync
webhooks arrive, exports download, the projector view, a phone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from orchestrator.booking.schemas import BookingOut
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import JitsiSettings, Settings
from tests.browser.conftest import CHAIR_EMAIL, Live, assert_accessible, screenshot, sign_in
from tests.builders import book
from tests.conftest import OFFICE

EVENTS_TOKEN = "browser-board-events-token"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 10 December 2026, 08:00 in Hà Nội
END = START + timedelta(hours=3)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The `live` service, with Prosody's event-sync token set so that its webhooks are taken."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        jitsi=JitsiSettings(events_token=SecretStr(EVENTS_TOKEN)),
    )


@pytest.fixture(autouse=True)
async def _leave_before_the_server_stops(page: Page, live: Live) -> AsyncIterator[None]:
    """Close the browser before the server: an open event stream would hold its shutdown."""
    yield
    await page.context.close()


async def _book(live: Live) -> BookingOut:
    return await book(
        live.container,
        title="Hội nghị trực tuyến công tác văn phòng",
        start=START,
        end=END,
        chair={"name": "Chánh Văn phòng Bộ", "email": CHAIR_EMAIL},
    )


async def _hook(
    live: Live,
    session: BookingOut,
    event: str,
    site: str | None,
    jid: str,
    joined: datetime,
    left: datetime | None = None,
) -> None:
    """One event-sync webhook, as Prosody posts it."""
    assert session.room
    occupant: dict[str, Any] = {
        "name": f"Điểm cầu {site}" if site else "Khách mời",
        "email": f"{site or 'guest'}@example.org",
        "id": site,
        "occupant_jid": jid,
        "joined_at": int(joined.timestamp()),
    }
    if left is not None:
        occupant["left_at"] = int(left.timestamp())
    body = {
        "event_name": f"muc-occupant-{event}",
        "room_name": session.room,
        "room_jid": f"{session.room}@conference.meet.example.org",
        "is_breakout": False,
        "active_occupants_count": 1,
        "occupant": occupant,
    }
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{live.url}/hooks/jitsi/events/occupant/{event}",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {EVENTS_TOKEN}"},
        )
    assert r.status_code == 200, r.text


def _during(live: Live, at: datetime) -> None:
    clock = live.container.clock
    assert isinstance(clock, ManualClock)
    clock.set(at)


async def test_the_board_follows_the_webhooks_live(page: Page, live: Live) -> None:
    session = await _book(live)
    m = timedelta(minutes=1)
    _during(live, START + 10 * m)
    await sign_in(page, live, live.chair_token, "/chair")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name="Hội nghị trực tuyến công tác văn phòng").click()
    assert page.url.endswith(f"/chair/sessions/{session.id}")
    hanoi, canto = page.locator("#tile-ha-noi"), page.locator("#tile-can-tho")
    await expect(hanoi).to_contain_text("Chưa vào")
    await expect(page.locator("#board-live")).to_contain_text("Cập nhật trực tiếp")
    before = await page.evaluate("() => performance.now()")

    await _hook(live, session, "joined", "ha-noi", "hn@x/1", START - 20 * m)
    await expect(hanoi).to_contain_text("Đang kết nối", timeout=3000)
    await expect(hanoi).to_have_class("tile conn-connected")
    await expect(hanoi.locator(".tl-span")).to_have_count(1)
    after = await page.evaluate("() => performance.now()")
    assert after - before < 3000

    await _hook(live, session, "joined", "can-tho", "ct@x/1", START - 5 * m)
    await _hook(live, session, "left", "can-tho", "ct@x/1", START - 5 * m, START + 5 * m)
    await _hook(live, session, "joined", None, "guest@x/1", START)
    await expect(canto).to_contain_text("Mất kết nối", timeout=3000)
    await expect(page.locator("#unmatched")).to_contain_text("Khách mời")
    record = await live.container.attendance.record(session.id, OFFICE)
    await expect(page.locator("#board-summary")).to_have_text(record.summary)
    # nothing reloaded the page: the updates came through the stream
    assert int(await page.locator("#board").get_attribute("data-updates") or "0") >= 2
    await assert_accessible(page)
    await screenshot(page, "board-live")

    # the exports download with the page's cookie
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="Tải về CSV").click()
    csv_file = await (await csv_download.value).path()
    text = (await asyncio.to_thread(Path(csv_file).read_bytes)).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Điểm cầu,Kết nối")
    assert "ha-noi,connected" in text
    async with page.expect_download() as xlsx_download:
        await page.get_by_role("link", name="Tải về Excel (XLSX)").click()
    xlsx = await asyncio.to_thread(Path(await (await xlsx_download.value).path()).read_bytes)
    assert xlsx[:2] == b"PK"


async def test_projector_and_phone(page: Page, live: Live) -> None:
    session = await _book(live)
    _during(live, START + timedelta(minutes=40))
    await _hook(live, session, "joined", "ha-noi", "hn@x/1", START - timedelta(minutes=20))
    await _hook(live, session, "joined", "da-nang", "dn@x/1", START + timedelta(minutes=25))
    await sign_in(page, live, live.chair_token, f"/chair/sessions/{session.id}")
    await expect(page.locator("#tile-da-nang")).to_contain_text("Vào muộn")
    await page.get_by_role("link", name="Chế độ màn chiếu").click()
    await expect(page.locator("body")).to_have_class("board-page projector")
    await expect(page.get_by_role("link", name="Tải về CSV")).to_be_hidden()
    await expect(page.locator("#tile-ha-noi")).to_be_visible()
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await screenshot(page, "board-projector")

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{live.url}/chair/sessions/{session.id}")
    wide = await page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 390, f"the board is {wide}px wide on a 390px screen"
    await screenshot(page, "board-phone")


async def test_a_chair_cannot_open_another_chairs_board(page: Page, live: Live) -> None:
    other = await book(
        live.container,
        title="Phiên của người khác",
        start=START,
        end=END,
        sites=["ha-noi", "da-nang"],
        chair={"name": "Người khác", "email": "other@example.org"},
    )
    await sign_in(page, live, live.chair_token, "/chair")
    response = await page.goto(f"{live.url}/chair/sessions/{other.id}")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_text("Phiên của người khác")).to_have_count(0)
