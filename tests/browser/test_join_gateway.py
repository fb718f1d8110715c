"""The join gateway's pages in Chromium: the next occurrence outside every window, the end, an
unknown link; readable at 1366×768 and on a 390 px phone, accessible, in Vietnamese and English;
inside a window the browser lands on the occurrence's own link."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Page

from orchestrator.domain.join_keys import JoinSubject
from tests.browser.conftest import Live, assert_accessible, screenshot
from tests.series_kit import store_series


async def _fits(page: Page) -> None:
    for width, height in ((1366, 768), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        wide = await page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= width, f"the page is {wide}px wide on a {width}px screen"
        heading = page.get_by_role("heading", level=1)
        assert await heading.is_visible()
        box = await heading.bounding_box()
        assert box is not None
        assert box["y"] < height  # seen without scrolling


async def test_the_pages_of_a_series_link(page: Page, live: Live) -> None:
    c = live.container
    series, occurrences = await store_series(c)
    (url,) = (await c.gateway.urls(JoinSubject.SERIES, series.id, ["da-nang"])).values()
    link = live.url + url[url.index("/join/") :]
    clock = c.clock
    assert hasattr(clock, "set")

    # Before the first: the next occurrence and its connection test, in Vietnamese.
    await page.goto(link)
    assert await page.get_by_role("heading", level=1).inner_text() == "Chưa đến giờ họp"
    text = await page.locator("main").inner_text()
    assert "T5 10/12/2026 08:00–10:00" in text
    assert "T5 10/12/2026 07:30" in text
    await assert_accessible(page)
    await _fits(page)
    await screenshot(page, "join-waiting-390")
    # The viewer may read it in English.
    await page.get_by_role("link", name="English").click()
    assert await page.get_by_role("heading", level=1).inner_text() == (
        "The meeting has not opened yet"
    )
    assert "Thu 2026-12-10 07:30" in await page.locator("main").inner_text()
    await assert_accessible(page)
    await page.context.clear_cookies()

    # Inside the window the browser is taken to the site's own link (a static one here).
    clock.set(occurrences[0].start - timedelta(minutes=5))  # type: ignore[attr-defined]
    own = next(s.join_url for s in occurrences[0].sites if s.site_id == "da-nang")
    assert own is not None
    answer = await page.request.get(link, max_redirects=0)
    assert answer.status == 302
    assert answer.headers["location"] == own

    # After the last: 410, said so.
    clock.set(occurrences[-1].end + timedelta(hours=1))  # type: ignore[attr-defined]
    response = await page.goto(link)
    assert response is not None
    assert response.status == 410
    assert await page.get_by_role("heading", level=1).inner_text() == (
        "Chuỗi phiên họp đã kết thúc"
    )
    await assert_accessible(page)
    await _fits(page)

    # A link that is not one.
    response = await page.goto(link[:-3] + "xyz")
    assert response is not None
    assert response.status == 404
    assert await page.get_by_role("heading", level=1).inner_text() == "Đường dẫn không hợp lệ"
    await assert_accessible(page)
    await _fits(page)
    await screenshot(page, "join-unknown-390")
