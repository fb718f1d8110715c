"""The office's timeline read as a person reads it, at 1366 × 768 and on a phone (390 × 844), in
the week and the month view, over a busy week: four sessions overlapping in one region's lane, a
half-hour one, a six-site national meeting and one late in the month. Every block shows its full
times and a readable start of its title, overlapping blocks all stay in sight, and the month keeps
its seven columns inside the page."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.directory.loader import load_directory
from tests.browser.conftest import Live, assert_accessible, screenshot, sign_in
from tests.builders import OFFICE, book
from tests.conftest import EXAMPLE_DIRECTORY

BUSY_REGION = "bac-trung-bo-duyen-hai-mien-trung"
LONG = "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT"
OVERLAPPING = [  # Monday 7 December 2026, times in Hà Nội, all in the busy region's lane
    ("da-nang", LONG, (0, 30), (3, 30)),
    ("nghe-an", "Tập huấn chuyển đổi số ngành giáo dục năm học 2026-2027", (1, 0), (4, 0)),
    ("hue", "Giao ban công tác tổ chức kỳ thi tốt nghiệp THPT", (2, 0), (4, 30)),
    ("quang-tri", "Họp rà soát kế hoạch", (3, 0), (4, 0)),
]
SHORT = "Trao đổi nhanh về hồ sơ thi đua khen thưởng năm học"
LATE = "Hội nghị tổng kết công tác năm 2026 của khối văn phòng"

MEASURE = """
(minChars) => {
  const out = [];
  for (const b of document.querySelectorAll('.block')) {
    const time = b.querySelector('.time');
    const what = b.querySelector('.what');
    const box = what.getBoundingClientRect();
    const text = what.textContent.trim();
    const node = document.createTreeWalker(what, NodeFilter.SHOW_TEXT).nextNode();
    const start = node.textContent.indexOf(text[0]);
    const range = document.createRange();
    const n = Math.min(minChars, text.length);
    range.setStart(node, start);
    range.setEnd(node, start + n);
    // every piece of the title's first n characters lies inside the title's visible box
    const inside = Array.from(range.getClientRects()).every((r) =>
      r.left >= box.left - 1 && r.right <= box.right + 1
      && r.top >= box.top - 1 && r.bottom <= box.bottom + 1);
    const rect = b.getBoundingClientRect();
    out.push({
      href: b.getAttribute('href'), tip: b.getAttribute('title'), time: time.textContent.trim(),
      timeClipped: time.scrollWidth > time.clientWidth
        || time.getBoundingClientRect().right > rect.right + 1,
      title: text, startVisible: inside, titleWidth: box.width, titleHeight: box.height,
      width: rect.width, height: rect.height, left: rect.left, top: rect.top,
      lane: (b.closest('tr') || {}).className || '', day: b.closest('td, li.cal-day') ?
        Array.from(b.closest('tr, ol').children).indexOf(b.closest('td, li.cal-day')) : -1,
    });
  }
  return out;
}
"""

UNCOVERED = """
() => Array.from(document.querySelectorAll('.block')).filter((b) => {
  b.scrollIntoView({ block: 'center', inline: 'center' });
  const r = b.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !(hit && (hit === b || b.contains(hit)));
}).map((b) => b.getAttribute('title'))
"""


async def _book_busy_month(live: Live) -> None:
    example = load_directory(EXAMPLE_DIRECTORY)
    da_nang = next(s for s in example.sites if s.id == "da-nang")
    more = [
        da_nang.model_copy(update={"id": "hue", "name": "Sở GD&ĐT Huế"}),
        da_nang.model_copy(update={"id": "quang-tri", "name": "Sở GD&ĐT Quảng Trị"}),
    ]
    extra = dataclasses.replace(example, sites=[*example.sites, *more])
    await live.container.directory.apply(extra, OFFICE)
    c = live.container

    def utc(day: int, hm: tuple[int, int]) -> datetime:
        return datetime(2026, 12, day, *hm, tzinfo=UTC)

    def request(title: str, host: str, day: int, s: Any, e: Any, n: int) -> BookSessionRequest:
        return BookSessionRequest.model_validate(
            {
                "title": title,
                "start": utc(day, s),
                "end": utc(day, e),
                "host_site": host,
                "sites": [host],
                "chair": {"name": f"Chủ trì {n}", "email": f"chair{n}@moet.example.org"},
            }
        )

    for n, (host, title, s, e) in enumerate(OVERLAPPING):
        await book(c, request(title, host, 7, s, e, n))
    await book(c, request(SHORT, "ha-noi", 8, (7, 0), (7, 30), 10))
    await book(c, request(LATE, "can-tho", 28, (6, 30), (9, 30), 11))
    await book(
        c,
        BookSessionRequest.model_validate(
            {
                "title": LONG + " (toàn quốc)",
                "start": utc(10, (1, 0)),
                "end": utc(10, (4, 30)),
                "host_site": "ha-noi",
                "sites": ["ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen"],
                "leader_groups": ["lanh-dao-bo"],
                "chair": {"name": "Chánh Văn phòng Bộ", "email": "cvp@moet.example.org"},
            }
        ),
    )


def _check_blocks(blocks: list[dict[str, Any]], min_chars: int) -> None:
    assert blocks
    for b in blocks:
        assert len(b["time"]) == len("07:30–10:30"), b
        assert b["time"][5] == "–", b
        assert not b["timeClipped"], b
        assert b["title"] in b["tip"], b
        assert b["time"] in b["tip"], b
        assert b["startVisible"], f"the first {min_chars} characters are not all in sight: {b}"
        assert b["titleHeight"] >= 12, b
        assert b["height"] >= 30, b


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


@pytest.mark.parametrize(("width", "height", "name"), [(1366, 768, "1366"), (390, 844, "phone")])
async def test_the_timeline_reads_in_the_week_and_the_month(
    browser: Browser, live: Live, width: int, height: int, name: str
) -> None:
    await _book_busy_month(live)
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
    page: Page = await context.new_page()
    page.set_default_timeout(10_000)
    try:
        await sign_in(page, live, live.office_token, "/office?date=2026-12-07")
        # the week: four overlapping sessions in one lane, each with its full time and title
        blocks = await page.evaluate(MEASURE, 20)
        _check_blocks(blocks, 20)
        busy = [b for b in blocks if f"lane-{BUSY_REGION}" in b["lane"] and b["day"] == 1]
        assert [b["time"] for b in busy] == [
            "07:30–10:30",
            "08:00–11:00",
            "09:00–11:30",
            "10:00–11:00",
        ]
        _no_two_overlap(busy)
        flags = page.locator(f"tr.lane-{BUSY_REGION} .block.overlap .flag")
        assert await flags.count() == 4
        assert await flags.first.inner_text() == "Trùng giờ"
        assert await page.evaluate(UNCOVERED) == []
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= width
        if width == 1366:
            # a three-hour meeting's block is wide enough to read, not a sliver
            assert min(b["width"] for b in busy) >= 130, busy
        await page.evaluate(
            "() => { window.scrollTo(0, 0); document.querySelector('.tl-wrap').scrollLeft = 0; }"
        )
        await assert_accessible(page)
        await screenshot(page, f"office-timeline-week-{name}")

        # the month: seven columns inside the page, every day of December in sight
        await page.goto(f"{live.url}/office?view=month&date=2026-12-07")
        blocks = await page.evaluate(MEASURE, 20)
        _check_blocks(blocks, 20)
        titles = [b["title"] for b in blocks]
        assert LATE in titles
        assert SHORT in titles
        assert titles.count(LONG) == 1
        monday = [b for b in blocks if b["time"] in {"07:30–10:30", "08:00–11:00"}]
        _no_two_overlap([b for b in blocks if b["day"] == blocks[0]["day"]])
        assert all("Bắc Trung Bộ" in b["tip"] for b in monday)
        assert await page.locator(".cal .block.overlap").count() == 4
        assert await page.evaluate(UNCOVERED) == []
        await page.evaluate("() => window.scrollTo(0, 0)")
        fit = await page.evaluate(
            """() => {
              const cal = document.querySelector('.cal');
              const days = Array.from(cal.children);
              const shown = days.filter((d) => d.offsetHeight > 0);
              const lefts = new Set(shown.map((d) => Math.round(d.getBoundingClientRect().left)));
              return { page: document.documentElement.scrollWidth, calScroll: cal.scrollWidth,
                       calClient: cal.clientWidth, columns: lefts.size,
                       lastRight: days[days.length - 1].getBoundingClientRect().right,
                       shown: shown.length };
            }"""
        )
        assert fit["page"] <= width, fit
        assert fit["calScroll"] <= fit["calClient"], fit
        if width == 1366:
            assert fit["columns"] == 7, fit
            assert fit["lastRight"] <= width, fit
            assert fit["shown"] == 31, fit
        else:  # a phone: the days with sessions, one under another
            assert fit["columns"] == 1, fit
            assert fit["shown"] == 4, fit
        await assert_accessible(page)
        await screenshot(page, f"office-timeline-month-{name}")
    finally:
        await context.close()
