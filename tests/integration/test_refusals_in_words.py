"""Refusals that used to exist only as English text, said in the page's language from their
reason and values: the booking form, the session's changes, the directory file's policy checks,
the API's detail by Accept-Language (English and unchanged without it); and every refusal of the
coordinator's check-in and upload forms, in Vietnamese and in English. SQLite and PostgreSQL."""

from __future__ import annotations

import html
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
from orchestrator.web.pages.common import LANG_COOKIE, SESSION_COOKIE, Catalog
from tests.builders import bearer, book, book_regional, client, issue_tokens, sign_in
from tests.conftest import OFFICE

MAX_UPLOAD = 4096
NATIONAL_START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 10 December 2026, 08:00
REGIONAL_START = datetime(2027, 1, 12, 1, 0, tzinfo=UTC)
CATALOG = Catalog.load()
HA_NOI = Principal(role=Role.COORDINATOR, token_id="t-hn", site_id="ha-noi")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        preparation=PreparationSettings(max_upload_bytes=MAX_UPLOAD),
    )


def said(r: httpx.Response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.text)))


@dataclass
class Pages:
    http: httpx.AsyncClient
    container: Container
    national: str
    regional: str

    async def as_(self, principal: Principal, lang: str) -> tuple[dict[str, str], str]:
        signed = await sign_in(self.container, principal)
        cookie = f"{SESSION_COOKIE}={signed.cookie}; {LANG_COOKIE}={lang}"
        return {"Cookie": cookie}, signed.csrf


@pytest.fixture
async def pages(container: Container) -> AsyncIterator[Pages]:
    national = await book(
        container,
        title="Hội nghị công tác văn phòng",
        start=NATIONAL_START,
        end=NATIONAL_START + timedelta(hours=3),
    )
    regional = await book_regional(container, title="Giao ban vùng", start=REGIONAL_START)
    async with client(container, timeout=30) as http:
        yield Pages(http, container, national.id, regional.id)


BOOKING = {
    "title": "Giao ban",
    "kind": "national",
    "date": "2026-12-17",
    "start_time": "08:00",
    "end_time": "10:00",
    "timezone": "Asia/Ho_Chi_Minh",
    "host_site": "ha-noi",
    "sites": ["ha-noi", "khong-co"],
    "chair_name": "Chánh Văn phòng",
    "chair_email": "chair@moet.example.org",
    "provider": "static",
    "buffer_before": "30",
    "buffer_after": "15",
    "conflict_policy": "all_or_nothing",
}


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("vi", "Không có điểm cầu mang mã: khong-co."), ("en", "Unknown site(s): khong-co.")],
)
async def test_an_unknown_site_on_the_booking_form(pages: Pages, lang: str, expected: str) -> None:
    headers, csrf = await pages.as_(OFFICE, lang)
    r = await pages.http.post("/office/book", data={**BOOKING, "csrf": csrf}, headers=headers)
    assert r.status_code == 422
    assert expected in said(r)
    assert "unknown site(s)" not in said(r)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "Không phải điểm cầu của phiên họp này: khong-co."),
        ("en", "Not sites of this session: khong-co."),
    ],
)
async def test_removing_a_site_the_session_lacks(pages: Pages, lang: str, expected: str) -> None:
    headers, csrf = await pages.as_(OFFICE, lang)
    r = await pages.http.post(
        f"/office/sessions/{pages.national}/sites/remove",
        data={"csrf": csrf, "site": "khong-co"},
        headers=headers,
    )
    assert r.status_code == 422
    assert expected in said(r)
    assert "not sites of this session" not in said(r)


async def test_the_api_words_a_reason_by_accept_language_and_keeps_english_without(
    pages: Pages,
) -> None:
    tokens = await issue_tokens(pages.container)
    body = {"add_sites": ["khong-co"]}
    url = f"/api/sessions/{pages.national}"
    r = await pages.http.patch(url, json=body, headers=bearer(tokens.office))
    assert r.status_code == 422
    problem = r.json()
    assert (problem["code"], problem["field"]) == ("invalid_request", "add_sites")
    assert problem["detail"] == "unknown site(s): khong-co"
    vi = await pages.http.patch(
        url, json=body, headers={**bearer(tokens.office), "Accept-Language": "vi"}
    )
    assert vi.json()["detail"] == "Không có điểm cầu mang mã: khong-co."
    assert (vi.json()["code"], vi.json()["field"]) == ("invalid_request", "add_sites")

    both = {"add_sites": ["da-nang"], "remove_sites": ["da-nang"]}
    r = await pages.http.patch(
        url, json=both, headers={**bearer(tokens.office), "Accept-Language": "vi"}
    )
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["type"] == "value_error"
    assert error["message"] == "Điểm cầu vừa được thêm vừa bị bớt: da-nang."
    r = await pages.http.patch(url, json=both, headers=bearer(tokens.office))
    assert r.json()["errors"][0]["message"] == "sites both added and removed: da-nang"


POLICY = """[[regions]]
id = "tay-nguyen"
name = "Tây Nguyên"
head_site = "gia-lai"
[[sites]]
id = "gia-lai"
name = "Sở GD&ĐT Gia Lai"
[policies.regional]
working_days = ["mon", "mon"]
working_hours = ["25:00-26:00"]
"""


