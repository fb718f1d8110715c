"""Signing in through the browser: token form, one-time link, roles kept apart, language."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in


async def test_office_signs_in_with_a_token_and_out_again(page: Page, live: Live) -> None:
    await page.goto(f"{live.url}/")
    assert page.url.endswith("/signin")
    await assert_accessible(page)
    await screenshot(page, "signin")
    await page.get_by_label("Mã truy cập").fill("orch_wrong")
    await page.get_by_role("button", name="Đăng nhập").click()
    assert "không đúng" in await page.get_by_role("alert").inner_text()

    await sign_in(page, live, live.office_token)
    assert "/office" in page.url
    assert await page.get_by_role("button", name="Đăng xuất").is_visible()
    await page.get_by_role("button", name="Đăng xuất").click()
    await page.goto(f"{live.url}/")
    assert page.url.endswith("/signin")


async def test_one_time_link_works_once(page: Page, live: Live) -> None:
    link = await live.container.signin.once_link(minutes=5)
    link = link.replace("http://127.0.0.1:8080", live.url)
    await page.goto(link)
    await page.get_by_role("button", name="Tiếp tục").click()
    assert "/office" in page.url
    await page.context.clear_cookies()
    await page.goto(link)
    await page.get_by_role("button", name="Tiếp tục").click()
    assert "đã được dùng" in await page.get_by_role("alert").inner_text()


async def test_english_switch_is_remembered(page: Page, live: Live) -> None:
    await page.goto(f"{live.url}/signin")
    await page.get_by_role("link", name="English").click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Sign in"
    await page.goto(f"{live.url}/signin")
    assert await page.locator("html").get_attribute("lang") == "en"
