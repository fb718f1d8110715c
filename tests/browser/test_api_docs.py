"""`/docs`: Swagger UI, from the installed package, reads the service's own `/openapi.json`."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, Request

from tests.browser.conftest import Live, assert_axe, screenshot


async def test_the_api_reader_lists_the_booking_and_asks_nothing_of_other_hosts(
    page: Page, live: Live
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    failed: list[Request] = []
    page.on("requestfailed", lambda request: failed.append(request))

    answer = await page.goto(f"{live.url}/docs")
    assert answer is not None
    assert answer.status == 200
    assert "default-src 'self'" in (answer.headers.get("content-security-policy") or "")
    booking = page.locator(".opblock-post", has_text="/api/sessions").filter(
        has_text="Book a session across sites"
    )
    await booking.first.wait_for()
    assert await page.locator(".opblock-summary-path", has_text="/api/slots").count() == 1

    await booking.first.locator(".opblock-summary").click()
    await page.get_by_text("BookSessionRequest").first.wait_for()
    await page.set_viewport_size({"width": 1366, "height": 768})
    await screenshot(page, "api-docs-1366", full_page=False)
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "api-docs-phone", full_page=False)

    hosts = {urlsplit(url).hostname for url in asked if not url.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, asked
    assert "/openapi.json" in {urlsplit(url).path for url in asked}
    assert not [r.url for r in failed], [r.url for r in failed]
    assert not [text for text in refused if "Content Security Policy" in text], refused
    # the reader is a page like any other: no serious or critical violation axe-core finds
    await page.set_viewport_size({"width": 1366, "height": 768})
    await assert_axe(page)
