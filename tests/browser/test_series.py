"""The office books a weekly series in a browser (DESIGN 10): the preview names the date a
session already holds and the holiday before anything is booked, the series is booked skipping
them, one occurrence is moved, and every occurrence not yet held is cancelled with the
confirmation; the pages in Vietnamese and English, at 1366×768 and on a 390 px phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Page, expect

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Chair, SessionStatus
from orchestrator.store.base import SeriesQuery
from tests.browser.conftest import (
    A11Y_SCRIPT,
    ARTIFACTS,
    Live,
    assert_accessible,
    assert_axe,
    screenshot,
    sign_in,
)
from tests.conftest import OFFICE

TITLE = "Giao ban tuần các Sở GD&ĐT"
HELD = "Họp Sở Cần Thơ"
SIZES = {"wide": (1366, 768), "phone": (390, 844)}


async def hold_can_tho(live: Live) -> None:
    """Cần Thơ alone on Thursday 21 January 2027 from 09:00 to 10:00 in Hà Nội."""
    start = datetime(2027, 1, 21, 2, 0, tzinfo=UTC)
    await live.container.bookings.book(
        BookSessionRequest(
            title=HELD,
            start=start,
            end=start + timedelta(hours=1),
            host_site="can-tho",
            sites=["can-tho"],
            chair=Chair(name="Giám đốc", email="giamdoc@sgddt-can-tho.example.org"),
        ),
        OFFICE,
    )


async def fill_series(page: Page) -> None:
    """A weekly series of five Thursdays from 14 January 2027, 08:00 to 10:00, from Hà Nội with
    Đà Nẵng and Cần Thơ, skipping the occurrences in the way (by field names: any language)."""
    await page.locator('[name="title"]').fill(TITLE)
    await page.locator('[name="date"]').fill("2027-01-14")
    await page.locator('[name="start_time"]').fill("08:00")
    await page.locator('[name="end_time"]').fill("10:00")
    await page.locator('[name="host_site"]').select_option("ha-noi")
    for site in ("da-nang", "can-tho"):
        await page.locator(f'input.site[value="{site}"]').check()
    await page.locator('[name="chair_name"]').fill("Chánh Văn phòng Bộ")
    await page.locator('[name="chair_email"]').fill("chair@moet.example.org")
    await page.locator('input[name="repeat"][value="weekly"]').check()
    await page.locator('input[name="byday"][value="TH"]').check()
    await page.locator('[name="count"]').fill("5")
    await page.locator('input[name="series_policy"][value="skip_conflicting_occurrences"]').check()


async def fits(page: Page, width: int) -> None:
    wide = await page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= width, f"the page is {wide}px wide on a {width}px screen"


async def test_book_a_weekly_series_move_one_and_cancel_the_rest(
    page: Page, live: Live, clock: ManualClock
) -> None:
    await hold_can_tho(live)
    await sign_in(page, live, live.office_token, "/office/book")
    # without a repetition chosen, its parts are out of the way
    await expect(page.locator('[name="count"]')).to_be_hidden()
    await assert_accessible(page)
    await fill_series(page)
    check = page.locator("#check")
    # the preview names every occurrence, the one Cần Thơ already holds and the holiday
    await expect(check).to_contain_text("Hằng tuần vào Thứ Năm, 5 buổi")
    await expect(check).to_contain_text("Sẽ đặt 3/5 buổi; bỏ qua 2 buổi")
    await expect(check.locator("li.occ")).to_have_count(5)
    skipped = check.locator("li.occ.skipped")
    await expect(skipped).to_have_count(2)
    await expect(skipped.nth(0)).to_contain_text("T5 21/01/2027 08:00–10:00")
    await expect(skipped.nth(0)).to_contain_text(
        f"Sở GD&ĐT Cần Thơ đã có phiên «{HELD}» 09:00–10:00 (T5 21/01/2027)"
    )
    await expect(skipped.nth(1)).to_contain_text("T5 04/02/2027")
    await expect(skipped.nth(1)).to_contain_text("Ngày lễ: 29 Tết.")
    assert await live.container.bookings.series.list_series(SeriesQuery(), OFFICE) == []
    # the form with its preview (the keyboard's order was checked before it was filled)
    assert await page.evaluate(A11Y_SCRIPT) == []
    await assert_axe(page)

    await page.get_by_role("button", name="Đặt lịch", exact=True).click()
    await page.wait_for_url(re.compile(r"/office/series/[0-9a-f-]{36}$"))
    series_id = page.url.rsplit("/", 1)[1]
    series = await live.container.bookings.series.get(series_id, OFFICE)
    assert [o.occurrence.date().isoformat() for o in series.occurrences] == [
        "2027-01-14",
        "2027-01-28",
        "2027-02-11",
    ]
    rows = page.locator("table.occurrences tbody tr")
    await expect(rows).to_have_count(5)
    await expect(rows.nth(1)).to_contain_text("Bỏ qua")
    await expect(rows.nth(1)).to_contain_text(f"Sở GD&ĐT Cần Thơ đã có phiên «{HELD}».")
    await expect(rows.nth(3)).to_contain_text("Ngày lễ: 29 Tết.")
    await assert_accessible(page)

    # the timeline marks each occurrence, and only those
    await page.goto(f"{live.url}/office?date=2027-01-18&view=month")
    marked = page.locator("a.block.series")
    await expect(marked).to_have_count(2)  # 14 and 28 January; 11 February is next month
    await expect(marked.first).to_contain_text("↻")
    await expect(marked.first).to_have_attribute("title", re.compile("buổi của chuỗi phiên họp"))
    await expect(page.locator("a.block:not(.series)")).to_contain_text(HELD)
    await page.goto(f"{live.url}/office/series/{series_id}")

    # move the occurrence of 28 January to the next afternoon
    await rows.nth(2).get_by_role("link", name=re.compile("^Dời")).click()
    move = page.locator("#change-move")
    await expect(move.get_by_label("Buổi họp")).to_have_value(series.occurrences[1].session_id)
    await move.get_by_label("Ngày", exact=True).fill("2027-01-29")
    await move.get_by_label("Bắt đầu", exact=True).fill("14:00")
    await move.get_by_label("Kết thúc", exact=True).fill("16:00")
    await move.get_by_role("button", name="Dời buổi này").click()
    await page.wait_for_url("**?done=moved")
    await expect(page.get_by_role("status").first).to_contain_text("Đã dời buổi họp")
    await expect(rows.nth(2)).to_contain_text("T6 29/01/2027, 14:00–16:00")
    await expect(rows.nth(2)).to_contain_text("Đã dời riêng buổi này (lịch gốc: T5 28/01/2027")
    moved = await live.container.bookings.get(series.occurrences[1].session_id, OFFICE)
    assert moved.start.isoformat() == "2027-01-29T14:00:00+07:00"
    assert moved.series_id == series_id  # still an occurrence of its series

    # the first occurrence is held; cancel the rest, which needs the confirmation
    clock.set(datetime(2027, 1, 15, tzinfo=UTC))
    await sign_in(page, live, live.office_token, f"/office/series/{series_id}")
    cancel = page.locator("#change-cancel")
    await expect(cancel.get_by_role("heading")).to_have_text("Hủy mọi buổi chưa diễn ra (2)")
    await cancel.get_by_role("button", name="Hủy mọi buổi chưa diễn ra").click()
    await expect(page.locator("#problem-cancel")).to_contain_text("Hãy đánh dấu ô xác nhận")
    after = await live.container.bookings.series.get(series_id, OFFICE)
    assert all(o.status is not SessionStatus.CANCELLED for o in after.occurrences)
    await cancel.get_by_label(re.compile("Tôi xác nhận hủy 2 buổi chưa diễn ra")).check()
    await cancel.get_by_role("button", name="Hủy mọi buổi chưa diễn ra").click()
    await page.wait_for_url("**?done=cancelled")
    after = await live.container.bookings.series.get(series_id, OFFICE)
    assert [o.status for o in after.occurrences] == [
        SessionStatus.ENDED,
        SessionStatus.CANCELLED,
        SessionStatus.CANCELLED,
    ]
    await expect(rows.nth(0)).to_contain_text("Đã kết thúc")
    await expect(page.locator("#change-cancel")).to_have_count(0)  # nothing left to change
    await assert_accessible(page)


async def test_the_series_pages_read_well_in_both_languages_and_sizes(
    page: Page, live: Live
) -> None:
    await hold_can_tho(live)
    await sign_in(page, live, live.office_token, "/office/book")
    for lang in ("vi", "en"):
        await page.context.add_cookies([{"name": "orch_lang", "value": lang, "url": live.url}])
        for size, (width, height) in SIZES.items():
            await page.set_viewport_size({"width": width, "height": height})
            await page.goto(f"{live.url}/office/book")
            await fill_series(page)
            await expect(page.locator("#check li.occ.skipped")).to_have_count(2)
            await fits(page, width)
            await screenshot(page, f"series-book-preview-{lang}-{size}")
            # the parts worth reading closely, at the phone's own scale
            await page.locator("#repeat").screenshot(
                path=ARTIFACTS / f"series-repeat-{lang}-{size}.png"
            )
            await page.locator("#check").screenshot(
                path=ARTIFACTS / f"series-check-{lang}-{size}.png"
            )
    await page.locator('button[name="do"][value="book"]').click()
    await page.wait_for_url(re.compile(r"/office/series/[0-9a-f-]{36}$"))
    series_page = page.url
    await live.container.bookings.book(  # a single session beside the series' first occurrence
        BookSessionRequest(
            title="Họp chuyên đề Sở GD&ĐT Đà Nẵng",
            start=datetime(2027, 1, 13, 7, 0, tzinfo=UTC),
            end=datetime(2027, 1, 13, 8, 30, tzinfo=UTC),
            host_site="da-nang",
            chair=Chair(name="Giám đốc", email="giamdoc@sgddt-da-nang.example.org"),
        ),
        OFFICE,
    )
    for lang in ("vi", "en"):
        await page.context.add_cookies([{"name": "orch_lang", "value": lang, "url": live.url}])
        for size, (width, height) in SIZES.items():
            await page.set_viewport_size({"width": width, "height": height})
            await page.goto(series_page)
            await fits(page, width)
            await screenshot(page, f"series-page-{lang}-{size}")
            if size == "phone":
                for part in ("table.occurrences", "#change-move", "#change-cancel"):
                    name = part.strip("#.").replace(".", "-")
                    shot = ARTIFACTS / f"series-page-{lang}-phone-{name}.png"
                    await page.locator(part).screenshot(path=shot)
            if lang == "en":
                english = await page.locator("table.occurrences").inner_text()
                assert "Skipped" in english
                assert "Public holiday:" in english
            await page.goto(f"{live.url}/office?date=2027-01-14")
            await expect(page.locator("a.block.series").first).to_be_visible()
            await fits(page, width)
            await screenshot(page, f"series-timeline-{lang}-{size}")


async def test_the_preview_works_without_javascript(browser: Browser, live: Live) -> None:
    await hold_can_tho(live)
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, locale="vi-VN", java_script_enabled=False
    )
    page = await context.new_page()
    page.set_default_timeout(10_000)
    try:
        await sign_in(page, live, live.office_token, "/office/book")
        await expect(page.locator('[name="count"]')).to_be_visible()  # every part shows
        await fill_series(page)
        await page.locator('input[name="byday"][value="TH"]').uncheck()  # the first date's day
        await page.get_by_role("button", name="Xem trước").click()
        await page.wait_for_url("**/office/book#check")
        check = page.locator("#check")
        await expect(check).to_contain_text("Hằng tuần vào Thứ Năm, 5 buổi")
        await expect(check.locator("li.occ.skipped")).to_have_count(2)
        await expect(page.locator('input[name="byday"][value="TH"]')).to_be_checked()
        assert await live.container.bookings.series.list_series(SeriesQuery(), OFFICE) == []
        await fits(page, 390)
        # the keyboard goes on from the preview the page opened at (#check): the hand-written
        # checks here, the order of the keys on the series' page below
        assert await page.evaluate(A11Y_SCRIPT) == []
        await page.get_by_role("button", name="Đặt lịch", exact=True).click()
        await page.wait_for_url(re.compile(r"/office/series/[0-9a-f-]{36}$"))
        await expect(page.locator("table.occurrences tbody tr")).to_have_count(5)
        await assert_accessible(page, scripts=False)
    finally:
        await context.close()
