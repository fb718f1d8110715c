"""An invite that could not be sent says why in the page's language ("máy chủ thư không nhận kết
nối"), with the mail server's own words kept under a detail; the API names the failure's kind
beside the raw reason. Real SMTP server on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import pytest

from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.invites.failures import failure_kind
from orchestrator.settings import Settings
from orchestrator.web.pages.common import LANG_COOKIE, SESSION_COOKIE
from tests import builders
from tests.builders import deliver, with_smtp
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE
from tests.smtp_server import SmtpTestServer


@pytest.fixture
async def service(
    settings: Settings, smtp_server: SmtpTestServer, clock: ManualClock
) -> AsyncIterator[Container]:
    c = build(with_smtp(settings, smtp_server, sender="vanphong@moet.example.org"), clock=clock)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    yield c
    await c.close()


def _cell(page: str, site: str) -> str:
    row = page.split(f'<tr data-site="{site}">', 1)[1].split("</tr>", 1)[0]
    return row.split('<td class="invite">', 1)[1].split("</td>", 1)[0]


def _words(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


async def _page(c: Container, session_id: str, lang: str) -> str:
    signed = await builders.sign_in(c, OFFICE)
    async with builders.client(
        c, cookies={SESSION_COOKIE: signed.cookie, LANG_COOKIE: lang}, timeout=30
    ) as http:
        r = await http.get(f"/office/sessions/{session_id}")
    assert r.status_code == 200
    return r.text


async def test_a_refused_connection_is_said_in_each_language_with_the_detail_kept(
    service: Container, smtp_server: SmtpTestServer
) -> None:
    smtp_server.stop()
    s = await builders.book(service, title="Giao ban văn phòng")
    await deliver(service)
    status = await service.invites.status(s.id, OFFICE)
    raw = status.sites[0].last_error or ""
    assert "Connect call failed" in raw or "refused" in raw.lower()
    assert {x.error_kind for x in status.sites} == {"connection_refused"}

    vi = _cell(await _page(service, s.id, "vi"), "da-nang")
    said = _words(vi.split("<details", 1)[0])
    assert "máy chủ thư không nhận kết nối" in said.lower()
    assert "Đã thử 1 lần" in said
    assert "Connect call failed" not in said
    assert "Errno" not in said
    detail = vi.split("<details", 1)[1]
    assert "Chi tiết kỹ thuật" in detail
    assert html.escape(raw, quote=False) in detail or raw in html.unescape(detail)

    en = _cell(await _page(service, s.id, "en"), "da-nang")
    said = _words(en.split("<details", 1)[0])
    assert "The mail server refused the connection." in said
    assert "Technical detail" in en


async def test_a_refused_recipient_fails_in_words_and_the_api_names_its_kind(
    service: Container, smtp_server: SmtpTestServer
) -> None:
    address = (await service.directory.view(OFFICE)).sites
    can_tho = next(x for x in address if x.id == "can-tho")
    assert can_tho.coordinator is not None
    smtp_server.behaviour.refuse_recipients[can_tho.coordinator.email.lower()] = (
        "550 5.1.1 No such user"
    )
    s = await builders.book(service, title="Giao ban văn phòng")
    await deliver(service)
    cell = _words(_cell(await _page(service, s.id, "vi"), "can-tho"))
    assert "Gửi lỗi" in cell
    assert "Máy chủ thư từ chối địa chỉ người nhận" in cell
    assert "550 5.1.1 No such user" in cell  # the server's words, under the detail
    async with builders.client(service) as http:
        token = await builders.issue_tokens(service)
        r = await http.get(f"/api/sessions/{s.id}/invites", headers=builders.bearer(token.office))
    sites = {x["site_id"]: x for x in r.json()["sites"]}
    assert sites["can-tho"]["error_kind"] == "recipient_refused"
    assert "550" in sites["can-tho"]["last_error"]
    assert sites["da-nang"]["error_kind"] is None
    assert sites["da-nang"]["last_error"] is None


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (
            "SMTP server 127.0.0.1:2525: Error connecting to 127.0.0.1 on port 2525: "
            "[Errno 111] Connect call failed ('127.0.0.1', 2525)",
            "connection_refused",
        ),
        ("SMTP server mail.example.org:25 did not answer within 30.0 s", "timeout"),
        (
            "SMTP server tls.auth.example:25: Error connecting to tls.auth.example on port 25: "
            "[Errno -2] Name or service not known",
            "host_unknown",
        ),
        ("SMTP server m:465: its TLS certificate is not trusted: self-signed", "tls"),
        ("SMTP server m:587 refused the login: 535 5.7.8 Authentication failed", "auth_refused"),
        ("SMTP server m:25 refused every recipient: a@b.vn (550 no user)", "recipient_refused"),
        ("SMTP server m:25 refused the message: 552 5.3.4 Message size exceeds", "message_refused"),
        ("SMTP server m:25 closed the connection: Connection lost", "disconnected"),
        ("site can-tho has no coordinator email: nobody to invite", "no_address"),
        ("internal error, see the log", "other"),
        (None, None),
    ],
)
def test_each_stored_reason_has_its_kind(reason: str | None, kind: str | None) -> None:
    assert failure_kind(reason) == kind
