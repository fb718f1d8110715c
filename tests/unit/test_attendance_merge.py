"""Attendance merge: a six-site meeting replayed in order, shuffled and repeated; a minute-grid
oracle for the interval merge; polls, overrides and the late / left-early boundaries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestrator.attendance import (
    AttendanceEvent,
    AttendanceRecord,
    AttendanceStatus,
    Connection,
    EventKind,
    EventSource,
    Interval,
    Thresholds,
    Verdict,
    merge,
    merge_session,
)
from orchestrator.attendance.service import checkin_state
from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import Chair, Session, SessionKind, SessionSite

VN = ZoneInfo("Asia/Ho_Chi_Minh")
M = timedelta(minutes=1)
ROOM = "hoi-nghi-van-phong-2013-k7q2"
SIX = ("ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen", "nghe-an")
BOUNDED = settings(max_examples=150, deadline=None)


def vn(h: int, m: int, s: int = 0) -> datetime:
    """An instant on the meeting's day, given in Hà Nội time (the session runs 08:00-10:00)."""
    return datetime(2026, 12, 10, h, m, s, tzinfo=VN).astimezone(UTC)


START, END = vn(8, 0), vn(10, 0)


# --- building events as the adapters will -------------------------------------------------------


def webhook(
    provider: EventSource,
    kind: EventKind,
    occupant: str,
    when: datetime,
    site: str | None = None,
    **extra: object,
) -> AttendanceEvent:
    """A join or leave with the dedupe key its provider gives (DESIGN 6.3, 6.4)."""
    if provider is EventSource.JITSI:
        name = "muc-occupant-joined" if kind is EventKind.JOIN else "muc-occupant-left"
        key = f"{ROOM}|{occupant}|{name}|{int(when.timestamp())}"
    else:  # JaaS: a random idempotencyKey per event, stable across its retries
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{occupant}/{kind}/{when.isoformat()}"))
    return AttendanceEvent(
        source=provider,
        kind=kind,
        occupant=occupant,
        site_id=site,
        at=when,
        dedupe_key=key,
        **extra,
    )


def join(occupant: str, when: datetime, site: str | None, **extra: object) -> AttendanceEvent:
    return webhook(EventSource.JITSI, EventKind.JOIN, occupant, when, site, **extra)


def leave(occupant: str, when: datetime, site: str | None, **extra: object) -> AttendanceEvent:
    return webhook(EventSource.JITSI, EventKind.LEAVE, occupant, when, site, **extra)


def destroyed(when: datetime, provider: EventSource = EventSource.JITSI) -> AttendanceEvent:
    return AttendanceEvent(
        source=provider,
        kind=EventKind.DESTROYED,
        at=when,
        dedupe_key=f"{ROOM}|muc-room-destroyed|{int(when.timestamp())}",
    )


def poll(
    when: datetime, seen: Mapping[str, str | None] | None = None, *, failed: bool = False
) -> list[AttendanceEvent]:
    """One poll of the room: `seen` maps the listed JIDs to their site; or a failed poll."""
    stamp = int(when.timestamp())
    marker = AttendanceEvent(
        source=EventSource.POLL,
        kind=EventKind.UNKNOWN if failed else EventKind.ABSENT,
        at=when,
        dedupe_key=f"poll|{stamp}",
    )
    return [marker] + [
        AttendanceEvent(
            source=EventSource.POLL,
            kind=EventKind.PRESENT,
            occupant=jid,
            site_id=site,
            at=when,
            dedupe_key=f"poll|{stamp}|{jid}",
        )
        for jid, site in (seen or {}).items()
    ]


def checkin(site: str, when: datetime, headcount: int, *names: str) -> AttendanceEvent:
    return AttendanceEvent(
        source=EventSource.CHECKIN,
        kind=EventKind.CHECKIN,
        site_id=site,
        at=when,
        headcount=headcount,
        names=names,
        dedupe_key=f"checkin|{site}|{when.isoformat()}",
    )


def override(site: str, when: datetime, verdict: Verdict, reason: str) -> AttendanceEvent:
    return AttendanceEvent(
        source=EventSource.OVERRIDE,
        kind=EventKind.OVERRIDE,
        site_id=site,
        at=when,
        verdict=verdict,
        reason=reason,
        dedupe_key=f"override|{site}|{when.isoformat()}",
    )


