"""The office's session page over real SQLite and PostgreSQL: what it shows and its four forms.

Invites go through a real SMTP server on 127.0.0.1 so that sent and failed states are real.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

from orchestrator.booking.schemas import BookingOut
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Principal, Role, SessionStatus
from orchestrator.invites.service import RsvpRequest
from orchestrator.settings import Settings
from orchestrator.web.pages.common import format_when
from tests.builders import base_url, book_national, deliver, serving, sign_in, with_smtp
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE, SIX
from tests.smtp_server import SmtpTestServer

DA_NANG_MAIL = "dau-moi@sgddt-da-nang.example.org"
TITLE = "Hội nghị trực tuyến công tác văn phòng"


@dataclass
class Browser:
    """An office (or other) browser: its cookie and its forms' CSRF token."""

    http: httpx.AsyncClient
    container: Container
    csrf: str

    async def page(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def post(self, path: str, data: dict[str, Any], csrf: bool = True) -> httpx.Response:
        body = {**data, **({"csrf": self.csrf} if csrf else {})}
        return await self.http.post(path, data=body)

    async def book(self, **over: Any) -> BookingOut:
        return await book_national(self.container, **{"title": TITLE, **over})


@pytest.fixture
async def service(
    settings: Settings, clock: ManualClock, smtp_server: SmtpTestServer
) -> AsyncIterator[Container]:
    c = build(with_smtp(settings, smtp_server, sender="vanphong@moet.example.org"), clock=clock)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    yield c
    await c.close()


class Browsers:
    """Opens browsers of any role on one server over the service; closes them all."""

    def __init__(self, c: Container, server: TestServer) -> None:
        self.container = c
        self.server = server
        self.opened: list[httpx.AsyncClient] = []

    async def open(self, principal: Principal, **cookies: str) -> Browser:
        signed = await sign_in(self.container, principal)
        jar = {"orch_session": signed.cookie, **cookies}
        http = httpx.AsyncClient(
            base_url=base_url(self.server),
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())},
            timeout=30,
        )
        self.opened.append(http)
        return Browser(http, self.container, signed.csrf)


@pytest.fixture
async def browsers(service: Container) -> AsyncIterator[Browsers]:
    async with serving(service) as server:
        out = Browsers(service, server)
        yield out
        for http in out.opened:
            await http.aclose()


@pytest.fixture
async def office(browsers: Browsers) -> Browser:
    return await browsers.open(OFFICE)


