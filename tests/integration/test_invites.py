"""Invites end to end: the outbox written with each booking change, delivered over a real SMTP
server on 127.0.0.1, with SEQUENCE growth, per-site CANCELs, retries, restarts, RSVPs and feeds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from icalendar import Calendar  # type: ignore[import-untyped]

from orchestrator.booking.schemas import BookingOut, UpdateSessionRequest
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import AuthenticationRequired, PermissionDenied
from orchestrator.domain.models import Principal, Role
from orchestrator.invites.service import RsvpRequest
from orchestrator.settings import Settings
from orchestrator.web.app import init_app
from tests import builders
from tests.builders import deliver, with_smtp
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE, SIX
from tests.smtp_server import SmtpTestServer


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpTestServer) -> Settings:
    return with_smtp(settings, smtp_server, sender="vanphong@moet.example.org")


@pytest.fixture
async def service(mail_settings: Settings, clock: ManualClock) -> AsyncIterator[Container]:
    c = build(mail_settings, clock=clock)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    yield c
    await c.close()


async def book(c: Container, **over: Any) -> BookingOut:
    data = {
        "title": "Hội nghị trực tuyến công tác văn phòng",
        "agenda": "Các điểm cầu báo cáo",
        **over,
    }
    return await builders.book(c, **data)


def calendar_of(message: EmailMessage) -> Any:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    inline = [p for p in parts if p.get_content_disposition() != "attachment"]
    assert inline, "no inline text/calendar part"
    cal = Calendar.from_ical(inline[0].get_payload(decode=True))
    assert inline[0].get_param("method") == str(cal["METHOD"])
    return cal


def events(server: SmtpTestServer) -> dict[str, list[tuple[str, int, str]]]:
    """Per recipient: (METHOD, SEQUENCE, UID) of each message received, in order."""
    out: dict[str, list[tuple[str, int, str]]] = {}
    for m in server.messages:
        cal = calendar_of(m.parsed())
        event = cal.walk("VEVENT")[0]
        for rcpt in m.rcpt_tos:
            out.setdefault(rcpt, []).append(
                (str(cal["METHOD"]), int(event["SEQUENCE"]), str(event["UID"]))
            )
    return out


async def coordinator_of(c: Container, site_id: str) -> str:
    sites = {s.id: s for s in (await c.directory.view(OFFICE)).sites}
    address = sites[site_id].coordinator.email
    assert address
    return address


async def test_booking_sends_one_invite_per_site(
    service: Container, smtp_server: SmtpTestServer
) -> None:
    s = await book(service)
    await deliver(service)
    got = events(smtp_server)
    assert len(got) == 6
    uids = {v[0][2] for v in got.values()}
    assert len(uids) == 6
    assert all(v == [("REQUEST", 0, v[0][2])] for v in got.values())
    message = smtp_server.messages[0].parsed()
    assert message["From"].addresses[0].addr_spec == "vanphong@moet.example.org"
    cal = calendar_of(message)
    event = cal.walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Hội nghị trực tuyến công tác văn phòng"
    assert cal.walk("VTIMEZONE")
    status = await service.invites.status(s.id, OFFICE)
    assert {x.state for x in status.sites} == {"sent"}
    assert status.pending_changes == 0
    await deliver(service)  # nothing is sent twice
    assert len(smtp_server.messages) == 6


async def test_changes_raise_sequence_and_removed_sites_get_a_cancel(
    service: Container, smtp_server: SmtpTestServer
) -> None:
    s = await book(service)
    await deliver(service)
    await service.bookings.update(
        s.id,
        UpdateSessionRequest.model_validate(
            {
                "start": "2026-12-10T13:30:00+07:00",
                "end": "2026-12-10T16:00:00+07:00",
                "remove_sites": ["nghe-an"],
            }
        ),
        OFFICE,
    )
    await deliver(service)
    got = events(smtp_server)
    nghe_an = await coordinator_of(service, "nghe-an")
    assert [m for m, _, _ in got[nghe_an]] == ["REQUEST", "CANCEL"]
    assert got[nghe_an][1][1] > got[nghe_an][0][1]
    others = [v for k, v in got.items() if k != nghe_an]
    assert all([m for m, _, _ in v] == ["REQUEST", "REQUEST"] for v in others)
    assert all(v[1][1] > v[0][1] and v[0][2] == v[1][2] for v in others)  # same UID, higher SEQ
    await service.bookings.cancel(s.id, OFFICE, "hoãn")
    await deliver(service)
    got = events(smtp_server)
    assert [m for m, _, _ in got[nghe_an]] == ["REQUEST", "CANCEL"]  # not cancelled twice
    for k, v in got.items():
        if k != nghe_an:
            assert v[-1][0] == "CANCEL"
            assert v[-1][1] > v[-2][1]


async def test_server_down_delays_but_loses_nothing(
    service: Container, smtp_server: SmtpTestServer, clock: ManualClock
) -> None:
    smtp_server.stop()
    s = await book(service)
    await deliver(service)
    status = await service.invites.status(s.id, OFFICE)
    assert {x.state for x in status.sites} == {"queued"}
    assert status.pending_changes == 1
    assert all(x.last_error for x in status.sites)
    smtp_server.start()
    await deliver(service)  # not due yet: backoff
    assert smtp_server.messages == []
    clock.advance(timedelta(minutes=2))
    await deliver(service)
    assert len(smtp_server.messages) == 6
    status = await service.invites.status(s.id, OFFICE)
    assert {x.state for x in status.sites} == {"sent"}
    assert all(x.attempts == 2 for x in status.sites)


async def test_refused_recipient_fails_with_its_reason(
    service: Container, smtp_server: SmtpTestServer
) -> None:
    address = await coordinator_of(service, "can-tho")
    smtp_server.behaviour.refuse_recipients[address] = "550 5.1.1 No such user"
    s = await book(service)
    await deliver(service)
    status = {x.site_id: x for x in (await service.invites.status(s.id, OFFICE)).sites}
    assert status["can-tho"].state == "failed"
    assert "550" in (status["can-tho"].last_error or "")
    assert {x.state for k, x in status.items() if k != "can-tho"} == {"sent"}
    assert len(smtp_server.messages) == 5


async def test_restart_with_a_full_outbox_sends_each_once(
    service: Container,
    mail_settings: Settings,
    clock: ManualClock,
    smtp_server: SmtpTestServer,
) -> None:
    await book(service)
    await book(
        service, title="Second", start="2026-12-11T08:00:00+07:00", end="2026-12-11T09:00:00+07:00"
    )
    await service.close()  # the service stops with two changes queued
    again = build(mail_settings, clock=clock)
    try:
        await deliver(again)
        assert len(smtp_server.messages) == 12
        await deliver(again)
        assert len(smtp_server.messages) == 12
    finally:
        await again.close()


async def test_rsvp_by_api_and_by_signed_link(
    service: Container, smtp_server: SmtpTestServer
) -> None:
    s = await book(service)
    await deliver(service)
    coordinator = Principal(role=Role.COORDINATOR, token_id="t", site_id="da-nang")
    out = await service.invites.rsvp(
        s.id, "da-nang", RsvpRequest(response="accepted", comment="12 người"), coordinator
    )
    assert [x.rsvp for x in out.sites] == ["accepted"]  # a coordinator sees their own site
    # the email's decline link for Cần Thơ, confirmed with its button (POST)
    message = next(
        m.parsed()
        for m in smtp_server.messages
        if "can-tho" in str(calendar_of(m.parsed()).walk("VEVENT")[0]["UID"])
    )
    body = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()
    link = next(w for w in body.split() if "/rsvp/" in w and "declined" in w)
    path = link[link.index("/rsvp/") :].rstrip(").,")
    server = TestServer(init_app(service), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(server.make_url("/")).rstrip("/")) as http:
            page = await http.get(path)
            assert page.status_code == 200
            assert "<form" in page.text
            assert (await http.post(path)).status_code == 200
            forged = path.replace("declined", "accepted")
            assert (await http.post(forged)).status_code == 403
    finally:
        await server.close()
    status = {x.site_id: x for x in (await service.invites.status(s.id, OFFICE)).sites}
    assert status["can-tho"].rsvp == "declined"
    assert status["da-nang"].rsvp_comment == "12 người"


async def test_downloads_feeds_and_export(service: Container) -> None:
    s = await book(service)
    coordinator = Principal(role=Role.COORDINATOR, token_id="t", site_id="da-nang")
    ics = await service.invites.invite_ics(s.id, "da-nang", coordinator)
    cal = Calendar.from_ical(ics)
    assert str(cal["METHOD"]) == "REQUEST"
    with pytest.raises(PermissionDenied):
        await service.invites.invite_ics(s.id, "can-tho", coordinator)
    url = await service.invites.create_feed("da-nang", OFFICE)
    token = url.split("token=")[1]
    feed = Calendar.from_ical(await service.invites.feed("da-nang", token))
    assert len(feed.walk("VEVENT")) == 1
    await service.bookings.cancel(s.id, OFFICE)
    feed = Calendar.from_ical(await service.invites.feed("da-nang", token))
    assert str(feed.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    newer = await service.invites.create_feed("da-nang", OFFICE)
    with pytest.raises(AuthenticationRequired):
        await service.invites.feed("da-nang", token)  # replaced: the old URL stops working
    assert await service.invites.feed("da-nang", newer.split("token=")[1])
    files = await service.invites.export(s.id, OFFICE)
    assert set(files) == set(SIX)
    assert all(b"METHOD:CANCEL" in ics for ics, _ in files.values())