def record(
    events: Sequence[AttendanceEvent],
    now: datetime,
    sites: Sequence[str] = SIX,
    thresholds: Thresholds | None = None,
) -> AttendanceRecord:
    return merge(
        events,
        sites=sites,
        session_start=START,
        session_end=END,
        now=now,
        thresholds=thresholds or Thresholds(),
    )


# --- the six-site meeting -----------------------------------------------------------------------


def six_site_meeting(provider: EventSource) -> list[AttendanceEvent]:
    """Hà Nội hosts from the connection test; Đà Nẵng drops and reconnects; TP. Hồ Chí Minh joins
    from two devices; Cần Thơ is late; Thái Nguyên never joins; Nghệ An joins exactly at the
    grace and leaves early; a guest opens the room without a site token."""

    def ev(
        kind: EventKind, jid: str, when: datetime, site: str | None, **x: object
    ) -> AttendanceEvent:
        return webhook(provider, kind, jid, when, site, **x)

    host = "hn-5f1c2d9e@meet.example.org/Xk2mQp7w"
    dn1, dn2 = "dn-0a43@meet.example.org/r1", "dn-0a43@meet.example.org/r2"
    hcm_a, hcm_b = "hcm-9d7e@meet.example.org/phong-hop", "hcm-2c3a@meet.example.org/laptop"
    ct, na, guest = "ct-c97c@meet.example.org/a", "na-1b0f@meet.example.org/a", "guest@x/y"
    J, L = EventKind.JOIN, EventKind.LEAVE
    return [
        ev(J, host, vn(7, 46), "ha-noi", name="Điểm cầu Hà Nội"),
        checkin("ha-noi", vn(7, 50), 35),
        ev(J, dn1, vn(7, 55), "da-nang", email="dau-moi@danang.example.org"),
        ev(J, hcm_a, vn(7, 58), "tp-ho-chi-minh"),
        ev(J, guest, vn(8, 5), None, name="Khách"),
        checkin("ha-noi", vn(8, 5), 42, "Nguyễn Văn An", "Trần Thị Bình"),
        ev(J, na, vn(8, 10), "nghe-an"),
        ev(L, guest, vn(8, 20), None, name="Khách"),
        ev(J, ct, vn(8, 25), "can-tho"),
        ev(J, hcm_b, vn(8, 30), "tp-ho-chi-minh"),
        *poll(
            vn(8, 30),
            {
                "room/hn": "ha-noi",
                "room/dn": "da-nang",
                "room/hcm1": "tp-ho-chi-minh",
                "room/hcm2": "tp-ho-chi-minh",
                "room/ct": "can-tho",
                "room/na": "nghe-an",
                "room/guest": None,
            },
        ),
        ev(L, dn1, vn(8, 40), "da-nang", disconnect_reason="unknown"),
        ev(J, dn2, vn(8, 43), "da-nang"),
        ev(L, na, vn(8, 50), "nghe-an"),
        ev(L, hcm_a, vn(9, 0), "tp-ho-chi-minh"),
        *poll(
            vn(9, 30),
            {
                "room/hn": "ha-noi",
                "room/dn": "da-nang",
                "room/hcm2": "tp-ho-chi-minh",
                "room/ct": "can-tho",
            },
        ),
        ev(L, hcm_b, vn(9, 30), "tp-ho-chi-minh"),
        ev(L, dn2, vn(9, 58), "da-nang"),
        ev(L, ct, vn(10, 0), "can-tho", disconnect_reason="left"),
        destroyed(vn(10, 10), provider),
    ]


Line = tuple[Connection, AttendanceStatus, bool, bool, datetime | None, datetime | None, float, int]


def line(r: AttendanceRecord, site: str) -> Line:
    s = r.site(site)
    return (
        s.connection,
        s.status,
        s.late,
        s.left_early,
        s.first_join,
        s.last_leave,
        s.connected / M,
        s.reconnects,
    )


C, D, W = Connection.CONNECTED, Connection.DROPPED, Connection.WAITING
PRESENT, PARTIAL, ABSENT = (
    AttendanceStatus.PRESENT,
    AttendanceStatus.PARTIAL,
    AttendanceStatus.ABSENT,
)
PROVIDERS = pytest.mark.parametrize("provider", [EventSource.JITSI, EventSource.JAAS])


