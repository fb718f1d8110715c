"""The API's problem `detail` in the caller's language (`Accept-Language`: vi or en, English when
absent); `code`, `rule`, `field` and `type` are the same in both. Exports follow `?lang=`, else
`Accept-Language`. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orchestrator.bootstrap import Container
from orchestrator.web.wording import accepted_language
from tests.builders import bearer, book, booking_data, client, issue_tokens

VI = {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
NONE: dict[str, str] = {}


@dataclass
class Api:
    http: httpx.AsyncClient
    office: str

    async def book(self, body: dict[str, Any], lang: dict[str, str]) -> httpx.Response:
        return await self.http.post(
            "/api/sessions", json=body, headers={**bearer(self.office), **lang}
        )


@pytest.fixture
async def api(container: Container) -> AsyncIterator[Api]:
    tokens = await issue_tokens(container)
    async with client(container, timeout=30) as http:
        yield Api(http, tokens.office)


async def test_a_too_long_title_is_said_in_each_language_with_the_same_data(api: Api) -> None:
    body = booking_data(title="H" * 501)
    vi, en, plain = [(await api.book(body, lang)).json() for lang in (VI, EN, NONE)]
    assert vi["detail"] == "Yêu cầu không hợp lệ: title: Dài quá 500 ký tự."
    assert vi["errors"] == [
        {"field": "title", "message": "Dài quá 500 ký tự.", "type": "string_too_long"}
    ]
    assert en["detail"] == "invalid request: title: String should have at most 500 characters"
    assert plain == en  # English when absent, as before
    for answer in (vi, en):
        assert answer["code"] == "validation_error"
        assert answer["status"] == 422
        assert answer["errors"][0]["field"] == "title"


async def test_a_policy_refusal_keeps_its_rule_and_words_it_in_vietnamese(api: Api) -> None:
    weekend = booking_data(start="2026-12-12T08:00:00+07:00", end="2026-12-12T10:00:00+07:00")
    vi = (await api.book(weekend, VI)).json()
    en = (await api.book(weekend, EN)).json()
    assert vi["rule"] == en["rule"] == "weekend"
    assert vi["code"] == en["code"] == "policy_violation"
    assert vi["violations"] == en["violations"]
    assert vi["detail"].startswith("Vi phạm quy định đặt lịch: Đây là ngày nghỉ cuối tuần.")
    assert en["detail"].startswith("booking policy breached (weekend)")


async def test_not_found_conflict_and_refused_roles_in_vietnamese(
    api: Api, container: Container
) -> None:
    missing = await api.http.get("/api/sessions/khong-co", headers={**bearer(api.office), **VI})
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Không có phiên họp «khong-co»."
    assert missing.json()["code"] == "not_found"

    held = await book(container)
    clash = (await api.book(booking_data(), VI)).json()
    assert clash["code"] == "booking_conflict"
    assert clash["detail"].startswith("Thời gian yêu cầu trùng với lịch đã đặt: ")
    assert f"(đang thuộc phiên {held.id})" in clash["detail"]
    assert {c["session_id"] for c in clash["conflicts"]} == {held.id}

    nobody = await api.http.get("/api/sessions", headers=VI)
    assert nobody.status_code == 401
    assert nobody.json()["detail"].startswith("Cần xác thực")
    assert nobody.json()["code"] == "unauthenticated"
    not_json = await api.http.post(
        "/api/sessions",
        content=b"{",
        headers={**bearer(api.office), **VI, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert not_json.json()["detail"].startswith("Nội dung gửi lên không đọc được")


def test_the_language_a_header_prefers_is_taken() -> None:
    assert accepted_language(None) == "en"
    assert accepted_language("fr-FR,fr;q=0.9") == "en"
    assert accepted_language("fr,vi;q=0.8,en;q=0.7") == "vi"
    assert accepted_language("en;q=0.5,vi;q=0.9") == "vi"
    assert accepted_language("vi;q=0,en") == "en"
    assert accepted_language("", default="vi") == "vi"


async def test_the_attendance_export_follows_lang_then_accept_language(
    api: Api, container: Container
) -> None:
    held = await book(container)
    path = f"/api/sessions/{held.id}/attendance.csv"
    auth = bearer(api.office)

    async def first_header(query: str, lang: dict[str, str]) -> str:
        r = await api.http.get(path + query, headers={**auth, **lang})
        assert r.status_code == 200, r.text
        return r.content.decode("utf-8-sig").split(",")[0]

    assert await first_header("", NONE) == "Điểm cầu"  # Vietnamese by default, as before
    assert await first_header("", EN) == "Site"
    assert await first_header("", VI) == "Điểm cầu"
    assert await first_header("?lang=vi", EN) == "Điểm cầu"  # ?lang= wins
    assert await first_header("?lang=en", VI) == "Site"
