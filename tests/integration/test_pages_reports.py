"""The report pages over HTTP on SQLite and PostgreSQL (DESIGN 11): the office sees every
session, a chair the sessions they chair, a coordinator is refused; the filters narrow the
tables; the regions' chart carries the numbers of the regions' table; the grid shows each site
at each regional meeting in words; the export links keep the filters and the page's language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from orchestrator.attendance.sources import Observation
from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.web.pages.reports import BAR
from tests.builders import OFFICE, REGIONAL_START, book_regional, chair, coordinator
from tests.integration.test_pages_office import Pages, _pages_for, _text
from tests.integration.test_reports import NORTH_CENTRAL, OTHER_CHAIR, _year

DECEMBER = {"from": "2026-12-01", "to": "2026-12-31"}


@pytest.fixture
async def office(container: Container, clock: ManualClock) -> AsyncIterator[Pages]:
    await _year(container, clock)
    async for p in _pages_for(container, OFFICE):
        yield p


def _row(html: str, attr: str, key: str) -> list[str]:
    """The cells' texts of the table row marked `data-{attr}="{key}"`."""
    found = re.search(rf'<tr data-{attr}="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {key}"
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)
    return [_text(c).strip() for c in cells]


def _table(html: str, table_id: str) -> str:
    found = re.search(rf'<table class="rp-table" id="{table_id}">(.*?)</table>', html, re.S)
    assert found, table_id
    return found.group(1)