@PROVIDERS
def test_six_site_meeting_once_it_has_ended(provider: EventSource) -> None:
    r = record(six_site_meeting(provider), now=vn(10, 30))

    # After the room is destroyed nobody is in it: every site that came reads `dropped`.
    assert line(r, "ha-noi") == (D, PRESENT, False, False, vn(7, 46), None, 120, 0)
    assert line(r, "da-nang") == (D, PRESENT, False, False, vn(7, 55), vn(9, 58), 115, 1)
    assert line(r, "tp-ho-chi-minh") == (D, PRESENT, False, True, vn(7, 58), vn(9, 30), 90, 0)
    assert line(r, "can-tho") == (D, PRESENT, True, False, vn(8, 25), vn(10, 0), 95, 0)
    assert line(r, "thai-nguyen") == (W, ABSENT, False, False, None, None, 0, 0)
    assert line(r, "nghe-an") == (D, PARTIAL, False, True, vn(8, 10), vn(8, 50), 40, 0)

    hanoi = r.site("ha-noi")
    assert (hanoi.headcount, hanoi.names) == (42, ("Nguyễn Văn An", "Trần Thị Bình"))
    assert hanoi.intervals == (Interval(start=vn(7, 46), end=END),)
    assert len(r.site("tp-ho-chi-minh").occupants) == 2
    assert r.site("da-nang").intervals == (
        Interval(start=vn(7, 55), end=vn(8, 40)),
        Interval(start=vn(8, 43), end=vn(9, 58)),
    )
    # The guest is listed once: the poll's sighting of it is not a second person.
    [guest] = r.unmatched
    assert (guest.name, guest.site_id, guest.source) == ("Khách", None, provider)
    assert (guest.first_join, guest.last_leave, guest.connected_minutes) == (
        vn(8, 5),
        vn(8, 20),
        15,
    )
    assert r.ended
    assert r.summary("en") == "5/6 sites connected, 1 late, 2 left early, 1 unmatched occupant"
    assert r.summary("vi") == (
        "5/6 điểm cầu đã kết nối, 1 vào muộn, 2 rời sớm, 1 người không thuộc điểm cầu nào"
    )


@PROVIDERS
def test_six_site_meeting_while_live(provider: EventSource) -> None:
    r = record(six_site_meeting(provider), now=vn(8, 41))

    # 41 minutes elapsed: present needs 20.5 of them.
    assert line(r, "ha-noi") == (C, PRESENT, False, False, vn(7, 46), None, 41, 0)
    assert line(r, "da-nang") == (D, PRESENT, False, True, vn(7, 55), vn(8, 40), 40, 0)
    assert line(r, "tp-ho-chi-minh") == (C, PRESENT, False, False, vn(7, 58), None, 41, 0)
    assert line(r, "can-tho") == (C, PARTIAL, True, False, vn(8, 25), None, 16, 0)
    assert line(r, "thai-nguyen") == (W, ABSENT, False, False, None, None, 0, 0)
    assert line(r, "nghe-an") == (C, PRESENT, False, False, vn(8, 10), None, 31, 0)
    assert r.site("ha-noi").headcount == 42
    assert not r.ended
    assert r.summary("en") == "4/6 sites connected, 1 late, 1 left early, 1 unmatched occupant"
    assert r.summary() == r.summary("vi")
    assert r.summary().startswith("4/6 điểm cầu đã kết nối, 1 vào muộn, 1 rời sớm")


@PROVIDERS
@BOUNDED
@given(data=st.data())
def test_six_site_meeting_shuffled_and_repeated_gives_the_same_record(
    provider: EventSource, data: st.DataObject
) -> None:
    events = six_site_meeting(provider)
    shuffled = data.draw(st.permutations(events))
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    # A retry is a new object equal to the first; it may land anywhere in the stream.
    copies = [e.model_copy() for e in repeats]
    stream = data.draw(st.permutations(shuffled + copies))
    for now in (vn(7, 50), vn(8, 41), vn(9, 30), vn(10, 30)):
        assert record(stream, now) == record(events, now)


def test_the_same_key_with_different_content_keeps_one_whatever_the_order() -> None:
    first = join("a", vn(8, 0), "ha-noi")
    other = first.model_copy(update={"at": vn(9, 0)})
    assert record([first, other], vn(9, 30)) == record([other, first], vn(9, 30))


