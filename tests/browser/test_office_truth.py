"""The office's pages tell one truth in a browser: the live check refuses an end before the
start, and a cancelled session's banner agrees with its sites' rows about the cancellations."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import Live, screenshot, sign_in
from tests.builders import OFFICE, book, deliver


async def test_the_live_check_says_the_end_is_before_the_start(page: Page, live: Live) -> None:
    await sign_in(page, live, live.office_token, "/office/book")
    await page.get_by_label("Ngày", exact=True).fill("2026-12-11")
    await page.get_by_role("checkbox", name="Sở GD&ĐT Đà Nẵng").check()
    check = page.locator("#check")
    await page.get_by_label("Bắt đầu").fill("10:00")
    await page.get_by_label("Kết thúc").fill("11:00")
    await expect(check).to_contain_text("còn trống")
    await page.get_by_label("Kết thúc").fill("08:00")
    await expect(check).to_contain_text("trước giờ bắt đầu")
    await expect(check).not_to_contain_text("còn trống")
    await _look(page, "office-book-end-before-start")


async def _look(page: Page, name: str) -> None:
    """Screenshots at a laptop's and a phone's width."""
    for width, height, suffix in ((1366, 768, ""), (390, 844, "-phone")):
        await page.set_viewport_size({"width": width, "height": height})
        await screenshot(page, f"{name}{suffix}")
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_a_cancelled_sessions_banner_and_rows_agree(page: Page, live: Live) -> None:
    booked = await book(live.container, sites=["ha-noi", "da-nang", "can-tho"])
    await deliver(live.container)  # the invites went out
    await live.container.bookings.cancel(booked.id, OFFICE, reason="Hoãn")
    await sign_in(page, live, live.office_token, f"/office/sessions/{booked.id}")
    banner = page.locator(".notice.error").first
    await expect(banner).to_contain_text("thư hủy tới 3/3 điểm cầu đang chờ gửi")
    await expect(banner).not_to_contain_text("đã gửi")
    rows = page.locator("table.sites tbody tr td.invite .badge")
    await expect(rows).to_have_count(3)
    for i in range(3):
        await expect(rows.nth(i)).to_have_text("Thư hủy chờ gửi")
    await _look(page, "office-session-cancel-queued")

    await deliver(live.container)
    await page.reload()
    await expect(banner).to_contain_text("thư hủy đã gửi tới cả 3 điểm cầu")
    for i in range(3):
        await expect(rows.nth(i)).to_have_text("Đã gửi thư hủy")
    await _look(page, "office-session-cancel-sent")