def text_of(r: httpx.Response) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces squeezed."""
    body = re.sub(r"<script.*?</script>", " ", r.text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


async def test_page_shows_times_sites_invites_answers_links_and_board(
    office: Browser, smtp_server: SmtpTestServer
) -> None:
    s = await office.book()
    smtp_server.behaviour.refuse_recipients[DA_NANG_MAIL] = "550 5.1.1 No such user here"
    await deliver(office.container)
    can_tho = Principal(role=Role.COORDINATOR, token_id="t", site_id="can-tho")
    await office.container.invites.rsvp(
        s.id, "can-tho", RsvpRequest(response="declined", comment="Trùng lịch họp tỉnh"), can_tho
    )
    r = await office.page(f"/office/sessions/{s.id}")
    assert r.status_code == 200, r.text
    page = text_of(r)
    assert "<h1>Hội nghị trực tuyến công tác văn phòng</h1>" in r.text
    assert "T5 10/12/2026, 08:00–11:30" in page
    assert "Asia/Ho_Chi_Minh (UTC+07:00)" in page
    assert "Toàn quốc" in page
    assert "Đã lên lịch" in page
    assert "Chánh Văn phòng Bộ" in page
    assert "Lãnh đạo Bộ GD&ĐT" in page
    rows = re.findall(r'<tr data-site="([a-z-]+)">(.*?)</tr>', r.text, flags=re.S)
    assert [site for site, _ in rows] == SIX
    states = {site: re.findall(r'class="badge (sent|queued|failed)"', row)[0] for site, row in rows}
    assert states == {site: "failed" if site == "da-nang" else "sent" for site in SIX}
    da_nang = dict(rows)["da-nang"]
    assert "550" in da_nang
    assert "No such user here" in html.unescape(da_nang)
    can_tho_row = html.unescape(dict(rows)["can-tho"])
    assert "Từ chối" in can_tho_row
    assert "Trùng lịch họp tỉnh" in can_tho_row
    assert "Chưa trả lời" in dict(rows)["ha-noi"]
    for site in s.sites:  # the office sees every site's own link
        assert site.join_url
        assert f'value="{html.escape(site.join_url)}"' in r.text
    board = await office.container.preparation.board(s.id, OFFICE)
    assert len(re.findall(r"<tr>\s*<td>", r.text)) == len(board.tasks)
    for path in ("attendance.json", "attendance.csv", "attendance.xlsx"):
        assert f'href="/api/sessions/{s.id}/{path}"' in r.text
    assert f'href="/chair/sessions/{s.id}"' in r.text
    csv = await office.page(f"/api/sessions/{s.id}/attendance.csv")  # the cookie opens exports
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")


async def test_a_policy_refusal_in_english_gives_the_rule_s_details(browsers: Browsers) -> None:
    b = await browsers.open(OFFICE, orch_lang="en")
    s = await b.book()
    saturday = {"date": "2026-12-12", "start": "08:00", "end": "10:00"}
    r = await b.post(f"/office/sessions/{s.id}/reschedule", saturday)
    assert r.status_code == 422
    assert "Saturday 2026-12-12 is not a working day in Asia/Ho_Chi_Minh" in text_of(r)


async def test_times_follow_the_viewer_zone_and_language(browsers: Browsers) -> None:
    b = await browsers.open(OFFICE, orch_tz="Asia/Tokyo", orch_lang="en")
    s = await b.book()
    r = await b.page(f"/office/sessions/{s.id}")
    page = text_of(r)
    assert "Thu 2026-12-10, 10:00–13:30" in page
    assert "Asia/Tokyo (UTC+09:00)" in page
    assert "Queued" in page
    assert "Reschedule" in page
    assert "No answer yet" in page
    assert 'name="start" type="time" value="10:00"' in r.text  # the form is in Tokyo time


async def test_unknown_session_wrong_role_and_no_cookie(
    office: Browser, browsers: Browsers
) -> None:
    s = await office.book()
    r = await office.page("/office/sessions/no-such-session")
    assert r.status_code == 404
    assert "Không tìm thấy" in r.text
    coordinator = Principal(role=Role.COORDINATOR, token_id="c", site_id="da-nang")
    other = await browsers.open(coordinator)
    r = await other.page(f"/office/sessions/{s.id}")
    assert r.status_code == 403
    r = await other.post(f"/office/sessions/{s.id}/cancel", {"confirm": "yes"})
    assert r.status_code == 403
    async with httpx.AsyncClient(base_url=str(office.http.base_url)) as anonymous:
        r = await anonymous.get(f"/office/sessions/{s.id}")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/signin?next=/office/sessions/")
    assert (await office.container.bookings.session(s.id)).status is SessionStatus.SCHEDULED


async def test_forms_without_csrf_change_nothing(office: Browser) -> None:
    s = await office.book()
    for path, data in (
        ("reschedule", {"date": "2026-12-11", "start": "08:00", "end": "11:00"}),
        ("sites/remove", {"site": "da-nang"}),
        ("cancel", {"confirm": "yes"}),
    ):
        r = await office.post(f"/office/sessions/{s.id}/{path}", data, csrf=False)
        assert r.status_code == 403, path
        r = await office.http.post(
            f"/office/sessions/{s.id}/{path}", data={**data, "csrf": "forged"}
        )
        assert r.status_code == 403, path
    after = await office.container.bookings.session(s.id)
    assert after.version == 1
    assert after.status is SessionStatus.SCHEDULED
    assert after.start == s.start
    assert len(after.sites) == 6


async def test_reschedule_moves_the_session(office: Browser) -> None:
    s = await office.book()
    r = await office.post(
        f"/office/sessions/{s.id}/reschedule",
        {"date": "2026-12-11", "start": "13:30", "end": "16:00", "override_reason": ""},
    )
    assert r.status_code == 303, text_of(r)
    assert r.headers["location"] == f"/office/sessions/{s.id}?done=rescheduled"
    after = await office.container.bookings.get(s.id, OFFICE)
    assert after.start.isoformat() == "2026-12-11T13:30:00+07:00"
    assert after.end.isoformat() == "2026-12-11T16:00:00+07:00"
    page = text_of(await office.page(r.headers["location"]))
    assert "Đã đổi thời gian" in page
    assert "T6 11/12/2026, 13:30–16:00" in page
    back = await office.page(f"/office/sessions/{s.id}/reschedule")  # a reload of the form
    assert back.status_code == 303


async def test_conflicts_are_named_in_words_and_typed_values_kept(office: Browser) -> None:
    s = await office.book()
    other = await office.book(
        title="Giao ban Đà Nẵng",
        start="2026-12-11T08:00:00+07:00",
        end="2026-12-11T10:00:00+07:00",
        host_site="da-nang",
        sites=["da-nang"],
        leader_groups=[],
        chair={"name": "Giám đốc Sở", "email": "gd@sgddt-da-nang.example.org"},
    )
    r = await office.post(
        f"/office/sessions/{s.id}/reschedule",
        {"date": "2026-12-11", "start": "09:00", "end": "11:00"},
    )
    assert r.status_code == 409
    page = text_of(r)
    assert "trùng với phiên họp khác" in page
    assert "Điểm cầu Sở GD&ĐT Đà Nẵng" in page
    assert "Giao ban Đà Nẵng" in page
    assert f'href="/office/sessions/{other.id}"' in r.text
    assert 'value="2026-12-11"' in r.text
    assert 'value="09:00"' in r.text
    assert 'role="alert"' in r.text
    after = await office.container.bookings.session(s.id)
    assert after.start == s.start
    assert after.version == 1


async def test_policy_refusal_in_words_then_override_with_a_reason(office: Browser) -> None:
    s = await office.book()
    saturday = {"date": "2026-12-12", "start": "08:00", "end": "10:00"}
    r = await office.post(f"/office/sessions/{s.id}/reschedule", saturday)
    assert r.status_code == 422
    page = text_of(r)
    assert "trái quy định đặt lịch" in page
    assert "Rơi vào ngày nghỉ cuối tuần" in page
    assert "Sở GD&ĐT Cần Thơ" in page  # the breach names the sites it concerns
    assert "is not a working day" not in page  # the policy's own English stays out of it
    assert 'value="2026-12-12"' in r.text
    assert (await office.container.bookings.session(s.id)).version == 1
    r = await office.post(
        f"/office/sessions/{s.id}/reschedule",
        {**saturday, "override_reason": "Họp khẩn theo chỉ đạo của Bộ trưởng"},
    )
    assert r.status_code == 303
    after = await office.container.bookings.get(s.id, OFFICE)
    assert after.start.isoformat() == "2026-12-12T08:00:00+07:00"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"date": "2026-12-11", "start": "11:00", "end": "09:00"}, "phải sau giờ bắt đầu"),
        ({"date": "11/12/2026x", "start": "08:00", "end": "09:00"}, "Ngày không hợp lệ"),
        ({"date": "2026-12-11", "start": "8h", "end": "09:00"}, "Giờ không hợp lệ"),
        ({}, "Ngày không hợp lệ"),
        ({"date": "9999-12-31", "start": "23:00", "end": "23:59"}, "Ngày không hợp lệ"),
    ],
)
async def test_bad_times_are_refused_in_words(
    office: Browser, data: dict[str, str], words: str
) -> None:
    s = await office.book()
    r = await office.post(f"/office/sessions/{s.id}/reschedule", data)
    assert r.status_code == 422
    assert words in text_of(r)
    assert 'aria-invalid="true"' in r.text
    for value in data.values():
        assert f'value="{html.escape(value)}"' in r.text
    assert (await office.container.bookings.session(s.id)).version == 1


async def test_add_and_remove_sites(office: Browser) -> None:
    s = await office.book(sites=["ha-noi", "da-nang", "can-tho"])
    r = await office.post(
        f"/office/sessions/{s.id}/sites/add", {"site": ["nghe-an", "thai-nguyen"]}
    )
    assert r.status_code == 303
    assert r.headers["location"].endswith("?done=sites_added")
    ids = (await office.container.bookings.session(s.id)).site_ids
    assert set(ids) == {"ha-noi", "da-nang", "can-tho", "nghe-an", "thai-nguyen"}
    await deliver(office.container)
    r = await office.post(f"/office/sessions/{s.id}/sites/remove", {"site": "da-nang"})
    assert r.status_code == 303
    await deliver(office.container)
    assert "da-nang" not in (await office.container.bookings.session(s.id)).site_ids
    page = await office.page(f"/office/sessions/{s.id}?done=sites_removed")
    assert "Đã rút điểm cầu" in text_of(page)
    assert '<li data-site="da-nang">' in page.text  # shown among the removed, with its CANCEL

    r = await office.post(f"/office/sessions/{s.id}/sites/remove", {"site": "ha-noi"})
    assert r.status_code == 422
    assert "Không thể rút điểm cầu chính" in text_of(r)
    r = await office.post(f"/office/sessions/{s.id}/sites/add", {"override_reason": "x"})
    assert r.status_code == 422
    assert "Hãy chọn ít nhất một điểm cầu" in text_of(r)
    assert 'value="x"' in r.text
    for odd in ("Not A Slug", "no-such-site"):  # a tampered form is refused in words
        r = await office.post(f"/office/sessions/{s.id}/sites/add", {"site": odd})
        assert r.status_code == 422
        assert "yêu cầu không hợp lệ" in text_of(r)
    r = await office.post(f"/office/sessions/{s.id}/sites/remove", {"site": "tp-ho-chi-minh"})
    assert r.status_code == 422
    assert "không hợp lệ" in text_of(r)
    assert "tp-ho-chi-minh" in text_of(r)


async def test_adding_a_busy_site_names_the_conflict(office: Browser) -> None:
    s = await office.book(sites=["ha-noi", "da-nang"], leader_groups=[])
    await office.book(
        title="Họp Sở Nghệ An",
        host_site="nghe-an",
        sites=["nghe-an"],
        leader_groups=[],
        chair={"name": "Giám đốc Sở", "email": "gd@sgddt-nghe-an.example.org"},
    )
    r = await office.post(f"/office/sessions/{s.id}/sites/add", {"site": "nghe-an"})
    assert r.status_code == 409
    page = text_of(r)
    assert "Điểm cầu Sở GD&ĐT Nghệ An" in page
    assert "Họp Sở Nghệ An" in page
    assert re.search(r'value="nghe-an"\s+checked', r.text)
    assert "nghe-an" not in (await office.container.bookings.session(s.id)).site_ids


async def test_cancel_needs_the_confirmation_box(office: Browser) -> None:
    s = await office.book()
    r = await office.post(f"/office/sessions/{s.id}/cancel", {"reason": "Hoãn họp"})
    assert r.status_code == 422
    assert "Hãy đánh dấu ô xác nhận" in text_of(r)
    assert 'value="Hoãn họp"' in r.text
    assert (await office.container.bookings.session(s.id)).status is SessionStatus.SCHEDULED
    r = await office.post(
        f"/office/sessions/{s.id}/cancel", {"reason": "Hoãn họp", "confirm": "yes"}
    )
    assert r.status_code == 303
    assert (await office.container.bookings.session(s.id)).status is SessionStatus.CANCELLED
    page = await office.page(r.headers["location"])
    assert "Đã hủy phiên họp" in text_of(page)
    assert "/reschedule" not in page.text  # no change forms on a cancelled session
    r = await office.post(
        f"/office/sessions/{s.id}/reschedule",
        {"date": "2026-12-11", "start": "08:00", "end": "09:00"},
    )
    assert r.status_code == 409
    assert "đã kết thúc hoặc đã bị hủy" in text_of(r)


async def test_preparation_board_of_a_regional_meeting(office: Browser) -> None:
    s = await office.book(
        title="Giao ban vùng Bắc Trung Bộ và Duyên hải miền Trung",
        kind="regional",
        region="bac-trung-bo-duyen-hai-mien-trung",
        host_site="da-nang",
        sites=[],
        leader_groups=[],
        chair={"name": "Lê Thị Thu Hà", "email": "truong-vung@sgddt-da-nang.example.org"},
    )
    board = await office.container.preparation.board(s.id, OFFICE)
    assert board.tasks, "a regional meeting owes documents"
    task = board.tasks[0]
    owner = Principal(role=Role.COORDINATOR, token_id="c", site_id=task.site_id)
    await office.container.preparation.submit(
        s.id, task.id, "ke-hoach.pdf", "application/pdf", b"%PDF-1.4 plan", owner
    )
    r = await office.page(f"/office/sessions/{s.id}")
    assert r.status_code == 200
    table = re.search(r'<table class="board">(.*?)</table>', r.text, re.S)
    assert table
    cells = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", table.group(1))
    assert len(cells) == len(board.tasks)
    assert [html.unescape(c[0]) for c in cells] == [t.title_vi for t in board.tasks]
    names = {x.id: x.name for x in (await office.container.directory.view(OFFICE)).sites}
    assert [html.unescape(c[1]) for c in cells] == [names[t.site_id] for t in board.tasks]
    zone = "Asia/Ho_Chi_Minh"
    assert [c[2].split("<br>")[0] for c in cells] == [
        format_when(t.due, "vi", zone) for t in board.tasks
    ]
    # each due date says which rule it comes from
    assert all('class="hint due-why">Theo quy định' in c[2] for c in cells), cells
    page = text_of(r)
    assert "Đã nộp" in page
    assert "ke-hoach.pdf" in page
    assert f"{len(board.tasks) - 1} chưa nộp" in page
