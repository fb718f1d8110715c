"""The planner page says why a region found no time in the page's language and the viewer's zone,
and keeps the chairs typed in its proposal; on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from orchestrator.bootstrap import Container
from orchestrator.store.base import SessionQuery
from orchestrator.web.pages.common import LANG_COOKIE, SESSION_COOKIE, ZONE_COOKIE
from tests.builders import OFFICE, base_url, serving, sign_in

PLAN = {"regions": "dong-nam-bo", "duration": "180", "title": "Giao ban vùng", "provider": "static"}


@pytest.fixture
async def office(container: Container) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    signed = await sign_in(container, OFFICE)
    async with (
        serving(container) as server,
        httpx.AsyncClient(base_url=base_url(server), timeout=30) as http,
    ):
        http.cookies.set(SESSION_COOKIE, signed.cookie)
        yield http, signed.csrf


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_the_notice_in_english_in_the_viewers_zone(
    office: tuple[httpx.AsyncClient, str],
) -> None:
    http, _ = office
    http.cookies.set(LANG_COOKIE, "en")
    http.cookies.set(ZONE_COOKIE, "Asia/Tokyo")
    r = await http.get("/office/plan", params={**PLAN, "from": "2026-11-30", "to": "2026-12-07"})
    assert r.status_code == 422
    text = _text(r.text)
    assert "Regional meetings need 15 days' notice" in text
    assert "no earlier than Tue 2026-12-08 11:00 (Asia/Tokyo)" in text, text
    assert "+00:00" not in text


async def test_days_off_are_named_in_vietnamese(office: tuple[httpx.AsyncClient, str]) -> None:
    http, _ = office
    r = await http.get("/office/plan", params={**PLAN, "from": "2027-01-01", "to": "2027-01-03"})
    assert r.status_code == 422
    text = _text(r.text)
    assert "T6 01/01/2027 (nghỉ lễ: Tết Dương lịch)" in text, text
    assert "T7 02/01/2027 (nghỉ cuối tuần)" in text


async def test_a_committed_chair_is_the_one_typed(
    office: tuple[httpx.AsyncClient, str], container: Container
) -> None:
    http, csrf = office
    form = {
        **PLAN,
        "regions": "dong-bang-song-hong",
        "from": "2026-12-14",
        "to": "2026-12-18",
        "csrf": csrf,
        "idempotency_key": "plan-chair",
        "chair_name-dong-bang-song-hong": "Nguyễn Thị Hồng",
        "chair_email-dong-bang-song-hong": "truong-vung@sgddt-ha-noi.example.org",
    }
    r = await http.post("/office/plan", data=form)
    assert r.status_code == 201, _text(r.text)
    assert "Do văn phòng chỉ định." in r.text
    (session,) = await container.bookings.list_sessions(SessionQuery(), OFFICE)
    assert session.chair.email == "truong-vung@sgddt-ha-noi.example.org"
