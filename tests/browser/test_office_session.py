"""The office in a browser: one session's page and its changes, and the directory with an import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

from orchestrator.booking.schemas import BookingOut
from orchestrator.domain.models import SessionStatus
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import book_national
from tests.conftest import OFFICE

GOOD = """
[[regions]]
id = "tay-nguyen"
name = "Tây Nguyên"
head_site = "dak-lak"

[[sites]]
id = "dak-lak"
name = "Sở GD&ĐT Đắk Lắk"
region = "tay-nguyen"
capacity = 35
[sites.coordinator]
name = "H'Hen Niê"
email = "dau-moi@sgddt-dak-lak.example.org"
"""

BAD = """[[sites]]
id = "gia-lai"
name = "Sở GD&ĐT Gia Lai"
capacity = -3
"""


async def book(live: Live, **over: Any) -> BookingOut:
    return await book_national(live.container, **over)


async def test_office_reschedules_removes_a_site_and_cancels(page: Page, live: Live) -> None:
    s = await book(live)
    await sign_in(page, live, live.office_token, f"/office/sessions/{s.id}")
    assert page.url.endswith(f"/office/sessions/{s.id}")
    h1 = page.get_by_role("heading", level=1)
    assert await h1.inner_text() == "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT"
    rows = page.locator("table.sites tbody tr")
    assert await rows.count() == 6
    for i in range(6):
        assert await rows.nth(i).locator(".invite .badge").inner_text() == "Chờ gửi"
        assert await rows.nth(i).locator(".rsvp .badge").inner_text() == "Chưa trả lời"
    link = page.get_by_label("Đường dẫn tham gia của Sở GD&ĐT Cần Thơ")
    can_tho = next(x for x in s.sites if x.site_id == "can-tho")
    assert await link.input_value() == can_tho.join_url
    assert await page.get_by_role("button", name="Sao chép (Sở GD&ĐT Cần Thơ)").is_visible()
    facts = await page.locator("dl.facts").inner_text()
    assert "T5 10/12/2026, 08:00–11:30" in facts
    assert "Asia/Ho_Chi_Minh (UTC+07:00)" in facts
    await assert_accessible(page)
    await screenshot(page, "office-session")

    # Reschedule to the next afternoon.
    await page.get_by_label("Ngày", exact=True).fill("2026-12-11")
    await page.get_by_label("Bắt đầu", exact=True).fill("13:30")
    await page.get_by_label("Kết thúc", exact=True).fill("16:00")
    await page.get_by_role("button", name="Đổi thời gian", exact=True).click()
    await page.wait_for_url(f"**/office/sessions/{s.id}?done=rescheduled")
    assert "Đã đổi thời gian" in await page.get_by_role("status").first.inner_text()
    assert "T6 11/12/2026, 13:30–16:00" in await page.locator("dl.facts").inner_text()
    after = await live.container.bookings.get(s.id, OFFICE)
    assert after.start.isoformat() == "2026-12-11T13:30:00+07:00"

    # Remove Nghệ An.
    await page.get_by_label("Sở GD&ĐT Nghệ An", exact=True).check()
    await page.get_by_role("button", name="Rút điểm cầu đã chọn").click()
    await page.wait_for_url("**?done=sites_removed")
    assert await rows.count() == 5
    assert "nghe-an" not in (await live.container.bookings.session(s.id)).site_ids

    # Cancel: without the confirmation box nothing happens, with it the session is cancelled.
    await page.get_by_label("Lý do hủy (không bắt buộc)").fill("Hoãn theo chỉ đạo")
    await page.get_by_role("button", name="Hủy phiên họp", exact=True).click()
    alert = page.locator("#change-cancel [role=alert]")
    assert "Hãy đánh dấu ô xác nhận" in await alert.inner_text()
    assert await page.get_by_label("Lý do hủy (không bắt buộc)").input_value() == (
        "Hoãn theo chỉ đạo"
    )
    session = await live.container.bookings.session(s.id)
    assert session.status is SessionStatus.SCHEDULED
    await page.get_by_label("Tôi xác nhận hủy phiên họp này", exact=False).check()
    await page.get_by_role("button", name="Hủy phiên họp", exact=True).click()
    await page.wait_for_url("**?done=cancelled")
    assert "Đã hủy" in await page.locator("dl.facts").inner_text()
    session = await live.container.bookings.session(s.id)
    assert session.status is SessionStatus.CANCELLED
    assert await page.get_by_role("button", name="Đổi thời gian", exact=True).count() == 0


async def test_a_conflict_is_shown_in_words_with_the_typed_values(page: Page, live: Live) -> None:
    s = await book(live)
    await book(
        live,
        title="Giao ban Sở Đà Nẵng",
        start="2026-12-11T08:00:00+07:00",
        end="2026-12-11T10:00:00+07:00",
        host_site="da-nang",
        sites=["da-nang"],
        leader_groups=[],
        chair={"name": "Giám đốc Sở", "email": "gd@sgddt-da-nang.example.org"},
    )
    await sign_in(page, live, live.office_token, f"/office/sessions/{s.id}")
    await page.get_by_label("Ngày", exact=True).fill("2026-12-11")
    await page.get_by_label("Bắt đầu", exact=True).fill("09:00")
    await page.get_by_label("Kết thúc", exact=True).fill("11:00")
    await page.get_by_role("button", name="Đổi thời gian", exact=True).click()
    alert = page.locator("#change-reschedule [role=alert]")
    words = await alert.inner_text()
    assert "trùng với phiên họp khác" in words
    assert "Điểm cầu Sở GD&ĐT Đà Nẵng" in words
    assert "Giao ban Sở Đà Nẵng" in words
    assert await page.get_by_label("Bắt đầu", exact=True).input_value() == "09:00"
    assert (await live.container.bookings.session(s.id)).version == 1


async def test_regional_meeting_page_at_phone_width(page: Page, live: Live) -> None:
    s = await book(
        live,
        title="Giao ban vùng Bắc Trung Bộ và Duyên hải miền Trung",
        kind="regional",
        region="bac-trung-bo-duyen-hai-mien-trung",
        host_site="da-nang",
        sites=[],
        chair={"name": "Lê Thị Thu Hà", "email": "truong-vung@sgddt-da-nang.example.org"},
    )
    board = await live.container.preparation.board(s.id, OFFICE)
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, live, live.office_token, f"/office/sessions/{s.id}")
    assert await page.locator("table.sites tbody tr").count() == 2
    assert await page.locator("table.board tbody tr").count() == len(board.tasks) > 0
    assert "Giao ban vùng" in await page.locator("dl.facts").inner_text()
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    await assert_accessible(page)
    await screenshot(page, "office-session-phone")


async def test_directory_import_good_and_bad_files(page: Page, live: Live, tmp_path: Path) -> None:
    await sign_in(page, live, live.office_token, "/office/directory")
    assert await page.locator("table.sites-dir tbody tr").count() == 6
    assert await page.locator("table.regions tbody tr").count() == 6
    await assert_accessible(page)
    await screenshot(page, "office-directory")

    await page.get_by_label("Lọc theo vùng").select_option(
        label="Bắc Trung Bộ và Duyên hải miền Trung"
    )
    await page.get_by_role("button", name="Lọc", exact=True).click()
    assert "region=bac-trung-bo-duyen-hai-mien-trung" in page.url
    assert await page.locator("table.sites-dir tbody tr").count() == 2

    good = tmp_path / "tay-nguyen.toml"
    good.write_text(GOOD, encoding="utf-8")
    await page.get_by_label("Tệp danh bạ (.toml)").set_input_files(good)
    await page.get_by_role("button", name="Nhập danh bạ").click()
    await page.wait_for_url("**/office/directory?done=imported*")
    status = await page.get_by_role("status").first.inner_text()
    assert "1 vùng" in status
    assert "1 điểm cầu" in status
    assert await page.locator('tr[data-site="dak-lak"]').count() == 1
    assert "H'Hen Niê" in await page.locator('tr[data-site="dak-lak"]').inner_text()

    bad = tmp_path / "gia-lai.toml"
    bad.write_text(BAD, encoding="utf-8")
    await page.get_by_label("Tệp danh bạ (.toml)").set_input_files(bad)
    await page.get_by_role("button", name="Nhập danh bạ").click()
    alert = await page.get_by_role("alert").inner_text()
    assert "gia-lai.toml" in alert
    assert "không có gì thay đổi" in alert
    problem = page.locator("table.problems tbody tr").first
    assert await problem.locator("td").nth(0).inner_text() == "4"
    assert await problem.locator("td").nth(1).inner_text() == "sites[0].capacity"
    sites = {x.id for x in (await live.container.directory.view(OFFICE)).sites}
    assert "gia-lai" not in sites
    assert "dak-lak" in sites
    await assert_accessible(page)


async def test_a_title_of_one_long_word_wraps_on_every_page_it_is_on(
    browser: Any, live: Live
) -> None:
    """A pasted link or file name as a title (one 300-character word) wraps inside the page,
    on the session's page, the chair's board and list, and the week, at 1366 px and on a phone."""
    s = await book(live, title="Họp" + "x" * 300)
    pages = [f"/office/sessions/{s.id}", f"/chair/sessions/{s.id}", "/chair", "/office?view=week"]
    for width, height in ((1366, 768), (390, 844)):
        context = await browser.new_context(viewport={"width": width, "height": height})
        page = await context.new_page()
        try:
            await sign_in(page, live, live.office_token, pages[0])
            for path in pages:
                await page.goto(f"{live.url}{path}")
                wide = await page.evaluate("() => document.documentElement.scrollWidth")
                assert wide <= width, f"{path} is {wide}px wide on a {width}px screen"
            await screenshot(page, f"long-title-week-{width}")
        finally:
            await context.close()
