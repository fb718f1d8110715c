"""The office's directory page over real SQLite and PostgreSQL: tables, filter and file import."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

from orchestrator.bootstrap import Container
from orchestrator.domain.models import Principal, Role
from orchestrator.web.app import init_app
from tests.conftest import OFFICE

NEW_SITE = """
[[regions]]
id = "tay-nguyen"
name = "Tây Nguyên"
head_site = "dak-lak"
chair_name = "Y Bhin Niê"
chair_email = "truong-vung@sgddt-dak-lak.example.org"

[[sites]]
id = "dak-lak"
name = "Sở GD&ĐT Đắk Lắk"
region = "tay-nguyen"
capacity = 35
[sites.coordinator]
name = "H'Hen Niê"
email = "dau-moi@sgddt-dak-lak.example.org"
phone = "+84 262 300 0107"
"""

# Line 8: a region the file does not define; line 9: a zone that does not exist. The good site
# above them must not be imported either.
BAD = """[[sites]]
id = "gia-lai"
name = "Sở GD&ĐT Gia Lai"

[[sites]]
id = "kon-tum"
name = "Sở GD&ĐT Kon Tum"
region = "tay-nguyen"
timezone = "Asia/Nowhere"
"""


@dataclass
class Browser:
    http: httpx.AsyncClient
    container: Container
    csrf: str

    async def upload(
        self, content: bytes, name: str = "directory.toml", csrf: str | None = None
    ) -> httpx.Response:
        return await self.http.post(
            "/office/directory/import",
            data={"csrf": self.csrf if csrf is None else csrf},
            files={"file": (name, content, "application/toml")},
        )

    async def site_ids(self) -> set[str]:
        return {s.id for s in (await self.container.directory.view(OFFICE)).sites}


@pytest.fixture
async def server(container: Container) -> AsyncIterator[TestServer]:
    s = TestServer(init_app(container), host="127.0.0.1", port=0)
    await s.start_server()
    yield s
    await s.close()


@pytest.fixture
async def open_browser(container: Container, server: TestServer) -> AsyncIterator[Any]:
    opened: list[httpx.AsyncClient] = []

    async def open_(principal: Principal, lang: str = "vi") -> Browser:
        session = container.signin.new_session(principal)
        cookie = await container.signin.cookie(session)
        http = httpx.AsyncClient(
            base_url=str(server.make_url("/")).rstrip("/"),
            headers={"Cookie": f"orch_session={cookie}; orch_lang={lang}"},
            timeout=30,
        )
        opened.append(http)
        return Browser(http, container, session.csrf)

    yield open_
    for http in opened:
        await http.aclose()


@pytest.fixture
async def office(open_browser: Any) -> Browser:
    b: Browser = await open_browser(OFFICE)
    return b


def text_of(r: httpx.Response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.text)))


def rows(r: httpx.Response, kind: str) -> list[str]:
    return re.findall(rf'<tr data-{kind}="([a-z0-9-]+)">', r.text)


async def test_tables_show_regions_sites_and_groups(office: Browser) -> None:
    r = await office.http.get("/office/directory")
    assert r.status_code == 200
    assert len(rows(r, "site")) == 6
    assert set(rows(r, "site")) == await office.site_ids()
    assert len(rows(r, "region")) == 6
    assert rows(r, "group") == ["lanh-dao-bo"]
    page = text_of(r)
    assert "Đồng bằng sông Hồng" in page
    assert "Lê Thị Thu Hà" in page  # a region head
    assert "Võ Minh Tuấn" in page
    assert "dau-moi@sgddt-da-nang.example.org" in page
    assert "+84 236 300 0102" in page  # the office sees phone numbers
    assert "Thứ trưởng thường trực" in page
    da_nang = re.search(r'<tr data-site="da-nang">(.*?)</tr>', r.text, flags=re.S)
    assert da_nang
    assert "Bắc Trung Bộ và Duyên hải miền Trung" in da_nang.group(1)
    assert ">50<" in da_nang.group(1)
    head = re.search(
        r'<tr data-region="bac-trung-bo-duyen-hai-mien-trung">(.*?)</tr>', r.text, re.S
    )
    assert head
    assert "Sở GD&amp;ĐT Đà Nẵng" in head.group(1)


async def test_filter_by_region(office: Browser) -> None:
    r = await office.http.get("/office/directory?region=bac-trung-bo-duyen-hai-mien-trung")
    assert r.status_code == 200
    assert sorted(rows(r, "site")) == ["da-nang", "nghe-an"]
    assert 'value="bac-trung-bo-duyen-hai-mien-trung" selected' in r.text
    r = await office.http.get("/office/directory?region=tay-nguyen")
    assert rows(r, "site") == []
    r = await office.http.get("/office/directory?region=no-such-region")  # ignored
    assert len(rows(r, "site")) == 6


async def test_only_the_office_and_signed_in(open_browser: Any, server: TestServer) -> None:
    coordinator: Browser = await open_browser(
        Principal(role=Role.COORDINATOR, token_id="c", site_id="da-nang")
    )
    r = await coordinator.http.get("/office/directory")
    assert r.status_code == 403
    r = await coordinator.upload(NEW_SITE.encode())
    assert r.status_code == 403
    assert "dak-lak" not in await coordinator.site_ids()
    async with httpx.AsyncClient(base_url=str(server.make_url("/"))) as anonymous:
        r = await anonymous.get("/office/directory")
        assert r.status_code == 303
        assert r.headers["location"] == "/signin?next=/office/directory"


async def test_import_a_good_file_shows_counts_and_the_new_site(office: Browser) -> None:
    r = await office.upload(NEW_SITE.encode(), name="tay-nguyen.toml")
    assert r.status_code == 303, text_of(r)
    assert r.headers["location"].startswith("/office/directory?done=imported&regions=1&sites=1")
    assert "dak-lak" in await office.site_ids()
    page = await office.http.get(r.headers["location"])
    words = text_of(page)
    assert "Đã nhập danh bạ" in words
    assert "1 vùng" in words
    assert "1 điểm cầu" in words
    assert "0 nhóm lãnh đạo" in words
    assert "dak-lak" in rows(page, "site")
    assert "H'Hen Niê" in words
    again = await office.upload(NEW_SITE.encode())  # idempotent
    assert again.status_code == 303
    assert len(await office.site_ids()) == 7


async def test_a_bad_file_changes_nothing_and_names_line_and_field(office: Browser) -> None:
    before = await office.site_ids()
    r = await office.upload(BAD.encode(), name="tay-nguyen.toml")
    assert r.status_code == 422
    words = text_of(r)
    assert "Chưa nhập tệp tay-nguyen.toml: không có gì thay đổi" in words
    problems = re.findall(
        r"<tr>\s*<td>(\d+|—)</td>\s*<td><code>(.*?)</code></td>\s*<td>(.*?)</td>", r.text, re.S
    )
    found = {(line, field): message for line, field, message in problems}
    assert "Không có vùng «tay-nguyen»" in html.unescape(found["8", "sites[1].region"])
    assert "Asia/Nowhere" in found["9", "sites[1].timezone"]
    assert await office.site_ids() == before  # gia-lai, valid on its own, is not imported


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "Hãy chọn một tệp danh bạ"),
        ("[[sites]]\nid = 'x'\nname = 'Sở'\n".encode("utf-16"), "không phải văn bản UTF-8"),
        (b"[[sites]\nid = 1\n", "Lỗi cú pháp TOML"),
    ],
)
async def test_unusable_uploads_are_refused_in_words(
    office: Browser, content: bytes, words: str
) -> None:
    before = await office.site_ids()
    r = await office.upload(content)
    assert r.status_code == 422
    assert words in text_of(r)
    assert 'role="alert"' in r.text
    assert await office.site_ids() == before


async def test_upload_without_csrf_is_refused(office: Browser) -> None:
    r = await office.upload(NEW_SITE.encode(), csrf="")
    assert r.status_code == 403
    r = await office.upload(NEW_SITE.encode(), csrf="forged")
    assert r.status_code == 403
    assert "dak-lak" not in await office.site_ids()


async def test_a_form_field_holding_nul_is_refused_by_name(office: Browser) -> None:
    r = await office.http.post(
        "/office/directory/import",
        data={"csrf": office.csrf, "note": "ghi\u0000 chú"},
        files={"file": ("directory.toml", NEW_SITE.encode(), "application/toml")},
    )
    assert r.status_code == 422
    assert "«note»" in text_of(r)
    assert "dak-lak" not in await office.site_ids()


async def test_english(open_browser: Any) -> None:
    b: Browser = await open_browser(OFFICE, lang="en")
    r = await b.http.get("/office/directory")
    words = text_of(r)
    assert "Leader groups" in words
    assert "Import a directory file" in words
    r = await b.upload(BAD.encode())
    assert "was not imported: nothing was changed" in text_of(r)
