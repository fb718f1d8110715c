"""The coordinator's pages over HTTP on real SQLite and PostgreSQL: the site's sessions, the
invite and join link, answers, check-in windows, document uploads with their errors, the feed,
and a site kept out of other sites' sessions."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from orchestrator.bootstrap import Container
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Principal, Role
from orchestrator.settings import PreparationSettings, Settings
from tests.builders import book, book_regional, client, sign_in
from tests.conftest import OFFICE

MAX_UPLOAD = 4096
REGIONAL_START = datetime(2027, 1, 12, 1, 0, tzinfo=UTC)  # Tuesday 12 January 2027, 08:00
NATIONAL_START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 10 December 2026, 08:00


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Small uploads, so that "too large" is cheap to reach."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        preparation=PreparationSettings(max_upload_bytes=MAX_UPLOAD),
    )


@dataclass
class Site:
    http: httpx.AsyncClient
    container: Container
    regional: str  # Hà Nội only (its region's meeting)
    national: str  # all six sites
    csrf: dict[str, str]

    cookies: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Cookie": f"orch_session={self.cookies[who]}"}

    async def sign_in_again(self) -> None:
        """Fresh cookies after the clock moved past the old ones' lifetime."""
        self.cookies, self.csrf = await _cookies(self.container)


PRINCIPALS = {
    "ha-noi": Principal(role=Role.COORDINATOR, token_id="t-hn", site_id="ha-noi"),
    "da-nang": Principal(role=Role.COORDINATOR, token_id="t-dn", site_id="da-nang"),
    "chair": Principal(role=Role.CHAIR, token_id="t-c", email="chair@moet.example.org"),
}


async def _cookies(container: Container) -> tuple[dict[str, str], dict[str, str]]:
    cookies, csrf = {}, {}
    for who, principal in PRINCIPALS.items():
        signed = await sign_in(container, principal)
        cookies[who], csrf[who] = signed.cookie, signed.csrf
    return cookies, csrf


@pytest.fixture
async def site(container: Container) -> AsyncIterator[Site]:
    regional = await book_regional(
        container, title="Giao ban vùng Đồng bằng sông Hồng", start=REGIONAL_START
    )
    national = await book(
        container,
        title="Hội nghị công tác văn phòng",
        start=NATIONAL_START,
        end=NATIONAL_START + timedelta(hours=3),
    )
    cookies, csrf = await _cookies(container)
    async with client(container, timeout=30) as http:
        yield Site(http, container, regional.id, national.id, csrf, cookies)


async def test_the_site_list_shows_only_the_sites_sessions(site: Site) -> None:
    r = await site.http.get("/site", headers=site.as_("ha-noi"))
    assert r.status_code == 200
    assert "Giao ban vùng Đồng bằng sông Hồng" in r.text
    assert "Hội nghị công tác văn phòng" in r.text
    assert "Chưa trả lời" in r.text  # neither invite answered yet
    r = await site.http.get("/site", headers=site.as_("da-nang"))
    assert "Hội nghị công tác văn phòng" in r.text
    assert "Giao ban vùng" not in r.text


async def test_another_sites_session_is_not_found_and_shows_no_data(site: Site) -> None:
    r = await site.http.get(f"/site/sessions/{site.regional}", headers=site.as_("da-nang"))
    assert r.status_code == 404
    assert "Giao ban vùng" not in r.text
    assert "không tham gia" in r.text
    r = await site.http.post(
        f"/site/sessions/{site.regional}/rsvp",
        data={"csrf": site.csrf["da-nang"], "response": "accepted"},
        headers=site.as_("da-nang"),
    )
    assert r.status_code == 404
    status = await site.container.invites.status(site.regional, OFFICE)
    assert {s.site_id: s.rsvp for s in status.sites}["ha-noi"] == "needs-action"
    # nor may another site fetch ha-noi's invite through the API with its cookie
    r = await site.http.get(
        f"/api/sessions/{site.national}/sites/ha-noi/invite.ics", headers=site.as_("da-nang")
    )
    assert r.status_code == 403


async def test_only_coordinators_and_only_signed_in(site: Site) -> None:
    r = await site.http.get("/site", headers=site.as_("chair"))
    assert r.status_code == 403
    r = await site.http.get(f"/site/sessions/{site.national}")
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/signin?next=")


