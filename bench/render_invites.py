"""Render 10,000 personalised invites for one session, on one core.

Judged by the ratio (DESIGN 9): at least 5 x the rate of plain icalendar building one calendar
per invite (the reference below); on a quiet run at least 8,000 per second, printed for
information.

One invite is what the outbox worker makes for one site: the site's join link with its own
HS256 token (PyJWT; claims as DESIGN 6.1: iss, aud, sub, room, nbf, exp, context.user), two
signed one-click RSVP links, the `InviteEvent` built from the domain (`site_invite`), the
iCalendar object (`render_calendar`) and the whole iMIP email (`build_invite_email`) serialised
with `as_bytes()`. Single process, single thread; the directory and the session are built
beforehand, and 50 invites warm up (templates compiled; VTIMEZONEs, the bodies and the blocks
the session's invites share cached) before timing. The figure is the median of 3 runs over every
site.

Reference, same run: plain icalendar building one Calendar with one Event per invite (same
properties, attendees and alarms; without VTIMEZONE, which icalendar does not add by itself)
and `to_ical()`, the naive way; a side line gives the same with `add_missing_timezones()` on 20
invites, the naive way to a VTIMEZONE. The JaaS variant signs RS256 instead (an RSA 2048 key
generated here, loaded once), same reference; DESIGN 9 gives it only a quiet-run figure (at
least 1,500 per second), so its ratio target is derived from the HS256 one in the same
proportion: at least 5 x 1,500 / 8,000 = 0.9375 x the reference. Its note gives the rate of the
RS256 link alone.

Checked afterwards: every UID and every join link distinct; for a sample of sites, the object
parses back with icalendar (METHOD, UID, TZID with its VTIMEZONE, DTSTART at the session's UTC
instant, the coordinator as ATTENDEE, DESCRIPTION), the email's text/calendar part carries the
same object with a matching `method=`, and the token verifies with PyJWT for that site and room.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from bench.common import BenchError, Context, Figure, check, local, median, site_id, working_days
from connectors.base import Attendee, Meeting
from connectors.jitsi import JitsiProvider
from orchestrator.domain.models import (
    Chair,
    Coordinator,
    Session,
    SessionKind,
    SessionSite,
    Site,
)
from orchestrator.invites import (
    DEFAULT_ALARMS,
    InviteEvent,
    InviteMethod,
    Party,
    build_invite_email,
    invite_uid,
    render_calendar,
    site_invite,
)
from orchestrator.invites.ics import describe

NAME = "render_invites"
TITLE = "render 10,000 personalised invites (ICS + token + email)"
RATIO_HS256 = 5.0  # x the plain icalendar rate (DESIGN 9)
QUIET_HS256 = 8000.0  # invites per second on a quiet run (DESIGN 9): information only
QUIET_RS256 = 1500.0
RATIO_RS256 = RATIO_HS256 * QUIET_RS256 / QUIET_HS256  # derived: DESIGN 9 has no RS256 ratio
RUNS = 3
WARM_UP = 50
CHUNK = 500  # invites between two yields to the event loop

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
INVITE_DOMAIN = "hop.moet.example.vn"
JITSI_DOMAIN = "meet.moet.example.vn"
APP_ID = "orchestrator"
APP_SECRET = b"bench-secret-bench-secret-bench-secret!!"  # 40 bytes: HS256 wants >= 32
RSVP_KEY = b"bench-rsvp-key-bench-rsvp-key-0123"
JAAS_APP = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef"
JAAS_KID = f"{JAAS_APP}/bench01"
ORGANIZER = Party("Văn phòng Bộ Giáo dục và Đào tạo", "vanphong@hop.moet.example.vn")
AGENDA = (
    "1. Khai mạc, giới thiệu đại biểu\n"
    "2. Báo cáo tổng kết năm học, phương hướng nhiệm vụ năm học mới\n"
    "3. Các điểm cầu phát biểu, thảo luận\n"
    "4. Kết luận của Bộ trưởng; bế mạc"
)
# A few sites abroad: the invites then carry three zones, two of them with daylight saving.
ZONES = {97: "Europe/Paris", 98: "America/New_York"}


def _sites(count: int) -> list[Site]:
    return [
        Site(
            id=site_id(i),
            name=f"Điểm cầu {i} — Trường THPT số {i}",
            timezone=ZONES.get(i % 100, "Asia/Ho_Chi_Minh"),
            coordinator=Coordinator(
                name=f"Nguyễn Văn Đầu Mối {i}", email=f"dau-moi-{i}@example.org"
            ),
            capacity=30,
            room=f"Phòng họp trực tuyến, tầng {i % 5 + 1}" if i % 2 else "",
            language="en" if i % 10 == 9 else "vi",
        )
        for i in range(count)
    ]


def _session(sites: list[Site]) -> Session:
    day = working_days(NOW.date() + timedelta(days=14), 1)[0]
    return Session(
        id=str(uuid.UUID(int=0x8F14E45FCEEA467A9AF00123456789AB)),
        title="Hội nghị trực tuyến toàn quốc tổng kết năm học 2026-2027",
        agenda=AGENDA,
        kind=SessionKind.NATIONAL,
        start=local(day, 8, 0),
        end=local(day, 11, 30),
        timezone="Asia/Ho_Chi_Minh",
        host_site=sites[0].id,
        chair=Chair(name="Bộ trưởng", email="bo-truong@hop.moet.example.vn"),
        sites=tuple(SessionSite(site_id=s.id) for s in sites),
        buffer_before_minutes=30,
        buffer_after_minutes=15,
        room="tong-ket-nam-hoc-8f14e45fceea467a",
        created_at=NOW,
        updated_at=NOW,
    )


# Links ---------------------------------------------------------------------------------


def _window(session: Session) -> tuple[int, int]:
    opens = session.start - timedelta(minutes=session.buffer_before_minutes)
    closes = session.end + timedelta(minutes=session.buffer_after_minutes)
    return math.floor(opens.timestamp()), math.ceil(closes.timestamp())


def _user(site: Site) -> dict[str, str]:
    return {"id": site.id, "name": site.name, "email": site.coordinator.email or ""}


LinkMaker = Callable[[Session, Site], str]


def _jitsi_link_maker() -> LinkMaker:
    """The service's own Jitsi links (`JitsiProvider.join_url`: the HS256 token and the URL
    fragment), one `Meeting` per session and an `Attendee` per site, as the outbox mints them."""
    provider = JitsiProvider(JITSI_DOMAIN, APP_ID, APP_SECRET.decode())
    meetings: dict[str, Meeting] = {}

    def link(session: Session, site: Site) -> str:
        meeting = meetings.get(session.id)
        if meeting is None:
            meeting = meetings[session.id] = Meeting(
                session_id=session.id,
                title=session.title,
                room=session.room or "",
                start=session.start,
                end=session.end,
                opens_at=session.start - timedelta(minutes=session.buffer_before_minutes),
                closes_at=session.end + timedelta(minutes=session.buffer_after_minutes),
            )
        attendee = Attendee(
            site_id=site.id,
            name=site.name,
            email=site.coordinator.email,
            moderator=site.id == session.host_site,
        )
        return provider.join_url(meeting, attendee)

    return link


def _jaas_link_maker(key: rsa.RSAPrivateKey) -> LinkMaker:
    def link(session: Session, site: Site) -> str:
        nbf, exp = _window(session)
        user = _user(site)
        user["moderator"] = "true" if site.id == session.host_site else "false"
        claims = {
            "aud": "jitsi",
            "iss": "chat",
            "sub": JAAS_APP,
            "room": session.room,
            "nbf": nbf,
            "exp": exp,
            "context": {
                "user": user,
                "features": {
                    "livestreaming": "false",
                    "recording": "false",
                    "transcription": "false",
                    "outbound-call": "false",
                },
            },
        }
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": JAAS_KID})
        return f"https://8x8.vc/{JAAS_APP}/{session.room}?jwt={token}"

    return link


def _rsvp(session: Session, site: Site, answer: str) -> str:
    message = f"{session.id}/{site.id}/{answer}".encode()
    signature = hmac.new(RSVP_KEY, message, hashlib.sha256).hexdigest()[:32]
    return f"https://{INVITE_DOMAIN}/rsvp/{session.id}/{site.id}/{answer}?sig={signature}"


# The measured work ----------------------------------------------------------------------


class _Run:
    """One pass over every site; keeps what the checks need."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.bytes = 0
        self.links: list[str] = []
        self.samples: dict[int, tuple[InviteEvent, bytes, bytes]] = {}


