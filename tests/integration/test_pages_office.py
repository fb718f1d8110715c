"""The office's pages over the aiohttp app on SQLite and PostgreSQL: the timeline's lanes, the
booking form's answers in words, the live check, the planner."""

from __future__ import annotations

import html as html_lib
import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.bootstrap import Container
from orchestrator.domain.models import Chair, Principal, Role, SessionKind, SessionStatus
from orchestrator.store.base import SessionQuery
from orchestrator.web.app import init_app
from orchestrator.web.pages.common import SESSION_COOKIE
from orchestrator.web.pages.office_timeline import GROUPS_LANE, Item, build_grid
from tests.conftest import OFFICE, SIX

CHAIR = Chair(name="Chánh Văn phòng Bộ", email="chair@moet.example.org")


@dataclass
class Pages:
    http: httpx.AsyncClient
    csrf: str
    container: Container

    async def book_via_service(self, **changes: Any) -> str:
        fields: dict[str, Any] = {
            "title": "Hội nghị công tác văn phòng",
            "start": datetime(2026, 12, 10, 1, 0, tzinfo=UTC),  # 08:00 in Hà Nội
            "end": datetime(2026, 12, 10, 4, 30, tzinfo=UTC),  # 11:30
            "host_site": "ha-noi",
            "sites": SIX,
            "chair": CHAIR,
            "leader_groups": ["lanh-dao-bo"],
        }
        fields.update(changes)
        answer = await self.container.bookings.book(BookSessionRequest(**fields), OFFICE)
        assert answer.status == 201
        return answer.value.id

    def form(self, **changes: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "csrf": self.csrf,
            "idempotency_key": "",
            "title": "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT",
            "kind": "national",
            "region": "",
            "date": "2026-12-10",
            "start_time": "08:00",
            "end_time": "11:30",
            "timezone": "Asia/Ho_Chi_Minh",
            "host_site": "ha-noi",
            "sites": SIX,
            "leader_groups": ["lanh-dao-bo"],
            "chair_name": CHAIR.name,
            "chair_email": CHAIR.email,
            "provider": "static",
            "buffer_before": "30",
            "buffer_after": "15",
            "conflict_policy": "all_or_nothing",
            "override_reason": "",
        }
        data.update(changes)
        return data


async def _pages_for(container: Container, principal: Principal) -> AsyncIterator[Pages]:
    server = TestServer(init_app(container), host="127.0.0.1", port=0)
    await server.start_server()
    session = container.signin.new_session(principal)
    cookie = await container.signin.cookie(session)
    base = str(server.make_url("/")).rstrip("/")
    async with httpx.AsyncClient(
        base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=30
    ) as http:
        yield Pages(http, session.csrf, container)
    await server.close()


@pytest.fixture
async def pages(container: Container) -> AsyncIterator[Pages]:
    async for p in _pages_for(container, OFFICE):
        yield p


async def _sessions(container: Container) -> list[Any]:
    return await container.bookings.list_sessions(SessionQuery(), OFFICE)


