"""A session recorded after it took place, in the browser: no invite is mailed, and the office's
session page and the coordinator's page say so in words, in Vietnamese and English."""

from __future__ import annotations

from datetime import timedelta

from playwright.async_api import Page, expect

from orchestrator.booking.schemas import BookSessionRequest
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import FakeMailer, booking_data, deliver
from tests.conftest import NOW, OFFICE

START = NOW - timedelta(days=2)


async def _past(live: Live) -> str:
    data = booking_data(
        title="Họp quá khứ",
        start=START,
        end=START + timedelta(hours=2),
        sites=["ha-noi", "da-nang", "can-tho"],
        override_reason="Ghi nhận cuộc họp đã diễn ra",
    )
    answer = await live.container.bookings.book(BookSessionRequest.model_validate(data), OFFICE)
    assert answer.status == 201, answer.value
    await deliver(live.container)
    return answer.value.id


async def test_a_past_session_says_no_invite_was_sent(
    page: Page, live: Live, mailer: FakeMailer
) -> None:
    session_id = await _past(live)
    assert mailer.sent == []

    await sign_in(page, live, live.office_token, f"/office/sessions/{session_id}")
    row = page.locator('tr[data-site="da-nang"] td.invite')
    await expect(row).to_contain_text("Không gửi")
    await expect(row).to_contain_text("Phiên họp đã kết thúc nên không gửi thư mời.")
    await expect(page.locator("td.invite").filter(has_text="Chờ gửi")).to_have_count(0)
    await assert_accessible(page)
    await page.set_viewport_size({"width": 1366, "height": 768})
    await screenshot(page, "invites-past-office")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "invites-past-office-phone")
    await page.get_by_role("link", name="English").click()
    await expect(row).to_contain_text("The session is over, so no invite is sent.")

    await page.context.clear_cookies()
    await page.set_viewport_size({"width": 1366, "height": 768})
    await sign_in(page, live, live.coordinator_tokens["da-nang"], f"/site/sessions/{session_id}")
    state = page.locator("#invite-state")
    await expect(state).to_contain_text("Thư mời qua email: Không gửi")
    await expect(state).to_contain_text("Phiên họp đã kết thúc nên không gửi thư mời.")
    await assert_accessible(page)
    await screenshot(page, "invites-past-site")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "invites-past-site-phone")