async def test_the_office_sees_every_session_per_region_and_site(office: Pages) -> None:
    r = await office.http.get("/office/reports", params=DECEMBER)
    assert r.status_code == 200
    html = r.text
    assert "01/12/2026 – 31/12/2026" in _text(html)
    regions = _table(html, "regions-table")
    # Đà Nẵng present (A) and absent (B), Nghệ An absent (A): 2 sites, 3 site-sessions, 1 present
    assert _row(regions, "region", NORTH_CENTRAL)[1:] == [
        "2",
        "3",
        "1",
        "0",
        "2",
        "0",
        "1",
        "0",
        "33,3 %",
    ]
    # Hà Nội present at both
    assert _row(regions, "region", "dong-bang-song-hong")[1:] == [
        "1",
        "2",
        "2",
        "0",
        "0",
        "0",
        "0",
        "0",
        "100 %",
    ]
    total = re.search(r"<tfoot>(.*?)</tfoot>", regions, re.S)
    assert total
    cells = [_text(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", total.group(1))]
    assert cells[1:] == ["6", "8", "3", "1", "3", "1", "1", "1", "42,9 %"]
    sites = _table(html, "sites-table")
    assert _row(sites, "site", "tp-ho-chi-minh")[2:] == ["1", "0", "1", "0", "0", "0", "1", "0 %"]
    # B is not frozen yet: its two sites are marked provisional
    assert _row(sites, "site", "da-nang")[0].endswith("*")
    assert not _row(sites, "site", "can-tho")[0].endswith("*")


async def test_the_regions_chart_is_svg_with_the_tables_numbers(office: Pages) -> None:
    html = (await office.http.get("/office/reports", params=DECEMBER)).text
    svg = re.search(r"<svg class=\"region-chart\".*?</svg>", html, re.S)
    assert svg, "the chart is drawn on the server"
    chart = svg.group(0)
    assert 'role="img"' in chart
    assert '<title id="chart-title">' in chart
    # one bar per region (five regions have sites in these sessions), its rate beside it
    assert chart.count('class="rate"') == 5
    assert "33,3 % · 3</text>" in chart
    assert "100 % · 2</text>" in chart
    # Đà Nẵng and Nghệ An's region: 1 present, 2 absent, as the segments' titles say
    assert "Bắc Trung Bộ và Duyên hải miền Trung · Có mặt: 1</title>" in chart
    assert "Bắc Trung Bộ và Duyên hải miền Trung · Vắng: 2</title>" in chart
    widths = re.findall(r'class="seg absent" x="([\d.]+)" y="\d+" width="([\d.]+)"', chart)
    assert any(abs(float(w) - BAR * 2 / 3) < 0.2 for _, w in widths)


async def test_filters_narrow_the_tables_and_keep_the_exports(office: Pages) -> None:
    html = (
        await office.http.get("/office/reports", params={**DECEMBER, "region": NORTH_CENTRAL})
    ).text
    sites = _table(html, "sites-table")
    assert set(re.findall(r'data-site="([a-z-]+)"', sites)) == {"da-nang", "nghe-an"}
    assert f'<option value="{NORTH_CENTRAL}" selected>' in html
    export = (
        "/api/reports/attendance.xlsx?from=2026-12-01&amp;to=2026-12-31"
        f"&amp;region={NORTH_CENTRAL}&amp;tz=Asia%2FHo_Chi_Minh&amp;lang=vi"
    )
    assert export in html
    # the export link answers the same numbers the page shows
    csv = await office.http.get(export.replace("&amp;", "&").replace(".xlsx", ".csv"))
    assert csv.status_code == 200
    assert "Điểm cầu" in csv.text
    assert "da-nang" in csv.text
    assert "ha-noi" not in csv.text
    # a range that holds no session
    html = (
        await office.http.get("/office/reports", params={"from": "2026-09-01", "to": "2026-09-30"})
    ).text
    assert "Không có phiên họp nào đã kết thúc trong khoảng này." in html
    assert "<svg" not in html


async def test_the_default_is_the_administrative_year_and_a_bad_date_is_said(
    office: Pages,
) -> None:
    html = (await office.http.get("/office/reports")).text
    assert "01/09/2026 – 31/08/2027" in _text(html)
    assert 'value="2026-09-01"' in html
    bad = await office.http.get("/office/reports", params={"from": "2026-13-01", "to": "x"})
    assert bad.status_code == 200
    assert "Ngày không hợp lệ" in bad.text
    backwards = await office.http.get(
        "/office/reports", params={"from": "2026-12-31", "to": "2026-12-01"}
    )
    assert backwards.status_code == 200
    assert 'role="alert"' in backwards.text


async def test_english_page_numbers_and_exports(office: Pages) -> None:
    office.http.cookies.set("orch_lang", "en")
    html = (await office.http.get("/office/reports", params=DECEMBER)).text
    assert "2026-12-01 – 2026-12-31" in _text(html)
    assert "42.9%" in html
    assert "33.3% · 3</text>" in html
    assert "&amp;lang=en" in html
    assert "&amp;lang=vi" not in html
    assert ">Reports</a>" in html  # the menu


async def test_a_chair_sees_only_the_sessions_they_chair(
    container: Container, clock: ManualClock
) -> None:
    await _year(container, clock)
    async for p in _pages_for(container, chair()):
        html = (await p.http.get("/chair/reports", params=DECEMBER)).text
        assert 'href="/chair/reports"' in html
        sites = _table(html, "sites-table")
        assert _row(sites, "site", "ha-noi")[2] == "1"  # A only, not B
    async for p in _pages_for(container, chair(OTHER_CHAIR)):
        html = (await p.http.get("/chair/reports", params=DECEMBER)).text
        sites = _table(html, "sites-table")
        assert set(re.findall(r'data-site="([a-z-]+)"', sites)) == {"ha-noi", "da-nang"}
        assert (await p.http.get("/office/reports")).status_code == 403


async def test_a_coordinator_is_refused(container: Container) -> None:
    async for p in _pages_for(container, coordinator("ha-noi")):
        for path in ("/office/reports", "/chair/reports"):
            r = await p.http.get(path)
            assert r.status_code == 403, path


async def test_the_grid_shows_each_site_at_each_regional_meeting_in_words(
    container: Container, clock: ManualClock
) -> None:
    meeting = await book_regional(container)
    assert meeting.room
    await container.attendance.ingest(
        [Observation("jitsi", "join", meeting.room, REGIONAL_START, "j:1", "ha-noi", "ha-noi")]
    )
    clock.set(REGIONAL_START + timedelta(days=1))
    async for p in _pages_for(container, OFFICE):
        html = (await p.http.get("/office/reports")).text
        assert "Chọn một chuỗi phiên họp" in html
        assert '<table class="rp-grid">' not in html
        html = (await p.http.get("/office/reports", params={"kind": "regional"})).text
        grid = re.search(r'<table class="rp-grid">(.*?)</table>', html, re.S)
        assert grid, "the grid of the regional meetings"
        assert f'href="/office/sessions/{meeting.id}"' in grid.group(1)
        assert "T3 12/01/2027" in grid.group(1)
        cell = re.search(r'<td class="cell present"[^>]*>(.*?)</td>', grid.group(1), re.S)
        assert cell
        assert "Có mặt" in cell.group(1), "the verdict in words, not colour alone"