async def test_the_session_page_shows_only_the_sites_own_link(site: Site) -> None:
    r = await site.http.get(f"/site/sessions/{site.national}", headers=site.as_("da-nang"))
    assert r.status_code == 200
    booked = await site.container.bookings.get(site.national, OFFICE)
    links = {s.site_id: s.join_url for s in booked.sites}
    assert links["da-nang"]
    assert links["da-nang"] in r.text.replace("&amp;", "&")
    assert links["ha-noi"]
    assert links["ha-noi"] not in r.text.replace("&amp;", "&")
    assert f"/api/sessions/{site.national}/sites/da-nang/invite.ics" in r.text
    ics = await site.http.get(
        f"/api/sessions/{site.national}/sites/da-nang/invite.ics", headers=site.as_("da-nang")
    )
    assert ics.status_code == 200
    assert b"BEGIN:VCALENDAR" in ics.content
    assert "Chưa đến giờ điểm danh" in r.text  # the reason the check-in button is off
    assert "Điểm cầu không phải nộp tài liệu" in r.text  # national sessions owe nothing


async def test_accept_and_decline_with_a_comment(site: Site) -> None:
    url = f"/site/sessions/{site.national}/rsvp"
    r = await site.http.post(
        url,
        data={"csrf": site.csrf["ha-noi"], "response": "accepted", "comment": "Phòng họp A"},
        headers=site.as_("ha-noi"),
    )
    assert r.status_code == 303
    status = await site.container.invites.status(site.national, OFFICE)
    mine = next(s for s in status.sites if s.site_id == "ha-noi")
    assert (mine.rsvp, mine.rsvp_comment) == ("accepted", "Phòng họp A")
    page = await site.http.get(r.headers["Location"], headers=site.as_("ha-noi"))
    assert "Đã ghi nhận: điểm cầu tham dự." in page.text
    assert re.search(r'id="rsvp-state">Tham dự<', page.text)

    too_long = "x" * 2001
    r = await site.http.post(
        url,
        data={"csrf": site.csrf["ha-noi"], "response": "declined", "comment": too_long},
        headers=site.as_("ha-noi"),
    )
    assert r.status_code == 422
    assert "Ghi chú dài quá" in r.text
    assert too_long in r.text  # what was typed is kept
    r = await site.http.post(
        url, data={"csrf": site.csrf["ha-noi"], "response": "maybe"}, headers=site.as_("ha-noi")
    )
    assert r.status_code == 422
    assert "Hãy chọn" in r.text
    status = await site.container.invites.status(site.national, OFFICE)
    assert next(s for s in status.sites if s.site_id == "ha-noi").rsvp == "accepted"


async def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    r = await site.http.post(
        f"/site/sessions/{site.national}/rsvp",
        data={"response": "accepted"},
        headers=site.as_("ha-noi"),
    )
    assert r.status_code == 403
    status = await site.container.invites.status(site.national, OFFICE)
    assert next(s for s in status.sites if s.site_id == "ha-noi").rsvp == "needs-action"


async def test_check_in_only_within_its_window(site: Site, clock: ManualClock) -> None:
    url = f"/site/sessions/{site.national}/checkin"
    form = {"csrf": site.csrf["ha-noi"], "headcount": "14", "names": "Nguyễn Văn A\nTrần Thị B"}
    r = await site.http.post(url, data=form, headers=site.as_("ha-noi"))
    assert r.status_code == 409
    assert "Chưa đến giờ điểm danh" in r.text
    assert "Trần Thị B" in r.text  # kept

    clock.set(NATIONAL_START - timedelta(minutes=10))  # during the connection test
    await site.sign_in_again()
    form["csrf"] = site.csrf["ha-noi"]
    r = await site.http.post(
        url, data={**form, "headcount": "mười bốn"}, headers=site.as_("ha-noi")
    )
    assert r.status_code == 422
    assert "số nguyên" in r.text
    assert "mười bốn" in r.text
    assert "Nguyễn Văn A" in r.text
    r = await site.http.post(url, data=form, headers=site.as_("ha-noi"))
    assert r.status_code == 303
    record = await site.container.attendance.record(site.national, OFFICE)
    row = next(s for s in record.sites if s.site_id == "ha-noi")
    assert (row.headcount, row.names) == (14, ["Nguyễn Văn A", "Trần Thị B"])
    page = await site.http.get(r.headers["Location"], headers=site.as_("ha-noi"))
    assert "Đã điểm danh: 14 người." in page.text

    clock.set(NATIONAL_START + timedelta(hours=3))  # the end: closed
    await site.sign_in_again()
    form["csrf"] = site.csrf["ha-noi"]
    r = await site.http.post(url, data=form, headers=site.as_("ha-noi"))
    assert r.status_code == 409
    assert "Đã hết giờ điểm danh" in r.text


