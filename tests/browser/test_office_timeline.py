"""The office's timeline read as a person reads it, at 1366 × 768 and on a phone (390 × 844), in
Vietnamese and English, in the week and the month view:

- a busy week of 150 sessions on the 34-province directory (the benchmark's week): every
  session's time and whole title read without hovering, the month inside the screen, counting
  each day's sessions;
- four sessions at the same time in one region's lane, sharing no claim: listed in time order,
  all in sight, none red;
- a real clash (two live sessions holding one site at once, written around booking): red in
  every lane and in the month, named in words, explained by the legend;
- the filters by region and by site, with JavaScript off: a form and links.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy.ext.asyncio import create_async_engine

from bench.timeline_browser import DIRECTORY as PROVINCES
from bench.timeline_browser import READABLE, plan_week
from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.directory.loader import load_directory
from orchestrator.store import tables
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import OFFICE, book
from tests.conftest import EXAMPLE_DIRECTORY

BUSY_REGION = "bac-trung-bo-duyen-hai-mien-trung"
LONG = "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT"
SAME_TIME = [  # Monday 7 December 2026, times in UTC, all in the busy region's lane
    ("da-nang", LONG, (0, 30), (3, 30)),
    ("nghe-an", "Tập huấn chuyển đổi số ngành giáo dục năm học 2026-2027", (1, 0), (4, 0)),
    ("hue", "Giao ban công tác tổ chức kỳ thi tốt nghiệp THPT", (2, 0), (4, 30)),
    ("quang-tri", "Họp rà soát kế hoạch", (3, 0), (4, 0)),
]
SHORT = "Trao đổi nhanh về hồ sơ thi đua khen thưởng năm học"
LATE = "Hội nghị tổng kết công tác năm 2026 của khối văn phòng"
VIEWPORTS = [(1366, 768, "1366"), (390, 844, "phone")]

BLOCKS = """
() => Array.from(document.querySelectorAll('.block')).filter((b) => b.offsetParent).map((b) => {
  const r = b.getBoundingClientRect();
  return { time: b.querySelector('.time').textContent.trim(),
           title: b.querySelector('.what').textContent.trim(), tip: b.getAttribute('title'),
           clash: b.classList.contains('clash'), width: r.width, height: r.height,
           left: r.left, top: r.top, lane: (b.closest('tr') || {}).className || '',
           font: parseFloat(getComputedStyle(b.querySelector('.what')).fontSize) };
})
"""

UNCOVERED = """
() => Array.from(document.querySelectorAll('.block')).filter((b) => b.offsetParent).filter((b) => {
  b.scrollIntoView({ block: 'center', inline: 'center' });
  const r = b.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !(hit && (hit === b || b.contains(hit)));
}).map((b) => b.getAttribute('title'))
"""

FIT = """
() => {
  const cal = document.querySelector('.cal');
  const days = cal ? Array.from(cal.children).filter((d) => d.offsetHeight > 0) : [];
  const lefts = new Set(days.map((d) => Math.round(d.getBoundingClientRect().left)));
  return { page: document.documentElement.scrollWidth, cal: cal ? cal.scrollWidth : 0,
           calClient: cal ? cal.clientWidth : 0, columns: lefts.size, shown: days.length,
           right: days.length ? Math.max(...days.map((d) => d.getBoundingClientRect().right)) : 0,
           bottom: cal ? cal.getBoundingClientRect().bottom + window.scrollY : 0 };
}
"""


async def _context(
    browser: Browser, live: Live, width: int, height: int, lang: str = "vi", scripts: bool = True
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        locale="vi-VN",
        java_script_enabled=scripts,
    )
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await sign_in(page, live, live.office_token, "/office")
    host = live.url.split("//", 1)[1].split(":")[0]
    await context.add_cookies([{"name": "orch_lang", "value": lang, "domain": host, "path": "/"}])
    return context, page


def _utc(day: int, hm: tuple[int, int]) -> datetime:
    return datetime(2026, 12, day, *hm, tzinfo=UTC)


def _one_site(title: str, host: str, day: int, s: Any, e: Any, n: int) -> BookSessionRequest:
    return BookSessionRequest.model_validate(
        {
            "title": title,
            "start": _utc(day, s),
            "end": _utc(day, e),
            "host_site": host,
            "sites": [host],
            "chair": {"name": f"Chủ trì {n}", "email": f"chair{n}@moet.example.org"},
        }
    )


async def _book_busy_month(live: Live) -> list[str]:
    example = load_directory(EXAMPLE_DIRECTORY)
    da_nang = next(s for s in example.sites if s.id == "da-nang")
    more = [
        da_nang.model_copy(update={"id": "hue", "name": "Sở GD&ĐT Huế"}),
        da_nang.model_copy(update={"id": "quang-tri", "name": "Sở GD&ĐT Quảng Trị"}),
    ]
    await live.container.directory.apply(
        dataclasses.replace(example, sites=[*example.sites, *more]), OFFICE
    )
    c = live.container
    ids = []
    for n, (host, title, s, e) in enumerate(SAME_TIME):
        ids.append((await book(c, _one_site(title, host, 7, s, e, n))).id)
    await book(c, _one_site(SHORT, "ha-noi", 8, (7, 0), (7, 30), 10))
    await book(c, _one_site(LATE, "can-tho", 28, (6, 30), (9, 30), 11))
    await book(
        c,
        BookSessionRequest.model_validate(
            {
                "title": LONG + " (toàn quốc)",
                "start": _utc(10, (1, 0)),
                "end": _utc(10, (4, 30)),
                "host_site": "ha-noi",
                "sites": ["ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen"],
                "leader_groups": ["lanh-dao-bo"],
                "chair": {"name": "Chánh Văn phòng Bộ", "email": "cvp@moet.example.org"},
            }
        ),
    )
    return ids


def _check_blocks(blocks: list[dict[str, Any]]) -> None:
    assert blocks
    for b in blocks:
        assert len(b["time"]) == len("07:30–10:30"), b
        assert b["time"][5] == "–", b
        assert b["title"] in b["tip"], b
        assert b["time"] in b["tip"], b
        assert b["font"] >= 12, b
        assert b["height"] >= 20, b


def _no_two_overlap(blocks: list[dict[str, Any]]) -> None:
    for i, a in enumerate(blocks):
        for b in blocks[i + 1 :]:
            apart = (
                a["left"] + a["width"] <= b["left"] + 0.5
                or b["left"] + b["width"] <= a["left"] + 0.5
                or a["top"] + a["height"] <= b["top"] + 0.5
                or b["top"] + b["height"] <= a["top"] + 0.5
            )
            assert apart, (a, b)


async def _all_readable(page: Page, ids: list[str]) -> None:
    seen: dict[str, bool] = await page.evaluate(READABLE, 11)
    assert set(ids) <= set(seen), "every session is on the page"
    unread = [i for i in ids if not seen[i]]
    assert unread == [], f"{len(unread)} of {len(ids)} titles cannot be read without hovering"


@pytest.mark.parametrize(("width", "height", "name"), VIEWPORTS)
async def test_sessions_at_the_same_time_in_one_lane_are_listed_and_not_red(
    browser: Browser, live: Live, width: int, height: int, name: str
) -> None:
    ids = await _book_busy_month(live)
    context, page = await _context(browser, live, width, height)
    try:
        await page.goto(f"{live.url}/office?date=2026-12-07")
        blocks = await page.evaluate(BLOCKS)
        _check_blocks(blocks)
        await _all_readable(page, ids)
        busy = [b for b in blocks if f"lane-{BUSY_REGION}" in b["lane"] and b["title"] != SHORT]
        busy = [
            b
            for b in busy
            if b["time"] in {"07:30–10:30", "08:00–11:00", "09:00–11:30", "10:00–11:00"}
        ]
        assert [b["time"] for b in busy] == [
            "07:30–10:30",
            "08:00–11:00",
            "09:00–11:30",
            "10:00–11:00",
        ]
        _no_two_overlap(busy)
        # at the same time in one lane, but no site, region, leader group or chair in common
        assert not any(b["clash"] for b in blocks)
        assert await page.locator(".flag").count() == 0
        assert await page.locator(".tl-clashes").count() == 0
        assert await page.evaluate(UNCOVERED) == []
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= width
        if width == 1366:
            # five working days side by side (the empty weekend left out), each wide enough
            assert await page.locator("table.timeline thead th").count() == 6
            assert min(b["width"] for b in busy) >= 200, busy
        else:  # a phone: each lane a card of its busy days, no sideways scrolling
            assert await page.locator("table.timeline thead").is_hidden()
            await expect(page.locator(f"tr.lane-{BUSY_REGION} .cell-day").first).to_have_text(
                "T2 07/12"
            )
        await page.evaluate("() => window.scrollTo(0, 0)")
        await assert_accessible(page)
        await screenshot(page, f"office-timeline-week-{name}")

        # the month: within the screen, each day counting its sessions, a busy one folded
        await page.goto(f"{live.url}/office?view=month&date=2026-12-07")
        fit = await page.evaluate(FIT)
        assert fit["page"] <= width, fit
        assert fit["cal"] <= fit["calClient"], fit
        monday = page.locator("li.cal-day", has_text="T2 07/12")
        await expect(monday.locator("summary")).to_have_text("4 phiên")
        assert await monday.locator(".block").first.is_hidden()
        await monday.locator("summary").click()
        await expect(monday.locator(".block")).to_have_count(4)
        blocks = await page.evaluate(BLOCKS)
        _check_blocks(blocks)
        titles = [b["title"] for b in blocks]
        assert LATE in titles
        assert SHORT in titles
        assert titles.count(LONG) == 1
        await expect(
            page.locator("li.cal-day", has_text="T3 08/12").locator(".cal-n")
        ).to_have_text("1 phiên")
        assert not any(b["clash"] for b in blocks)
        assert await page.evaluate(UNCOVERED) == []
        await page.reload()  # the keyboard's checks start from the top, not the summary
        fit = await page.evaluate(FIT)
        if width == 1366:
            assert fit["columns"] == 5, fit  # December 2026 has no weekend session
            assert fit["shown"] == 23, fit
            assert fit["right"] <= width, fit
        else:  # a phone: the days with sessions, one under another
            assert fit["columns"] == 1, fit
            assert fit["shown"] == 4, fit
        await assert_accessible(page)
        await screenshot(page, f"office-timeline-month-{name}")
    finally:
        await context.close()


async def _book_the_busy_week(live: Live) -> tuple[date, list[str]]:
    """The benchmark's week: 150 sessions on the 34-province directory, Monday 14 December
    2026 (three weeks after the tests' clock, so regional meetings have their notice)."""
    directory = load_directory(PROVINCES)
    await live.container.directory.apply(directory, OFFICE)
    monday = date(2026, 12, 14)
    ids = []
    for planned in plan_week(directory, monday, 150, 13, "busy week"):
        answer = await live.container.bookings.book(
            BookSessionRequest.model_validate(planned.body), OFFICE
        )
        assert answer.status == 201, answer.value
        ids.append(answer.value.id)
    return monday, ids


async def test_a_week_of_150_sessions_reads_without_hovering(browser: Browser, live: Live) -> None:
    monday, ids = await _book_the_busy_week(live)
    for width, height, name in VIEWPORTS:
        for lang in ("vi", "en"):
            context, page = await _context(browser, live, width, height, lang)
            try:
                await page.goto(f"{live.url}/office?date={monday.isoformat()}")
                await _all_readable(page, ids)
                assert await page.evaluate("() => document.documentElement.scrollWidth") <= width
                counted = "150 phiên trong khoảng này." if lang == "vi" else "150 sessions in"
                await expect(page.locator(".tl-count")).to_contain_text(counted)
                assert await page.locator(".block.clash").count() == 0
                if width == 1366 and lang == "vi":
                    await assert_accessible(page)
                await screenshot(page, f"office-timeline-150-week-{name}-{lang}", full_page=False)
                await screenshot(page, f"office-timeline-150-week-{name}-{lang}-all")

                await page.goto(f"{live.url}/office?view=month&date={monday.isoformat()}")
                fit = await page.evaluate(FIT)
                assert fit["page"] <= width, fit
                assert fit["cal"] <= fit["calClient"], fit
                thirty = "30 phiên" if lang == "vi" else "30 sessions"
                day = page.locator("li.cal-day", has_text="14/12" if lang == "vi" else "12-14")
                await expect(day.locator("summary")).to_have_text(thirty)
                if width == 1366:
                    # the whole month in the first screen: a calendar, not a wall of titles
                    assert fit["bottom"] <= 2 * height, fit
                    assert fit["columns"] == 5, fit
                await screenshot(page, f"office-timeline-150-month-{name}-{lang}")
            finally:
                await context.close()


async def _write_around_booking(
    live: Live, session_id: str, start: datetime, end: datetime
) -> None:
    """Move a session's row as a hand edit or a restore from elsewhere would: the session table
    only, past the booking rules (the claims table refuses any colliding claim)."""
    engine = create_async_engine(live.container.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(tables.sessions)
                .where(tables.sessions.c.id == session_id)
                .values(starts_at=start, ends_at=end)
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("width", "height", "name"), VIEWPORTS)
async def test_a_real_clash_is_red_and_said_in_words(
    browser: Browser, live: Live, width: int, height: int, name: str
) -> None:
    ids = await _book_busy_month(live)
    # an afternoon meeting of Đà Nẵng moved, around booking, into its morning meeting's time
    moved = (
        await book(live.container, _one_site("Họp Đà Nẵng chiều", "da-nang", 9, (7, 0), (8, 0), 20))
    ).id
    await _write_around_booking(live, moved, _utc(7, (1, 0)), _utc(7, (2, 0)))
    for lang in ("vi", "en"):
        context, page = await _context(browser, live, width, height, lang)
        try:
            await page.goto(f"{live.url}/office?date=2026-12-07")
            red = page.locator(".block.clash")
            await expect(red).to_have_count(2)
            first = red.nth(0)
            if lang == "vi":
                await expect(first).to_contain_text(
                    "Trùng lịch: Sở GD&ĐT Đà Nẵng đã có phiên «Họp Đà Nẵng chiều» 08:00–09:00"
                )
                await expect(page.locator(".tl-clashes")).to_contain_text("2 phiên đang trùng lịch")
                await expect(page.locator(".tl-legend")).to_contain_text("hai phiên chưa huỷ")
            else:
                await expect(first).to_contain_text(
                    "Clash: Sở GD&ĐT Đà Nẵng already has “Họp Đà Nẵng chiều” 08:00–09:00"
                )
                await expect(page.locator(".tl-legend")).to_contain_text("neither cancelled")
            # the legend is open when there is a clash to explain
            assert await page.locator(".tl-legend").get_attribute("open") is not None
            # the three other sessions at the same time in that lane stay plain
            plain = page.locator(f"tr.lane-{BUSY_REGION} .block:not(.clash)")
            await expect(plain).to_have_count(4)  # Monday's other three, Thursday's national
            colour = await first.evaluate("(b) => getComputedStyle(b).borderLeftColor")
            assert colour == "rgb(179, 38, 30)", colour  # var(--bad)
            await _all_readable(page, [*ids, moved])
            await assert_accessible(page)
            await screenshot(page, f"office-timeline-clash-{name}-{lang}")
            await page.goto(f"{live.url}/office?view=month&date=2026-12-07")
            monday = page.locator("li.cal-day", has_text="07/12" if lang == "vi" else "12-07")
            await expect(monday.locator(".cal-clash")).to_contain_text("2")
            await monday.locator("summary").click()
            await expect(monday.locator(".block.clash")).to_have_count(2)
            await screenshot(page, f"office-timeline-clash-month-{name}-{lang}")
        finally:
            await context.close()


async def test_filters_by_region_and_site_work_without_javascript(
    browser: Browser, live: Live
) -> None:
    await _book_busy_month(live)
    context, page = await _context(browser, live, 390, 844, scripts=False)
    try:
        await page.goto(f"{live.url}/office?date=2026-12-07")
        assert await page.locator("tr.lane").count() == 7
        await page.get_by_label("Vùng", exact=True).select_option(label="Đồng bằng sông Cửu Long")
        await page.get_by_role("button", name="Xem", exact=True).click()
        await page.wait_for_url("**region=dong-bang-song-cuu-long**")
        await expect(page.locator("tr.lane")).to_have_count(1)
        await expect(page.locator(".block")).to_have_count(1)  # Cần Thơ's session on the 10th
        # the next week keeps the filter
        await page.get_by_role("link", name="Tuần sau →").click()
        assert "region=dong-bang-song-cuu-long" in page.url
        await page.get_by_role("link", name="Bỏ lọc").click()
        await expect(page.locator("tr.lane")).to_have_count(7)

        await page.goto(f"{live.url}/office?date=2026-12-07")
        await page.get_by_label("Điểm cầu", exact=True).select_option(label="Sở GD&ĐT Huế")
        await page.get_by_role("button", name="Xem", exact=True).click()
        await page.wait_for_url("**site=hue**")
        await expect(page.locator(".block")).to_have_count(1)
        await expect(page.locator(".block .what")).to_have_text(SAME_TIME[2][1])
        await expect(page.locator(".tl-count")).to_contain_text("1 phiên của Sở GD&ĐT Huế")

        # a lane's name shows that lane alone
        await page.goto(f"{live.url}/office?date=2026-12-07")
        await page.get_by_role("link", name="Lãnh đạo Bộ (nhóm lãnh đạo)").click()
        await expect(page.locator("tr.lane")).to_have_count(1)
        await expect(page.locator(".block .what")).to_have_text(LONG + " (toàn quốc)")
        await assert_accessible(page, scripts=False)
        await screenshot(page, "office-timeline-filtered-phone")
    finally:
        await context.close()
