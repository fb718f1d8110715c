"""Every page, in Vietnamese and English, through axe-core: no serious or critical violation
(beside the hand-written checks of `assert_accessible`), for the office, a coordinator, a chair
and the answer page of an invite's link; and axe-core does find what it should."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page

from orchestrator.booking.schemas import BookingOut
from orchestrator.domain.clock import ManualClock
from tests.browser.conftest import (
    CHAIR_EMAIL,
    Live,
    assert_accessible,
    assert_axe,
    screenshot,
    sign_in,
)
from tests.builders import FakeMailer, book, deliver

LANGUAGES = ("vi", "en")


async def _session(live: Live) -> BookingOut:
    return await book(
        live.container,
        title="Hội nghị trực tuyến công tác văn phòng",
        chair={"name": "Chánh Văn phòng Bộ", "email": CHAIR_EMAIL},
        agenda="1. Báo cáo\n2. Thảo luận",
    )


async def _in(page: Page, live: Live, lang: str) -> None:
    host = live.url.split("//", 1)[1].split(":")[0]
    await page.context.add_cookies(
        [{"name": "orch_lang", "value": lang, "domain": host, "path": "/"}]
    )


async def _check(page: Page, live: Live, path: str, name: str, lang: str) -> None:
    response = await page.goto(f"{live.url}{path}")
    assert response is not None
    assert response.status == 200, f"{path}: {response.status}"
    assert await page.evaluate("() => document.documentElement.lang") == lang
    await assert_accessible(page)
    await screenshot(page, f"axe-{name}-{lang}")


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_office_pages(page: Page, live: Live, lang: str) -> None:
    session = await _session(live)
    await sign_in(page, live, live.office_token, "/office")
    await _in(page, live, lang)
    start = session.start.date().isoformat()
    for path, name in (
        (f"/office?date={start}", "office-week"),
        (f"/office?view=month&date={start}", "office-month"),
        ("/office/book", "office-book"),
        ("/office/plan", "office-plan"),
        ("/office/directory", "office-directory"),
        (f"/office/sessions/{session.id}", "office-session"),
        ("/chair", "office-chair-list"),
        (f"/chair/sessions/{session.id}", "office-board"),
    ):
        await _check(page, live, path, name, lang)
    await page.context.clear_cookies()
    await _in(page, live, lang)
    await _check(page, live, "/signin", "signin", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_coordinators_and_a_chairs_pages(
    page: Page, browser: Browser, live: Live, lang: str
) -> None:
    session = await _session(live)
    clock = live.container.clock
    assert isinstance(clock, ManualClock)
    clock.set(session.start - timedelta(minutes=10))  # the check-in is open
    await sign_in(page, live, live.coordinator_tokens["da-nang"], "/site")
    await _in(page, live, lang)
    await _check(page, live, "/site", "site-list", lang)
    await _check(page, live, f"/site/sessions/{session.id}", "site-session", lang)

    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        chair = await context.new_page()
        await sign_in(chair, live, live.chair_token, "/chair")
        await _in(chair, live, lang)
        await _check(chair, live, "/chair", "chair-list", lang)
        await _check(chair, live, f"/chair/sessions/{session.id}", "chair-board", lang)
        projector = f"/chair/sessions/{session.id}?projector=1"
        response = await chair.goto(f"{live.url}{projector}")
        assert response is not None
        assert response.status == 200
        await assert_axe(chair)
    finally:
        await context.close()


async def test_the_answer_page_of_an_invites_link(
    page: Page, live: Live, mailer: FakeMailer
) -> None:
    """The one page in both languages at once (its link is mailed to sites of either)."""
    await _session(live)
    await deliver(live.container)
    [invite] = mailer.to("dau-moi@sgddt-da-nang.example.org")
    body = next(
        part.get_content() for part in invite.walk() if part.get_content_type() == "text/plain"
    )
    match = re.search(r"(/rsvp/\S+/accepted\?sig=\w+)", body)
    assert match, body
    for path in (match.group(1), match.group(1).replace("accepted", "declined")):
        response = await page.goto(f"{live.url}{path}")
        assert response is not None
        assert response.status == 200
        await assert_axe(page)
        await page.get_by_role("button").click()
        await page.wait_for_load_state()
        await assert_axe(page)
    await screenshot(page, "axe-rsvp")


async def test_axe_finds_what_it_should(page: Page, live: Live) -> None:
    """The check is real: text too faint to read and a field without a label are found."""
    await _check(page, live, "/signin", "signin", "vi")
    await page.evaluate(
        """() => {
          const p = document.createElement('p');
          p.textContent = 'Chữ quá mờ';
          p.style.color = '#ddd';
          document.querySelector('main').appendChild(p);
        }"""
    )
    with pytest.raises(AssertionError, match="color-contrast"):
        await assert_axe(page)
