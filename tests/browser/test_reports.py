"""The report pages read as a person reads them, at 1366 × 768 and on a phone (390 px), in
Vietnamese and English: the filters as a form (JavaScript off too), the regions' chart and
tables, the grid of 65 regional meetings capped at 60 columns and said so, scrolling inside its
own box with the sites' names kept in view, wide tables scrolling in theirs, never the page."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Browser, BrowserContext, Page, expect

from orchestrator.attendance.sources import Observation
from orchestrator.domain.clock import ManualClock
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import REGIONAL_START, book_regional
from tests.integration.test_reports import _year

REGIONS = {
    "dong-bang-song-hong": ["ha-noi"],
    "trung-du-mien-nui-phia-bac": ["thai-nguyen"],
    "bac-trung-bo-duyen-hai-mien-trung": ["da-nang", "nghe-an"],
    "dong-nam-bo": ["tp-ho-chi-minh"],
    "dong-bang-song-cuu-long": ["can-tho"],
}
WEEKS = 13  # 65 regional meetings: more than the grid's 60 columns
VIEWPORTS = [(1366, 768, "1366"), (390, 844, "phone")]

FIT = """
() => {
  const wrap = document.querySelector('.rp-grid-wrap');
  const site = wrap.querySelector('tbody th.site');
  wrap.scrollLeft = wrap.scrollWidth;
  const kept = site.getBoundingClientRect().left - wrap.getBoundingClientRect().left;
  const tables = Array.from(document.querySelectorAll('.table-wrap')).map(
    (w) => w.getBoundingClientRect().right);
  return { page: document.documentElement.scrollWidth, viewport: window.innerWidth,
           grid: wrap.scrollWidth, gridBox: wrap.clientWidth, kept: Math.abs(kept),
           right: Math.max(...tables) };
}
"""


async def _year_of_meetings(live: Live, clock: ManualClock) -> None:
    c = live.container
    observations = []
    for week in range(WEEKS):
        for n, (region, sites) in enumerate(REGIONS.items()):
            start = REGIONAL_START + timedelta(days=7 * week)
            meeting = await book_regional(
                c,
                region=region,
                host_site=sites[0],
                override_reason="Lịch giao ban cố định của vùng",
                start=start,
                end=start + timedelta(hours=3),
                chair={"name": "Trưởng vùng", "email": f"head{n}@example.org"},
            )
            assert meeting.room
            for i, site in enumerate(sites):
                if (week + n + i) % 4 == 3:
                    continue  # absent
                at = start + timedelta(minutes=40 if (week + i) % 3 == 0 else -5)
                key = f"j:{meeting.id}:{site}"
                observations.append(Observation("jitsi", "join", meeting.room, at, key, site, site))
    await _year(c, clock)
    clock.set(REGIONAL_START + timedelta(days=7 * WEEKS + 1))
    await c.attendance.ingest(observations)


async def _open(
    browser: Browser, live: Live, width: int, height: int, lang: str, scripts: bool = True
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, locale="vi-VN", java_script_enabled=scripts
    )
    page = await context.new_page()
    page.set_default_timeout(30_000)
    await sign_in(page, live, live.office_token, "/office")
    host = live.url.split("//", 1)[1].split(":")[0]
    await context.add_cookies([{"name": "orch_lang", "value": lang, "domain": host, "path": "/"}])
    return context, page


async def test_the_report_page_reads_well_in_both_languages_and_sizes(
    browser: Browser, live: Live, clock: ManualClock
) -> None:
    await _year_of_meetings(live, clock)
    for lang in ("vi", "en"):
        for width, height, label in VIEWPORTS:
            context, page = await _open(browser, live, width, height, lang)
            try:
                await page.goto(f"{live.url}/office/reports?kind=regional")
                title = "Báo cáo" if lang == "vi" else "Reports"
                await expect(page.get_by_role("heading", level=1)).to_contain_text(title)
                chart = page.get_by_role(
                    "img",
                    name="Kết quả điểm danh theo vùng" if lang == "vi" else "Attendance by region",
                )
                await expect(chart).to_be_visible()
                more = "Chỉ hiển thị 60 phiên đầu tiên" if lang == "vi" else "Showing the first 60"
                await expect(page.get_by_text(more)).to_be_visible()
                assert await page.locator("table.rp-grid thead th.day").count() == 60
                fit = await page.evaluate(FIT)
                # the page never scrolls sideways; the grid scrolls in its box, names kept
                assert fit["page"] <= fit["viewport"], fit
                assert fit["right"] <= fit["viewport"] + 1, fit
                assert fit["grid"] > fit["gridBox"], fit
                assert fit["kept"] < 2, fit
                await page.evaluate("document.querySelector('.rp-grid-wrap').scrollLeft = 0")
                await screenshot(page, f"reports-{lang}-{label}")
                await assert_accessible(page)
            finally:
                await context.close()


async def test_the_filters_work_without_javascript_and_a_chair_has_the_menu(
    browser: Browser, live: Live, clock: ManualClock
) -> None:
    await _year_of_meetings(live, clock)
    context, page = await _open(browser, live, 390, 844, "vi", scripts=False)
    try:
        await page.goto(f"{live.url}/office")
        await page.get_by_role("link", name="Báo cáo").click()
        await page.get_by_label("Từ ngày").fill("2026-12-01")
        await page.get_by_label("Đến ngày").fill("2026-12-31")
        await page.get_by_label("Vùng", exact=True).select_option(
            "bac-trung-bo-duyen-hai-mien-trung"
        )
        await page.get_by_role("button", name="Xem báo cáo").click()
        await page.wait_for_load_state()
        assert "region=bac-trung-bo-duyen-hai-mien-trung" in page.url
        rows = page.locator("#sites-table tbody tr")
        await expect(rows).to_have_count(2)
        await expect(page.locator("#regions-table tfoot")).to_contain_text("33,3 %")
        xlsx = page.get_by_role("link", name="XLSX").first
        assert "lang=vi" in (await xlsx.get_attribute("href") or "")
        await assert_accessible(page, scripts=False)
        await screenshot(page, "reports-vi-phone-filtered")
    finally:
        await context.close()
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    try:
        await sign_in(page, live, live.chair_token, "/chair")
        await page.get_by_role("link", name="Báo cáo").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Báo cáo")
        await expect(page.get_by_text("Chỉ gồm các phiên họp do anh/chị chủ trì.")).to_be_visible()
    finally:
        await context.close()
