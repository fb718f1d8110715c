"""The chair's board of a 1,000-site session in the browser: the compact form (counts by state
and by region, a page of tiles), the search and the state filter with and without JavaScript,
counts that match the record, a live change reaching a tile and the counts, a site that
reconnected many times drawn as one bar, the projector view; at 1366x768 and on a phone."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr

from orchestrator.attendance.sources import Observation, sync_key
from orchestrator.booking.schemas import BookingOut
from orchestrator.directory.loader import Directory
from orchestrator.domain.models import Coordinator, Region, Site
from orchestrator.settings import JitsiSettings, Settings
from tests.browser.conftest import (
    CHAIR_EMAIL,
    Live,
    assert_accessible,
    assert_axe,
    screenshot,
    sign_in,
)
from tests.browser.test_board import END, EVENTS_TOKEN, START, _during, _hook
from tests.builders import book
from tests.conftest import OFFICE

M = timedelta(minutes=1)
PROVINCES = {
    "dien-bien": "Điện Biên",
    "lai-chau": "Lai Châu",
    "son-la": "Sơn La",
    "cao-bang": "Cao Bằng",
    "lang-son": "Lạng Sơn",
}
PER_REGION = 200  # 1,000 sites: more than one page, so the board is compact
STATES = ("connected", "dropped", "waiting", "unknown", "late", "left_early", "absent")
MANY = "dien-bien-001"  # reconnects ten times


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        jitsi=JitsiSettings(events_token=SecretStr(EVENTS_TOKEN)),
    )


@pytest.fixture(autouse=True)
async def _leave_before_the_server_stops(page: Page, live: Live) -> AsyncIterator[None]:
    yield
    await page.context.close()


def _site(slug: str, k: int) -> Site:
    sid = f"{slug}-{k:03d}"
    return Site(
        id=sid,
        name=f"Trường {k:03d} {PROVINCES[slug]}",
        region=f"tinh-{slug}",
        timezone="Asia/Ho_Chi_Minh",
        coordinator=Coordinator(name=f"Đầu mối {sid}", email=f"{sid}@example.org"),
    )


@pytest.fixture
async def big(live: Live) -> BookingOut:
    """1,000 sites in five regions, booked for one session, its record mixed an hour in: of
    each ten sites seven joined on time, one joined and left, one joined late, one never
    joined; `MANY` joined and left ten times."""
    sites = [_site(slug, k) for slug in PROVINCES for k in range(1, PER_REGION + 1)]
    regions = tuple(
        Region(id=f"tinh-{slug}", name=name, head_site=f"{slug}-001")
        for slug, name in PROVINCES.items()
    )
    await live.container.directory.apply(
        Directory(regions=regions, sites=tuple(sites), leader_groups=(), policies={}), OFFICE
    )
    session = await book(
        live.container,
        title="Hội nghị toàn ngành",
        start=START,
        end=END,
        host_site=sites[0].id,
        sites=[s.id for s in sites],
        chair={"name": "Chánh Văn phòng Bộ", "email": CHAIR_EMAIL},
    )
    assert session.room
    room = session.room
    _during(live, START + 60 * M)
    seen: list[Observation] = []

    def joined(site: str, jid: str, at: Any) -> None:
        key = sync_key(room, None, jid, "joined", at)
        seen.append(Observation("jitsi", "join", room, at, key, site, jid))

    def left(site: str, jid: str, at: Any) -> None:
        key = sync_key(room, None, jid, "left", at)
        seen.append(Observation("jitsi", "leave", room, at, key, site, jid))

    for s in sites:
        k = int(s.id.rsplit("-", 1)[1])
        jid = f"{s.id}@x/1"
        if s.id == MANY:
            for n in range(10):
                joined(s.id, f"{s.id}@x/{n}", START + 2 * n * M)
                left(s.id, f"{s.id}@x/{n}", START + (2 * n + 1) * M)
        elif k % 10 <= 6:
            joined(s.id, jid, START - 10 * M)
        elif k % 10 == 7:
            joined(s.id, jid, START - 10 * M)
            left(s.id, jid, START + 30 * M)
        elif k % 10 == 8:
            joined(s.id, jid, START + 20 * M)
    assert await live.container.attendance.ingest(seen) == len(seen)
    return session


async def _counts(live: Live, session: BookingOut) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """The record's counts of each state, overall and by region (the words the board counts:
    the connection, `absent`, and `late` and `left_early` unless the chair set the verdict)."""
    record = await live.container.attendance.record(session.id, OFFICE)
    total: Counter[str] = Counter()
    by_region: dict[str, Counter[str]] = {}
    for line in record.sites:
        words = [line.connection]
        if line.status == "absent":
            words.append("absent")
        if line.override is None:
            words += [w for w, on in (("late", line.late), ("left_early", line.left_early)) if on]
        region = PROVINCES[line.site_id.rsplit("-", 1)[0]]
        total.update(["sites", *words])
        by_region.setdefault(region, Counter()).update(["sites", *words])
    return total, by_region


def _number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


async def _page_counts(page: Page) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    chips = {
        key: _number(await b.inner_text())
        for b in await page.locator("#board-chips [data-count]").all()
        if (key := await b.get_attribute("data-count"))
    }
    regions: dict[str, dict[str, int]] = {}
    for row in await page.locator("#board-regions tbody tr").all():
        name = (await row.locator("th").inner_text()).strip()
        regions[name] = {
            key: _number(await td.inner_text())
            for td in await row.locator("td[data-count]").all()
            if (key := await td.get_attribute("data-count"))
        }
    return chips, regions


def _as_dict(c: Counter[str]) -> dict[str, int]:
    return {k: c.get(k, 0) for k in ("sites", *STATES)}


async def test_without_javascript_the_server_filters_and_counts(
    browser: Browser, live: Live, big: BookingOut
) -> None:
    context = await browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="vi-VN", java_script_enabled=False
    )
    page = await context.new_page()
    try:
        await sign_in(page, live, live.chair_token, f"/chair/sessions/{big.id}")
        total, by_region = await _counts(live, big)
        chips, regions = await _page_counts(page)
        assert chips == _as_dict(total)
        assert regions == {name: _as_dict(c) for name, c in by_region.items()}
        assert total["dropped"] > 100  # more than one page of dropped sites
        # the compact form: a page of tiles, grouped by region, not a thousand
        assert await page.locator("#board .tile").count() == 100
        await expect(page.locator("#board-shown")).to_have_text(
            "Hiển thị 1–100 trong 1.000 điểm cầu."
        )
        await expect(page.locator(".region-group h3").first).to_contain_text("Cao Bằng")
        await assert_accessible(page, scripts=False)

        # a link to "dropped only" is drawn by the server
        await page.get_by_role("link", name=re.compile("^Mất kết nối")).click()
        assert "state=dropped" in page.url
        tiles = page.locator("#board .tile")
        assert await tiles.count() == 100
        for cls in await tiles.evaluate_all("(ts) => ts.map((t) => t.className)"):
            assert cls == "tile conn-dropped"
        await expect(page.locator("#board-shown")).to_have_text(
            f"Hiển thị 1–100 trong {total['dropped']} điểm cầu."
        )
        await page.get_by_role("link", name="Trang sau →").click()
        assert "page=2" in page.url
        assert await tiles.count() == total["dropped"] - 100
        await screenshot(page, "board-scale-dropped-nojs")

        # the search form, without diacritics, by the site's name
        await page.goto(f"{live.url}/chair/sessions/{big.id}")
        await page.get_by_label("Tìm điểm cầu (tên hoặc mã)").fill("truong 012 dien bien")
        await page.get_by_role("button", name="Lọc").click()
        assert "q=truong+012+dien+bien" in page.url
        await expect(tiles).to_have_count(1)
        await expect(page.locator("#tile-dien-bien-012")).to_contain_text("Trường 012 Điện Biên")
        # a region's sites, from its row of the table (the search cleared first: links keep it)
        await page.get_by_role("link", name="Bỏ lọc").click()
        assert "?" not in page.url
        await page.get_by_role("link", name="Sơn La", exact=True).click()
        assert "region=tinh-son-la" in page.url
        assert await tiles.count() == 100
        await expect(page.locator(".region-group h3")).to_have_count(1)
        await expect(page.locator(".region-group h3")).to_contain_text("Sơn La")
    finally:
        await context.close()


async def test_the_search_and_filters_work_in_the_page(
    page: Page, live: Live, big: BookingOut
) -> None:
    await page.set_viewport_size({"width": 1366, "height": 768})
    await sign_in(page, live, live.chair_token, f"/chair/sessions/{big.id}")
    await expect(page.locator("#board-live")).to_contain_text("Cập nhật trực tiếp")
    await page.evaluate("() => { window.__samePage = true; }")
    tiles = page.locator("#board .tile")

    # typing filters as it goes (by id, whatever the case), and the address follows
    await page.get_by_label("Tìm điểm cầu (tên hoặc mã)").fill("LANG-SON-00")
    await expect(tiles).to_have_count(9)
    await expect(page).to_have_url(re.compile(r"q=LANG-SON-00"))
    await expect(page.locator("#board-shown")).to_have_text("Hiển thị 1–9 trong 9 điểm cầu.")
    await page.get_by_label("Tìm điểm cầu (tên hoặc mã)").fill("")
    await expect(tiles).to_have_count(100)

    # a state, from its count
    total, _ = await _counts(live, big)
    await page.get_by_role("link", name=re.compile("^Vắng")).click()
    await expect(page).to_have_url(re.compile("state=absent"))
    await expect(tiles).to_have_count(min(100, total["absent"]))
    classes = await tiles.evaluate_all("(ts) => ts.map((t) => t.className)")
    assert set(classes) == {"tile conn-waiting"}
    await expect(page.get_by_label("Trạng thái", exact=True)).to_have_value("absent")
    # then the tiles come with their lines (minutes and all) through the stream
    await expect(tiles.first).to_contain_text("Vắng · 0 phút")

    # a region and a state together; paging; the browser's back button
    await page.get_by_label("Trạng thái", exact=True).select_option("connected")
    await page.get_by_label("Vùng", exact=True).select_option("tinh-dien-bien")
    await expect(page).to_have_url(re.compile("state=connected"))
    await expect(page).to_have_url(re.compile("region=tinh-dien-bien"))
    await expect(tiles).to_have_count(100)
    await page.get_by_role("link", name="Trang sau →").click()
    await expect(page).to_have_url(re.compile("page=2"))
    await expect(page.locator("#board-shown")).to_contain_text("Hiển thị 101–")
    await page.go_back()
    await expect(page.locator("#board-shown")).to_contain_text("Hiển thị 1–100")
    assert await page.evaluate("() => window.__samePage === true")  # never reloaded
    await assert_axe(page)  # the tiles and pager board.js drew
    await screenshot(page, "board-scale-filtered")
    # the address says what the page shows: opened again, the server draws the same
    drawn = await tiles.evaluate_all("(ts) => ts.map((t) => t.id)")
    await page.reload()
    assert await tiles.evaluate_all("(ts) => ts.map((t) => t.id)") == drawn
    await assert_accessible(page)


async def test_a_live_change_reaches_its_tile_and_the_counts(
    page: Page, live: Live, big: BookingOut
) -> None:
    await sign_in(page, live, live.chair_token, f"/chair/sessions/{big.id}?q=son-la-019")
    tile = page.locator("#tile-son-la-019")
    await expect(tile).to_have_class("tile conn-waiting")
    await expect(page.locator("#board-live")).to_contain_text("Cập nhật trực tiếp")
    chips = page.locator("#board-chips")
    total, by_region = await _counts(live, big)
    connected = chips.locator('[data-count="connected"]')
    await expect(connected).to_have_text(f"{total['connected']}")
    son_la = page.locator("#board-regions tbody tr", has_text="Sơn La")

    # a site on the page joins: its tile, the counts and its region's row follow
    session = big
    await _hook(live, session, "joined", "son-la-019", "sl19@x/1", START + 55 * M)
    await expect(tile).to_have_class("tile conn-connected", timeout=3000)
    await expect(tile).to_contain_text("Đang kết nối")
    await expect(connected).to_have_text(f"{total['connected'] + 1}")
    await expect(son_la.locator('[data-count="connected"]')).to_have_text(
        str(by_region["Sơn La"]["connected"] + 1)
    )
    await expect(son_la.locator('[data-count="waiting"]')).to_have_text(
        str(by_region["Sơn La"]["waiting"] - 1)
    )
    # a site off the page drops: only the counts move
    await _hook(
        live, session, "left", "lai-chau-001", "lai-chau-001@x/1", START - 10 * M, START + 56 * M
    )
    dropped = chips.locator('[data-count="dropped"]')
    await expect(dropped).to_have_text(f"{total['dropped'] + 1}")
    assert await page.locator("#tile-lai-chau-001").count() == 0
    after, _ = await _counts(live, big)
    chips_now, _ = await _page_counts(page)
    assert chips_now == _as_dict(after)


async def test_many_reconnections_are_one_bar_with_their_count(
    page: Page, live: Live, big: BookingOut
) -> None:
    await sign_in(page, live, live.chair_token, f"/chair/sessions/{big.id}?q={MANY}")
    tile = page.locator(f"#tile-{MANY}")
    await expect(tile.locator(".tl-count")).to_have_text("10")
    await expect(tile.locator(".tl-span")).to_have_count(1)
    await expect(tile.locator(".timeline")).to_have_attribute(
        "aria-label", "Đã kết nối 10 lần, từ 08:00 đến 08:19"
    )
    # one more, through the stream: drawn by the page the same way
    await _hook(live, big, "joined", MANY, f"{MANY}@x/10", START + 40 * M)
    await expect(tile.locator(".tl-count")).to_have_text("11", timeout=3000)
    await expect(tile.locator(".tl-span")).to_have_count(1)
    await expect(tile).to_have_class("tile conn-connected")


async def test_projector_and_phone(browser: Browser, live: Live, big: BookingOut) -> None:
    for lang in ("vi", "en"):
        context = await browser.new_context(viewport={"width": 1366, "height": 768})
        page = await context.new_page()
        try:
            await sign_in(page, live, live.chair_token, f"/chair/sessions/{big.id}")
            if lang == "en":
                await context.add_cookies([{"name": "orch_lang", "value": "en", "url": live.url}])
            await page.goto(f"{live.url}/chair/sessions/{big.id}?projector=1")
            await expect(page.locator("body")).to_have_class("board-page projector")
            # a thousand sites on a projector: the counts by state, each region a card, no tiles
            await expect(page.locator("#board-chips")).to_be_visible()
            cards = page.locator("#board-regions [data-region]")
            await expect(cards).to_have_count(len(PROVINCES))
            await expect(page.locator("#board .tile").first).to_be_hidden()
            _, by_region = await _counts(live, big)
            for card in await cards.all():
                name = (await card.locator("h3").inner_text()).strip()
                shown = {
                    key: _number(await b.inner_text())
                    for b in await card.locator("[data-count]").all()
                    if (key := await b.get_attribute("data-count"))
                }
                want = by_region[name]
                assert shown == {k: want[k] for k in ("connected", "sites", "dropped", "waiting")}
            size = await cards.first.locator('[data-count="connected"]').evaluate(
                "(b) => parseFloat(getComputedStyle(b).fontSize)"
            )
            assert size >= 20, f"a region's count is {size}px on a projector"
            last = await cards.last.bounding_box()
            assert last is not None
            assert last["y"] + last["height"] <= 768, "the regions do not fit the screen"
            tall = await page.evaluate("() => document.documentElement.scrollHeight")
            assert tall <= 768, f"the projector view scrolls: {tall}px on a 768px screen"
            await _assert_exit_covers_nothing(page)
            await expect(page.locator("#board-live")).to_be_hidden()
            await assert_accessible(page)
            await screenshot(page, f"board-scale-projector-{lang}", full_page=False)
            # a state on the projector: its sites, large
            await page.get_by_role("link", name=re.compile("^(Mất kết nối|Dropped)")).click()
            await expect(page.locator("#board .tile").first).to_be_visible()
            assert "projector=1" in page.url
            await screenshot(page, f"board-scale-projector-dropped-{lang}", full_page=False)

            await page.set_viewport_size({"width": 390, "height": 844})
            await page.goto(f"{live.url}/chair/sessions/{big.id}?projector=1")
            await _assert_exit_covers_nothing(page)
            await page.goto(f"{live.url}/chair/sessions/{big.id}")
            wide = await page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= 390, f"the board is {wide}px wide on a 390px screen"
            await screenshot(page, f"board-scale-phone-{lang}")
            await page.set_viewport_size({"width": 1366, "height": 768})
            await page.goto(f"{live.url}/chair/sessions/{big.id}")
            await screenshot(page, f"board-scale-{lang}", full_page=False)
        finally:
            await context.close()


async def _assert_exit_covers_nothing(page: Page) -> None:
    """The projector's way out is on screen and lies over no region card, tile, chip or title."""
    exit_link = page.locator(".board-exit a")
    await expect(exit_link).to_be_visible()
    box = await exit_link.bounding_box()
    assert box is not None
    covered = await page.evaluate(
        """(b) => {
          const over = (r) =>
            r.left < b.x + b.width && b.x < r.right && r.top < b.y + b.height && b.y < r.bottom;
          const text = (el) => {  // a heading's words, not its whole line
            const range = document.createRange();
            range.selectNodeContents(el);
            return [...range.getClientRects()];
          };
          const boxes = [...document.querySelectorAll(
              '#board-regions [data-region], #board .tile, .chip')]
            .filter((el) => el.offsetParent !== null)
            .map((el) => [el, [el.getBoundingClientRect()]]);
          const words = [...document.querySelectorAll('h1, #board-summary')]
            .map((el) => [el, text(el)]);
          return [...boxes, ...words].filter(([, rects]) => rects.some(over))
            .map(([el]) => el.textContent.trim().slice(0, 40));
        }""",
        box,
    )
    assert covered == [], f"the way out of the projector view covers {covered}"
