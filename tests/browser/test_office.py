"""The office in a browser: booking the 2013 six-site conference from the form, a conflict shown
before submitting, a regional round proposed and committed, the timeline on a phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.async_api import Browser, Page, expect

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.domain.models import Chair, Role, SessionKind
from orchestrator.store.base import SessionQuery
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.conftest import OFFICE

GUESTS = ["Sở GD&ĐT Đà Nẵng", "Sở GD&ĐT TP Hồ Chí Minh", "Sở GD&ĐT Cần Thơ"]
GUESTS += ["Sở GD&ĐT Thái Nguyên", "Sở GD&ĐT Nghệ An"]
TITLE = "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT"


async def _fill_common(page: Page, title: str) -> None:
    await page.get_by_label("Tên phiên họp").fill(title)
    await page.get_by_label("Ngày", exact=True).fill("2026-12-10")
    await page.get_by_label("Bắt đầu").fill("08:00")
    await page.get_by_label("Kết thúc").fill("11:30")
    await page.get_by_label("Điểm cầu chính (nơi chủ trì)").select_option("ha-noi")
    await page.get_by_label("Họ tên chủ trì").fill("Chánh Văn phòng Bộ")
    await page.get_by_label("Thư điện tử của chủ trì").fill("chair@moet.example.org")


async def test_office_books_the_six_site_session_and_sees_it_on_the_timeline(
    page: Page, live: Live
) -> None:
    await sign_in(page, live, live.office_token, "/office/book")
    await expect(page.locator("#check")).to_contain_text("Chọn điểm cầu")
    await assert_accessible(page)
    await _fill_common(page, TITLE)
    for name in GUESTS:
        await page.get_by_role("checkbox", name=name).check()
    await page.get_by_role("checkbox", name="Lãnh đạo Bộ GD&ĐT").check()
    check = page.locator("#check")
    await expect(check).to_contain_text("còn trống cho mọi điểm cầu")
    await expect(check.locator("button.slot").first).to_be_visible()
    await screenshot(page, "office-book")

    await page.get_by_role("button", name="Đặt lịch", exact=True).click()
    await page.wait_for_url(re.compile(r"/office/sessions/[0-9a-f-]{36}$"))
    session_id = page.url.rsplit("/", 1)[1]
    booked = await live.container.bookings.get(session_id, OFFICE)
    assert booked.title == TITLE
    assert booked.host_site == "ha-noi"
    assert {s.site_id for s in booked.sites} == {
        "ha-noi",
        "da-nang",
        "tp-ho-chi-minh",
        "can-tho",
        "thai-nguyen",
        "nghe-an",
    }
    assert booked.leader_groups == ["lanh-dao-bo"]
    assert booked.start == datetime(2026, 12, 10, 1, 0, tzinfo=UTC)

    await page.goto(f"{live.url}/office?date=2026-12-10")
    blocks = page.locator(f'a.block[href="/office/sessions/{session_id}"]')
    assert await blocks.count() == 6  # five regions' lanes and the leaders' lane
    leaders = page.locator("tr.lane-groups")
    await expect(leaders.locator("a.block")).to_contain_text("08:00–11:30")
    await expect(page.locator("tr.lane-tay-nguyen a.block")).to_have_count(0)
    await assert_accessible(page)
    await screenshot(page, "office-timeline")

    await page.get_by_role("link", name="Tuần sau →").click()
    await expect(page.locator("h1")).to_contain_text("14/12/2026 – 20/12/2026")
    await expect(page.locator("a.block")).to_have_count(0)
    await page.get_by_role("link", name="Xem theo tháng").click()
    await expect(page.locator("h1")).to_contain_text("12/2026")
    await screenshot(page, "office-timeline-month")
    # the month's calendar lists the session once on its day, with the lanes it is drawn in
    assert await page.locator(f'a.block[href="/office/sessions/{session_id}"]').count() == 1


async def test_a_conflict_is_shown_in_words_before_submitting(page: Page, live: Live) -> None:
    await live.container.bookings.book(
        BookSessionRequest(
            title="Họp giao ban Đà Nẵng",
            start=datetime(2026, 12, 10, 1, 0, tzinfo=UTC),
            end=datetime(2026, 12, 10, 4, 30, tzinfo=UTC),
            host_site="da-nang",
            sites=["da-nang"],
            chair=Chair(name="Giám đốc Sở", email="giamdoc@sgddt-da-nang.example.org"),
        ),
        OFFICE,
    )
    await sign_in(page, live, live.office_token, "/office/book")
    await _fill_common(page, "Hội nghị chuyên đề")
    await page.get_by_label("Bắt đầu").fill("09:00")
    await page.get_by_label("Kết thúc").fill("10:00")
    await page.get_by_role("checkbox", name="Sở GD&ĐT Đà Nẵng").check()
    check = page.locator("#check")
    await expect(check).to_contain_text(
        "Sở GD&ĐT Đà Nẵng đã có phiên «Họp giao ban Đà Nẵng» 08:00–11:30"
    )
    # a suggestion fills the date and time, and the check clears
    first = check.locator("button.slot").first
    await expect(first).to_contain_text("13:30–14:30")
    await first.click()
    assert await page.get_by_label("Bắt đầu").input_value() == "13:30"
    assert await page.get_by_label("Kết thúc").input_value() == "14:30"
    await expect(check).to_contain_text("còn trống")
    await page.get_by_role("button", name="Đặt lịch", exact=True).click()
    await page.wait_for_url(re.compile(r"/office/sessions/"))
    sessions = await live.container.bookings.list_sessions(SessionQuery(), OFFICE)
    assert {s.title for s in sessions} == {"Hội nghị chuyên đề", "Họp giao ban Đà Nẵng"}


async def test_a_refused_booking_keeps_every_value_and_offers_the_override(
    page: Page, live: Live
) -> None:
    await sign_in(page, live, live.office_token, "/office/book")
    await _fill_common(page, "Họp ngày thứ Bảy")
    await page.get_by_label("Ngày", exact=True).fill("2026-12-12")
    await page.get_by_role("checkbox", name="Sở GD&ĐT Cần Thơ").check()
    await page.get_by_role("button", name="Đặt lịch", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("Đây là ngày nghỉ cuối tuần.")
    assert await page.get_by_label("Tên phiên họp").input_value() == "Họp ngày thứ Bảy"
    assert await page.get_by_label("Ngày", exact=True).input_value() == "2026-12-12"
    assert await page.get_by_role("checkbox", name="Sở GD&ĐT Cần Thơ").is_checked()
    reason = page.get_by_label("Lý do vượt quy định")
    await expect(reason).to_be_visible()
    await reason.fill("Theo chỉ đạo của Bộ trưởng")
    await page.get_by_role("button", name="Đặt lịch", exact=True).click()
    await page.wait_for_url(re.compile(r"/office/sessions/"))
    (booked,) = await live.container.bookings.list_sessions(SessionQuery(), OFFICE)
    assert booked.title == "Họp ngày thứ Bảy"


async def test_planner_proposes_a_round_and_commits_it(page: Page, live: Live) -> None:
    await sign_in(page, live, live.office_token, "/office/plan")
    await assert_accessible(page)
    for region in ("Đồng bằng sông Hồng", "Trung du và miền núi phía Bắc"):
        await page.get_by_role("checkbox", name=region).uncheck()
    await page.get_by_label("Từ ngày").fill("2026-12-14")
    await page.get_by_label("Đến ngày").fill("2026-12-18")
    await page.get_by_label("Thời lượng mỗi phiên (phút)").fill("180")
    await page.get_by_role("button", name="Đề xuất lịch").click()
    table = page.locator("table.plan-table")
    await expect(table.locator("tbody tr")).to_have_count(3)
    await expect(table).to_contain_text("Sở GD&ĐT Đà Nẵng")
    await expect(page.locator(".block.proposed").first).to_be_visible()
    assert await live.container.bookings.list_sessions(SessionQuery(), OFFICE) == []
    await assert_accessible(page)
    await screenshot(page, "office-plan")

    await page.get_by_role("button", name="Đặt cả 3 phiên").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã đặt 3 phiên giao ban vùng")
    booked = await live.container.bookings.list_sessions(SessionQuery(), OFFICE)
    assert sorted(s.region or "" for s in booked) == [
        "bac-trung-bo-duyen-hai-mien-trung",
        "dong-bang-song-cuu-long",
        "dong-nam-bo",
    ]
    assert all(s.kind is SessionKind.REGIONAL for s in booked)
    await expect(page.locator("a.block")).to_have_count(6)  # each in its region and the leaders'


async def test_timeline_on_a_phone_and_roles_kept_apart(browser: Browser, live: Live) -> None:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="vi-VN", java_script_enabled=False
    )
    page = await context.new_page()
    try:
        await live.container.bookings.book(
            BookSessionRequest(
                title=TITLE,
                start=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
                end=datetime(2026, 11, 25, 4, 30, tzinfo=UTC),
                host_site="ha-noi",
                sites=["ha-noi", "da-nang", "can-tho"],
                leader_groups=["lanh-dao-bo"],
                chair=Chair(name="Chánh Văn phòng Bộ", email="chair@moet.example.org"),
            ),
            OFFICE,
        )
        await sign_in(page, live, live.office_token, "/office")
        await expect(page.locator("a.block")).to_have_count(4)
        # the page fits the phone: each lane a card of its busy days, nothing scrolls sideways
        widths = await page.evaluate(
            "() => [document.documentElement.scrollWidth, "
            "document.querySelector('.tl-wrap').scrollWidth, "
            "document.querySelector('.tl-wrap').clientWidth, "
            "Math.max(...Array.from(document.querySelectorAll('a.block'), "
            "(b) => b.getBoundingClientRect().right))]"
        )
        assert widths[0] <= 390, widths
        assert widths[1] <= widths[2], widths
        assert widths[3] <= 390, widths
        await expect(page.locator("tr.lane-groups .cell-day")).to_have_text("T4 25/11")
        await assert_accessible(page, scripts=False)
        await screenshot(page, "office-timeline-phone")

        coordinator = await live.container.access.create_token(Role.COORDINATOR, site_id="can-tho")
        await page.get_by_role("button", name="Đăng xuất").click()
        await sign_in(page, live, coordinator.token, "/office")
        response = await page.goto(f"{live.url}/office")
        assert response is not None
        assert response.status == 403
        response = await page.goto(f"{live.url}/office/book")
        assert response is not None
        assert response.status == 403
    finally:
        await context.close()


async def test_a_fields_error_keeps_its_row_of_fields_in_line(page: Page, live: Live) -> None:
    """End before start: the error under "Kết thúc" grows that field downwards; the date, the
    start, the end and the zone keep their inputs on one line."""
    await sign_in(page, live, live.office_token, "/office/book")
    await _fill_common(page, "Họp giờ ngược")
    await page.get_by_label("Bắt đầu").fill("11:00")
    await page.get_by_label("Kết thúc").fill("09:00")
    await page.get_by_role("checkbox", name="Sở GD&ĐT Cần Thơ").check()
    await page.get_by_role("button", name="Đặt lịch", exact=True).click()
    await expect(page.locator("#e-end_time")).to_be_visible()
    tops = [
        (await page.locator(f"#f-{name}").bounding_box() or {"y": -1.0})["y"]
        for name in ("date", "start_time", "end_time", "timezone")
    ]
    assert max(tops) - min(tops) < 4, f"the time row's inputs are not in line: {tops}"
