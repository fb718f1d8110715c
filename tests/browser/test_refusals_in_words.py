"""The directory file's own policy checks on the Vietnamese page: each problem in Vietnamese by
line and field, none of the loader's English."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in

POLICY = """[[regions]]
id = "tay-nguyen"
name = "Tây Nguyên"
head_site = "gia-lai"
[[sites]]
id = "gia-lai"
name = "Sở GD&ĐT Gia Lai"
[policies.regional]
working_days = ["mon", "mon"]
working_hours = ["25:00-26:00"]
min_notice_days = -1
"""


async def test_the_directory_files_policy_checks_read_in_vietnamese(
    page: Page, live: Live, tmp_path: Path
) -> None:
    await sign_in(page, live, live.office_token, "/office/directory")
    bad = tmp_path / "tay-nguyen.toml"
    bad.write_text(POLICY, encoding="utf-8")
    await page.get_by_label("Tệp danh bạ (.toml)").set_input_files(bad)
    await page.get_by_role("button", name="Nhập danh bạ").click()
    rows = page.locator("table.problems tbody tr")
    await expect(rows).to_have_count(4)
    said = [" | ".join(await r.locator("td").all_inner_texts()) for r in await rows.all()]
    assert said == [
        "4 | regions[0].head_site | Điểm cầu «gia-lai» không thuộc vùng «tay-nguyen» (điểm cầu "
        "chưa được gán vùng nào).",
        "9 | policies.regional.working_days[1] | Ngày «mon» bị liệt kê hai lần.",
        "10 | policies.regional.working_hours[0] | Giờ phải nằm trong khoảng 00:00 đến 23:59 "
        "(đang là «25:00-26:00»).",
        "11 | policies.regional.min_notice_days | Phải là số ngày nguyên, từ 0 trở lên "
        "(đang là «-1»).",
    ]
    text = await page.locator("main").inner_text()
    for english in ("listed twice", "not a time of day", "not in region", "whole number"):
        assert english not in text
    await assert_accessible(page)
    table = page.locator("table.problems")
    await page.set_viewport_size({"width": 1366, "height": 768})
    await table.scroll_into_view_if_needed()
    await screenshot(page, "directory-policy-vi-1366", full_page=False)
    await page.set_viewport_size({"width": 390, "height": 844})
    await table.scroll_into_view_if_needed()
    await screenshot(page, "directory-policy-vi-phone", full_page=False)