def _text(html: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# the timeline ------------------------------------------------------------------------------


async def test_timeline_shows_lanes_and_sessions_of_the_week(pages: Pages) -> None:
    await pages.book_via_service()
    r = await pages.http.get("/office", params={"date": "2026-12-10"})
    assert r.status_code == 200
    html = r.text
    assert "07/12/2026 – 13/12/2026" in _text(html)
    # every region has a lane, and so do the leader groups
    for name in ("Đồng bằng sông Hồng", "Tây Nguyên", "Lãnh đạo Bộ (nhóm lãnh đạo)"):
        assert name in html
    # a six-site national session with leaders shows in the leaders' lane and in each of the
    # five regions its sites lie in, with its time in the viewer's zone
    assert html.count("Hội nghị công tác văn phòng</span>") == 6
    assert "08:00–11:30 Hội nghị công tác văn phòng" in html  # the block's title
    assert re.search(r'href="/office/sessions/[0-9a-f-]{36}"', html)


async def test_timeline_default_is_this_week_and_prev_next_move_it(pages: Pages) -> None:
    html = (await pages.http.get("/office")).text
    assert "23/11/2026 – 29/11/2026" in _text(html)  # the clock says Monday 23 November 2026
    assert 'date=2026-11-16" rel="prev"' in html
    assert 'date=2026-11-30" rel="next"' in html
    month = (await pages.http.get("/office", params={"view": "month", "date": "2026-12-10"})).text
    assert "12/2026" in month
    assert 'date=2026-11-01" rel="prev"' in month
    # a calendar: every weekday of December (its weekends have no session, so no column)
    assert month.count('<li class="cal-day') == 23
    assert "cal-day start-2" in month  # 1 December 2026 is a Tuesday
    assert 'class="cal-wrap cols-5"' in month


async def test_timeline_in_another_zone_moves_the_labels(pages: Pages) -> None:
    await pages.book_via_service()
    pages.http.cookies.set("orch_tz", "Asia/Tokyo")
    html = (await pages.http.get("/office", params={"date": "2026-12-10"})).text
    assert "10:00–13:30 Hội nghị" in html
    assert "08:00–11:30 Hội nghị" not in html


async def test_cancelled_sessions_are_struck_through_or_hidden(pages: Pages) -> None:
    sid = await pages.book_via_service()
    await pages.container.bookings.cancel(sid, OFFICE)
    html = (await pages.http.get("/office", params={"date": "2026-12-10"})).text
    assert "<del>Hội nghị công tác văn phòng</del>" in html
    hidden = await pages.http.get("/office", params={"date": "2026-12-10", "cancelled": "hide"})
    assert "Hội nghị công tác văn phòng" not in hidden.text


@pytest.mark.parametrize("day", ["2026-13-45", "0001-01-01", "9999-12-31"])
async def test_a_bad_date_is_said_in_words_not_a_500(pages: Pages, day: str) -> None:
    r = await pages.http.get("/office", params={"date": day, "view": "nonsense"})
    assert r.status_code == 200
    assert "Ngày không hợp lệ" in r.text
    booking = await pages.http.post("/office/book", data=pages.form(date=day))
    assert booking.status_code == 422
    assert "Ngày không hợp lệ" in booking.text
    check = await pages.http.get("/office/book/check", params={"date": day, "sites": "da-nang"})
    assert check.status_code == 200
    plan = await pages.http.get("/office/plan", params={**PLAN, "to": day})
    assert plan.status_code == 422


async def test_the_timeline_in_english(pages: Pages) -> None:
    await pages.book_via_service()
    pages.http.cookies.set("orch_lang", "en")
    html = (await pages.http.get("/office", params={"date": "2026-12-10"})).text
    assert "Session timeline" in html
    assert "Leader groups" in html
    assert "Thu 12-10" in html
    assert "Lịch các phiên họp" not in html


def test_grid_lists_each_lane_day_in_time_order_and_hides_empty_weekends() -> None:
    days = [date(2026, 12, 7) + timedelta(days=i) for i in range(7)]  # Monday to Sunday

    def at(d: int, h: int, m: int = 0) -> datetime:
        return datetime(2026, 12, d, h - 7, m, tzinfo=UTC)

    items = [
        Item("b", "B", at(10, 9), at(10, 11), ("r1",)),
        Item("a", "A", at(10, 8), at(10, 10), ("r1", GROUPS_LANE)),
        Item("c", "C", at(10, 10), at(10, 12), ("r1",), clashes=("x",)),
        Item("d", "D", at(12, 13), at(12, 14), ("r2",)),  # a Saturday
    ]
    grid = build_grid(
        days, [("r1", "R1"), ("r2", "R2"), (GROUPS_LANE, "G")], items, "Asia/Ho_Chi_Minh"
    )
    # the empty Sunday is left out, the busy Saturday kept
    assert grid.days == days[:6]
    assert grid.hidden == (days[6],)
    thursday = grid.lanes[0].cells[3]
    assert [(b.item.key, b.label, b.item.clash) for b in thursday.blocks] == [
        ("a", "08:00–10:00", False),
        ("b", "09:00–11:00", False),
        ("c", "10:00–12:00", True),
    ]
    assert [lane.id for lane in grid.lanes] == ["r1", "r2", GROUPS_LANE]
    assert [lane.count for lane in grid.lanes] == [3, 1, 1]
    assert grid.day_count(days[3]) == 3
    # a month keeps the Saturday column and leaves out the Sundays
    month = build_grid(days, [("r1", "R1"), ("r2", "R2")], items, "Asia/Ho_Chi_Minh", compact=True)
    assert month.weekdays == (0, 1, 2, 3, 4, 5)
    assert [(c.day.day, c.column, c.count) for c in month.calendar if c.blocks] == [
        (10, 4, 3),
        (12, 6, 1),
    ]


# the booking form ----------------------------------------------------------------------------


async def test_booking_from_the_form_redirects_to_the_session(pages: Pages) -> None:
    r = await pages.http.post("/office/book", data=pages.form(), follow_redirects=False)
    assert r.status_code == 303, r.text
    sessions = await _sessions(pages.container)
    assert len(sessions) == 1
    s = sessions[0]
    assert r.headers["Location"] == f"/office/sessions/{s.id}"
    assert {x.site_id for x in s.sites} == set(SIX)
    assert s.leader_groups == ["lanh-dao-bo"]
    assert s.start == datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
    assert (s.buffer_before_minutes, s.buffer_after_minutes) == (30, 15)


async def test_all_of_a_region_books_its_sites_without_javascript(pages: Pages) -> None:
    data = pages.form(sites=[], region_all=["bac-trung-bo-duyen-hai-mien-trung"], leader_groups=[])
    r = await pages.http.post("/office/book", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    (s,) = await _sessions(pages.container)
    assert {x.site_id for x in s.sites} == {"ha-noi", "da-nang", "nghe-an"}


async def test_a_conflict_is_said_in_words_and_the_form_keeps_its_values(pages: Pages) -> None:
    await pages.book_via_service(sites=["ha-noi", "da-nang"], leader_groups=[])
    data = pages.form(title="Phiên thứ hai", start_time="09:00", end_time="10:00")
    data["chair_email"] = "other@moet.example.org"
    r = await pages.http.post("/office/book", data=data)
    text = _text(r.text)
    assert r.status_code == 409, text
    assert "Bộ GD&ĐT (Hà Nội), Sở GD&ĐT Đà Nẵng đã có phiên «Hội nghị công tác văn phòng»" in text
    assert "08:00–11:30" in text
    assert 'value="Phiên thứ hai"' in r.text
    assert 'value="09:00"' in r.text
    assert 'value="other@moet.example.org"' in r.text
    assert 'value="thai-nguyen" class="site" checked' in r.text
    assert len(await _sessions(pages.container)) == 1


async def test_a_policy_breach_offers_the_override_and_the_reason_books(pages: Pages) -> None:
    saturday = pages.form(date="2026-12-12")
    r = await pages.http.post("/office/book", data=saturday)
    assert r.status_code == 422
    assert "Đây là ngày nghỉ cuối tuần." in r.text
    assert '<details class="override" open>' in r.text
    assert await _sessions(pages.container) == []
    saturday["override_reason"] = "Hội nghị khẩn theo chỉ đạo của Bộ trưởng"
    r = await pages.http.post("/office/book", data=saturday, follow_redirects=False)
    assert r.status_code == 303
    assert len(await _sessions(pages.container)) == 1


async def test_missing_and_wrong_fields_are_named_in_words(pages: Pages) -> None:
    data = pages.form(
        title="", host_site="", chair_email="not-an-email", end_time="07:00", buffer_after="x"
    )
    r = await pages.http.post("/office/book", data=data)
    assert r.status_code == 422
    for words in (
        "Cần điền mục này.",
        "Chọn điểm cầu chính.",
        "Địa chỉ thư điện tử không hợp lệ.",
        "Giờ kết thúc phải sau giờ bắt đầu.",
        "Số phút từ 0 đến 720.",
    ):
        assert words in r.text
    assert 'value="not-an-email"' in r.text
    regional = await pages.http.post("/office/book", data=pages.form(kind="regional"))
    assert "Giao ban vùng cần chọn vùng." in regional.text


async def test_an_unconfigured_provider_is_said_in_words(pages: Pages) -> None:
    r = await pages.http.post("/office/book", data=pages.form(provider="jaas"))
    assert r.status_code == 422
    assert "chưa được cấu hình" in r.text


async def test_the_same_form_sent_twice_books_once(pages: Pages) -> None:
    data = pages.form(idempotency_key="form-1")
    first = await pages.http.post("/office/book", data=data, follow_redirects=False)
    second = await pages.http.post("/office/book", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(await _sessions(pages.container)) == 1


async def test_the_form_needs_its_csrf_token(pages: Pages) -> None:
    r = await pages.http.post("/office/book", data=pages.form(csrf="forged"))
    assert r.status_code == 403
    assert await _sessions(pages.container) == []


async def test_check_names_conflicts_and_suggests_free_slots(pages: Pages) -> None:
    await pages.book_via_service(sites=["ha-noi", "da-nang"], leader_groups=[])
    params = {
        "date": "2026-12-10",
        "start_time": "09:00",
        "end_time": "10:00",
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": "ha-noi",
        "sites": "da-nang",
        "buffer_before": "30",
        "buffer_after": "15",
        "kind": "national",
    }
    r = await pages.http.get("/office/book/check", params=params)
    assert r.status_code == 200
    text = _text(r.text)
    assert (
        "Bộ GD&ĐT (Hà Nội), Sở GD&ĐT Đà Nẵng đã có phiên «Hội nghị công tác văn phòng» "
        "08:00–11:30 (T5 10/12/2026)"
    ) in text
    slots = re.findall(r'data-date="([^"]+)" data-start="([^"]+)" data-end="([^"]+)"', r.text)
    assert slots, r.text
    assert slots[0] == ("2026-12-10", "13:30", "14:30")  # after the morning's session + buffers
    free = await pages.http.get("/office/book/check", params={**params, "date": "2026-12-11"})
    assert "còn trống" in free.text
    sunday = await pages.http.get("/office/book/check", params={**params, "date": "2026-12-13"})
    assert "trái quy định" in sunday.text
    assert "Đây là ngày nghỉ cuối tuần." in _text(sunday.text)  # the rule it breaks, named
    evening = {**params, "date": "2026-12-11", "start_time": "19:00", "end_time": "20:00"}
    late = await pages.http.get("/office/book/check", params=evening)
    assert "Ngoài giờ làm việc." in _text(late.text)
    assert "ngày nghỉ cuối tuần" not in _text(late.text)
    nothing = await pages.http.get("/office/book/check", params={"date": "x"})
    assert nothing.status_code == 200
    assert "Chọn điểm cầu" in nothing.text


# the planner ---------------------------------------------------------------------------------

PLAN = {
    "regions": ["bac-trung-bo-duyen-hai-mien-trung", "dong-nam-bo", "dong-bang-song-cuu-long"],
    "leader_groups": ["lanh-dao-bo"],
    "from": "2026-12-14",
    "to": "2026-12-18",
    "duration": "180",
    "title": "Giao ban vùng",
    "provider": "static",
}


async def test_planner_proposes_without_booking_then_commits_all(pages: Pages) -> None:
    r = await pages.http.get("/office/plan", params=PLAN)
    assert r.status_code == 200, r.text
    text = _text(r.text)
    assert "Lịch đề xuất (chưa đặt)" in text
    assert (
        text.count("Đề xuất: ") == 6
    )  # three proposals, each in its region's and the leaders' lane
    assert await _sessions(pages.container) == []
    key = re.search(r'name="idempotency_key" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = await pages.http.post(
        "/office/plan", data={**PLAN, "csrf": pages.csrf, "idempotency_key": key}
    )
    assert r.status_code == 201, r.text
    booked = await _sessions(pages.container)
    assert sorted(s.region for s in booked) == sorted(PLAN["regions"])
    assert all(s.kind is SessionKind.REGIONAL for s in booked)
    assert "Đã đặt 3 phiên giao ban vùng" in r.text
    for s in booked:
        assert f"/office/sessions/{s.id}" in r.text
    # no two of them overlap: the leaders attend them all
    ranges = sorted((s.claimed.start, s.claimed.end) for s in booked)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))
    again = await pages.http.post(
        "/office/plan", data={**PLAN, "csrf": pages.csrf, "idempotency_key": key}
    )
    assert again.status_code == 201
    assert len(await _sessions(pages.container)) == 3


async def test_planner_errors_in_words(pages: Pages) -> None:
    no_head = await pages.http.get("/office/plan", params={**PLAN, "regions": ["tay-nguyen"]})
    assert no_head.status_code == 422
    assert "Vùng Tây Nguyên chưa có điểm cầu trưởng vùng" in no_head.text
    short = {**PLAN, "from": "2026-12-14", "to": "2026-12-14", "duration": "480"}
    r = await pages.http.get("/office/plan", params=short)
    assert r.status_code == 422
    assert "đã dành cho các phiên vừa xếp của" in r.text  # the round's own meetings, by name
    bad = await pages.http.get("/office/plan", params={**PLAN, "from": "", "to": "2026-12-01"})
    assert bad.status_code == 422
    assert "Ngày không hợp lệ" in bad.text
    assert 'value="2026-12-01"' in bad.text


async def test_planner_form_defaults_respect_the_notice(pages: Pages) -> None:
    r = await pages.http.get("/office/plan")
    assert r.status_code == 200
    assert 'value="2026-12-09"' in r.text  # 23 November + 16 days
    assert 'value="tay-nguyen"> Tây Nguyên' in r.text


# who may open them ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/office", "/office/book", "/office/book/check", "/office/plan"])
async def test_only_the_office_may_open_them(container: Container, path: str) -> None:
    coordinator = Principal(role=Role.COORDINATOR, token_id="c", site_id="da-nang")
    async for p in _pages_for(container, coordinator):
        r = await p.http.get(path)
        assert r.status_code == 403
    server = TestServer(init_app(container), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(server.make_url("/"))) as anonymous:
            r = await anonymous.get(path.lstrip("/"), follow_redirects=False)
            assert r.status_code == 303
            assert r.headers["Location"].startswith("/signin?next=")
    finally:
        await server.close()


async def test_status_of_cancelled_is_not_a_conflict(pages: Pages) -> None:
    sid = await pages.book_via_service()
    out = await pages.container.bookings.cancel(sid, OFFICE)
    assert out.status is SessionStatus.CANCELLED
    r = await pages.http.post("/office/book", data=pages.form(), follow_redirects=False)
    assert r.status_code == 303
