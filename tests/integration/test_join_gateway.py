"""The join gateway (DESIGN 10): `/join/{key}` on a real port opens the occurrence of the moment
(Jitsi HS256, JaaS RS256 or a static link, bound to that occurrence's slot), names the next one
outside every window in the site's language and zone, says 410 after the last and 404 to a key
that is not one (tampered, or rotated); each opening is logged and read back on the record."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from orchestrator.booking.schemas import UpdateSessionRequest
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.join_keys import JoinKey, JoinSubject, open_join_key, sign_join_key
from orchestrator.domain.models import SessionStatus
from orchestrator.settings import InviteSettings, JaasSettings, JitsiSettings, Settings
from tests import builders
from tests.builders import OFFICE, FakeMailer, issue_tokens
from tests.conftest import EXAMPLE_DIRECTORY
from tests.series_kit import FIRST, change_occurrence, store_series

JITSI_SECRET = "a-jitsi-app-secret-of-at-least-32-bytes!"
JAAS_APP = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef"
GRACE = timedelta(minutes=15)  # [booking] link_grace_minutes' default


@pytest.fixture(scope="module")
def jaas_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def providers_settings(settings: Settings, tmp_path: Path, jaas_key: rsa.RSAPrivateKey) -> Settings:
    pem = tmp_path / "jaas.pem"
    pem.write_bytes(
        jaas_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return settings.model_copy(
        update={
            "jitsi": JitsiSettings(
                domain="meet.moet.example.org",
                app_id="moet",
                app_secret=SecretStr(JITSI_SECRET),
                audience="moet",
            ),
            "jaas": JaasSettings(app_id=JAAS_APP, key_id="k1", private_key_file=pem),
        }
    )


@pytest.fixture
async def service(
    providers_settings: Settings, clock: ManualClock, mailer: FakeMailer
) -> AsyncIterator[Container]:
    c = build(providers_settings, clock=clock, mailer=mailer)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def http(service: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with builders.client(service, follow_redirects=False) as client:
        yield client


def key_of(url: str) -> str:
    return url.rsplit("/join/", 1)[1]


def path_of(url: str) -> str:
    return "/join/" + key_of(url)


def token_of(url: str) -> str:
    (token,) = parse_qs(urlsplit(url).query)["jwt"]
    return token


async def test_a_series_link_opens_each_occurrence_in_its_window_with_a_jitsi_token(
    service: Container, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    series, occurrences = await store_series(service, provider="jitsi")
    urls = await service.gateway.urls(JoinSubject.SERIES, series.id, ["da-nang", "can-tho"])
    path = path_of(urls["da-nang"])
    assert urls["da-nang"].startswith(f"{service.settings.server.base_url.rstrip('/')}/join/")
    assert urls["da-nang"] != urls["can-tho"]
    for n in (0, 2):
        occurrence = occurrences[n]
        # from the connection test (30 minutes before) to the end plus the grace
        for at in (
            occurrence.start - timedelta(minutes=30),
            occurrence.start + timedelta(minutes=1),
            occurrence.end + GRACE - timedelta(seconds=1),
        ):
            clock.set(at)
            r = await http.get(path)
            assert r.status_code == 302, r.text
            location = r.headers["Location"]
            assert location.startswith(f"https://meet.moet.example.org/{occurrence.room}?jwt=")
            claims = jwt.decode(
                token_of(location),
                JITSI_SECRET,
                algorithms=["HS256"],
                audience="moet",
                options={"verify_nbf": False, "verify_exp": False},
            )
            # bound to this occurrence's slot, naming the site
            assert claims["room"] == occurrence.room
            assert claims["context"]["user"]["id"] == "da-nang"
            assert claims["nbf"] == int((occurrence.start - timedelta(minutes=30)).timestamp())
            assert claims["exp"] >= int((occurrence.end + GRACE).timestamp())
            assert claims["exp"] < int(occurrences[n + 1].start.timestamp())
            assert r.headers["Cache-Control"] == "no-store"
            assert html.escape(location) in r.text  # the page for a browser that stays
    assert series.id


async def test_jaas_links_are_rs256_tokens_for_the_occurrence(
    service: Container, http: httpx.AsyncClient, clock: ManualClock, jaas_key: rsa.RSAPrivateKey
) -> None:
    series, occurrences = await store_series(service, provider="jaas")
    (url,) = (await service.gateway.urls(JoinSubject.SERIES, series.id, ["can-tho"])).values()
    clock.set(occurrences[1].start)
    r = await http.get(path_of(url))
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(f"https://8x8.vc/{JAAS_APP}/{occurrences[1].room}?jwt=")
    token = token_of(location)
    assert jwt.get_unverified_header(token)["kid"] == f"{JAAS_APP}/k1"
    claims = jwt.decode(
        token,
        jaas_key.public_key(),
        algorithms=["RS256"],
        audience="jitsi",
        options={"verify_nbf": False, "verify_exp": False},
    )
    assert claims["room"] == occurrences[1].room
    assert claims["context"]["user"]["id"] == "can-tho"
    assert claims["nbf"] == int((occurrences[1].start - timedelta(minutes=30)).timestamp())


async def test_a_static_link_is_the_sites_own(
    service: Container, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    series, occurrences = await store_series(service, provider="static")
    (url,) = (await service.gateway.urls(JoinSubject.SERIES, series.id, ["ha-noi"])).values()
    clock.set(occurrences[3].start + timedelta(minutes=5))
    r = await http.get(path_of(url))
    assert r.status_code == 302
    stored = next(s.join_url for s in occurrences[3].sites if s.site_id == "ha-noi")
    assert r.headers["Location"] == stored


async def test_outside_every_window_a_page_names_the_next_occurrence(
    service: Container, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    series, occurrences = await store_series(service)
    (url,) = (await service.gateway.urls(JoinSubject.SERIES, series.id, ["da-nang"])).values()
    # Between the first and the second: the second, 08:00 on Thursday 17 December, its
    # connection test from 07:30, in the site's zone and language (Vietnamese).
    clock.set(occurrences[0].end + GRACE + timedelta(minutes=1))
    r = await http.get(path_of(url))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert '<html lang="vi">' in page
    assert "Chưa đến giờ họp" in page
    assert "T5 17/12/2026 08:00–10:00" in page
    assert "T5 17/12/2026 07:30" in page
    assert "Giao ban hằng tuần" in page
    assert "Asia/Ho_Chi_Minh" in page
    assert r.headers["Referrer-Policy"] == "no-referrer"
    # Before the first, the first; in English for a viewer who chose it.
    clock.set(FIRST - timedelta(days=3))
    http.cookies.set("orch_lang", "en")
    r = await http.get(path_of(url))
    assert r.status_code == 200
    assert '<html lang="en">' in r.text
    assert "The meeting has not opened yet" in r.text
    assert "Thu 2026-12-10 08:00–10:00" in r.text
    assert "Thu 2026-12-10 07:30" in r.text


async def test_a_site_of_another_language_and_zone_reads_its_own(
    service: Container, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    directory = load_directory(EXAMPLE_DIRECTORY)
    sites = tuple(
        s.model_copy(update={"language": "en", "timezone": "Europe/Paris"})
        if s.id == "can-tho"
        else s
        for s in directory.sites
    )
    await service.directory.apply(
        type(directory)(directory.regions, sites, directory.leader_groups, directory.policies),
        OFFICE,
    )
    series, _ = await store_series(service)
    (url,) = (await service.gateway.urls(JoinSubject.SERIES, series.id, ["can-tho"])).values()
    clock.set(FIRST - timedelta(days=1))
    r = await http.get(path_of(url))
    assert '<html lang="en">' in r.text
    assert "Thu 2026-12-10 02:00–04:00" in r.text  # 08:00 in Hà Nội is 02:00 in Paris
    assert "Europe/Paris" in r.text


async def test_after_the_last_occurrence_410_and_cancelled_ones_are_skipped(
    service: Container, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    series, occurrences = await store_series(service, count=3)
    (url,) = (await service.gateway.urls(JoinSubject.SERIES, series.id, ["da-nang"])).values()
    # The second cancelled, the third without this site: after the first, nothing is next.
    await change_occurrence(service, occurrences[1], status=SessionStatus.CANCELLED)
    third = occurrences[2]
    await change_occurrence(
        service, third, sites=tuple(s for s in third.sites if s.site_id != "da-nang")
    )
    clock.set(occurrences[1].start + timedelta(minutes=5))  # inside the cancelled one's window
    r = await http.get(path_of(url))
    assert r.status_code == 410
    assert "Chuỗi phiên họp đã kết thúc" in r.text
    # Another site still has the third.
    (other,) = (await service.gateway.urls(JoinSubject.SERIES, series.id, ["can-tho"])).values()
    assert (await http.get(path_of(other))).status_code == 200
    clock.set(third.end + GRACE)
    assert (await http.get(path_of(other))).status_code == 410


async def test_tampered_made_up_and_rotated_keys_are_404(
    service: Container, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    series, occurrences = await store_series(service)
    (url,) = (await service.gateway.urls(JoinSubject.SERIES, series.id, ["da-nang"])).values()
    key = key_of(url)
    clock.set(occurrences[0].start)
    assert (await http.get(path_of(url))).status_code == 302
    secret = await service.gateway.secret()
    opened = open_join_key(secret, key)
    assert opened == JoinKey(JoinSubject.SERIES, series.id, "da-nang", 0)
    body, mac = key.split(".")
    foreign = sign_join_key(b"another secret", JoinKey(JoinSubject.SERIES, series.id, "da-nang", 0))
    for bad in (
        body + "." + ("A" if mac[0] != "A" else "B") + mac[1:],  # the signature changed
        sign_join_key(secret, JoinKey(JoinSubject.SERIES, series.id, "da-nang", 0))[:-1] + "x",
        foreign,  # signed with another secret
        sign_join_key(secret, JoinKey(JoinSubject.SERIES, series.id, "da-nang", 7)),  # not yet
        sign_join_key(secret, JoinKey(JoinSubject.SERIES, "no-such-series", "da-nang", 0)),
        sign_join_key(secret, JoinKey(JoinSubject.SERIES, series.id, "no-such-site", 0)),
        "x",
        "a" * 500 + ".b",
    ):
        r = await http.get(f"/join/{bad}")
        assert r.status_code == 404, bad
        assert "Đường dẫn không hợp lệ" in r.text
    # Rotated by the office: the old key is 404, the new one opens; the site's invite is queued.
    tokens = await issue_tokens(service, "da-nang")
    office = builders.bearer(tokens.office)
    rotate = f"/api/series/{series.id}/sites/da-nang/rotate-link"
    refused = await http.post(rotate, headers=builders.bearer(tokens.coordinators["da-nang"]))
    assert refused.status_code == 403
    r = await http.post(rotate, headers=office)
    assert r.status_code == 200, r.text
    new = r.json()["join_gateway_url"]
    assert r.json()["site_id"] == "da-nang"
    assert new != url
    assert (await http.get(path_of(url))).status_code == 404
    assert (await http.get(path_of(new))).status_code == 302
    assert open_join_key(secret, key_of(new)) == JoinKey(
        JoinSubject.SERIES, series.id, "da-nang", 1
    )
    async with service.store.read() as uow:
        assert (await uow.series.get(series.id)).version == series.version + 1  # type: ignore[union-attr]
        assert await uow.outbox.pending(series.id) == 1
    r = await http.post(f"/api/series/{series.id}/sites/nghe-an/rotate-link", headers=office)
    assert r.status_code == 404
    # A single session's link is rotated only with [invites] join_gateway on.
    booked = await builders.book(service, sites=["ha-noi", "da-nang"])
    r = await http.post(f"/api/sessions/{booked.id}/sites/da-nang/rotate-link", headers=office)
    assert r.status_code == 404


async def test_each_opening_is_logged_and_the_record_shows_the_first(
    service: Container, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    series, occurrences = await store_series(service)
    urls = await service.gateway.urls(JoinSubject.SERIES, series.id, ["da-nang", "can-tho"])
    first = occurrences[0]
    clock.set(first.start - timedelta(days=1))
    await http.get(path_of(urls["da-nang"]))  # waiting: not an opening of the meeting
    clock.set(first.start - timedelta(minutes=2))  # 07:58
    await http.get(path_of(urls["da-nang"]))
    clock.set(first.start + timedelta(minutes=20))
    await http.get(path_of(urls["da-nang"]))  # again, later
    async with service.store.read() as uow:
        logged = await uow.joins.openings(first.id)
    assert [(o.site_id, o.outcome) for o in logged] == [
        ("da-nang", "waiting"),
        ("da-nang", "opened"),
        ("da-nang", "opened"),
    ]
    tokens = await issue_tokens(service)
    chair = builders.bearer(tokens.chair)
    r = await http.get(f"/api/sessions/{first.id}/attendance", headers=chair)
    assert r.status_code == 200, r.text
    lines = {s["site_id"]: s for s in r.json()["sites"]}
    opened = datetime.fromisoformat(lines["da-nang"]["link_opened_at"])
    assert opened == first.start - timedelta(minutes=2)
    assert opened.astimezone(FIRST.tzinfo).strftime("%H:%M") == "07:58"
    assert lines["can-tho"]["link_opened_at"] is None
    # The chair's board says it on the site's tile, in the session's zone, and on no other.
    cookie = (await builders.sign_in(service, builders.OFFICE)).cookie
    page = await http.get(
        f"/chair/sessions/{first.id}", headers={"Cookie": f"orch_session={cookie}; orch_lang=vi"}
    )
    assert page.status_code == 200, page.text
    tiles = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r'<li class="tile[^"]*" id="tile-([a-z-]+)"(.*?)</li>', page.text, re.S
        )
    }
    assert "đã mở liên kết lúc 07:58" in tiles["da-nang"]
    assert "đã mở liên kết" not in tiles["can-tho"]
    # The next occurrence's record knows nothing of it.
    r = await http.get(
        f"/api/sessions/{occurrences[1].id}/attendance", headers=builders.bearer(tokens.office)
    )
    assert {s["link_opened_at"] for s in r.json()["sites"]} == {None}


@pytest.fixture
async def gateway_on(
    settings: Settings, clock: ManualClock, mailer: FakeMailer
) -> AsyncIterator[Container]:
    on = settings.model_copy(update={"invites": InviteSettings(join_gateway=True)})
    c = build(on, clock=clock, mailer=mailer)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    try:
        yield c
    finally:
        await c.close()


def _calendar_url(ics: bytes) -> str:
    text = ics.decode().replace("\r\n ", "")
    return next(line[4:] for line in text.split("\r\n") if line.startswith("URL:"))


async def test_single_sessions_carry_the_gateway_only_when_it_is_on(
    container: Container, gateway_on: Container, clock: ManualClock, mailer: FakeMailer
) -> None:
    # One database, the service with the gateway off (`container`) and on (`gateway_on`).
    on = await builders.book(gateway_on, sites=["ha-noi", "da-nang"])
    own = next(s.join_url for s in on.sites if s.site_id == "da-nang")
    # the API's join_url is the provider's link either way
    assert all("/join/" not in (s.join_url or "") for s in on.sites)
    off = _calendar_url(await container.invites.invite_ics(on.id, "da-nang", OFFICE))
    assert off == own
    link = _calendar_url(await gateway_on.invites.invite_ics(on.id, "da-nang", OFFICE))
    assert link.startswith(f"{gateway_on.settings.server.base_url.rstrip('/')}/join/")
    await builders.deliver(gateway_on)
    mailed = {m.rcpt_tos[0]: m.message for m in mailer.sent}
    assert len(mailed) == 2
    assert _sent_link(mailed[mailed_to(gateway_on, "da-nang")]) == link
    assert "/join/" in _sent_link(mailed[mailed_to(gateway_on, "ha-noi")])
    async with builders.client(gateway_on, follow_redirects=False) as http:
        clock.set(on.start - timedelta(minutes=10))
        r = await http.get(path_of(link))
        assert r.status_code == 302
        assert r.headers["Location"] == own
        clock.set(on.end + GRACE)
        assert (await http.get(path_of(link))).status_code == 410
        # Rotated: the old link is 404 and the site's invite goes again carrying the new link,
        # its SEQUENCE raised (a new link is a change, DESIGN 6.7), under a Message-ID of its own.
        tokens = await issue_tokens(gateway_on)
        clock.set(on.start - timedelta(days=1))
        r = await http.post(
            f"/api/sessions/{on.id}/sites/da-nang/rotate-link",
            headers=builders.bearer(tokens.office),
        )
        assert r.status_code == 200, r.text
        new = r.json()["join_gateway_url"]
        assert (await http.get(path_of(link))).status_code == 404
        assert (await http.get(path_of(new))).status_code == 200
    before = len(mailer.sent)
    await builders.deliver(gateway_on)
    (again,) = mailer.sent[before:]
    assert again.rcpt_tos == (mailed_to(gateway_on, "da-nang"),)
    first = next(m for m in mailer.sent[:before] if m.rcpt_tos == again.rcpt_tos)
    assert again.message["Message-ID"] != first.message["Message-ID"]
    assert _sent_link(again.message) == new
    assert _sent_sequence(again.message) == "SEQUENCE:1"
    assert _sent_sequence(first.message) == "SEQUENCE:0"
    # what the office sees and downloads says the same: sent, at that SEQUENCE
    status = {s.site_id: s for s in (await gateway_on.invites.status(on.id, OFFICE)).sites}
    assert (status["da-nang"].state, status["da-nang"].sequence) == ("sent", 1)
    assert (status["ha-noi"].state, status["ha-noi"].sequence) == ("sent", 0)
    ics = await gateway_on.invites.invite_ics(on.id, "da-nang", OFFICE)
    assert b"\r\nSEQUENCE:1\r\n" in ics
    assert _calendar_url(ics) == new
    # a later change of the session raises every site's SEQUENCE, the rotated one's stays ahead
    await gateway_on.bookings.update(
        on.id, UpdateSessionRequest(title="Hội nghị đã đổi tên"), OFFICE
    )
    before = len(mailer.sent)
    await builders.deliver(gateway_on)
    changed = {m.rcpt_tos[0]: _sent_sequence(m.message) for m in mailer.sent[before:]}
    assert changed == {
        mailed_to(gateway_on, "da-nang"): "SEQUENCE:2",
        mailed_to(gateway_on, "ha-noi"): "SEQUENCE:1",
    }


def mailed_to(c: Container, site: str) -> str:
    directory = load_directory(EXAMPLE_DIRECTORY)
    email = next(s.coordinator.email for s in directory.sites if s.id == site)
    assert email is not None
    return email


def _calendar_of(message: Any) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("no text/calendar part")


def _sent_link(message: Any) -> str:
    return _calendar_url(_calendar_of(message))


def _sent_sequence(message: Any) -> str:
    text = _calendar_of(message).decode()
    return next(line for line in text.split("\r\n") if line.startswith("SEQUENCE:"))


def test_keys_round_trip_and_refuse_what_they_cannot_carry() -> None:
    secret = b"k" * 32
    key = JoinKey(JoinSubject.SESSION, "8f14e45f-ceea-467a-9af0-0123456789ab", "da-nang", 3)
    text = sign_join_key(secret, key)
    assert open_join_key(secret, text) == key
    assert text.isascii()
    assert "/" not in text
    assert "=" not in text
    assert len(text) < 120
    with pytest.raises(ValueError, match="join key"):
        JoinKey(JoinSubject.SERIES, "a:b", "da-nang", 0)
    with pytest.raises(ValueError, match="nonce"):
        JoinKey(JoinSubject.SERIES, "s", "da-nang", -1)
    assert open_join_key(secret, "ø" + text) is None
