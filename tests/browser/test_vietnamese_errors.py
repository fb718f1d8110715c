"""A refusal on a Vietnamese page reads in Vietnamese, beside the field it is about."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser.conftest import Live, screenshot, sign_in


async def test_a_too_long_title_is_refused_in_vietnamese_beside_the_field(
    page: Page, live: Live
) -> None:
    await sign_in(page, live, live.office_token, "/office/book")
    await page.goto(f"{live.url}/office/book")
    title = page.get_by_label("Tên phiên họp")
    assert await title.get_attribute("maxlength") == "500"
    await page.get_by_label("Ngày", exact=True).fill("2026-12-10")
    await page.get_by_label("Bắt đầu", exact=True).fill("08:00")
    await page.get_by_label("Kết thúc", exact=True).fill("11:30")
    await page.get_by_label("Điểm cầu chính (nơi chủ trì)").select_option("ha-noi")
    await page.get_by_label("Họ tên chủ trì").fill("Chánh Văn phòng")
    await page.get_by_label("Thư điện tử của chủ trì").fill("chair@moet.example.org")
    await title.fill("H" * 600)
    assert len(await title.input_value()) == 500  # the browser stops typing at the limit
    # a browser that ignores maxlength (or a script) still gets the server's answer in words
    await title.evaluate("(el) => { el.removeAttribute('maxlength'); el.value = 'H'.repeat(501); }")
    await page.get_by_role("button", name="Đặt lịch", exact=True).click()
    await page.wait_for_load_state()
    error = page.locator("#e-title")
    assert await error.inner_text() == "Dài quá 500 ký tự."
    assert await title.get_attribute("aria-invalid") == "true"
    assert "String should" not in await page.content()
    await page.set_viewport_size({"width": 1366, "height": 768})
    await title.scroll_into_view_if_needed()
    await screenshot(page, "vi-form-error-1366", full_page=False)
    await page.set_viewport_size({"width": 390, "height": 844})
    await title.scroll_into_view_if_needed()
    await screenshot(page, "vi-form-error-phone", full_page=False)
