"""Per-site iCalendar objects: parsed back with icalendar and held to RFC 5545 / RFC 5546."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event, Timezone

from orchestrator.domain.models import (
    Chair,
    Coordinator,
    Session,
    SessionKind,
    SessionSite,
    Site,
)
from orchestrator.invites import ics
from orchestrator.invites.ics import (
    InviteEvent,
    InviteMethod,
    Party,
    describe,
    invite_uid,
    render_calendar,
    render_feed,
)
from orchestrator.invites.letters import site_invite

SESSION_ID = "8f14e45f-ceea-467a-9af0-0123456789ab"
DOMAIN = "hop.moet.example.vn"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
# Thursday 10 December 2026, 08:00-11:30 in Hà Nội.
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)
SENT = datetime(2026, 11, 23, 2, 15, 7, tzinfo=UTC)
LINK = (
    "https://meet.example.vn/giao-ban-vung-0123456789abcdef?jwt=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpX"
    "VCJ9.eyJyb29tIjoiZ2lhby1iYW4tdnVuZyJ9.c2lnbmF0dXJl#config.subject=%22H%E1%BB%99i%20ngh%E1%BB%8B%22"
)
SUMMARY = "Hội nghị trực tuyến giao ban vùng, năm học 2013-2014; Đà Nẵng"
AGENDA = "1. Khai mạc\n2. Báo cáo của các điểm cầu; thảo luận, kiến nghị\n3. Bế mạc \\ tổng kết"
ORGANIZER = Party("Văn phòng Bộ GD&ĐT", "vanphong@hop.moet.example.vn")
COORDINATOR = Party("Nguyễn Thị Đầu Mối", "dau-moi@danang.example.vn")
CHAIR = Party("Chánh Văn phòng Bộ", "chanh-vp@moet.example.vn")


def make_event(**changes: Any) -> InviteEvent:
    values: dict[str, Any] = {
        "uid": invite_uid(SESSION_ID, "da-nang", DOMAIN),
        "sequence": 0,
        "method": InviteMethod.REQUEST,
        "summary": SUMMARY,
        "start": START,
        "end": END,
        "timezone": "Asia/Ho_Chi_Minh",
        "organizer": ORGANIZER,
        "attendee": COORDINATOR,
        "chair": CHAIR,
        "join_url": LINK,
        "dtstamp": SENT,
        "agenda": AGENDA,
        "connection_test_at": START - timedelta(minutes=30),
        "location": "Phòng họp tầng 3, Sở GD&ĐT Đà Nẵng",
        "site_name": "Đà Nẵng",
        "alarms": (1440, 60, 30),
        "language": "vi",
    }
    values.update(changes)
    return InviteEvent(**values)


def parse(data: bytes) -> Calendar:
    return Calendar.from_ical(data)


def only_event(cal: Calendar) -> Event:
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def count(component: Any, name: str) -> int:
    value = component.get(name)
    if value is None:
        return 0
    return len(value) if isinstance(value, list) else 1


def used_tzids(data: bytes) -> set[str]:
    text = data.decode().replace("\r\n ", "")
    return {
        part.split("=", 1)[1].split(":", 1)[0].split(";", 1)[0]
        for line in text.split("\r\n")
        for part in line.split(";")[1:]
        if part.startswith("TZID=")
    }


def assert_itip(data: bytes) -> None:
    """RFC 5546 section 3.2's restriction table for the object's METHOD (VEVENT)."""
    cal = parse(data)
    method = str(cal["METHOD"])
    assert count(cal, "METHOD") == 1
    assert str(cal["VERSION"]) == "2.0"
    assert count(cal, "PRODID") == 1
    events = cal.walk("VEVENT")
    assert events
    assert len({str(e["UID"]) for e in events}) == len(events) or method == "PUBLISH"
    required = {
        "REQUEST": ("DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "UID", "SEQUENCE"),
        "CANCEL": ("DTSTAMP", "ORGANIZER", "SEQUENCE", "UID"),
        "PUBLISH": ("DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "UID"),
    }[method]
    at_most_one = (
        "CLASS", "CREATED", "DESCRIPTION", "DTEND", "DTSTART", "DURATION", "GEO",
        "LAST-MODIFIED", "LOCATION", "PRIORITY", "RECURRENCE-ID", "SEQUENCE", "STATUS",
        "SUMMARY", "TRANSP", "URL",
    )  # fmt: skip
    for event in events:
        for name in required:
            assert count(event, name) == 1, f"{method}: {name} must appear once"
        for name in at_most_one:
            assert count(event, name) <= 1, f"{method}: {name} at most once"
        assert not ("DTEND" in event and "DURATION" in event)
        assert count(event, "REQUEST-STATUS") == 0
        status = str(event.get("STATUS", ""))
        attendees = count(event, "ATTENDEE")
        alarms = len(event.walk("VALARM"))
        if method == "REQUEST":
            assert attendees >= 1
            assert status in ("", "TENTATIVE", "CONFIRMED")
        elif method == "CANCEL":
            assert attendees >= 1
            assert status == "CANCELLED"
            assert alarms == 0
        else:
            assert attendees == 0
            assert status in ("", "TENTATIVE", "CONFIRMED", "CANCELLED")
    assert used_tzids(data) <= {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}


# UID --------------------------------------------------------------------------------------


def test_uid_is_stable_and_names_session_site_and_domain() -> None:
    uid = invite_uid(SESSION_ID, "da-nang", DOMAIN)
    assert uid == f"{SESSION_ID}.da-nang@{DOMAIN}"
    # The same invite however the caller spells the UUID or the domain.
    assert invite_uid(SESSION_ID.upper(), "da-nang", DOMAIN.upper()) == uid
    assert invite_uid(SESSION_ID.replace("-", ""), "da-nang", f" {DOMAIN} ") == uid
    assert invite_uid(SESSION_ID, "can-tho", DOMAIN) != uid


@pytest.mark.parametrize(
    ("session_id", "site_id", "domain"),
    [
        ("", "da-nang", DOMAIN),
        (SESSION_ID, "da nang", DOMAIN),
        (SESSION_ID, "da@nang", DOMAIN),
        (SESSION_ID, "da-nang", "not a domain"),
        (SESSION_ID, "da-nang", "hop.moet.example.vn/x"),
    ],
)
def test_uid_refuses_ambiguous_parts(session_id: str, site_id: str, domain: str) -> None:
    with pytest.raises(ValueError, match=r"UID|domain"):
        invite_uid(session_id, site_id, domain)


def test_uid_of_the_object_is_the_one_given_for_request_cancel_and_feed() -> None:
    uid = invite_uid(SESSION_ID, "da-nang", DOMAIN)
    request = render_calendar(make_event())
    cancel = render_calendar(make_event(method=InviteMethod.CANCEL, sequence=1))
    assert str(only_event(parse(request))["UID"]) == uid
    assert str(only_event(parse(cancel))["UID"]) == uid
    assert [str(e["UID"]) for e in parse(render_feed([make_event()])).walk("VEVENT")] == [uid]
    assert render_calendar(make_event()) == request  # same input, same bytes


# METHOD, STATUS, SEQUENCE -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status"),
    [(InviteMethod.REQUEST, "CONFIRMED"), (InviteMethod.CANCEL, "CANCELLED")],
)
@pytest.mark.parametrize("sequence", [0, 1, 7])
def test_method_status_and_sequence(method: InviteMethod, status: str, sequence: int) -> None:
    data = render_calendar(make_event(method=method, sequence=sequence))
    cal = parse(data)
    event = only_event(cal)
    assert str(cal["METHOD"]) == method.value
    assert str(event["STATUS"]) == status
    assert event.decoded("SEQUENCE") == sequence
    assert_itip(data)


def test_method_may_be_given_as_text() -> None:
    assert make_event(method="CANCEL").method is InviteMethod.CANCEL
    with pytest.raises(ValueError, match="PUBLISH"):
        make_event(method="PUBLISH")


def test_a_cancel_keeps_the_attendees_and_drops_the_alarms() -> None:
    event = only_event(parse(render_calendar(make_event(method=InviteMethod.CANCEL))))
    assert [str(a) for a in event["ATTENDEE"]] == [
        f"mailto:{COORDINATOR.email}",
        f"mailto:{CHAIR.email}",
    ]
    assert event.walk("VALARM") == []


# Time zones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "local"),
    [
        ("Asia/Ho_Chi_Minh", datetime(2026, 12, 10, 1, 0, tzinfo=UTC), "20261210T080000"),
        ("Europe/Paris", datetime(2026, 12, 10, 8, 0, tzinfo=UTC), "20261210T090000"),  # CET
        ("Europe/Paris", datetime(2027, 7, 1, 7, 0, tzinfo=UTC), "20270701T090000"),  # CEST
        ("America/New_York", datetime(2026, 12, 10, 14, 0, tzinfo=UTC), "20261210T090000"),
        ("America/New_York", datetime(2027, 7, 1, 13, 0, tzinfo=UTC), "20270701T090000"),
    ],
)
@pytest.mark.parametrize("method", list(InviteMethod))
def test_dtstart_is_local_time_with_tzid_and_the_right_utc_instant(
    zone: str, start: datetime, local: str, method: InviteMethod
) -> None:
    data = render_calendar(
        make_event(
            timezone=zone,
            start=start,
            end=start + timedelta(hours=3, minutes=30),
            connection_test_at=start - timedelta(minutes=30),
            method=method,
        )
    )
    assert f"DTSTART;TZID={zone}:{local}\r\n".encode() in data
    cal = parse(data)
    event = only_event(cal)
    # icalendar resolves the TZID through the zone database...
    assert event.decoded("DTSTART").astimezone(UTC) == start
    assert event.decoded("DTEND").astimezone(UTC) == start + timedelta(hours=3, minutes=30)
    # ...and the VTIMEZONE in the object, read alone, gives the same instants.
    (vtimezone,) = cal.walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == zone
    own = vtimezone.to_tz(lookup_tzid=False)
    naive_start = datetime.strptime(local, "%Y%m%dT%H%M%S")
    assert naive_start.replace(tzinfo=own).astimezone(UTC) == start
    assert cal.get_missing_tzids() == set()
    assert_itip(data)


def test_an_invite_across_new_year_has_a_vtimezone_for_both_years() -> None:
    start = datetime(2027, 12, 31, 20, 0, tzinfo=UTC)  # 21:00 in Paris
    end = datetime(2028, 7, 1, 8, 0, tzinfo=UTC)  # 10:00 CEST, the next year's summer
    cal = parse(render_calendar(make_event(timezone="Europe/Paris", start=start, end=end)))
    own = cal.walk("VTIMEZONE")[0].to_tz(lookup_tzid=False)
    assert datetime(2028, 7, 1, 10, 0, tzinfo=own).astimezone(UTC) == end


def test_the_vtimezone_is_built_once_per_zone_and_year_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    real = Timezone.from_tzid

    def counting(tzid: str, **kwargs: Any) -> Any:
        built.append(tzid)
        return real(tzid, **kwargs)

    ics.vtimezone_block.cache_clear()
    monkeypatch.setattr(Timezone, "from_tzid", counting)
    try:
        for site in range(50):
            render_calendar(make_event(timezone="America/New_York", uid=f"s.{site}@x.vn"))
        render_calendar(make_event(timezone="Europe/Paris"))
    finally:
        ics.vtimezone_block.cache_clear()
    assert built == ["America/New_York", "Europe/Paris"]


# Parties -----------------------------------------------------------------------------------


def test_organizer_attendee_and_chair() -> None:
    event = only_event(parse(render_calendar(make_event())))
    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{ORGANIZER.email}"
    assert organizer.params["CN"] == ORGANIZER.name
    coordinator, chair = event["ATTENDEE"]
    assert str(coordinator) == f"mailto:{COORDINATOR.email}"
    assert dict(coordinator.params) == {
        "CN": COORDINATOR.name,
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "TRUE",
    }
    assert str(chair) == f"mailto:{CHAIR.email}"
    assert chair.params["ROLE"] == "CHAIR"
    assert chair.params["CN"] == CHAIR.name


def test_a_coordinator_who_also_chairs_appears_once_as_the_recipient() -> None:
    event = only_event(parse(render_calendar(make_event(chair=COORDINATOR))))
    attendee = event["ATTENDEE"]
    assert not isinstance(attendee, list)
    assert attendee.params["RSVP"] == "TRUE"


def test_quotes_in_names_cannot_break_the_parameter() -> None:
    weird = Party('Trưởng "vùng"; Bắc, Trung: Nam', "truong-vung@example.vn")
    event = only_event(parse(render_calendar(make_event(attendee=weird))))
    assert str(event["ATTENDEE"][0]) == "mailto:truong-vung@example.vn"
    assert event["ATTENDEE"][0].params["CN"] == "Trưởng 'vùng'; Bắc, Trung: Nam"


@pytest.mark.parametrize("address", ["", "no-at-sign", "a b@example.vn", "<a@example.vn>"])
def test_party_needs_a_plain_address(address: str) -> None:
    with pytest.raises(ValueError, match="address"):
        Party("X", address)


# Text ---------------------------------------------------------------------------------------


def test_vietnamese_text_round_trips_with_escapes() -> None:
    event = only_event(parse(render_calendar(make_event())))
    assert str(event["SUMMARY"]) == SUMMARY
    assert str(event["LOCATION"]) == "Phòng họp tầng 3, Sở GD&ĐT Đà Nẵng"
    assert str(event["DESCRIPTION"]) == describe(make_event())
    assert event["SUMMARY"].params["LANGUAGE"] == "vi"


def test_text_is_escaped_on_the_wire() -> None:
    data = render_calendar(make_event()).decode().replace("\r\n ", "")
    assert "SUMMARY;LANGUAGE=vi:Hội nghị trực tuyến giao ban vùng\\, năm học 2013-2014\\;" in data
    assert "1. Khai mạc\\n2. Báo cáo của các điểm cầu\\; thảo luận\\, kiến nghị\\n" in data
    assert "3. Bế mạc \\\\ tổng kết" in data


def test_description_carries_time_connection_test_link_and_agenda() -> None:
    text = str(only_event(parse(render_calendar(make_event())))["DESCRIPTION"])
    assert "08:00–11:30 thứ Năm 10/12/2026 (giờ Asia/Ho_Chi_Minh)" in text
    assert "Kiểm tra kết nối từ: 07:30 thứ Năm 10/12/2026 (giờ Asia/Ho_Chi_Minh)" in text
    assert LINK in text
    assert AGENDA in text
    english = describe(make_event(language="en", timezone="Europe/Paris"))
    assert "When: 02:00–05:30 Thursday 10 December 2026 (Europe/Paris time)" in english
    assert "Connection test from: 01:30 Thursday 10 December 2026" in english


def test_a_cancel_says_so_in_its_description() -> None:
    text = str(only_event(parse(render_calendar(make_event(method="CANCEL"))))["DESCRIPTION"])
    assert text.startswith("Phiên họp này đã bị hủy.")


def test_location_is_the_room_or_else_the_join_link_and_url_is_the_link() -> None:
    with_room = only_event(parse(render_calendar(make_event())))
    without = only_event(parse(render_calendar(make_event(location=""))))
    assert str(with_room["URL"]) == LINK
    assert str(without["LOCATION"]) == LINK
    assert str(without["URL"]) == LINK


def test_every_line_is_folded_within_75_octets_with_crlf() -> None:
    long_summary = "Hội nghị " * 40
    data = render_calendar(make_event(summary=long_summary, site_name="Đ" * 100))
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) == 75  # long lines are folded, and filled
    for line in lines:
        assert len(line) <= 75
        line.decode()  # no line ends inside a UTF-8 character
    assert any(line.startswith(b" ") for line in lines)
    assert str(only_event(parse(data))["SUMMARY"]) == long_summary


@settings(max_examples=60, deadline=None)
@given(
    summary=st.text(
        st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(",;\\\n\r\tàđữ"),
        min_size=1,
        max_size=300,
    )
)
def test_any_text_survives_escaping_and_folding(summary: str) -> None:
    data = render_calendar(make_event(summary=summary))
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    expected = summary.replace("\r\n", "\n").replace("\r", "\n")
    assert str(only_event(parse(data))["SUMMARY"]) == expected


def test_control_characters_are_dropped() -> None:
    event = only_event(parse(render_calendar(make_event(summary="Giao\x00 ban\x1b vùng"))))
    assert str(event["SUMMARY"]) == "Giao ban vùng"


def _text_strategy() -> st.SearchStrategy[str]:
    return st.text(
        st.characters(blacklist_categories=["Cs"]) | st.sampled_from(",;\\\n\r\t\x00àđữ"),
        max_size=60,
    )


@settings(max_examples=200, deadline=None)
@given(
    site_name=_text_strategy(),
    agenda=_text_strategy(),
    link_tail=st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=40).filter(
        lambda tail: not any(c.isspace() for c in tail)
    ),
    language=st.sampled_from(["vi", "en"]),
    method=st.sampled_from(list(InviteMethod)),
    with_test=st.booleans(),
)
# A CR at the end of a piece is the case to watch: _text joins it with a LF after it.
@example(site_name="Đà Nẵng\r", agenda="\r", link_tail=",;\\", language="vi",
         method=InviteMethod.REQUEST, with_test=True)  # fmt: skip
@example(site_name="\r\n\r", agenda="\r\nx\r", link_tail="\x00", language="en",
         method=InviteMethod.CANCEL, with_test=False)  # fmt: skip
def test_the_description_escaped_in_pieces_is_the_description_escaped(
    site_name: str,
    agenda: str,
    link_tail: str,
    language: str,
    method: InviteMethod,
    with_test: bool,
) -> None:
    # The shared text around the site's lines is escaped once per session, the rest per site.
    event = make_event(
        site_name=site_name,
        agenda=agenda,
        join_url=f"https://meet.example.vn/{link_tail}",
        language=language,
        method=method,
        connection_test_at=START - timedelta(minutes=30) if with_test else None,
    )
    assert ics._description(event) == ics._text(describe(event))


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"]) | st.sampled_from("\t\n\r\x00\x1c ")))
def test_the_quick_character_checks_agree_with_the_patterns(value: str) -> None:
    assert ics._has_any(value, ics._CONTROL_BYTES, ics._CONTROL_RE) == bool(
        ics._CONTROL_RE.search(value)
    )
    assert ics._has_any(value, ics._WHITESPACE_BYTES, ics._WHITESPACE_RE) == bool(
        ics._WHITESPACE_RE.search(value)
    )


def test_invites_of_several_sessions_in_turn_keep_their_own_values() -> None:
    # Blocks shared by a session's invites are cached: invites of different sessions, rendered
    # in turn, must each carry their own time, title, organizer, chair, sequence and alarms.
    paris = {
        "summary": "Giao ban Paris",
        "timezone": "Europe/Paris",
        "start": START + timedelta(days=200),
        "end": END + timedelta(days=200),
        "connection_test_at": START + timedelta(days=200, minutes=-45),
        "organizer": Party("Phòng Hợp tác", "htqt@moet.example.vn"),
        "chair": Party("Vụ trưởng", "vu-truong@moet.example.vn"),
        "sequence": 3,
        "alarms": (60,),
        "language": "en",
    }
    for round_ in range(3):
        for site in ("a", "b"):
            hanoi = make_event(uid=f"s1.{site}@x.vn", site_name=f"Hà Nội {site}")
            other = make_event(uid=f"s2.{site}@x.vn", site_name=f"Paris {site}", **paris)
            cancel = make_event(uid=f"s3.{site}@x.vn", method="CANCEL", sequence=round_ + 1)
            for event in (hanoi, other, cancel):
                vevent = only_event(parse(render_calendar(event)))
                assert str(vevent["UID"]) == event.uid
                assert str(vevent["SUMMARY"]) == event.summary
                assert vevent.decoded("DTSTART").astimezone(UTC) == event.start
                assert vevent.decoded("SEQUENCE") == event.sequence
                assert str(vevent["STATUS"]) == ("CANCELLED" if event.cancelled else "CONFIRMED")
                assert vevent["ORGANIZER"].params["CN"] == event.organizer.name
                assert event.chair is not None
                assert str(vevent["ATTENDEE"][1]) == f"mailto:{event.chair.email}"
                assert str(vevent["DESCRIPTION"]) == describe(event)
                expected = () if event.cancelled else event.alarms
                assert len(vevent.walk("VALARM")) == len(expected)


# Alarms ----------------------------------------------------------------------------------


def test_alarms_only_in_requests() -> None:
    request = only_event(parse(render_calendar(make_event(alarms=[30, 1440, 60, 30]))))
    triggers = [a.decoded("TRIGGER") for a in request.walk("VALARM")]
    assert triggers == [timedelta(days=-1), timedelta(hours=-1), timedelta(minutes=-30)]
    assert all(str(a["ACTION"]) == "DISPLAY" for a in request.walk("VALARM"))
    assert all(SUMMARY in str(a["DESCRIPTION"]) for a in request.walk("VALARM"))
    cancel = only_event(parse(render_calendar(make_event(method="CANCEL", alarms=[30]))))
    assert cancel.walk("VALARM") == []
    assert only_event(parse(render_calendar(make_event(alarms=())))).walk("VALARM") == []
    assert parse(render_feed([make_event(alarms=[30])])).walk("VALARM") == []


def test_odd_alarm_minutes_are_written_as_minutes() -> None:
    event = only_event(parse(render_calendar(make_event(alarms=[90, 45]))))
    assert [a.decoded("TRIGGER") for a in event.walk("VALARM")] == [
        timedelta(minutes=-90),
        timedelta(minutes=-45),
    ]


# Feed --------------------------------------------------------------------------------------


def test_feed_publishes_every_event_with_a_vtimezone_per_zone() -> None:
    events = [
        make_event(uid="a@x.vn"),
        make_event(uid="b@x.vn", timezone="Europe/Paris", method="CANCEL", sequence=4),
        make_event(uid="c@x.vn", timezone="America/New_York", start=START + timedelta(days=200),
                   end=END + timedelta(days=200)),
    ]  # fmt: skip
    data = render_feed(events, name="Lịch họp — Đà Nẵng")
    cal = parse(data)
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(cal["X-WR-CALNAME"]) == "Lịch họp — Đà Nẵng"
    assert {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")} == {
        "Asia/Ho_Chi_Minh",
        "Europe/Paris",
        "America/New_York",
    }
    status = {str(e["UID"]): str(e["STATUS"]) for e in cal.walk("VEVENT")}
    assert status == {"a@x.vn": "CONFIRMED", "b@x.vn": "CANCELLED", "c@x.vn": "CONFIRMED"}
    assert [e.decoded("SEQUENCE") for e in cal.walk("VEVENT")] == [0, 4, 0]
    assert all("ATTENDEE" not in e for e in cal.walk("VEVENT"))
    assert cal.walk("VEVENT")[2].decoded("DTSTART").astimezone(UTC) == START + timedelta(days=200)
    assert cal.get_missing_tzids() == set()
    assert_itip(data)


def test_feed_refuses_a_uid_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        render_feed([make_event(), make_event(sequence=2)])


def test_an_empty_feed_is_still_a_calendar() -> None:
    cal = parse(render_feed([]))
    assert str(cal["METHOD"]) == "PUBLISH"
    assert cal.walk("VEVENT") == []


# Validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": datetime(2026, 12, 10, 8)}, "aware"),
        ({"dtstamp": datetime(2026, 11, 23)}, "aware"),
        ({"end": START}, "end after"),
        ({"timezone": "Asia/Sai_Gon"}, "time zone"),
        ({"sequence": -1}, "sequence"),
        ({"sequence": True}, "sequence"),
        ({"alarms": (0,)}, "alarms"),
        ({"language": "fr"}, "language"),
        ({"uid": "a b@x.vn"}, "UID"),
        ({"uid": ""}, "UID"),
        ({"join_url": "meet.example.vn/room"}, "absolute"),
        ({"join_url": "https://meet.example.vn/phòng"}, "ASCII"),
        ({"connection_test_at": START + timedelta(minutes=1)}, "connection test"),
    ],
)
def test_invalid_events_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_event(**changes)


def test_events_are_frozen_and_alarms_normalised() -> None:
    event = make_event(alarms=[30, 60, 30])
    assert event.alarms == (60, 30)
    with pytest.raises(AttributeError):
        event.sequence = 3  # type: ignore[misc]
    assert replace(event, sequence=3).sequence == 3


# From the domain ----------------------------------------------------------------------------


def _session(**changes: Any) -> Session:
    values: dict[str, Any] = {
        "id": SESSION_ID,
        "title": SUMMARY,
        "agenda": AGENDA,
        "kind": SessionKind.REGIONAL,
        "region": "mien-trung",
        "start": START,
        "end": END,
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": "da-nang",
        "chair": Chair(name=CHAIR.name, email=CHAIR.email),
        "sites": (SessionSite(site_id="da-nang"), SessionSite(site_id="paris")),
        "buffer_before_minutes": 30,
        "created_at": SENT,
        "updated_at": SENT,
    }
    values.update(changes)
    return Session(**values)


def _site(**changes: Any) -> Site:
    values: dict[str, Any] = {
        "id": "da-nang",
        "name": "Đà Nẵng",
        "timezone": "Asia/Ho_Chi_Minh",
        "coordinator": Coordinator(name=COORDINATOR.name, email=COORDINATOR.email),
        "room": "Phòng họp tầng 3",
        "language": "vi",
    }
    values.update(changes)
    return Site(**values)


def test_site_invite_takes_everything_from_the_session_and_the_site() -> None:
    paris = _site(id="paris", name="Paris", timezone="Europe/Paris", room="", language="en")
    event = site_invite(
        _session(),
        paris,
        join_url=LINK,
        method=InviteMethod.REQUEST,
        sequence=2,
        domain=DOMAIN,
        organizer=ORGANIZER,
        dtstamp=SENT,
    )
    assert event.uid == f"{SESSION_ID}.paris@{DOMAIN}"
    assert event.attendee == COORDINATOR
    assert event.chair == CHAIR
    assert event.connection_test_at == START - timedelta(minutes=30)
    assert (event.timezone, event.language, event.effective_location) == (
        "Europe/Paris",
        "en",
        LINK,
    )
    assert event.alarms == (1440, 60, 30)
    assert_itip(render_calendar(event))


def test_site_invite_without_buffer_has_no_connection_test() -> None:
    event = site_invite(
        _session(buffer_before_minutes=0),
        _site(),
        join_url=LINK,
        method=InviteMethod.CANCEL,
        sequence=1,
        domain=DOMAIN,
        organizer=ORGANIZER,
        dtstamp=SENT,
    )
    assert event.connection_test_at is None
    assert "Kiểm tra kết nối" not in describe(event)


def test_site_invite_needs_a_coordinator_email() -> None:
    with pytest.raises(ValueError, match="coordinator email"):
        site_invite(
            _session(),
            _site(coordinator=Coordinator(name="Không có thư")),
            join_url=LINK,
            method=InviteMethod.REQUEST,
            sequence=0,
            domain=DOMAIN,
            organizer=ORGANIZER,
            dtstamp=SENT,
        )