@pytest.mark.parametrize(
    ("lang", "expected", "english"),
    [
        (
            "vi",
            [
                "Điểm cầu «gia-lai» không thuộc vùng «tay-nguyen»",
                "Ngày «mon» bị liệt kê hai lần.",
                "Giờ phải nằm trong khoảng 00:00 đến 23:59 (đang là «25:00-26:00»).",
            ],
            ["is listed twice", "not a time of day", "is not in region"],
        ),
        (
            "en",
            [
                "site 'gia-lai' is not in region 'tay-nguyen' (it has no region)",
                "day 'mon' is listed twice",
                "not a time of day between 00:00 and 23:59 (got '25:00-26:00')",
            ],
            [],
        ),
    ],
)
async def test_the_directory_files_policy_checks_in_the_page_language(
    pages: Pages, lang: str, expected: list[str], english: list[str]
) -> None:
    headers, csrf = await pages.as_(OFFICE, lang)
    r = await pages.http.post(
        "/office/directory/import",
        data={"csrf": csrf},
        files={"file": ("vung.toml", POLICY.encode(), "application/toml")},
        headers=headers,
    )
    assert r.status_code == 422
    text = said(r)
    for words in expected:
        assert words in text
    for words in english:
        assert words not in text


# The coordinator's forms: every refusal, in both languages -------------------------------------


def _t(lang: str, key: str, **values: object) -> str:
    return CATALOG.text(lang, key, **values)


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_every_check_in_refusal_in_the_page_language(
    pages: Pages, clock: ManualClock, lang: str
) -> None:
    url = f"/site/sessions/{pages.national}/checkin"
    headers, csrf = await pages.as_(HA_NOI, lang)
    form = {"csrf": csrf, "headcount": "14", "names": "Nguyễn Văn A"}
    r = await pages.http.post(url, data=form, headers=headers)
    assert r.status_code == 409
    assert _t(lang, "site.checkin_early") in said(r)

    clock.set(NATIONAL_START - timedelta(minutes=10))
    headers, csrf = await pages.as_(HA_NOI, lang)
    form["csrf"] = csrf
    cases = {
        "site.headcount_bad": {"headcount": "mười bốn"},
        "site.names_many": {"names": "\n".join(f"Đại biểu {i}" for i in range(501))},
        "site.names_long": {"names": "A" * 201},
    }
    for key, typed in cases.items():
        r = await pages.http.post(url, data={**form, **typed}, headers=headers)
        assert r.status_code == 422
        expected = _t(lang, key, n=500 if key == "site.names_many" else 200)
        assert expected in said(r), key

    clock.set(NATIONAL_START + timedelta(hours=3))
    headers, csrf = await pages.as_(HA_NOI, lang)
    r = await pages.http.post(url, data={**form, "csrf": csrf}, headers=headers)
    assert r.status_code == 409
    assert _t(lang, "site.checkin_closed") in said(r)


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_cancelled_sessions_check_in_is_refused_in_the_page_language(
    pages: Pages, clock: ManualClock, lang: str
) -> None:
    clock.set(NATIONAL_START - timedelta(minutes=10))
    await pages.container.bookings.cancel(pages.national, OFFICE, "hoãn")
    headers, csrf = await pages.as_(HA_NOI, lang)
    r = await pages.http.post(
        f"/site/sessions/{pages.national}/checkin",
        data={"csrf": csrf, "headcount": "3"},
        headers=headers,
    )
    assert r.status_code == 409
    assert _t(lang, "site.checkin_cancelled") in said(r)


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_every_upload_refusal_in_the_page_language(pages: Pages, lang: str) -> None:
    url = f"/site/sessions/{pages.regional}/tasks/topic_report:ha-noi/upload"
    headers, csrf = await pages.as_(HA_NOI, lang)

    async def send(name: str, data: bytes) -> httpx.Response:
        return await pages.http.post(
            url,
            data={"csrf": csrf},
            files={"file": (name, data, "application/octet-stream")},
            headers=headers,
        )

    suffixes = ", ".join(sorted((".doc", ".docx", ".odt", ".pdf", ".xls", ".xlsx", ".ods")))
    r = await send("virus.exe", b"MZ")
    assert r.status_code == 422
    page = said(r)
    assert _t(lang, "site.file_type", name="virus.exe", suffixes="").split(" (")[0] in page
    assert suffixes.split(", ")[0] in page
    r = await send("trong.pdf", b"")
    assert r.status_code == 422
    assert _t(lang, "site.file_empty", name="trong.pdf") in said(r)
    r = await send("lon.pdf", b"%" * (MAX_UPLOAD + 1))
    assert r.status_code == 422
    assert _t(lang, "site.file_too_large", size="4 KB") in said(r)
    r = await pages.http.post(url, data={"csrf": csrf}, headers=headers)
    assert r.status_code == 422
    assert _t(lang, "site.file_missing") in said(r)
    for english in ("bytes; at most", "send a document", "the file is empty"):
        assert english not in said(r)


async def test_the_planners_refusals_in_vietnamese_by_accept_language(pages: Pages) -> None:
    tokens = await issue_tokens(pages.container)
    vi = {**bearer(tokens.office), "Accept-Language": "vi"}
    plan = {
        "regions": ["khong-co"],
        "from": "2027-02-01T00:00:00+07:00",
        "to": "2027-02-27T00:00:00+07:00",
        "duration_minutes": 120,
    }
    r = await pages.http.post("/api/plans/regional", json=plan, headers=vi)
    assert r.status_code == 422
    assert r.json()["detail"] == "Không có vùng mang mã: khong-co."
    r = await pages.http.post("/api/plans/regional", json=plan, headers=bearer(tokens.office))
    assert r.json()["detail"] == "unknown region(s): khong-co"
    r = await pages.http.post(
        "/api/plans/regional", json={**plan, "regions": ["a", "a"]}, headers=vi
    )
    assert [e["message"] for e in r.json()["errors"]] == ["Mỗi vùng chỉ được chọn một lần."]
