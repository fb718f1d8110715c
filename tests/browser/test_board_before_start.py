"""The chair's board before and around the start, in the browser: no verdict and no minutes
before the start, "in the connection test" for a connected site, a drop in the test not flagged
as leaving early, and a summary that follows the chair's override; at 1366x768 and on a phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from orchestrator.attendance.service import OverrideRequest
from orchestrator.settings import JitsiSettings, Settings
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.browser.test_board import END, EVENTS_TOKEN, START, _book, _during, _hook
from tests.conftest import OFFICE

M = timedelta(minutes=1)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        jitsi=JitsiSettings(events_token=SecretStr(EVENTS_TOKEN)),
    )


@pytest.fixture(autouse=True)
async def _leave_before_the_server_stops(page: Page, live: Live) -> AsyncIterator[None]:
    yield
    await page.context.close()


async def test_the_board_before_the_start_and_after_an_override(page: Page, live: Live) -> None:
    session = await _book(live)
    _during(live, START - 3 * timedelta(hours=1))
    await page.set_viewport_size({"width": 1366, "height": 768})
    await sign_in(page, live, live.chair_token, f"/chair/sessions/{session.id}")
    tiles = page.locator("#board .tile")
    await expect(tiles.first).to_contain_text("Phiên họp chưa bắt đầu")
    for text in ("Vắng", "phút", "Rời sớm"):
        await expect(page.locator("#board")).not_to_contain_text(text)
    await expect(page.locator("#board-summary")).to_have_text("0/6 điểm cầu đã kết nối")

    # The connection test: Hà Nội connects, Đà Nẵng connects and drops; the page follows live.
    _during(live, START - 15 * M)
    await _hook(live, session, "joined", "ha-noi", "hn@x/1", START - 20 * M)
    await _hook(live, session, "joined", "da-nang", "dn@x/1", START - 18 * M)
    await _hook(live, session, "left", "da-nang", "dn@x/1", START - 18 * M, START - 16 * M)
    hanoi, danang = page.locator("#tile-ha-noi"), page.locator("#tile-da-nang")
    await expect(hanoi).to_contain_text("Đang kiểm tra kết nối", timeout=3000)
    await expect(danang).to_contain_text("Mất kết nối", timeout=3000)
    await expect(danang).to_contain_text("Phiên họp chưa bắt đầu")
    await expect(page.locator("#board")).not_to_contain_text("Rời sớm")
    await expect(page.locator("#board")).not_to_contain_text("phút")
    await assert_accessible(page)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await screenshot(page, "board-before-start", full_page=False)
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "board-before-start-phone", full_page=False)
    wide = await page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 390, f"the board is {wide}px wide on a 390px screen"

    # In the session: Cần Thơ drops after the start (left early), then the chair overrides it.
    _during(live, START + 40 * M)
    await _hook(live, session, "joined", "can-tho", "ct@x/1", START - 5 * M)
    await _hook(live, session, "left", "can-tho", "ct@x/1", START - 5 * M, START + 10 * M)
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.reload()
    await expect(hanoi).to_contain_text("Có mặt · 40 phút")
    await expect(danang).to_contain_text("Vắng · 0 phút")
    await expect(danang).not_to_contain_text("Rời sớm")
    await expect(page.locator("#tile-can-tho")).to_contain_text("Rời sớm")
    await expect(page.locator("#board-summary")).to_have_text("1/6 điểm cầu đã kết nối, 1 rời sớm")
    await live.container.attendance.override(
        session.id,
        "can-tho",
        OverrideRequest(verdict="present", reason="Họp qua điện thoại"),
        OFFICE,
    )
    await page.reload()
    await expect(page.locator("#tile-can-tho")).to_contain_text("đã chỉnh tay: Họp qua điện thoại")
    await expect(page.locator("#tile-can-tho")).to_contain_text("Có mặt")
    await expect(page.locator("#board-summary")).to_have_text("1/6 điểm cầu đã kết nối")
    await assert_accessible(page)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await screenshot(page, "board-after-override", full_page=False)
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "board-after-override-phone")
    assert END > START


async def test_the_board_before_the_start_in_english(page: Page, live: Live) -> None:
    session = await _book(live)
    _during(live, START - 15 * M)
    await _hook(live, session, "joined", "ha-noi", "hn@x/1", START - 20 * M)
    await sign_in(page, live, live.chair_token, f"/chair/sessions/{session.id}")
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("#tile-ha-noi")).to_contain_text("In the connection test")
    await expect(page.locator("#tile-da-nang")).to_contain_text("Not started yet")
    await expect(page.locator("#board")).not_to_contain_text("Absent")
    await assert_accessible(page)
    await screenshot(page, "board-before-start-en")