def _invite(session: Session, site: Site, make_link: LinkMaker) -> tuple[InviteEvent, bytes, bytes]:
    link = make_link(session, site)
    event = site_invite(
        session,
        site,
        join_url=link,
        method=InviteMethod.REQUEST,
        sequence=0,
        domain=INVITE_DOMAIN,
        organizer=ORGANIZER,
        dtstamp=NOW,
    )
    ics = render_calendar(event)
    message = build_invite_email(
        event,
        ics=ics,
        rsvp_accept_url=_rsvp(session, site, "accept"),
        rsvp_decline_url=_rsvp(session, site, "decline"),
    )
    return event, ics, message.as_bytes()


async def _render_all(
    session: Session, sites: list[Site], make_link: LinkMaker, sample_every: int
) -> _Run:
    run = _Run()
    for start in range(0, len(sites), CHUNK):
        chunk = sites[start : start + CHUNK]
        t0 = time.perf_counter()
        for offset, site in enumerate(chunk):
            event, ics, data = _invite(session, site, make_link)
            run.bytes += len(data)
            run.links.append(event.join_url)
            if (start + offset) % sample_every == 0:
                run.samples[start + offset] = (event, ics, data)
        run.seconds += time.perf_counter() - t0
        await asyncio.sleep(0)  # lets a timeout cancel the benchmark between chunks
    return run