# --- the interval merge against a minute-by-minute oracle ----------------------------------------

# Occupants 0 and 1 are two devices of site "a", 2 is site "b", 3 is a guest with no site.
OCCUPANT_SITE: dict[int, str | None] = {0: "a", 1: "a", 2: "b", 3: None}
GRID_SITES = ("a", "b")
LO, HI = -20, 140  # minutes from the start; the session lasts 120

Raw = tuple[int, str, int]  # (occupant or -1 for the room, "join" / "leave" / "destroyed", minute)
_RANK = {"leave": 1, "destroyed": 2, "join": 3}

raw_events = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(sorted(OCCUPANT_SITE)),
            st.sampled_from(["join", "leave"]),
            st.integers(LO, HI),
        ),
        st.tuples(st.just(-1), st.just("destroyed"), st.integers(LO, HI)),
    ),
    max_size=25,
)


def at_minute(m: int) -> datetime:
    return START + m * M


def build(raw: Sequence[Raw]) -> list[AttendanceEvent]:
    out = []
    for i, (who, kind, minute) in enumerate(raw):
        if kind == "destroyed":
            out.append(destroyed(at_minute(minute)).model_copy(update={"dedupe_key": f"d{i}"}))
            continue
        make = join if kind == "join" else leave
        event = make(f"occ-{who}", at_minute(minute), OCCUPANT_SITE[who])
        out.append(event.model_copy(update={"dedupe_key": f"e{i}"}))
    return out


def oracle_connected(raw: Sequence[Raw], who: int, m: int, now: int) -> bool:
    """Is occupant `who` connected during minute [m, m+1)? Read straight from the contract."""
    mine = sorted(
        (minute, _RANK[kind], kind)
        for o, kind, minute in raw
        if minute <= now and (o == who or kind == "destroyed")
    )
    before = [e for e in mine if e[0] <= m]
    after = [e for e in mine if e[0] > m]
    if before and before[-1][2] == "join":
        return True
    # A leave whose join was lost covers everything since the session start or the last close.
    return m >= 0 and bool(after) and after[0][2] == "leave"


def site_minutes(raw: Sequence[Raw], site: str | None, now: int) -> list[bool]:
    """Minute by minute from LO up to min(now, end): is any occupant of `site` connected?"""
    cap = min(now, 120)
    members = [o for o, s in OCCUPANT_SITE.items() if s == site]
    return [any(oracle_connected(raw, o, m, now) for o in members) for m in range(LO - 1, cap)]


def covered(intervals: Sequence[Interval], m: int) -> bool:
    return any(i.start <= at_minute(m) and at_minute(m + 1) <= i.end for i in intervals)


def runs(flags: Sequence[bool]) -> int:
    return sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1]))


@BOUNDED
@given(raw=raw_events, now=st.integers(LO, HI))
def test_the_merge_equals_a_minute_by_minute_oracle(raw: list[Raw], now: int) -> None:
    r = merge(
        build(raw),
        sites=GRID_SITES,
        session_start=START,
        session_end=START + 120 * M,
        now=at_minute(now),
    )
    cap = min(now, 120)
    for site in GRID_SITES:
        got = r.site(site)
        expected = site_minutes(raw, site, now)
        assert [covered(got.intervals, m) for m in range(LO - 1, cap)] == expected
        in_session = expected[-cap:] if cap > 0 else []
        assert got.connected == sum(in_session) * M
        assert got.reconnects == max(0, runs(expected) - 1)
        members = [o for o, s in OCCUPANT_SITE.items() if s == site]
        connected_now = any(oracle_connected(raw, o, now, now) for o in members)
        assert (got.connection is Connection.CONNECTED) == connected_now
    guest_minutes = site_minutes(raw, None, now)
    guest = [u.connected for u in r.unmatched if u.occupant == "occ-3"]
    assert sum(guest, timedelta(0)) == sum(guest_minutes[-cap:] if cap > 0 else []) * M


@BOUNDED
@given(raw=raw_events, now=st.integers(LO, HI), data=st.data())
def test_the_merge_ignores_arrival_order_and_repeats(
    raw: list[Raw], now: int, data: st.DataObject
) -> None:
    events = build(raw)
    again = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    stream = data.draw(st.permutations(events + again))
    assert record(stream, at_minute(now), GRID_SITES) == record(events, at_minute(now), GRID_SITES)


