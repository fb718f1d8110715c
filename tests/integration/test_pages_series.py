"""Series in the office's pages over the aiohttp app on SQLite and PostgreSQL (DESIGN 10): the
booking form's repetition and its preview without JavaScript, booking a series from it, the
series page with its occurrences, skipped dates and attendance grid, and its changes."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

from orchestrator.attendance.service import OverrideRequest
from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.booking.series.schemas import BookSeriesRequest, SeriesOut
from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Chair, Principal, Role, SessionStatus
from orchestrator.store.base import SeriesQuery
from orchestrator.web.app import init_app
from orchestrator.web.pages.common import SESSION_COOKIE
from tests.conftest import OFFICE

CHAIR = Chair(name="Chánh Văn phòng Bộ", email="chair@moet.example.org")
SITES = ["ha-noi", "da-nang", "can-tho"]
# Thursdays at 08:00 in Hà Nội from 14 January 2027; 4 February is a public holiday.
FIRST = datetime(2027, 1, 14, 1, 0, tzinfo=UTC)


@dataclass
class Pages:
    http: httpx.AsyncClient
    csrf: str
    container: Container

    def form(self, **changes: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "csrf": self.csrf,
            "idempotency_key": "",
            "title": "Giao ban tuần",
            "kind": "national",
            "region": "",
            "date": "2027-01-14",
            "start_time": "08:00",
            "end_time": "10:00",
            "timezone": "Asia/Ho_Chi_Minh",
            "host_site": "ha-noi",
            "sites": SITES,
            "chair_name": CHAIR.name,
            "chair_email": CHAIR.email,
            "provider": "static",
            "buffer_before": "30",
            "buffer_after": "15",
            "conflict_policy": "all_or_nothing",
            "override_reason": "",
            "repeat": "weekly",
            "byday": ["TH"],
            "ends": "count",
            "count": "5",
            "until": "",
            "series_policy": "all_or_nothing",
        }
        data.update(changes)
        return data

    async def sign_in_again(self) -> None:
        """A browser session lasts 12 hours: after the clock has moved on, a new one."""
        session = self.container.signin.new_session(OFFICE)
        self.http.cookies.set(SESSION_COOKIE, await self.container.signin.cookie(session))
        self.csrf = session.csrf


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


def text(html: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


async def hold_can_tho(c: Container, day: str) -> str:
    """Cần Thơ alone from 09:00 to 10:00 in Hà Nội on `day`."""
    start = datetime.fromisoformat(f"{day}T02:00:00+00:00")
    answer = await c.bookings.book(
        BookSessionRequest(
            title="Họp Sở Cần Thơ",
            start=start,
            end=start + timedelta(hours=1),
            host_site="can-tho",
            sites=["can-tho"],
            chair=Chair(name="Giám đốc", email="giamdoc@sgddt-can-tho.example.org"),
        ),
        OFFICE,
    )
    return answer.value.id


async def book_series(c: Container, **over: Any) -> SeriesOut:
    fields: dict[str, Any] = {
        "title": "Giao ban tuần",
        "start": FIRST,
        "end": FIRST + timedelta(hours=2),
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": "ha-noi",
        "sites": SITES,
        "chair": CHAIR,
        "recurrence": "FREQ=WEEKLY;BYDAY=TH;COUNT=5",
        "conflict_policy": "skip_conflicting_occurrences",
        **over,
    }
    return (await c.bookings.series.book(BookSeriesRequest(**fields), OFFICE)).value


# the booking form ----------------------------------------------------------------------------


async def test_the_preview_names_every_occurrence_and_what_is_in_its_way(pages: Pages) -> None:
    await hold_can_tho(pages.container, "2027-01-21")
    r = await pages.http.post("/office/book", data=pages.form(do="preview"))
    assert r.status_code == 200
    said = text(r.text)
    assert "Hằng tuần vào Thứ Năm, 5 buổi" in said
    assert "Chưa thể đặt: 1/5 buổi trái quy định đặt lịch" in said  # judged first, as booking
    for day in ("14/01/2027", "21/01/2027", "28/01/2027", "04/02/2027", "11/02/2027"):
        assert f"T5 {day} 08:00–10:00" in said
    assert "Sở GD&ĐT Cần Thơ đã có phiên «Họp Sở Cần Thơ» 09:00–10:00 (T5 21/01/2027)" in said
    assert re.search(r"Ngày lễ: [^.]+\.", said)
    # the form keeps what was typed, and nothing is booked
    assert 'value="weekly" checked' in r.text
    assert 'name="byday" value="TH" checked' in r.text
    assert await pages.container.bookings.series.list_series(SeriesQuery(), OFFICE) == []

    skipping = await pages.http.post(
        "/office/book",
        data=pages.form(do="preview", series_policy="skip_conflicting_occurrences"),
    )
    said = text(skipping.text)
    assert "Sẽ đặt 3/5 buổi; bỏ qua 2 buổi bị trùng lịch hoặc trái quy định." in said
    assert said.count("Sẽ bỏ qua") == 2


async def test_the_live_check_answers_the_series_preview(pages: Pages) -> None:
    params = {k: v for k, v in pages.form().items() if k != "csrf"}
    r = await pages.http.get("/office/book/check", params=params)
    assert r.status_code == 200
    assert 'class="occ breach"' in r.text  # the holiday
    assert r.text.count('class="occ free"') == 4
    overridden = await pages.http.get("/office/book/check", params={**params, "override": "1"})
    assert "Cả 5 buổi đều trống" not in text(overridden.text)
    assert 'class="occ overridden"' in overridden.text
    assert "Vượt quy định (có lý do)" in text(overridden.text)


async def test_booking_the_series_from_the_form_opens_its_page(pages: Pages) -> None:
    await hold_can_tho(pages.container, "2027-01-21")
    refused = await pages.http.post("/office/book", data=pages.form(override_reason="Lệnh"))
    assert refused.status_code == 409
    assert "Chưa đặt được: có buổi bị trùng lịch" in text(refused.text)
    assert "Trùng lịch" in text(refused.text)  # the preview shown with the refusal
    r = await pages.http.post(
        "/office/book",
        data=pages.form(series_policy="skip_conflicting_occurrences"),
        follow_redirects=False,
    )
    assert r.status_code == 303
    series_id = r.headers["Location"].rsplit("/", 1)[1]
    series = await pages.container.bookings.series.get(series_id, OFFICE)
    assert series.recurrence == "FREQ=WEEKLY;BYDAY=TH;COUNT=5"
    assert [o.occurrence.date().isoformat() for o in series.occurrences] == [
        "2027-01-14",
        "2027-01-28",
        "2027-02-11",
    ]
    assert [k.occurrence.date().isoformat() for k in series.skipped] == [
        "2027-01-21",
        "2027-02-04",
    ]
    page = text((await pages.http.get(r.headers["Location"])).text)
    assert "Hằng tuần vào Thứ Năm, 5 buổi" in page
    assert "Sở GD&ĐT Cần Thơ đã có phiên «Họp Sở Cần Thơ»." in page
    assert re.search(r"Bỏ qua Ngày lễ: [^.]+\.", page)


async def test_monthly_on_the_nth_weekday_and_until_a_date(pages: Pages) -> None:
    r = await pages.http.post(
        "/office/book",
        data=pages.form(repeat="monthly", byday=[], ends="until", until="2027-04-30"),
        follow_redirects=False,
    )
    assert r.status_code == 303
    series_id = r.headers["Location"].rsplit("/", 1)[1]
    series = await pages.container.bookings.series.get(series_id, OFFICE)
    assert series.recurrence.startswith("FREQ=MONTHLY;BYDAY=2TH;UNTIL=20270430T")
    assert [o.occurrence.date().isoformat() for o in series.occurrences] == [
        "2027-01-14",
        "2027-02-11",
        "2027-03-11",
        "2027-04-08",
    ]
    page = text((await pages.http.get(r.headers["Location"])).text)
    assert "Hằng tháng vào Thứ Năm tuần thứ hai, đến hết Thứ Sáu 30/04/2027" in page


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"byday": ["FR"]}, "Ngày bắt đầu (Thứ Năm 14/01/2027) không thuộc các ngày đã chọn"),
        (
            {"repeat": "monthly", "month_nth": "-1"},
            "là Thứ Năm tuần thứ hai, không phải Thứ Năm cuối cùng của tháng",
        ),
        ({"count": "0"}, "Số buổi từ 1 đến 200."),
        ({"ends": "until", "until": "2027-01-01"}, "Ngày kết thúc ở trước ngày bắt đầu."),
        ({"conflict_policy": "skip_conflicting"}, "Lịch lặp lại đặt đủ mọi điểm cầu"),
    ],
)
async def test_a_repetition_that_cannot_be_is_said_beside_its_field(
    pages: Pages, changes: dict[str, Any], said: str
) -> None:
    r = await pages.http.post("/office/book", data=pages.form(**changes))
    assert r.status_code == 422
    assert said in text(r.text)
    assert await pages.container.bookings.series.list_series(SeriesQuery(), OFFICE) == []


async def test_one_session_still_books_as_before(pages: Pages) -> None:
    r = await pages.http.post(
        "/office/book", data=pages.form(repeat="none"), follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/office/sessions/")
    preview = await pages.http.post("/office/book", data=pages.form(repeat="none", do="preview"))
    assert preview.status_code == 200
    assert "Thời gian đã chọn bị trùng" in text(preview.text)  # the session just booked


# the series page -----------------------------------------------------------------------------


async def test_moving_one_occurrence_and_cancelling_one(pages: Pages) -> None:
    series = await book_series(pages.container)
    second = series.occurrences[1]
    path = f"/office/series/{series.id}"
    page = await pages.http.get(path, params={"one": second.session_id})
    assert page.status_code == 200
    assert f'<option value="{second.session_id}" selected>' in page.text
    r = await pages.http.post(
        f"{path}/occurrences/move",
        data={
            "csrf": pages.csrf,
            "occurrence": second.session_id,
            "date": "2027-01-22",
            "start": "14:00",
            "end": "16:00",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["Location"] == f"{path}?done=moved"
    moved = await pages.container.bookings.get(second.session_id, OFFICE)
    assert moved.start.isoformat() == "2027-01-22T14:00:00+07:00"
    said = text((await pages.http.get(r.headers["Location"])).text)
    assert "Đã dời buổi họp" in said
    assert "T6 22/01/2027, 14:00–16:00" in said
    assert "Đã dời riêng buổi này (lịch gốc: T5 21/01/2027 08:00)." in said

    third = series.occurrences[2].session_id
    unconfirmed = await pages.http.post(
        f"{path}/occurrences/cancel", data={"csrf": pages.csrf, "occurrence": third}
    )
    assert unconfirmed.status_code == 422
    assert "Hãy đánh dấu ô xác nhận để hủy buổi họp." in text(unconfirmed.text)
    assert (await pages.container.bookings.get(third, OFFICE)).status is SessionStatus.SCHEDULED
    stranger = await pages.http.post(
        f"{path}/occurrences/cancel",
        data={"csrf": pages.csrf, "occurrence": "not-one", "confirm": "yes"},
    )
    assert stranger.status_code == 422
    cancelled = await pages.http.post(
        f"{path}/occurrences/cancel",
        data={"csrf": pages.csrf, "occurrence": third, "confirm": "yes"},
        follow_redirects=False,
    )
    assert cancelled.headers["Location"] == f"{path}?done=cancelled_one"
    assert (await pages.container.bookings.get(third, OFFICE)).status is SessionStatus.CANCELLED
    # a reload of a form's address goes back to the page
    back = await pages.http.get(f"{path}/occurrences/cancel", follow_redirects=False)
    assert back.headers["Location"] == path


async def test_changing_and_cancelling_every_occurrence_to_come(
    pages: Pages, clock: ManualClock
) -> None:
    series = await book_series(pages.container)
    path = f"/office/series/{series.id}"
    form = {"csrf": pages.csrf, "title": series.title, "start": "08:00", "end": "10:00"}
    nothing = await pages.http.post(f"{path}/change", data=form)
    assert nothing.status_code == 422
    assert "Chưa có gì thay đổi" in text(nothing.text)
    r = await pages.http.post(
        f"{path}/change", data={**form, "start": "13:30", "end": "15:00"}, follow_redirects=False
    )
    assert r.headers["Location"] == f"{path}?done=changed"
    after = await pages.container.bookings.series.get(series.id, OFFICE)
    # four occurrences booked: the holiday (4 February) was skipped
    assert [o.start.strftime("%H:%M") for o in after.occurrences] == ["13:30"] * 4

    clock.set(datetime(2027, 1, 15, tzinfo=UTC))  # the first occurrence is over
    await pages.sign_in_again()
    page = text((await pages.http.get(path)).text)
    assert "Hủy mọi buổi chưa diễn ra (3)" in page
    unconfirmed = await pages.http.post(f"{path}/cancel", data={"csrf": pages.csrf})
    assert unconfirmed.status_code == 422
    assert "Hãy đánh dấu ô xác nhận" in text(unconfirmed.text)
    r = await pages.http.post(
        f"{path}/cancel", data={"csrf": pages.csrf, "confirm": "yes"}, follow_redirects=False
    )
    assert r.headers["Location"] == f"{path}?done=cancelled"
    after = await pages.container.bookings.series.get(series.id, OFFICE)
    assert [o.status for o in after.occurrences] == [
        SessionStatus.ENDED,
        *[SessionStatus.CANCELLED] * 3,
    ]
    page = text((await pages.http.get(path)).text)
    assert "Thay đổi" not in page.split("Điểm danh các buổi đã diễn ra")[1]  # no forms left


async def test_the_grid_gives_each_sites_verdict_at_each_occurrence_held(
    pages: Pages, clock: ManualClock
) -> None:
    series = await book_series(pages.container)
    first, third = series.occurrences[0].session_id, series.occurrences[2].session_id
    path = f"/office/series/{series.id}"
    assert "Chưa có buổi nào diễn ra." in text((await pages.http.get(path)).text)
    clock.set(datetime(2027, 1, 29, tzinfo=UTC))  # three occurrences held (14 to 28 January)
    await pages.sign_in_again()
    attendance = pages.container.attendance
    for session_id, verdict in ((first, "present"), (third, "absent")):
        await attendance.override(
            session_id, "da-nang", OverrideRequest(verdict=verdict, reason="Gọi điện"), OFFICE
        )
    html = (await pages.http.get(path)).text
    grid = html.split('class="verdicts"')[1].split("</table>")[0]
    rows = {
        text(row.split("</th>")[0]).strip(): text(row)
        for row in grid.split("<tr>")[2:]  # the header's row first
    }
    assert set(rows) == {"Bộ GD&ĐT (Hà Nội)", "Sở GD&ĐT Đà Nẵng", "Sở GD&ĐT Cần Thơ"}
    # the chair's verdicts where given, else what was measured (nobody connected: absent)
    assert rows["Sở GD&ĐT Đà Nẵng"].split()[-5:] == ["Có", "mặt", "Vắng", "Vắng", "1/3"]
    assert rows["Sở GD&ĐT Cần Thơ"].split()[-4:] == ["Vắng", "Vắng", "Vắng", "0/3"]
    assert "T5 14/01/2027 T5 21/01/2027 T5 28/01/2027 Có mặt" in text(grid)


async def test_the_series_page_in_english_and_only_for_the_office(
    pages: Pages, container: Container
) -> None:
    series = await book_series(pages.container)
    pages.http.cookies.set("orch_lang", "en")
    said = text((await pages.http.get(f"/office/series/{series.id}")).text)
    assert "Weekly on Thursday, 5 occurrences" in said
    assert "Public holiday:" in said
    assert "Cancel every occurrence to come (4)" in said
    coordinator = Principal(role=Role.COORDINATOR, token_id="c", site_id="da-nang")
    async for p in _pages_for(container, coordinator):
        assert (await p.http.get(f"/office/series/{series.id}")).status_code == 403
    missing = await pages.http.get("/office/series/no-such-series")
    assert missing.status_code == 404


async def test_an_occurrences_own_page_names_its_series(pages: Pages) -> None:
    series = await book_series(pages.container)
    second = series.occurrences[1].session_id
    html = (await pages.http.get(f"/office/sessions/{second}")).text
    assert f'<a href="/office/series/{series.id}">Giao ban tuần</a>' in html
    assert "Buổi theo lịch gốc: T5 21/01/2027 08:00." in text(html)
    alone = await pages.container.bookings.book(
        BookSessionRequest(
            title="Một phiên",
            start=datetime(2027, 1, 15, 1, 0, tzinfo=UTC),
            end=datetime(2027, 1, 15, 2, 0, tzinfo=UTC),
            host_site="da-nang",
            chair=CHAIR,
        ),
        OFFICE,
    )
    assert (
        "Thuộc chuỗi phiên họp"
        not in (await pages.http.get(f"/office/sessions/{alone.value.id}")).text
    )


async def test_the_timeline_marks_the_occurrences_of_a_series(pages: Pages) -> None:
    await hold_can_tho(pages.container, "2027-01-21")
    series = await book_series(pages.container)
    html = (await pages.http.get("/office", params={"date": "2027-01-18", "view": "month"})).text
    marked = re.findall(r'<a class="block[^"]*series[^"]*" href="/office/sessions/([^"]+)"', html)
    january = [o.session_id for o in series.occurrences if o.start.month == 1]
    assert len(january) == 2  # 14 and 28 January: 21 January was taken
    assert sorted(marked) == sorted(january)
    single = re.findall(r'<a class="block" href="[^"]+" title="([^"]+)"', html)
    assert [t for t in single if "Họp Sở Cần Thơ" in t]  # the session alone is not marked
    assert "buổi của chuỗi phiên họp lặp lại" in html
    assert "Buổi của một chuỗi phiên họp lặp lại" in text(html)  # the legend
