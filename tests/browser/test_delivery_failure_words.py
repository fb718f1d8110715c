"""An invite the mail server would not take, on the office's session page: the reason in the
page's language ("Máy chủ thư không nhận kết nối"), the mail server's own words one click away."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from playwright.async_api import Page, expect

from connectors.base import PermanentConnectorError, TransientConnectorError
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import FakeMailer, book, deliver

REFUSED = (
    "SMTP server 127.0.0.1:2525: Error connecting to 127.0.0.1 on port 2525: "
    "[Errno 111] Connect call failed ('127.0.0.1', 2525)"
)


class RefusingMailer(FakeMailer):
    """Refuses the connection for Đà Nẵng's coordinator and the recipient for Cần Thơ's."""

    async def send(self, message: EmailMessage) -> None:
        to = " ".join(a for _, a in getaddresses([str(message["To"])]))
        if "da-nang" in to or "danang" in to:
            raise TransientConnectorError(REFUSED)
        if "can-tho" in to or "cantho" in to:
            raise PermanentConnectorError(
                f"SMTP server 127.0.0.1:2525 refused every recipient: {to} (550 5.1.1 No such user)"
            )
        await super().send(message)


@pytest.fixture
def mailer() -> FakeMailer:
    return RefusingMailer()


async def test_a_refused_connection_reads_in_vietnamese_with_the_detail_at_hand(
    page: Page, live: Live, mailer: FakeMailer
) -> None:
    session = await book(live.container, title="Giao ban công tác văn phòng")
    await deliver(live.container)
    assert mailer.sent, "the other sites' invites went out"

    await sign_in(page, live, live.office_token, f"/office/sessions/{session.id}")
    cell = page.locator('tr[data-site="da-nang"] td.invite')
    await expect(cell).to_contain_text("Chờ gửi")
    await expect(cell.locator(".reason")).to_have_text("Máy chủ thư không nhận kết nối.")
    await expect(cell).to_contain_text("Đã thử 1 lần.")
    detail = cell.locator("details")
    await expect(detail.locator("code")).not_to_be_visible()
    assert "Connect call failed" not in await cell.inner_text()
    refused = page.locator('tr[data-site="can-tho"] td.invite')
    await expect(refused).to_contain_text("Gửi lỗi")
    await expect(refused.locator(".reason")).to_have_text(
        "Máy chủ thư từ chối địa chỉ người nhận: hãy kiểm tra thư điện tử của đầu mối."
    )
    await assert_accessible(page)

    await page.set_viewport_size({"width": 1366, "height": 768})
    await detail.locator("summary").click()
    await expect(detail.locator("code")).to_have_text(REFUSED)
    await cell.scroll_into_view_if_needed()
    await screenshot(page, "delivery-failure-vi-1366", full_page=False)
    await page.set_viewport_size({"width": 390, "height": 844})
    await cell.scroll_into_view_if_needed()
    await screenshot(page, "delivery-failure-vi-phone", full_page=False)

    await page.get_by_role("link", name="English").click()
    await expect(cell.locator(".reason")).to_have_text("The mail server refused the connection.")
    await expect(cell.locator("summary")).to_have_text("Technical detail")
