"""Signing in to the pages: links, cookies, CSRF, and the links the emails carry."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from orchestrator.bootstrap import Container
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import AuthenticationRequired, InvalidRequest
from orchestrator.domain.models import Principal, Role
from orchestrator.web.app import init_app
from tests.conftest import EXAMPLE_DIRECTORY, NOW, OFFICE
from tests.integration.test_invites import (  # noqa: F401 (fixtures)
    book,
    coordinator_of,
    deliver,
    mail_settings,
    service,
)
from tests.smtp_server import SmtpTestServer


@pytest.fixture
async def client(container: Container) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(init_app(container))) as c:
        yield c


def pre_token(client: TestClient) -> str:  # type: ignore[type-arg]
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/")).get("orch_pre")
    assert cookie is not None, "the sign-in form sets the pre-session CSRF cookie"
    return cookie.value


async def test_one_time_link_signs_in_once(container: Container) -> None:
    link = await container.signin.once_link(minutes=10)
    signed = link.rsplit("/", 1)[1]
    session, next_path = await container.signin.redeem(signed)
    assert session.principal.role is Role.OFFICE
    assert next_path == "/"
    with pytest.raises(AuthenticationRequired, match="already been used"):
        await container.signin.redeem(signed)
    entries = await container.access.audit_log(OFFICE, limit=5)
    assert any(e.action == "signin.link" for e in entries)


async def test_links_expire_and_cannot_be_forged(container: Container, clock: ManualClock) -> None:
    signed = (await container.signin.once_link(minutes=5)).rsplit("/", 1)[1]
    clock.advance(timedelta(minutes=6))
    with pytest.raises(AuthenticationRequired):
        await container.signin.redeem(signed)
    body, _, mac = (await container.signin.once_link(minutes=5)).rsplit("/", 1)[1].partition(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    for forged in (f"{tampered}.{mac}", f"{body}.{mac[:-1]}x", body, "", "a.b"):
        with pytest.raises(AuthenticationRequired):
            await container.signin.redeem(forged)


async def test_page_links_carry_the_role_and_never_leave_the_site(container: Container) -> None:
    until = NOW + timedelta(days=3)
    link = await container.signin.page_link(
        role=Role.COORDINATOR, site_id="da-nang", next_path="/site/sessions/x", until=until
    )
    session, next_path = await container.signin.redeem(link.rsplit("/", 1)[1])
    assert (session.principal.role, session.principal.site_id) == (Role.COORDINATOR, "da-nang")
    assert next_path == "/site/sessions/x"
    # The same link works again (it is sent in emails and opened more than once).
    await container.signin.redeem(link.rsplit("/", 1)[1])
    evil = await container.signin.page_link(
        role=Role.CHAIR, email="Chair@X.org", next_path="//evil.example/x", until=until
    )
    session, next_path = await container.signin.redeem(evil.rsplit("/", 1)[1])
    assert next_path == "/"
    assert session.principal.email == "chair@x.org"
    with pytest.raises(InvalidRequest):
        await container.signin.page_link(role=Role.OFFICE, next_path="/", until=until)
    with pytest.raises(InvalidRequest):
        await container.signin.page_link(role=Role.COORDINATOR, next_path="/", until=until)


async def test_cookie_ends_when_its_token_is_revoked(container: Container) -> None:
    issued = await container.access.create_token(Role.OFFICE)
    session = await container.signin.with_token(issued.token)
    cookie = await container.signin.cookie(session)
    back = await container.signin.from_cookie(cookie)
    assert back is not None
    assert back.principal.token_id == issued.record.id
    assert back.csrf == session.csrf
    await container.access.revoke_token(issued.record.id)
    assert await container.signin.from_cookie(cookie) is None
    assert await container.signin.from_cookie(cookie[:-3] + "abc") is None
    assert await container.signin.from_cookie("garbage") is None


async def test_cookie_expires(container: Container, clock: ManualClock) -> None:
    principal = Principal(role=Role.CHAIR, token_id="link", email="chair@moet.example.org")
    cookie = await container.signin.cookie(container.signin.new_session(principal))
    assert await container.signin.from_cookie(cookie) is not None
    clock.advance(timedelta(hours=13))
    assert await container.signin.from_cookie(cookie) is None


async def test_sign_in_form_needs_its_csrf_token_and_a_good_token(
    container: Container,
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    issued = await container.access.create_token(Role.OFFICE)
    page = await client.get("/signin?next=/office/book")
    assert page.status == 200
    assert 'value="/office/book"' in await page.text()
    refused = await client.post("/signin", data={"token": issued.token}, allow_redirects=False)
    assert refused.status == 403
    assert "session" not in str(client.session.cookie_jar.filter_cookies(client.make_url("/")))
    wrong = await client.post(
        "/signin", data={"csrf": pre_token(client), "token": "orch_nope"}, allow_redirects=False
    )
    assert wrong.status == 401
    assert "orch_nope" not in await wrong.text()  # a typed secret is never echoed back
    done = await client.post(
        "/signin",
        data={"csrf": pre_token(client), "token": issued.token, "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert done.status == 303
    assert done.headers["Location"] == "/office"
    set_cookie = done.headers.getall("Set-Cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("orch_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie
    # Signed in: the JSON API answers GETs to the cookie, not changes.
    listed = await client.get("/api/sessions")
    assert listed.status == 200
    posted = await client.post("/api/sessions", json={})
    assert posted.status == 401
    # Signing out needs the form's token too.
    assert (await client.post("/signout", data={}, allow_redirects=False)).status == 403


async def test_language_and_zone_choices(client: TestClient) -> None:  # type: ignore[type-arg]
    english = await client.get("/lang/en?next=/signin")
    assert english.status == 200
    assert "<h1>Sign in</h1>" in await english.text()
    assert (await client.get("/lang/fr", allow_redirects=False)).status == 404
    zoned = await client.get("/tz?tz=Europe/Paris&next=/signin")
    assert "Europe/Paris (UTC+01:00)" in await zoned.text()
    bad = await client.get("/tz?tz=Mars/Olympus&next=/signin")
    assert bad.status == 400
    assert "Mars/Olympus" in await bad.text()
    away = await client.get("/lang/vi?next=https://evil.example/", allow_redirects=False)
    assert away.headers["Location"] == "/"


async def test_invites_and_reminders_carry_a_link_that_signs_the_site_in(
    service: Container,  # noqa: F811
    smtp_server: SmtpTestServer,
) -> None:
    booked = await book(service)
    await deliver(service)
    da_nang = next(
        m
        for m in smtp_server.messages
        if "da-nang" in m.parsed()["To"].lower() or "danang" in m.parsed()["To"].lower()
    )
    text = da_nang.parsed().get_body(("plain",)).get_content()
    found = re.search(r"(http://\S+/signin/(\S+))", text)
    assert found, text
    session, next_path = await service.signin.redeem(found.group(2))
    assert session.principal.role is Role.COORDINATOR
    assert session.principal.site_id == "da-nang"
    assert next_path == f"/site/sessions/{booked.id}"
    assert session.principal.email == await coordinator_of(service, "da-nang")
    # The directory names a new coordinator for Đà Nẵng: the old one's links stop working.
    directory = load_directory(EXAMPLE_DIRECTORY)
    sites = tuple(
        s.model_copy(
            update={"coordinator": s.coordinator.model_copy(update={"email": "moi@danang.vn"})}
        )
        if s.id == "da-nang"
        else s
        for s in directory.sites
    )
    await service.directory.apply(dataclasses.replace(directory, sites=sites), OFFICE)
    with pytest.raises(AuthenticationRequired, match="former coordinator"):
        await service.signin.redeem(found.group(2))


@pytest.mark.parametrize(
    "target",
    ["/%09/evil.example", "//evil.example", "/\\evil.example", "https://evil.example", "/%0a/x"],
)
async def test_no_redirect_ever_leaves_the_site(
    client: TestClient,  # type: ignore[type-arg]
    target: str,
) -> None:
    for path in (f"/lang/en?next={target}", f"/tz?tz=UTC&next={target}"):
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 303
        assert answer.headers["Location"] == "/"
    form = await client.get(f"/signin?next={target}")
    assert 'name="next" value="/"' in await form.text()


async def test_zone_folders_and_junk_are_refused_in_words(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    for name in ("America", "x" * 300, "../../etc/passwd", ""):
        answer = await client.get(f"/tz?tz={name}&next=/signin")
        assert answer.status == 400, name
    client.session.cookie_jar.update_cookies({"orch_tz": "America"})
    page = await client.get("/signin")
    assert page.status == 200
    assert "Asia/Ho_Chi_Minh (UTC+07:00)" in await page.text()


async def test_pages_refuse_framing_and_cookies_are_secure_behind_https(
    container: Container,
) -> None:
    settings = container.settings.model_copy(
        update={
            "server": container.settings.server.model_copy(
                update={"base_url": "https://orch.example.org"}
            )
        }
    )
    container.settings = settings
    async with TestClient(TestServer(init_app(container))) as c:
        page = await c.get("/signin")
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert "Secure" in page.headers["Set-Cookie"]
        issued = await container.access.create_token(Role.OFFICE)
        pre = page.cookies["orch_pre"].value  # a Secure cookie is not sent back over http
        done = await c.post(
            "/signin",
            data={"csrf": pre, "token": issued.token},
            cookies={"orch_pre": pre},
            allow_redirects=False,
        )
        session_cookie = next(
            v for v in done.headers.getall("Set-Cookie") if v.startswith("orch_session=")
        )
        assert "Secure" in session_cookie
        assert done.headers["X-Frame-Options"] == "DENY"