async def test_uploads_per_task_with_errors_in_words(site: Site) -> None:
    page = await site.http.get(f"/site/sessions/{site.regional}", headers=site.as_("ha-noi"))
    assert "Báo cáo chuyên đề" in page.text
    assert "Kế hoạch giao ban" in page.text
    assert "Hạn nộp:" in page.text
    url = f"/site/sessions/{site.regional}/tasks/topic_report:ha-noi/upload"

    async def send(name: str, data: bytes) -> httpx.Response:
        return await site.http.post(
            url,
            data={"csrf": site.csrf["ha-noi"]},
            files={"file": (name, data, "application/octet-stream")},
            headers=site.as_("ha-noi"),
        )

    r = await send("virus.exe", b"MZ")
    assert r.status_code == 422
    assert "Không nhận tệp virus.exe" in r.text
    r = await send("trong.pdf", b"")
    assert r.status_code == 422
    assert "trống" in r.text
    r = await send("lon.pdf", b"%" * (MAX_UPLOAD + 1))
    assert r.status_code == 422
    assert "Tệp lớn quá: tối đa 4 KB" in r.text
    board = await site.container.preparation.board(site.regional, OFFICE)
    assert all(t.submitted_at is None for t in board.tasks)

    r = await send("bao-cao.pdf", b"%PDF-1.7 report")
    assert r.status_code == 303
    board = await site.container.preparation.board(site.regional, OFFICE)
    done = next(t for t in board.tasks if t.id == "topic_report:ha-noi")
    assert (done.filename, done.size) == ("bao-cao.pdf", len(b"%PDF-1.7 report"))
    page = await site.http.get(r.headers["Location"], headers=site.as_("ha-noi"))
    assert "Đã nhận tài liệu." in page.text
    assert "Đã nộp bao-cao.pdf" in page.text


async def test_another_sites_task_cannot_be_uploaded(site: Site) -> None:
    r = await site.http.post(
        f"/site/sessions/{site.national}/tasks/topic_report:ha-noi/upload",
        data={"csrf": site.csrf["da-nang"]},
        files={"file": ("a.pdf", b"%PDF", "application/pdf")},
        headers=site.as_("da-nang"),
    )
    assert r.status_code == 404


async def test_the_calendar_feed_url_is_shown_once_and_works(site: Site) -> None:
    r = await site.http.post(
        "/site/feed", data={"csrf": site.csrf["ha-noi"]}, headers=site.as_("ha-noi")
    )
    assert r.status_code == 200
    found = re.search(r'value="([^"]*/api/sites/ha-noi/calendar\.ics\?token=[^"]+)"', r.text)
    assert found, r.text
    path = "/api/" + found.group(1).split("/api/", 1)[1]
    feed = await site.http.get(path)
    assert feed.status_code == 200
    assert "Giao ban vùng Đồng bằng sông Hồng" in feed.content.decode()
    again = await site.http.get("/site", headers=site.as_("ha-noi"))
    assert "calendar.ics?token=" not in again.text


async def test_english_pages(site: Site) -> None:
    headers = {"Cookie": f"orch_session={site.cookies['ha-noi']}; orch_lang=en"}
    r = await site.http.get(f"/site/sessions/{site.national}", headers=headers)
    assert "Answer the invitation" in r.text
    assert "It is too early to check in" in r.text
    assert "Thu 2026-12-10 08:00" in r.text


async def test_hostile_upload_forms_are_refused_in_words(site: Site) -> None:
    url = f"/site/sessions/{site.regional}/tasks/topic_report:ha-noi/upload"
    csrf = site.csrf["ha-noi"].encode()

    async def raw(content_type: str, body: bytes) -> httpx.Response:
        headers: dict[str, str | bytes] = {**site.as_("ha-noi"), "Content-Type": content_type}
        return await site.http.post(url, content=body, headers=headers)

    # a form nobody can read: no boundary, only boundary lines, undecodable urlencoded bytes
    for content_type, body in [
        ("multipart/form-data", b"--b\r\n--b--\r\n"),
        ("multipart/form-data; boundary=b", b"--b\r\n\r\n--b\r\n--b--\r\n"),
        ("application/x-www-form-urlencoded", b"csrf=" + csrf + b"&x=\xff"),
    ]:
        r = await raw(content_type, body)
        assert r.status_code == 400, (content_type, r.text)
        assert "Không đọc được biểu mẫu" in r.text
    # a CSRF token of bytes no one could have been given
    r = await raw("application/x-www-form-urlencoded", b"csrf=%C3%A9%FF")
    assert r.status_code == 403, r.text
    # a file name that no database can store, told in words (and shown without the NUL)
    part = (
        b"--b\r\nContent-Disposition: form-data; name=csrf\r\n\r\n" + csrf + b"\r\n"
        b"--b\r\nContent-Disposition: form-data; name=file; filename*=utf-8''bao%00cao.pdf\r\n"
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.7 report\r\n--b--\r\n"
    )
    r = await raw("multipart/form-data; boundary=b", part)
    assert r.status_code == 422, r.text
    assert "Tên tệp baocao.pdf có ký tự không lưu được" in r.text
    board = await site.container.preparation.board(site.regional, OFFICE)
    assert all(t.submitted_at is None for t in board.tasks)