@BOUNDED
@given(raw=raw_events, now=st.integers(LO, HI))
def test_a_second_identical_device_changes_nothing_but_the_device_list(
    raw: list[Raw], now: int
) -> None:
    events = build(raw)
    twins = [
        e.model_copy(update={"occupant": e.occupant + "-twin", "dedupe_key": e.dedupe_key + "t"})
        for e in events
        if e.kind is not EventKind.DESTROYED
    ]
    once = record(events, at_minute(now), GRID_SITES)
    twice = record(events + twins, at_minute(now), GRID_SITES)
    for a, b in zip(once.sites, twice.sites, strict=True):
        assert a.model_copy(update={"occupants": ()}) == b.model_copy(update={"occupants": ()})


@BOUNDED
@given(raw=raw_events, now=st.integers(LO, HI))
def test_connected_time_never_exceeds_the_session_so_far(raw: list[Raw], now: int) -> None:
    r = record(build(raw), at_minute(now), GRID_SITES)
    elapsed = max(timedelta(0), min(at_minute(now), END) - START)
    for s in r.sites:
        assert timedelta(0) <= s.connected <= elapsed <= END - START
        assert all(i.start < i.end <= min(at_minute(now), END) for i in s.intervals)
        assert all(a.end < b.start for a, b in zip(s.intervals, s.intervals[1:], strict=False))


# --- occupants' edge cases -----------------------------------------------------------------------


def test_a_join_without_a_leave_runs_until_now_then_stops_at_the_end() -> None:
    events = [join("a", vn(8, 0), "ha-noi")]
    live = record(events, vn(8, 30)).site("ha-noi")
    assert (live.connection, live.intervals) == (C, (Interval(start=vn(8, 0), end=vn(8, 30)),))
    after = record(events, vn(11, 0)).site("ha-noi")
    # Still in the room after the end, but the record stops at the end.
    assert (after.connection, after.last_leave, after.connected_minutes) == (C, None, 120)
    assert after.intervals == (Interval(start=vn(8, 0), end=END),)


def test_a_leave_without_its_join_counts_from_the_start_or_the_previous_leave() -> None:
    s = record([leave("a", vn(8, 30), "ha-noi")], vn(9, 0)).site("ha-noi")
    assert (s.first_join, s.last_leave, s.connected_minutes, s.late) == (
        vn(8, 0),
        vn(8, 30),
        30,
        False,
    )
    events = [join("a", vn(8, 0), "ha-noi"), leave("a", vn(8, 20), "ha-noi")]
    s = record([*events, leave("a", vn(8, 50), "ha-noi")], vn(9, 0)).site("ha-noi")
    assert s.intervals == (Interval(start=vn(8, 0), end=vn(8, 50)),)
    # A leave in the connection test: connected then, never since the start (DESIGN 7).
    s = record([leave("a", vn(7, 50), "ha-noi")], vn(9, 0)).site("ha-noi")
    assert (s.measured_status, s.first_join, s.intervals) == (ABSENT, vn(7, 50), ())


def test_a_destroyed_room_closes_every_device() -> None:
    events = [
        join("a", vn(8, 0), "ha-noi"),
        join("b", vn(8, 5), "da-nang"),
        join("guest", vn(8, 5), None),
        destroyed(vn(8, 30)),
    ]
    r = record(events, vn(9, 0))
    for site in ("ha-noi", "da-nang"):
        assert (r.site(site).connection, r.site(site).last_leave) == (D, vn(8, 30))
    assert r.unmatched[0].last_leave == vn(8, 30)
    assert not r.unmatched[0].connected_now


def test_a_leave_and_a_join_at_the_same_instant_is_no_reconnect() -> None:
    # Moving into a breakout room: a leave then a join, same second.
    events = [
        join("a", vn(8, 0), "ha-noi"),
        leave("a", vn(8, 30), "ha-noi"),
        join("a", vn(8, 30), "ha-noi"),
    ]
    s = record(events, vn(9, 0)).site("ha-noi")
    assert (s.reconnects, s.connection, s.intervals) == (
        0,
        C,
        (Interval(start=vn(8, 0), end=vn(9, 0)),),
    )


