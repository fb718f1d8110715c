"""A Vietnamese page says everything in Vietnamese, an English one in English: the directory
file's problems (by line and field) and the forms' refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from orchestrator.bootstrap import Container
from orchestrator.web.pages.common import LANG_COOKIE, SESSION_COOKIE
from tests.builders import serving
from tests.conftest import OFFICE

Browser = Callable[[str], Awaitable[tuple[httpx.AsyncClient, str]]]

# line 2: a negative capacity; line 4: a site without its name (a required key); line 5: a
# region nobody defines
PROBLEMS = """[[sites]]
id = "gia-lai"
capacity = -3
[[sites]]
id = "kon-tum"
name = "Sở GD&ĐT Kon Tum"
region = "tay-nguyen"
"""


def words(r: httpx.Response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.text)))


@pytest.fixture
async def browser(container: Container) -> AsyncIterator[Browser]:
    opened: list[httpx.AsyncClient] = []
    async with serving(container) as server:

        async def open_(lang: str) -> tuple[httpx.AsyncClient, str]:
            session = container.signin.new_session(OFFICE)
            cookie = await container.signin.cookie(session)
            http = httpx.AsyncClient(
                base_url=str(server.make_url("/")).rstrip("/"),
                cookies={SESSION_COOKIE: cookie, LANG_COOKIE: lang},
                timeout=30,
            )
            opened.append(http)
            return http, session.csrf

        yield open_
        for http in opened:
            await http.aclose()


async def _upload(browser: Browser, lang: str, content: str) -> httpx.Response:
    http, csrf = await browser(lang)
    return await http.post(
        "/office/directory/import",
        data={"csrf": csrf},
        files={"file": ("vung.toml", content.encode(), "application/toml")},
    )


def _rows(r: httpx.Response) -> list[str]:
    table = r.text.split('class="problems"', 1)[1].split("</table>", 1)[0]
    return [
        re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)
    ]


async def test_directory_problems_in_vietnamese_by_line_and_field(browser: Browser) -> None:
    r = await _upload(browser, "vi", PROBLEMS)
    assert r.status_code == 422
    assert _rows(r) == [
        "1 sites[0].name Thiếu khoá bắt buộc.",
        "3 sites[0].capacity Phải lớn hơn hoặc bằng 0.",
        "7 sites[1].region Không có vùng «tay-nguyen»: không bảng [[regions]] nào mang mã này.",
    ]
    for english in ("required key is missing", "Input should be", "unknown region"):
        assert english not in r.text


async def test_directory_problems_stay_english_on_the_english_page(browser: Browser) -> None:
    r = await _upload(browser, "en", PROBLEMS)
    assert r.status_code == 422
    rows = _rows(r)
    assert rows[0] == "1 sites[0].name required key is missing"
    assert rows[1].startswith("3 sites[0].capacity Input should be greater than or equal to 0")


async def test_a_toml_syntax_error_is_said_in_vietnamese(browser: Browser) -> None:
    r = await _upload(browser, "vi", '[[sites]]\nid = "a"\nname = \n')
    assert r.status_code == 422
    row = _rows(r)[0]
    assert row.startswith("3 — Lỗi cú pháp TOML (chi tiết: ")
    assert "TOML syntax error" not in r.text


async def test_the_booking_form_says_a_too_long_title_in_the_page_language(
    browser: Browser,
) -> None:
    http, csrf = await browser("vi")
    form = await http.get("/office/book")
    assert re.search(r'<input id="f-title" name="title"[^>]*maxlength="500"', form.text)
    data = {
        "csrf": csrf,
        "title": "H" * 501,
        "kind": "national",
        "date": "2026-12-10",
        "start_time": "08:00",
        "end_time": "11:30",
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": "ha-noi",
        "sites": ["ha-noi", "da-nang"],
        "chair_name": "Chánh Văn phòng",
        "chair_email": "chair@moet.example.org",
        "provider": "static",
        "buffer_before": "30",
        "buffer_after": "15",
        "conflict_policy": "all_or_nothing",
    }
    r = await http.post("/office/book", data=data)
    assert r.status_code == 422
    assert re.search(r'id="e-title">Dài quá 500 ký tự\.<', r.text), words(r)
    assert "String should have" not in r.text
    english, csrf_en = await browser("en")
    r = await english.post("/office/book", data={**data, "csrf": csrf_en})
    assert re.search(r'id="e-title">At most 500 characters\.<', r.text)
