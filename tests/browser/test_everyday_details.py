"""The small things an office and a coordinator meet every day, in the browser: the host list in
order, suggestions through lunch marked, no 404 for a favicon, the coordinator's site by name,
the headcount they reported still there after a reload, a document's size in bytes, an invite
named for the session and the site, and preparation due dates explained."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Response, expect

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import OFFICE, book
from tests.conftest import EXAMPLE_DIRECTORY

# Thursday 26 November 2026, 09:00 in Hà Nội: the regional meeting is booked 18 days ahead, for
# Monday 14 December; 15 days before it is Sunday 29 November, so its plans are due on Friday 27.
BOOKED_AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
START = datetime(2026, 12, 14, 1, 0, tzinfo=UTC)
TITLE = "Giao ban vùng Đồng bằng sông Hồng"


@pytest.fixture
async def wide(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        await context.close()


def _missing(page: Page) -> list[str]:
    """Every response of 400 or above while `page` loads, by URL (filled as it goes)."""
    failed: list[str] = []

    def seen(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("response", seen)
    return failed


async def _phone(browser: Browser, live: Live, token: str, path: str, name: str) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = await context.new_page()
    try:
        await sign_in(page, live, token, path)
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, width
        await screenshot(page, name)
    finally:
        await context.close()


async def _regional(live: Live) -> str:
    clock = live.container.clock
    assert isinstance(clock, ManualClock)
    clock.set(BOOKED_AT)
    answer = await live.container.bookings.book(
        BookSessionRequest.model_validate(
            {
                "title": TITLE,
                "kind": "regional",
                "region": "dong-bang-song-hong",
                "start": START.isoformat(),
                "end": (START + timedelta(hours=3)).isoformat(),
                "host_site": "ha-noi",
                "chair": {"name": "Trưởng vùng", "email": "head@example.org"},
            }
        ),
        OFFICE,
    )
    assert answer.status == 201, answer.value
    return answer.value.id


async def test_host_list_in_order_and_lunch_marked(
    wide: Page, live: Live, browser: Browser
) -> None:
    example = load_directory(EXAMPLE_DIRECTORY)
    nghe_an = next(s for s in example.sites if s.id == "nghe-an")
    more = [  # by name, Bình Định and Huế come before Đà Nẵng, the region's head
        nghe_an.model_copy(update={"id": "hue", "name": "Sở GD&ĐT Huế"}),
        nghe_an.model_copy(update={"id": "binh-dinh", "name": "Sở GD&ĐT Bình Định"}),
    ]
    await live.container.directory.apply(
        dataclasses.replace(example, sites=[*more, *example.sites]), OFFICE
    )
    failed = _missing(wide)
    await sign_in(wide, live, live.office_token, "/office/book")
    group = wide.locator('#f-host_site optgroup[label="Bắc Trung Bộ và Duyên hải miền Trung"]')
    assert await group.locator("option").all_inner_texts() == [
        "Sở GD&ĐT Đà Nẵng",
        "Sở GD&ĐT Bình Định",
        "Sở GD&ĐT Huế",
        "Sở GD&ĐT Nghệ An",
    ]
    # a four-hour meeting: the suggestions that run through lunch say so
    await wide.get_by_label("Tên phiên họp").fill("Hội nghị bốn tiếng")
    await wide.get_by_label("Ngày", exact=True).fill("2026-12-10")
    await wide.get_by_label("Bắt đầu").fill("07:30")
    await wide.get_by_label("Kết thúc").fill("11:30")
    await wide.get_by_label("Điểm cầu chính (nơi chủ trì)").select_option("da-nang")
    await wide.get_by_label("Họ tên chủ trì").fill("Chánh Văn phòng Bộ")
    await wide.get_by_label("Thư điện tử của chủ trì").fill("chair@moet.example.org")
    slots = wide.locator("#check button.slot")
    await expect(slots.first).to_be_visible()
    labels = await slots.all_inner_texts()
    assert "qua giờ nghỉ trưa" not in labels[0], labels  # 07:30–11:30 is a morning
    lunch = [x for x in labels if "qua giờ nghỉ trưa" in x]
    assert lunch, labels
    assert all("13:" in x or "14:" in x or "15:" in x or "16:" in x for x in lunch), lunch
    await screenshot(wide, "office-book-1366")
    # the favicon is linked and served: no page asks for what is not there
    icon = await wide.evaluate("() => document.querySelector('link[rel=icon]').href")
    response = await wide.request.get(icon)
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    await wide.goto(f"{live.url}/office")
    await wide.goto(f"{live.url}/office/directory")
    assert failed == []
    await _phone(browser, live, live.office_token, "/office/book", "office-book-phone")


async def test_coordinator_page_names_the_site_keeps_the_headcount_and_explains_due_dates(
    wide: Page, live: Live, tmp_path: Path, browser: Browser
) -> None:
    session_id = await _regional(live)
    failed = _missing(wide)
    token = live.coordinator_tokens["ha-noi"]
    path = f"/site/sessions/{session_id}"
    await sign_in(wide, live, token, path)
    # the header names the site, not its id
    who = wide.locator("header .role")
    await expect(who).to_have_text("Điều phối điểm cầu · Bộ GD&ĐT (Hà Nội)")

    # due dates explained: the rule, the Sunday moved to Friday, and how little time is left
    why = wide.locator("#task-1 .due-why")
    await expect(why).to_contain_text("Theo quy định: 15 ngày trước ngày họp, tức CN 29/11/2026.")
    await expect(why).to_contain_text(
        "Ngày đó không phải ngày làm việc nên hạn nộp chuyển về ngày làm việc liền trước, "
        "T6 27/11/2026."
    )
    await expect(why).to_contain_text(
        "Phiên họp được đặt lịch ngày T5 26/11/2026, nên chỉ còn 1 ngày để chuẩn bị."
    )

    # a small document's size in bytes, not "0.0 KB"
    report = tmp_path / "bao-cao.pdf"
    report.write_bytes(b"%PDF-1.7 " + b"x" * 291)
    upload = wide.get_by_label("Tệp: Báo cáo chuyên đề")
    await upload.set_input_files(str(report))
    await upload.locator("xpath=ancestor::form").get_by_role("button", name="Nộp tài liệu").click()
    await expect(wide.get_by_text("Đã nộp bao-cao.pdf (300 byte)")).to_be_visible()

    # the invite downloads under the session's and the site's name
    async with wide.expect_download() as info:
        await wide.get_by_role("link", name="Tải thư mời (.ics) để thêm vào lịch").click()
    download = await info.value
    assert download.suggested_filename == f"{TITLE} 2026-12-14 Bộ GD&ĐT (Hà Nội).ics"

    # on the day: the headcount reported stays on the page after a reload
    clock = live.container.clock
    assert isinstance(clock, ManualClock)
    clock.set(START - timedelta(minutes=15))
    await sign_in(wide, live, token, path)  # the browser session of 18 days ago has ended
    await wide.get_by_label("Số người dự").fill("42")
    await wide.get_by_role("button", name="Điểm danh").click()
    await expect(wide.get_by_role("status")).to_contain_text("Đã điểm danh: 42 người.")
    await wide.goto(f"{live.url}{path}")
    await expect(wide.locator("#checkin-last")).to_contain_text(
        "Điểm cầu đã điểm danh lúc T2 14/12/2026 07:45: 42 người."
    )
    await expect(wide.get_by_label("Số người dự")).to_have_value("42")
    assert failed == []
    await assert_accessible(wide)
    await screenshot(wide, "site-session-details-1366")
    await _phone(browser, live, token, path, "site-session-details-phone")

    # the office's page of the session explains the same due dates
    await sign_in(wide, live, live.office_token, f"/office/sessions/{session_id}")
    await expect(wide.locator(".due-why").first).to_contain_text("chỉ còn 1 ngày để chuẩn bị")
    await screenshot(wide, "office-session-details-1366")
    await _phone(
        browser, live, live.office_token, f"/office/sessions/{session_id}", "office-session-phone"
    )


async def test_the_api_invite_is_named_for_the_session_and_site(live: Live, wide: Page) -> None:
    out = await book(live.container)
    response = await wide.request.get(
        f"{live.url}/api/sessions/{out.id}/sites/da-nang/invite.ics",
        headers={"Authorization": f"Bearer {live.office_token}"},
    )
    assert response.status == 200
    assert response.headers["content-disposition"] == (
        'attachment; filename="hoi-nghi-truc-tuyen-2026-12-10-da-nang.ics"; '
        "filename*=UTF-8''H%E1%BB%99i%20ngh%E1%BB%8B%20tr%E1%BB%B1c%20tuy%E1%BA%BFn%202026-12-10"
        "%20S%E1%BB%9F%20GD%26%C4%90T%20%C4%90%C3%A0%20N%E1%BA%B5ng.ics"
    )