def test_a_site_that_joins_only_after_the_end_is_absent_but_in_the_room() -> None:
    s = record([join("a", vn(10, 5), "ha-noi")], vn(10, 30)).site("ha-noi")
    assert (s.connection, s.status, s.first_join, s.late, s.intervals) == (
        C,
        ABSENT,
        None,
        False,
        (),
    )


def test_events_after_now_are_not_yet_read() -> None:
    events = [join("a", vn(8, 0), "ha-noi"), leave("a", vn(8, 30), "ha-noi")]
    assert record(events, vn(8, 15)).site("ha-noi").connection is C
    assert record(events, vn(8, 30)).site("ha-noi").connection is D


def test_an_occupant_of_another_site_is_listed_apart_with_that_site() -> None:
    r = record([join("x", vn(8, 0), "ca-mau", email="a@b.vn")], vn(8, 30))
    [u] = r.unmatched
    assert (u.site_id, u.email, u.connected_now, u.connected_minutes) == (
        "ca-mau",
        "a@b.vn",
        True,
        30,
    )


# --- late and left early -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_join", "late"),
    [
        (vn(7, 45), False),  # the connection test
        (vn(8, 10), False),  # exactly at the grace
        (vn(8, 10, 1), True),
        (vn(8, 30), True),
    ],
)
def test_late_is_strictly_after_the_grace(first_join: datetime, late: bool) -> None:
    assert record([join("a", first_join, "ha-noi")], vn(9, 0)).site("ha-noi").late is late


@pytest.mark.parametrize(
    ("last_leave", "left_early"),
    [(vn(9, 50), False), (vn(9, 49, 59), True), (vn(10, 0), False), (vn(10, 5), False)],
)
def test_left_early_is_strictly_before_the_grace(last_leave: datetime, left_early: bool) -> None:
    events = [join("a", vn(8, 0), "ha-noi"), leave("a", last_leave, "ha-noi")]
    assert record(events, vn(10, 30)).site("ha-noi").left_early is left_early


def test_graces_are_configurable() -> None:
    events = [join("a", vn(8, 10, 1), "ha-noi"), leave("a", vn(9, 45), "ha-noi")]
    th = Thresholds(late_grace_minutes=15, left_early_grace_minutes=20, min_presence=0.75)
    s = record(events, vn(10, 30), thresholds=th).site("ha-noi")
    assert (s.late, s.left_early, s.status) == (False, False, PRESENT)
    s = record(events, vn(10, 30), thresholds=Thresholds(min_presence=0.8)).site("ha-noi")
    assert (s.late, s.left_early, s.status) == (True, True, PARTIAL)


def test_left_early_waits_while_the_site_is_connected() -> None:
    events = [join("a", vn(8, 0), "ha-noi"), join("b", vn(8, 0), "ha-noi")]
    events.append(leave("a", vn(9, 0), "ha-noi"))
    s = record(events, vn(9, 30)).site("ha-noi")
    assert (s.left_early, s.last_leave) == (False, None)
    s = record([*events, leave("b", vn(9, 10), "ha-noi")], vn(9, 30)).site("ha-noi")
    assert (s.left_early, s.last_leave) == (True, vn(9, 10))


# Leaving at the start is leaving before it: connected in the test only (DESIGN 7).
@pytest.mark.parametrize(
    ("minutes", "status"), [(60, PRESENT), (59, PARTIAL), (1, PARTIAL), (0, ABSENT)]
)
def test_present_needs_half_the_session(minutes: int, status: AttendanceStatus) -> None:
    events = [join("a", vn(7, 50), "ha-noi"), leave("a", START + minutes * M, "ha-noi")]
    assert record(events, vn(10, 30)).site("ha-noi").status is status


# --- polls ----------------------------------------------------------------------------------------


def test_a_failed_poll_is_unknown_never_absent() -> None:
    events = [e for m in (0, 10, 20) for e in poll(START + m * M, failed=True)]
    live = record(events, vn(8, 25)).site("ha-noi")
    assert (live.connection, live.status) == (Connection.UNKNOWN, AttendanceStatus.UNKNOWN)
    ended = record(events, vn(10, 30))
    assert all(s.status is AttendanceStatus.UNKNOWN for s in ended.sites)
    assert ended.summary("en") == "0/6 sites connected, 6 unknown"


