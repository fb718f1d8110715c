"""A series' invites end to end (DESIGN 10): booked through the API, mailed over a real SMTP
server on 127.0.0.1, then one occurrence moved, one cancelled, a site removed from one, the
series' time changed and the series cancelled. After each step every site's mail says the
right METHOD, RECURRENCE-ID and SEQUENCE, and a calendar that applied each message, like the
object the site downloads and its feed, expands (recurring-ical-events and ical.js) to exactly
the site's live occurrences, across Paris' change to summer time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
import pytest
from icalendar import Calendar

from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import Settings
from tests import builders
from tests.builders import Tokens, deliver, issue_tokens, with_smtp
from tests.calendars import Client, assert_calendars_show, assert_itip
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE
from tests.smtp_server import SmtpTestServer

SITES = ["ha-noi", "da-nang", "can-tho"]
# Thursdays at 08:00 in Paris from 4 March 2027: summer time begins on 28 March, so the first
# four are 07:00 UTC and the last two 06:00 UTC.
SERIES = {
    "title": "Giao ban với Đại sứ quán",
    "agenda": "Tình hình du học sinh",
    "kind": "national",
    "timezone": "Europe/Paris",
    "start": "2027-03-04T08:00:00+01:00",
    "end": "2027-03-04T09:30:00+01:00",
    "recurrence": "FREQ=WEEKLY;BYDAY=TH;COUNT=6",
    "host_site": "ha-noi",
    "sites": SITES,
    "chair": {"name": "Chánh Văn phòng", "email": "chair@moet.example.org"},
    "buffer_before_minutes": 30,
    "override_reason": "a meeting in Paris' working hours",
}
FIRST_UTC = [datetime(2027, 3, d, 7, tzinfo=UTC) for d in (4, 11, 18, 25)] + [
    datetime(2027, 4, d, 6, tzinfo=UTC) for d in (1, 8)
]


@pytest.fixture
async def service(
    settings: Settings, smtp_server: SmtpTestServer, clock: ManualClock
) -> AsyncIterator[Container]:
    c = build(with_smtp(settings, smtp_server, sender="vanphong@moet.example.org"), clock=clock)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def http(service: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with builders.client(service) as client:
        yield client


def inline_calendar(message: EmailMessage) -> bytes:
    parts = [
        p
        for p in message.walk()
        if p.get_content_type() == "text/calendar" and p.get_content_disposition() != "attachment"
    ]
    assert len(parts) == 1
    data = parts[0].get_payload(decode=True)
    assert isinstance(data, bytes)
    method = str(Calendar.from_ical(data)["METHOD"])
    assert parts[0].get_param("method") == method  # iMIP: the part says the object's METHOD
    return data


class Sites:
    """Each site's calendar, fed the mail its coordinator receives."""

    def __init__(self, server: SmtpTestServer, addresses: dict[str, str]) -> None:
        self.server = server
        self.addresses = addresses
        self.clients = {site: Client() for site in addresses}
        self.seen = 0

    def receive(self) -> dict[str, list[tuple[str, datetime | None, int]]]:
        """The new messages of each site (METHOD, RECURRENCE-ID, SEQUENCE), applied."""
        got: dict[str, list[tuple[str, datetime | None, int]]] = {s: [] for s in self.addresses}
        by_address = {a: s for s, a in self.addresses.items()}
        for m in self.server.messages[self.seen :]:
            data = inline_calendar(m.parsed())
            (rcpt,) = m.rcpt_tos
            site = by_address[rcpt]
            client = self.clients[site]
            client.apply(data)
            method, _, rid, sequence = client.applied[-1]
            got[site].append((method, rid, sequence))
        self.seen = len(self.server.messages)
        return got


async def live(http: httpx.AsyncClient, office: dict[str, str], series_id: str) -> dict[str, list]:
    """Each site's live occurrences, as the API has them: (start, end) in UTC."""
    r = await http.get(f"/api/series/{series_id}", headers=office)
    assert r.status_code == 200, r.text
    out: dict[str, list[tuple[datetime, datetime]]] = {s: [] for s in SITES}
    for o in r.json()["occurrences"]:
        if o["status"] == "cancelled":
            continue
        session = (await http.get(f"/api/sessions/{o['session_id']}", headers=office)).json()
        for s in session["sites"]:
            out[s["site_id"]].append(
                (
                    datetime.fromisoformat(o["start"]).astimezone(UTC),
                    datetime.fromisoformat(o["end"]).astimezone(UTC),
                )
            )
    return {s: sorted(v) for s, v in out.items()}


