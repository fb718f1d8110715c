"""A site coordinator in the browser: the site's sessions, accepting, checking in on the day,
sending a document, and being kept out of another site's pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, expect

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.domain.clock import ManualClock
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.conftest import OFFICE

START = datetime(2027, 1, 12, 1, 0, tzinfo=UTC)  # Tuesday 12 January 2027, 08:00 in Hà Nội


async def _regional(live: Live) -> str:
    """Hà Nội's regional meeting (the only bridge site of its region): Đà Nẵng is not in it."""
    answer = await live.container.bookings.book(
        BookSessionRequest.model_validate(
            {
                "title": "Giao ban vùng Đồng bằng sông Hồng",
                "kind": "regional",
                "region": "dong-bang-song-hong",
                "start": START.isoformat(),
                "end": (START + timedelta(hours=3)).isoformat(),
                "host_site": "ha-noi",
                "chair": {"name": "Trưởng vùng", "email": "head@example.org"},
                "agenda": "1. Báo cáo của các Sở\n2. Thảo luận",
            }
        ),
        OFFICE,
    )
    return answer.value.id


async def test_coordinator_accepts_checks_in_and_sends_a_document(
    page: Page, live: Live, tmp_path: Path
) -> None:
    session_id = await _regional(live)
    await sign_in(page, live, live.coordinator_tokens["ha-noi"], "/site")
    assert page.url.endswith("/site")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Hà Nội")
    await assert_accessible(page)
    await screenshot(page, "site-list")

    await page.get_by_role("link", name="Giao ban vùng Đồng bằng sông Hồng").click()
    assert page.url.endswith(f"/site/sessions/{session_id}")
    await assert_accessible(page)
    # before the day, the check-in button is off and the page says why
    await expect(page.get_by_role("button", name="Điểm danh")).to_be_disabled()
    await expect(page.locator("#checkin-why")).to_contain_text("Chưa đến giờ điểm danh")
    await screenshot(page, "site-session")

    await page.get_by_label("Ghi chú (không bắt buộc)").fill("Phòng họp tầng 3")
    await page.get_by_role("button", name="Xác nhận tham dự").click()
    await expect(page.locator("#rsvp-state")).to_have_text("Tham dự")
    status = await live.container.invites.status(session_id, OFFICE)
    mine = next(s for s in status.sites if s.site_id == "ha-noi")
    assert (mine.rsvp, mine.rsvp_comment) == ("accepted", "Phòng họp tầng 3")

    # a document for the topic report: a wrong type first, then the right one
    wrong = tmp_path / "anh.png"
    wrong.write_bytes(b"\x89PNG")
    report = tmp_path / "bao-cao-chuyen-de.pdf"
    report.write_bytes(b"%PDF-1.7 topic report")
    upload = page.get_by_label("Tệp: Báo cáo chuyên đề")
    await upload.set_input_files(str(wrong))
    send = upload.locator("xpath=ancestor::form").get_by_role("button", name="Nộp tài liệu")
    await send.click()
    await expect(page.get_by_role("alert")).to_contain_text("Không nhận tệp anh.png")
    await page.get_by_label("Tệp: Báo cáo chuyên đề").set_input_files(str(report))
    await send.click()
    await expect(page.get_by_text("Đã nộp bao-cao-chuyen-de.pdf")).to_be_visible()
    board = await live.container.preparation.board(session_id, OFFICE)
    topic = next(t for t in board.tasks if t.id == "topic_report:ha-noi")
    assert topic.filename == "bao-cao-chuyen-de.pdf"

    # on the day, during the connection test, the check-in opens
    clock = live.container.clock
    assert isinstance(clock, ManualClock)
    clock.set(START - timedelta(minutes=15))
    await sign_in(page, live, live.coordinator_tokens["ha-noi"], f"/site/sessions/{session_id}")
    await page.get_by_label("Số người dự").fill("23")
    await page.get_by_label("Danh sách đại biểu (không bắt buộc)").fill("Nguyễn Văn A\nLê Thị C")
    await page.get_by_role("button", name="Điểm danh").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã điểm danh: 23 người.")
    record = await live.container.attendance.record(session_id, OFFICE)
    row = next(s for s in record.sites if s.site_id == "ha-noi")
    assert (row.headcount, row.names) == (23, ["Nguyễn Văn A", "Lê Thị C"])


async def test_another_site_cannot_open_it(page: Page, live: Live) -> None:
    session_id = await _regional(live)
    await sign_in(page, live, live.coordinator_tokens["da-nang"], "/site")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Đà Nẵng")
    await expect(page.get_by_text("Giao ban vùng Đồng bằng sông Hồng")).to_have_count(0)
    response = await page.goto(f"{live.url}/site/sessions/{session_id}")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_text("Giao ban vùng")).to_have_count(0)
    response = await page.goto(f"{live.url}/api/sessions/{session_id}/sites/ha-noi/invite.ics")
    assert response is not None
    assert response.status in (403, 404)


async def test_site_pages_fit_a_phone(page: Page, live: Live) -> None:
    session_id = await _regional(live)
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, live, live.coordinator_tokens["ha-noi"], f"/site/sessions/{session_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Giao ban vùng Đồng bằng sông Hồng"
    )
    wide = await page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 390, f"the page is {wide}px wide on a 390px screen"
    await assert_accessible(page)
    await screenshot(page, "site-session-phone")

    # the calendar feed: created on demand and shown once
    await page.goto(f"{live.url}/site")
    await page.get_by_role("button", name="Tạo địa chỉ đăng ký lịch").click()
    url = await page.get_by_label("Địa chỉ đăng ký lịch").input_value()
    assert "/api/sites/ha-noi/calendar.ics?token=" in url