def test_a_site_seen_by_webhooks_stays_connected_through_failed_polls() -> None:
    events = [join("a", vn(8, 0), "ha-noi"), *poll(vn(8, 30), failed=True)]
    s = record(events, vn(8, 40)).site("ha-noi")
    assert (s.connection, s.status) == (C, PRESENT)
    s = record([*events, leave("a", vn(8, 35), "ha-noi")], vn(8, 40)).site("ha-noi")
    # It left, and the latest poll failed: nobody can say whether it is back.
    assert (s.connection, s.status) == (Connection.UNKNOWN, PRESENT)


def test_a_poll_that_answered_once_can_say_absent() -> None:
    events = [*poll(vn(8, 0)), *poll(vn(8, 30), failed=True)]
    s = record(events, vn(10, 30)).site("ha-noi")
    assert (s.connection, s.status) == (Connection.UNKNOWN, ABSENT)
    s = record([*events, *poll(vn(9, 0))], vn(10, 30)).site("ha-noi")
    assert (s.connection, s.status) == (W, ABSENT)


@BOUNDED
@given(raw=raw_events, fails=st.lists(st.integers(0, 119), min_size=1, max_size=5))
def test_failed_polls_never_make_a_site_absent(raw: list[Raw], fails: list[int]) -> None:
    events = build(raw) + [e for m in fails for e in poll(at_minute(m), failed=True)]
    r = record(events, at_minute(130), (*GRID_SITES, "never"))
    assert all(s.status is not ABSENT for s in r.sites)
    assert r.site("never").status is AttendanceStatus.UNKNOWN


def test_within_one_poll_seen_beats_failed_beats_not_seen() -> None:
    def observe(
        kind: EventKind, key: str, site: str | None = None, jid: str = ""
    ) -> AttendanceEvent:
        return AttendanceEvent(
            source=EventSource.POLL,
            kind=kind,
            at=vn(8, 0),
            site_id=site,
            occupant=jid,
            dedupe_key=key,
        )

    # The weaker observation sorts last within the instant, so reading in order would keep it.
    events = [
        observe(EventKind.PRESENT, "a", "ha-noi", "room/hn"),
        observe(EventKind.UNKNOWN, "b", "ha-noi"),
        observe(EventKind.UNKNOWN, "c"),
        observe(EventKind.ABSENT, "d"),
    ]
    r = record(events, vn(8, 5))
    assert (r.site("ha-noi").connection, r.site("ha-noi").status) == (C, PRESENT)
    assert r.site("da-nang").status is AttendanceStatus.UNKNOWN


def test_poll_samples_hold_until_the_next_observation() -> None:
    events = [
        *poll(vn(8, 0), {"room/hn": "ha-noi"}),
        *poll(vn(8, 30), {"room/hn": "ha-noi"}),
        *poll(vn(9, 0)),
        *poll(vn(9, 20), {"room/hn": "ha-noi"}),
    ]
    s = record(events, vn(9, 30)).site("ha-noi")
    assert s.intervals == (
        Interval(start=vn(8, 0), end=vn(9, 0)),
        Interval(start=vn(9, 20), end=vn(9, 30)),
    )
    assert (s.connection, s.reconnects, s.occupants) == (C, 1, ())


def test_a_webhook_leave_cuts_a_poll_sample() -> None:
    events = [
        join("a", vn(8, 0), "ha-noi"),
        *poll(vn(8, 10), {"room/hn": "ha-noi"}),
        leave("a", vn(8, 15), "ha-noi"),
        join("a", vn(8, 18), "ha-noi"),
        *poll(vn(8, 20), {"room/hn": "ha-noi"}),
    ]
    s = record(events, vn(8, 30)).site("ha-noi")
    assert (s.reconnects, s.connected_minutes) == (1, 27)


def test_guests_seen_only_by_polls_are_listed_while_webhooks_are_silent() -> None:
    events = [*poll(vn(8, 0), {"room/x": None}), *poll(vn(8, 20))]
    [u] = record(events, vn(8, 30)).unmatched
    assert (u.source, u.occupant, u.connected_minutes, u.connected_now) == (
        EventSource.POLL,
        "room/x",
        20,
        False,
    )
    assert record([*events, join("a", vn(8, 1), "ha-noi")], vn(8, 30)).unmatched == ()


# --- check-ins and overrides ----------------------------------------------------------------------