async def check_calendars(
    http: httpx.AsyncClient, tokens: Tokens, series_id: str, sites: Sites
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Every site's mailed calendar, its download and its feed show its live occurrences."""
    office = builders.bearer(tokens.office)
    expected = await live(http, office, series_id)
    for site in SITES:
        assert sites.clients[site].shows() == expected[site], site
        coordinator = builders.bearer(tokens.coordinators[site])
        r = await http.get(f"/api/series/{series_id}/sites/{site}/invite.ics", headers=coordinator)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/calendar")
        assert_itip(r.content)
        assert_calendars_show(r.content, expected[site])
    return expected


async def test_a_series_through_its_changes(
    service: Container,
    http: httpx.AsyncClient,
    smtp_server: SmtpTestServer,
    clock: ManualClock,
) -> None:
    tokens = await issue_tokens(service, *SITES)
    office = builders.bearer(tokens.office)
    directory = {s.id: s for s in (await service.directory.view(OFFICE)).sites}
    addresses = {s: directory[s].coordinator.email or "" for s in SITES}
    sites = Sites(smtp_server, addresses)

    # Booked: one invite per site, the whole series, SEQUENCE 0.
    r = await http.post("/api/series", json=SERIES, headers=office)
    assert r.status_code == 201, r.text
    booked = r.json()
    series_id = booked["id"]
    occurrences = booked["occurrences"]
    assert [datetime.fromisoformat(o["start"]) for o in occurrences] == FIRST_UTC
    await deliver(service)
    got = sites.receive()
    assert got == {s: [("REQUEST", None, 0)] for s in SITES}
    expected = await check_calendars(http, tokens, series_id, sites)
    assert expected["da-nang"][0] == (FIRST_UTC[0], FIRST_UTC[0].replace(minute=30, hour=8))
    # Every mail carries the site's gateway link and the answer links of the whole series.
    message = smtp_server.messages[0].parsed()
    cal = Calendar.from_ical(inline_calendar(message))
    (master,) = cal.walk("VEVENT")
    assert "/join/" in str(master["URL"])
    assert "RRULE" in master
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"/rsvp/{series_id}/" in text
    assert "6 phiên họp định kỳ" in text
    assert str(message["Subject"]) == "Mời họp định kỳ: Giao ban với Đại sứ quán"

    # One occurrence moved an hour later: its REQUEST alone, with its RECURRENCE-ID.
    second = occurrences[1]
    moved = {"start": "2027-03-11T09:00:00+01:00", "end": "2027-03-11T10:30:00+01:00"}
    r = await http.patch(f"/api/sessions/{second['session_id']}", json=moved, headers=office)
    assert r.status_code == 200, r.text
    await deliver(service)
    assert sites.receive() == {s: [("REQUEST", FIRST_UTC[1], 1)] for s in SITES}
    subject = str(smtp_server.messages[-1].parsed()["Subject"])
    assert subject == "Thay đổi phiên họp ngày 11/03/2027: Giao ban với Đại sứ quán"
    await check_calendars(http, tokens, series_id, sites)

    # One occurrence cancelled: a CANCEL of its RECURRENCE-ID, STATUS:CANCELLED.
    third = occurrences[2]
    r = await http.post(f"/api/sessions/{third['session_id']}/cancel", json={}, headers=office)
    assert r.status_code == 200, r.text
    await deliver(service)
    assert sites.receive() == {s: [("CANCEL", FIRST_UTC[2], 2)] for s in SITES}
    last = smtp_server.messages[-1].parsed()
    (event,) = Calendar.from_ical(inline_calendar(last)).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(last["Subject"]) == "Hủy phiên họp ngày 18/03/2027: Giao ban với Đại sứ quán"
    await check_calendars(http, tokens, series_id, sites)

    # Cần Thơ removed from the fourth: a CANCEL of that occurrence to Cần Thơ only.
    fourth = occurrences[3]
    r = await http.patch(
        f"/api/sessions/{fourth['session_id']}", json={"remove_sites": ["can-tho"]}, headers=office
    )
    assert r.status_code == 200, r.text
    await deliver(service)
    assert sites.receive() == {
        "ha-noi": [],
        "da-nang": [],
        "can-tho": [("CANCEL", FIRST_UTC[3], 3)],
    }
    expected = await check_calendars(http, tokens, series_id, sites)
    assert len(expected["can-tho"]) == 4
    assert len(expected["da-nang"]) == 5

    # The series' time changed to 09:00: the whole object again, one override per occurrence.
    r = await http.patch(f"/api/series/{series_id}", json={"start_time": "09:00"}, headers=office)
    assert r.status_code == 200, r.text
    await deliver(service)
    assert sites.receive() == {s: [("REQUEST", None, 4)] for s in SITES}
    expected = await check_calendars(http, tokens, series_id, sites)
    # 09:00 in Paris: 08:00 UTC before the change to summer time, 07:00 after
    assert [start.hour for start, _ in expected["da-nang"]] == [8, 8, 8, 7, 7]

    # For an occurrence, the session endpoints answer the series' state and object.
    coordinator = builders.bearer(tokens.coordinators["da-nang"])
    r = await http.get(f"/api/sessions/{fourth['session_id']}/invites", headers=office)
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["series_id"] == series_id
    assert {s["site_id"]: (s["state"], s["sequence"]) for s in state["sites"]} == {
        "ha-noi": ("sent", 4),
        "da-nang": ("sent", 4),
        "can-tho": ("sent", 4),
    }
    assert {s["site_id"]: s["in_session"] for s in state["sites"]}["can-tho"] is False
    per_session = await http.get(
        f"/api/sessions/{second['session_id']}/sites/da-nang/invite.ics", headers=coordinator
    )
    whole = await http.get(f"/api/series/{series_id}/sites/da-nang/invite.ics", headers=coordinator)
    assert per_session.status_code == 200
    assert per_session.content == whole.content

    # The whole series answered for the site: through the API and the mail's signed link.
    r = await http.post(
        f"/api/series/{series_id}/sites/da-nang/rsvp",
        json={"response": "accepted"},
        headers=coordinator,
    )
    assert r.status_code == 200, r.text
    answered = {s["site_id"]: s["rsvp"] for s in r.json()["sites"]}
    assert answered == {"da-nang": "accepted"}  # a coordinator sees their own site
    mail_text = smtp_server.messages[-1].parsed().get_body(("plain",)).get_content()  # type: ignore[union-attr]
    decline = next(line.strip() for line in mail_text.splitlines() if "/declined?sig=" in line)
    assert f"/rsvp/{series_id}/" in decline
    link = urlsplit(decline.split(": ", 1)[-1])
    r = await http.post(f"{link.path}?{link.query}")
    assert r.status_code == 200, r.text
    r = await http.get(f"/api/series/{series_id}/invites", headers=office)
    rsvps = {s["site_id"]: s["rsvp"] for s in r.json()["sites"]}
    assert rsvps[link.path.split("/")[3]] == "declined"

    # The site's feed: the series once (master, overrides), no occurrence on its own.
    r = await http.post("/api/sites/da-nang/feed", headers=coordinator)
    feed = await http.get(urlsplit(r.json()["url"]).path + "?" + urlsplit(r.json()["url"]).query)
    assert feed.status_code == 200
    assert_itip(feed.content)
    assert_calendars_show(feed.content, expected["da-nang"])

    # The series cancelled: a CANCEL of the UID; the calendars are empty.
    r = await http.post(f"/api/series/{series_id}/cancel", json={}, headers=office)
    assert r.status_code == 200, r.text
    await deliver(service)
    assert sites.receive() == {s: [("CANCEL", None, 5)] for s in SITES}
    subject = str(smtp_server.messages[-1].parsed()["Subject"])
    assert subject == "Hủy lịch họp định kỳ: Giao ban với Đại sứ quán"
    for site in SITES:
        assert sites.clients[site].masters == {}
        r = await http.get(
            f"/api/series/{series_id}/sites/{site}/invite.ics",
            headers=builders.bearer(tokens.coordinators[site]),
        )
        cal = assert_itip(r.content)
        assert str(cal["METHOD"]) == "CANCEL"
    # every site's messages, in order, by METHOD, RECURRENCE-ID and SEQUENCE
    assert [m for m, *_ in sites.clients["can-tho"].applied] == [
        "REQUEST",
        "REQUEST",
        "CANCEL",
        "CANCEL",
        "REQUEST",
        "CANCEL",
    ]
    assert [seq for *_, seq in sites.clients["da-nang"].applied] == [0, 1, 2, 4, 5]
