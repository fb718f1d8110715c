"""The planner in a browser: a refusal names the rule (the 15 days' notice) with its times in the
office's zone, and each region's chair shows where it came from and can be changed before
booking; the chair typed is the one booked."""

from __future__ import annotations

from playwright.async_api import Page, expect

from orchestrator.store.base import SessionQuery
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import OFFICE


async def _look(page: Page, name: str) -> None:
    """Screenshots at a laptop's and a phone's width."""
    for width, height, suffix in ((1366, 768, ""), (390, 844, "-phone")):
        await page.set_viewport_size({"width": width, "height": height})
        await screenshot(page, f"{name}{suffix}")
    await page.set_viewport_size({"width": 1280, "height": 900})


async def _only(page: Page, *regions: str) -> None:
    for box in await page.locator('input[name="regions"]').all():
        await box.uncheck()
    for region in regions:
        await page.get_by_role("checkbox", name=region).check()


async def test_a_window_inside_the_notice_is_refused_for_the_notice(page: Page, live: Live) -> None:
    await sign_in(page, live, live.office_token, "/office/plan")
    await _only(page, "Đông Nam Bộ")
    await page.get_by_label("Từ ngày").fill("2026-11-30")  # the clock: 23 November, 09:00
    await page.get_by_label("Đến ngày").fill("2026-12-07")
    await page.get_by_role("button", name="Đề xuất lịch").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("phải đặt trước ít nhất 15 ngày")
    await expect(alert).to_contain_text(
        "chỉ có thể bắt đầu từ T3 08/12/2026 09:00 (Asia/Ho_Chi_Minh)"
    )
    await expect(alert).not_to_contain_text("+00:00")
    await expect(alert).not_to_contain_text("sau khi xếp các vùng khác")
    await _look(page, "office-plan-notice")


async def test_each_regions_chair_is_shown_with_its_source_and_can_be_changed(
    page: Page, live: Live
) -> None:
    await sign_in(page, live, live.office_token, "/office/plan")
    await _only(page, "Đồng bằng sông Hồng", "Đông Nam Bộ")
    await page.get_by_label("Từ ngày").fill("2026-12-14")
    await page.get_by_label("Đến ngày").fill("2026-12-18")
    await page.get_by_role("button", name="Đề xuất lịch").click()
    table = page.locator("table.plan-table")
    await expect(table.locator("tbody tr")).to_have_count(2)
    red_river = table.locator("tbody tr", has_text="Đồng bằng sông Hồng")
    await expect(red_river).to_contain_text("Chưa có trưởng vùng")
    await expect(red_river).to_contain_text("tạm lấy đầu mối của điểm cầu chính")
    email = red_river.get_by_label("Thư điện tử (Đồng bằng sông Hồng)")
    await expect(email).to_have_value("vanphong@moet.example.org")
    south = table.locator("tbody tr", has_text="Đông Nam Bộ")
    await expect(south).to_contain_text("Trưởng vùng theo danh bạ")
    await assert_accessible(page)
    await _look(page, "office-plan-chairs")

    await red_river.get_by_label("Họ tên (Đồng bằng sông Hồng)").fill("Nguyễn Thị Hồng")
    await email.fill("truong-vung@sgddt-ha-noi.example.org")
    await page.get_by_role("button", name="Đặt cả 2 phiên").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã đặt 2 phiên giao ban vùng")
    booked = await live.container.bookings.list_sessions(SessionQuery(), OFFICE)
    chairs = {s.region: (s.chair.name, s.chair.email) for s in booked}
    assert chairs["dong-bang-song-hong"] == (
        "Nguyễn Thị Hồng",
        "truong-vung@sgddt-ha-noi.example.org",
    )
    assert chairs["dong-nam-bo"][1] == "truong-vung@sgddt-tp-ho-chi-minh.example.org"
    red_river = table.locator("tbody tr", has_text="Đồng bằng sông Hồng")
    await expect(red_river).to_contain_text("Nguyễn Thị Hồng")
    await expect(red_river).to_contain_text("Do văn phòng chỉ định.")
    await _look(page, "office-plan-chairs-booked")


async def test_a_wrong_chair_address_is_marked_and_nothing_is_booked(
    page: Page, live: Live
) -> None:
    await sign_in(page, live, live.office_token, "/office/plan")
    await _only(page, "Đồng bằng sông Hồng")
    await page.get_by_label("Từ ngày").fill("2026-12-14")
    await page.get_by_label("Đến ngày").fill("2026-12-18")
    await page.get_by_role("button", name="Đề xuất lịch").click()
    await page.get_by_label("Thư điện tử (Đồng bằng sông Hồng)").fill("khong-phai-thu")
    await page.get_by_role("button", name="Đặt cả 1 phiên").click()
    await expect(page.locator("#e-chair-dong-bang-song-hong")).to_contain_text(
        "Địa chỉ thư điện tử không hợp lệ"
    )
    await expect(page.get_by_label("Thư điện tử (Đồng bằng sông Hồng)")).to_have_value(
        "khong-phai-thu"
    )
    assert await live.container.bookings.list_sessions(SessionQuery(), OFFICE) == []