def test_the_latest_check_in_gives_headcount_and_names() -> None:
    events = [checkin("ha-noi", vn(8, 20), 40, "An"), checkin("ha-noi", vn(7, 50), 30)]
    s = record(events, vn(9, 0)).site("ha-noi")
    assert (s.headcount, s.names) == (40, ("An",))
    assert record(events, vn(8, 0)).site("ha-noi").headcount == 30


def test_the_latest_override_wins_and_keeps_its_reason() -> None:
    events = [
        join("a", vn(8, 0), "ha-noi"),
        override("ha-noi", vn(10, 5), Verdict.ABSENT, "màn hình trống suốt buổi"),
        override("ha-noi", vn(10, 20), Verdict.PRESENT, "đã xác minh qua điện thoại"),
        override("thai-nguyen", vn(10, 25), Verdict.PRESENT, "theo dõi qua điện thoại"),
    ]
    r = record(list(reversed(events)), vn(10, 30))
    hanoi, thai = r.site("ha-noi"), r.site("thai-nguyen")
    assert (hanoi.status, hanoi.measured_status) == (PRESENT, PRESENT)
    assert hanoi.override is not None
    assert hanoi.override.reason == "đã xác minh qua điện thoại"
    assert (thai.status, thai.measured_status, thai.connection) == (PRESENT, ABSENT, W)
    assert thai.override is not None
    assert thai.override.reason == "theo dõi qua điện thoại"
    # Before the second override, the first one stood.
    earlier = record(events, vn(10, 10)).site("ha-noi")
    assert (earlier.status, earlier.measured_status) == (ABSENT, PRESENT)
    assert earlier.override is not None
    assert earlier.override.reason == "màn hình trống suốt buổi"


# --- the surface ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"source": "poll", "kind": "join", "occupant": "a"},
        {"source": "jitsi", "kind": "join"},
        {"source": "jitsi", "kind": "destroyed", "site_id": "ha-noi"},
        {"source": "checkin", "kind": "checkin", "site_id": "ha-noi"},
        {"source": "override", "kind": "override", "site_id": "ha-noi", "verdict": "absent"},
        {"source": "override", "kind": "override", "site_id": "ha-noi", "reason": "x"},
        {"source": "jitsi", "kind": "join", "occupant": "a", "reason": "x"},
        {"source": "jitsi", "kind": "join", "occupant": "a", "disconnect_reason": "left"},
        {"source": "jitsi", "kind": "join", "occupant": "a", "at": datetime(2026, 12, 10, 8)},
    ],
)
def test_malformed_events_are_refused(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"at": START, "dedupe_key": "k"} | bad
    with pytest.raises(ValidationError):
        AttendanceEvent.model_validate(fields)


def test_merge_refuses_naive_or_inverted_windows() -> None:
    with pytest.raises(InvalidRequest):
        merge([], sites=SIX, session_start=START, session_end=START, now=START)
    with pytest.raises(InvalidRequest):
        merge([], sites=SIX, session_start=START, session_end=END, now=datetime(2026, 12, 10))
    with pytest.raises(InvalidRequest):
        record([], START).summary("fr")  # type: ignore[arg-type]


def test_merge_session_reads_the_booking() -> None:
    session = Session(
        id="s1",
        title="Hội nghị",
        kind=SessionKind.NATIONAL,
        start=START,
        end=END,
        timezone="Asia/Ho_Chi_Minh",
        host_site="ha-noi",
        chair=Chair(name="Chủ trì", email="chu-tri@example.org"),
        sites=tuple(SessionSite(site_id=s) for s in SIX),
        created_at=START,
        updated_at=START,
    )
    events = six_site_meeting(EventSource.JITSI)
    assert merge_session(session, events, now=vn(10, 30)) == record(events, vn(10, 30))


def test_checkin_opens_with_the_connection_test_and_closes_at_the_end() -> None:
    opens = datetime(2026, 12, 10, 0, 30, tzinfo=UTC)
    closes = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)
    minute = timedelta(minutes=1)
    assert checkin_state(False, opens, closes, opens - minute) == "early"
    assert checkin_state(False, opens, closes, opens) == "open"
    assert checkin_state(False, opens, closes, closes - minute) == "open"
    assert checkin_state(False, opens, closes, closes) == "closed"
    assert checkin_state(True, opens, closes, opens) == "cancelled"
