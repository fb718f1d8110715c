"""The office's timeline over the aiohttp app on SQLite and PostgreSQL: filters by region and
site kept by every link, counts worded in both languages (one session, not "1 sessions"), the
month counting each day's sessions, and red for real clashes only: two live sessions holding one
claim at once (rows written around booking, since booking and the database refuse it), never
for sessions that merely share a lane and a time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from orchestrator.booking.schemas import BookSessionRequest, SessionOut
from orchestrator.bootstrap import Container
from orchestrator.domain.models import Chair, SessionStatus
from orchestrator.store import tables
from orchestrator.web.pages.office_clashes import find_clashes
from tests.conftest import OFFICE
from tests.integration.test_pages_office import Pages, _pages_for, _text

CENTRAL = "bac-trung-bo-duyen-hai-mien-trung"  # Đà Nẵng and Nghệ An in the example directory
MEKONG = "dong-bang-song-cuu-long"  # Cần Thơ


def hanoi(day: int, h: int, m: int = 0) -> datetime:
    """`h:m` in Hà Nội on `day` December 2026, as UTC."""
    return datetime(2026, 12, day, h - 7, m, tzinfo=UTC)


@pytest.fixture
async def pages(container: Container) -> AsyncIterator[Pages]:
    async for p in _pages_for(container, OFFICE):
        yield p


async def _book(
    c: Container,
    title: str,
    sites: list[str],
    start: datetime,
    end: datetime,
    chair: str,
    **more: Any,
) -> str:
    answer = await c.bookings.book(
        BookSessionRequest(
            title=title,
            start=start,
            end=end,
            host_site=sites[0],
            sites=sites,
            chair=Chair(name="Chủ trì", email=chair),
            **more,
        ),
        OFFICE,
    )
    assert answer.status == 201, answer.value
    return answer.value.id


def _lanes(html: str) -> list[str]:
    return re.findall(r'<tr class="lane lane-([a-z-]+)"', html)


def _clashing(html: str) -> int:
    return len(re.findall(r'class="block[a-z ]* clash"', html))


async def test_filters_by_region_and_site_keep_one_lane_and_every_link(pages: Pages) -> None:
    c = pages.container
    await _book(
        c,
        "Hội nghị toàn quốc",
        ["ha-noi", "da-nang", "can-tho"],
        hanoi(10, 8),
        hanoi(10, 11),
        "cvp@moet.example.org",
    )
    await _book(c, "Họp Đà Nẵng", ["da-nang"], hanoi(9, 8), hanoi(9, 9), "dn@example.org")
    await _book(c, "Họp Cần Thơ", ["can-tho"], hanoi(9, 8), hanoi(9, 9), "ct@example.org")

    everything = (await pages.http.get("/office", params={"date": "2026-12-10"})).text
    assert len(_lanes(everything)) == 7  # six regions and the leader groups
    assert "3 phiên trong khoảng này." in _text(everything)
    # each lane's name is a link showing that lane alone, keeping the date
    assert f'href="/office?view=week&amp;date=2026-12-10&amp;region={CENTRAL}"' in everything

    region = await pages.http.get("/office", params={"date": "2026-12-10", "region": CENTRAL})
    html = region.text
    assert _lanes(html) == [CENTRAL]
    assert "Hội nghị toàn quốc" in html
    assert "Họp Đà Nẵng" in html
    assert "Họp Cần Thơ" not in html
    assert "2 phiên của Bắc Trung Bộ và Duyên hải miền Trung trong khoảng này." in _text(html)
    # previous, next, today, the month and hiding cancelled sessions keep the filter
    for rel in ("prev", "next"):
        assert re.search(rf'href="/office\?[^"]*region={CENTRAL}[^"]*" rel="{rel}"', html)
    assert f"view=month&amp;date=2026-12-10&amp;region={CENTRAL}" in html
    assert f"region={CENTRAL}&amp;cancelled=hide" in html
    assert 'href="/office?view=week&amp;date=2026-12-10">Bỏ lọc</a>' in html
    assert f'<option value="{CENTRAL}" selected>' in html

    site = (await pages.http.get("/office", params={"date": "2026-12-10", "site": "can-tho"})).text
    assert _lanes(site) == [MEKONG]
    assert "Hội nghị toàn quốc" in site
    assert "Họp Cần Thơ" in site
    assert "Họp Đà Nẵng" not in site
    assert '<option value="can-tho" selected>' in site
    assert "2 phiên của Sở GD&amp;ĐT Cần Thơ trong khoảng này." in site

    both = await pages.http.get(
        "/office", params={"date": "2026-12-10", "region": CENTRAL, "site": "can-tho"}
    )
    assert _lanes(both.text) == [CENTRAL]
    assert "Hội nghị toàn quốc" in both.text  # in the central lane, and Cần Thơ takes part
    assert "Họp Cần Thơ" not in both.text

    unknown = await pages.http.get("/office", params={"date": "2026-12-10", "region": "mars"})
    assert unknown.status_code == 200
    assert "Không có vùng hoặc điểm cầu đã chọn" in unknown.text
    assert len(_lanes(unknown.text)) == 7


async def test_counts_say_one_session_and_many_in_both_languages(pages: Pages) -> None:
    c = pages.container
    await _book(c, "Họp một", ["da-nang"], hanoi(9, 8), hanoi(9, 9), "a@example.org")
    vi = _text((await pages.http.get("/office", params={"date": "2026-12-09"})).text)
    assert "1 phiên trong khoảng này." in vi
    pages.http.cookies.set("orch_lang", "en")
    en = _text((await pages.http.get("/office", params={"date": "2026-12-09"})).text)
    assert "1 session in this period." in en
    assert "1 sessions" not in en
    month = _text(
        (await pages.http.get("/office", params={"date": "2026-12-09", "view": "month"})).text
    )
    assert "1 session " in month
    assert "1 sessions" not in month
    await _book(c, "Họp hai", ["can-tho"], hanoi(9, 8), hanoi(9, 9), "b@example.org")
    en = _text((await pages.http.get("/office", params={"date": "2026-12-09"})).text)
    assert "2 sessions in this period." in en
    assert "Weekend days without sessions are not shown." in en


async def test_the_month_counts_each_day_and_folds_a_busy_one(pages: Pages) -> None:
    c = pages.container
    for i, site in enumerate(["ha-noi", "da-nang", "can-tho", "nghe-an"]):
        await _book(c, f"Họp {site}", [site], hanoi(9, 8), hanoi(9, 9), f"{i}@example.org")
    await _book(c, "Họp thứ Năm", ["ha-noi"], hanoi(10, 8), hanoi(10, 9), "t@example.org")
    await _book(
        c,
        "Họp thứ Bảy",
        ["ha-noi"],
        hanoi(12, 8),
        hanoi(12, 9),
        "s@example.org",
        override_reason="Theo chỉ đạo",
    )
    html = (await pages.http.get("/office", params={"view": "month", "date": "2026-12-01"})).text
    assert 'class="cal-wrap cols-6"' in html  # Saturday has a session, Sunday none
    days = re.findall(
        r'<li class="cal-day[^"]*">(.*?)</li>\s*(?=<li class="cal-day|</ol>)', html, re.S
    )
    assert len(days) == 27  # 23 weekdays and the 4 Saturdays of December 2026
    wednesday = next(d for d in days if "T4 09/12" in d)
    assert "<details" in wednesday
    assert "4 phiên" in _text(wednesday)
    thursday = next(d for d in days if "T5 10/12" in d)
    assert "<details" not in thursday
    assert "1 phiên" in _text(thursday)
    assert "Họp thứ Năm" in thursday
    # the date opens its week, filters kept
    assert 'href="/office?view=week&amp;date=2026-12-09">T4 09/12</a>' in wednesday


async def test_sessions_sharing_a_lane_and_a_time_but_no_claim_are_not_red(
    pages: Pages,
) -> None:
    c = pages.container
    await _book(c, "Họp Đà Nẵng", ["da-nang"], hanoi(10, 8), hanoi(10, 11), "dn@example.org")
    await _book(c, "Họp Nghệ An", ["nghe-an"], hanoi(10, 9), hanoi(10, 10), "na@example.org")
    for view in ("week", "month"):
        html = (await pages.http.get("/office", params={"date": "2026-12-10", "view": view})).text
        assert "Họp Đà Nẵng" in html
        assert "Họp Nghệ An" in html
        assert _clashing(html) == 0
        assert "Trùng lịch:" not in html
        assert "đang trùng lịch" not in html


async def _write_around_booking(
    db_url: str, session_id: str, start: datetime, end: datetime
) -> None:
    """Move a session's row as a hand edit or a restore from elsewhere would: the session table
    only, past the booking rules (its claims stay where they were: the database refuses them
    anywhere they would collide)."""
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(tables.sessions)
                .where(tables.sessions.c.id == session_id)
                .values(starts_at=start, ends_at=end)
            )
    finally:
        await engine.dispose()


async def test_a_real_clash_is_red_named_and_counted(pages: Pages, db_url: str) -> None:
    c = pages.container
    first = await _book(
        c,
        "Họp Đà Nẵng và Hà Nội",
        ["ha-noi", "da-nang"],
        hanoi(10, 8),
        hanoi(10, 11),
        "first@example.org",
    )
    second = await _book(
        c, "Họp chiều Đà Nẵng", ["da-nang"], hanoi(10, 14), hanoi(10, 15), "second@example.org"
    )
    html = (await pages.http.get("/office", params={"date": "2026-12-10"})).text
    assert _clashing(html) == 0
    await _write_around_booking(db_url, second, hanoi(10, 9), hanoi(10, 10))

    html = (await pages.http.get("/office", params={"date": "2026-12-10"})).text
    # both sessions edged red in every lane they are drawn in (the first in Hà Nội's and the
    # central one), each naming the site they both hold and the other session
    assert _clashing(html) == 3
    text = _text(html)
    assert "Trùng lịch: Sở GD&ĐT Đà Nẵng đã có phiên «Họp chiều Đà Nẵng» 09:00–10:00" in text
    assert "Trùng lịch: Sở GD&ĐT Đà Nẵng đã có phiên «Họp Đà Nẵng và Hà Nội» 08:00–11:00" in text
    assert "2 phiên đang trùng lịch với phiên khác" in text
    assert '<details class="tl-legend" open>' in html
    # the Hà Nội lane shows the first session alone, still red: its clash is on Đà Nẵng
    hanoi_lane = html[html.index('<tr class="lane lane-dong-bang-song-hong"') :]
    hanoi_lane = hanoi_lane[: hanoi_lane.index("</tr>")]
    assert _clashing(hanoi_lane) == 1
    month = (await pages.http.get("/office", params={"date": "2026-12-10", "view": "month"})).text
    assert _clashing(month) == 2
    assert "2 trùng lịch" in _text(month)
    pages.http.cookies.set("orch_lang", "en")
    en = _text((await pages.http.get("/office", params={"date": "2026-12-10"})).text)
    assert "Clash: Sở GD&ĐT Đà Nẵng already has “Họp chiều Đà Nẵng” 09:00–10:00" in en
    assert "2 sessions clash with another" in en

    # a cancelled session holds nothing: the clash is gone
    await c.bookings.cancel(second, OFFICE)
    pages.http.cookies.set("orch_lang", "vi")
    html = (await pages.http.get("/office", params={"date": "2026-12-10"})).text
    assert _clashing(html) == 0
    assert first in html


def _session(sid: str, sites: list[str], start: datetime, end: datetime, **more: Any) -> SessionOut:
    data: dict[str, Any] = {
        "id": sid,
        "title": sid,
        "agenda": "",
        "kind": "national",
        "region": None,
        "start": start,
        "end": end,
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": sites[0],
        "chair": {"name": "Chủ trì", "email": f"{sid}@example.org"},
        "leader_groups": [],
        "speaking_sites": [],
        "provider": "static",
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "claimed": {"start": start, "end": end},
        "status": SessionStatus.SCHEDULED,
        "room": None,
        "sites": [{"site_id": s} for s in sites],
        "version": 1,
        "created_at": start,
        "updated_at": start,
    }
    data.update(more)
    return SessionOut.model_validate(data)


def test_a_clash_is_one_claim_held_twice_over_overlapping_buffered_ranges() -> None:
    t = hanoi(10, 8)
    h = timedelta(hours=1)
    sessions = [
        _session("a", ["da-nang"], t, t + h),
        # touches a: half-open ranges do not overlap
        _session("b", ["da-nang"], t + h, t + 2 * h),
        # overlaps b only through its buffer (its claimed range), on the same site
        _session(
            "c",
            ["da-nang", "hue"],
            t + 3 * h,
            t + 4 * h,
            claimed={"start": t + 2 * h - timedelta(minutes=1), "end": t + 4 * h},
        ),
        # at the same time as c, on other sites, but the same chair as c
        _session(
            "d", ["can-tho"], t + 3 * h, t + 4 * h, chair={"name": "X", "email": "C@example.org"}
        ),
        # the same leader group as e... and cancelled, so holding nothing
        _session("e", ["nghe-an"], t, t + h, leader_groups=["lanh-dao-bo"]),
        _session(
            "f", ["ha-noi"], t, t + h, leader_groups=["lanh-dao-bo"], status=SessionStatus.CANCELLED
        ),
    ]
    found = find_clashes(sessions)
    assert {k: [(x.resource, x.other.id) for x in v] for k, v in found.items()} == {
        "b": [("site:da-nang", "c")],
        "c": [("site:da-nang", "b"), ("chair:c@example.org", "d")],
        "d": [("chair:c@example.org", "c")],
    }