def _naive_calendar(session: Session, site: Site, link: str, *, vtimezone: bool = False) -> bytes:
    """One invite the plain icalendar way: the object model, then to_ical()."""
    zone = ZoneInfo(site.timezone)
    calendar = Calendar()
    calendar.add("prodid", "-//bench//naive icalendar//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", invite_uid(session.id, site.id, INVITE_DOMAIN))
    event.add("dtstamp", NOW)
    event.add("sequence", 0)
    event.add("status", "CONFIRMED")
    event.add("summary", session.title)
    event.add("dtstart", session.start.astimezone(zone))
    event.add("dtend", session.end.astimezone(zone))
    event.add("location", site.room or link)
    event.add("url", link)
    event.add("description", f"{session.agenda}\n\n{link}")
    organizer = vCalAddress(f"mailto:{ORGANIZER.email}")
    organizer.params["cn"] = vText(ORGANIZER.name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{site.coordinator.email}")
    attendee.params.update(
        {
            "cn": vText(site.coordinator.name),
            "role": "REQ-PARTICIPANT",
            "partstat": "NEEDS-ACTION",
            "rsvp": "TRUE",
        }
    )
    event.add("attendee", attendee)
    chair = vCalAddress(f"mailto:{session.chair.email}")
    chair.params.update({"cn": vText(session.chair.name), "role": "CHAIR"})
    event.add("attendee", chair)
    for minutes in DEFAULT_ALARMS:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", session.title)
        alarm.add("trigger", timedelta(minutes=-minutes))
        event.add_component(alarm)
    calendar.add_component(event)
    if vtimezone:
        calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


async def _naive_rate(
    session: Session, sites: list[Site], links: list[str], *, with_vtimezone: bool = False
) -> float:
    seconds = 0.0
    for start in range(0, len(sites), CHUNK):
        t0 = time.perf_counter()
        for site, link in zip(
            sites[start : start + CHUNK], links[start : start + CHUNK], strict=True
        ):
            _naive_calendar(session, site, link, vtimezone=with_vtimezone)
        seconds += time.perf_counter() - t0
        await asyncio.sleep(0)
    return len(sites) / seconds


def _signing_rate(sign: Callable[[], object], count: int) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        sign()
    return count / (time.perf_counter() - t0)


# Checks ---------------------------------------------------------------------------------


def _calendar_part(message: EmailMessage) -> tuple[str, bytes]:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return str(part.get_param("method")), payload
    raise BenchError("the email has no text/calendar part")


def _check(session: Session, sites: list[Site], run: _Run, verify: Callable[[str], Any]) -> None:
    check(len(run.links) == len(sites), f"{len(run.links)} invites for {len(sites)} sites")
    check(len(set(run.links)) == len(sites), "two sites got the same join link")
    uids = {invite_uid(session.id, site.id, INVITE_DOMAIN) for site in sites}
    check(len(uids) == len(sites), "two sites got the same UID")
    for index, (event, ics, data) in run.samples.items():
        site = sites[index]
        cal = Calendar.from_ical(ics)
        events = cal.walk("VEVENT")
        check(str(cal["METHOD"]) == "REQUEST", f"{site.id}: METHOD is {cal['METHOD']}")
        check(len(events) == 1, f"{site.id}: {len(events)} VEVENTs")
        vevent = events[0]
        check(
            str(vevent["UID"]) == invite_uid(session.id, site.id, INVITE_DOMAIN),
            f"{site.id}: UID {vevent['UID']}",
        )
        zones = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
        check(zones == {site.timezone}, f"{site.id}: VTIMEZONEs {zones}, zone {site.timezone}")
        start = vevent.decoded("DTSTART")
        check(
            start.tzinfo is not None and start.astimezone(UTC) == session.start,
            f"{site.id}: DTSTART {start} is not {session.start}",
        )
        check(
            str(vevent["ATTENDEE"][0]) == f"mailto:{site.coordinator.email}",
            f"{site.id}: ATTENDEE {vevent['ATTENDEE']}",
        )
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        method, body = _calendar_part(message)
        check(method == "REQUEST", f"{site.id}: text/calendar method={method}")
        check(body == ics, f"{site.id}: the email's calendar part differs from the .ics")
        token = event.join_url.partition("?jwt=")[2].partition("#")[0]
        claims = verify(token)
        check(claims["context"]["user"]["id"] == site.id, f"{site.id}: token names another site")
        check(claims["room"] == session.room, f"{site.id}: token for room {claims['room']}")
        check(str(vevent["DESCRIPTION"]) == describe(event), f"{site.id}: DESCRIPTION differs")


def _verify_hs256(token: str) -> Any:
    return jwt.decode(
        token,
        APP_SECRET,
        algorithms=["HS256"],
        audience=APP_ID,
        issuer=APP_ID,
        options={"verify_nbf": False, "verify_exp": False},
    )


def _jaas_verifier(key: rsa.RSAPrivateKey) -> Callable[[str], Any]:
    public = key.public_key()

    def verify(token: str) -> Any:
        header = jwt.get_unverified_header(token)
        check(header.get("kid") == JAAS_KID, f"JaaS token kid {header.get('kid')}")
        return jwt.decode(
            token,
            public,
            algorithms=["RS256"],
            audience="jitsi",
            issuer="chat",
            options={"verify_nbf": False, "verify_exp": False},
        )

    return verify


async def run(ctx: Context) -> None:
    count = ctx.size(10_000, 300)
    runs = ctx.size(RUNS, 1)
    sites = _sites(count)
    session = _session(sites)
    sample_every = max(1, count // 20)

    jitsi_link = _jitsi_link_maker()
    for site in sites[:WARM_UP]:
        _invite(session, site, jitsi_link)
    results: list[_Run] = []
    naive_rates: list[float] = []
    for _ in range(runs):
        # each run of the figure followed by one of the reference: a machine whose load moves
        # moves both, and the ratio compares medians taken over the same minutes
        results.append(await _render_all(session, sites, jitsi_link, sample_every))
        if not naive_rates:
            for site in sites[:WARM_UP]:
                _naive_calendar(session, site, results[0].links[0])
        naive_rates.append(await _naive_rate(session, sites, results[0].links))
    for result in results:
        _check(session, sites, result, _verify_hs256)
    rates = [count / r.seconds for r in results]
    naive = median(naive_rates)
    # What a naive VTIMEZONE would add: icalendar's add_missing_timezones() per invite.
    few = min(count, 20)
    naive_tz = await _naive_rate(session, sites[:few], results[0].links[:few], with_vtimezone=True)

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jaas_link = _jaas_link_maker(key)
    for site in sites[:WARM_UP]:
        _invite(session, site, jaas_link)
    jaas = await _render_all(session, sites, jaas_link, sample_every)
    _check(session, sites, jaas, _jaas_verifier(key))
    rs256 = _signing_rate(lambda: jaas_link(session, sites[0]), min(count, 300))

    size = results[0].bytes / count
    reference = "plain icalendar, 1 Calendar + 1 Event per invite, to_ical()" + (
        f", median of {runs} taken between the runs" if runs > 1 else ""
    )
    ctx.report(
        Figure(
            bench=NAME,
            what=f"jitsi HS256: {count} invites (token + ICS + email as_bytes)"
            + (f", median of {runs}" if runs > 1 else ""),
            value=round(median(rates)),
            unit="invites/s",
            reference_what=reference,
            reference=round(naive),
            ratio_target=RATIO_HS256,
            absolute=QUIET_HS256,
            lower_is_better=False,
            note=f"runs {', '.join(f'{r:.0f}' for r in rates)}/s; {size / 1024:.1f} KiB per email",
        )
    )
    ctx.report(
        Figure(
            bench=NAME,
            what=f"jaas RS256: {count} invites (token + ICS + email as_bytes)",
            value=round(count / jaas.seconds),
            unit="invites/s",
            reference_what=reference,
            reference=round(naive),
            ratio_target=RATIO_RS256,
            absolute=QUIET_RS256,
            lower_is_better=False,
            note=f"the RS256 link alone: {rs256:.0f}/s",
        )
    )
    ctx.say(
        NAME,
        f"plain icalendar with add_missing_timezones() per invite (VTIMEZONE the naive way, "
        f"{few} invites): {naive_tz:.0f} invites/s",
    )
