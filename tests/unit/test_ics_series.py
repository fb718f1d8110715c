"""A site's invite to a series: the whole object, one occurrence's REQUEST and CANCEL, the
series' CANCEL; each held to RFC 5546 and expanded by recurring-ical-events and ical.js."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from orchestrator.invites.ics import Party
from orchestrator.invites.ics_series import (
    Instance,
    SeriesEvent,
    occurrence_event,
    overrides_of,
    render_occurrence,
    render_occurrence_cancel,
    render_series,
    render_series_cancel,
    rrule_line,
)
from tests.calendars import (
    Client,
    assert_calendars_show,
    assert_itip,
    expand,
    expand_icaljs,
)

PARIS = ZoneInfo("Europe/Paris")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
UID = "4b0e3c52-7d1f-4f57-9a53-2f4c1a9e8d10.paris@hop.moet.example.vn"
ORGANIZER = Party("Văn phòng Bộ GD&ĐT", "vanphong@hop.moet.example.vn")
COORDINATOR = Party("Nguyễn Thị Đầu Mối", "dau-moi@paris.example.vn")
CHAIR = Party("Chánh Văn phòng Bộ", "chanh-vp@moet.example.vn")
GATEWAY = "https://hop.moet.example.vn/join/eyJ0IjoicyJ9.c2lnbmF0dXJl"
SENT = datetime(2027, 2, 20, 9, 0, tzinfo=UTC)
# Thursdays at 08:00 in Paris, from 4 March 2027: summer time begins on Sunday 28 March, so the
# first four are 07:00 UTC and the last four 06:00 UTC.
FIRST = datetime(2027, 3, 4, 8, 0, tzinfo=PARIS)
RULE = "FREQ=WEEKLY;BYDAY=TH;COUNT=8"
LENGTH = timedelta(hours=1, minutes=30)
RULE_STARTS = [FIRST + timedelta(weeks=n) for n in range(8)]  # wall-clock 08:00 in Paris
UTC_STARTS = [datetime(2027, 3, d, 7, tzinfo=UTC) for d in (4, 11, 18, 25)] + [
    datetime(2027, 4, d, 6, tzinfo=UTC) for d in (1, 8, 15, 22)
]


def make(**changes: Any) -> SeriesEvent:
    values: dict[str, Any] = {
        "uid": UID,
        "sequence": 0,
        "zone": "Europe/Paris",
        "start": FIRST,
        "end": FIRST + LENGTH,
        "rule": RULE,
        "last": RULE_STARTS[-1],
        "summary": "Giao ban hằng tuần; các đơn vị, điểm cầu",
        "organizer": ORGANIZER,
        "attendee": COORDINATOR,
        "chair": CHAIR,
        "join_url": GATEWAY,
        "dtstamp": SENT,
        "site_zone": "Europe/Paris",
        "agenda": "1. Báo cáo\n2. Thảo luận",
        "buffer_before_minutes": 30,
        "location": "Phòng họp, Đại sứ quán",
        "site_name": "Pa-ri",
        "alarms": (1440, 30),
        "language": "vi",
    }
    values.update(changes)
    return SeriesEvent(**values)


def spans(starts: list[datetime], length: timedelta = LENGTH) -> list[tuple[datetime, datetime]]:
    return [(s, s + length) for s in starts]


def events(data: bytes) -> list[Any]:
    return list(Calendar.from_ical(data).walk("VEVENT"))


def unfolded(data: bytes) -> str:
    return data.decode().replace("\r\n ", "")


# The whole object --------------------------------------------------------------------------


def test_the_whole_object_expands_to_the_rule_across_the_dst_change() -> None:
    data = render_series(make())
    cal = assert_itip(data)
    assert str(cal["METHOD"]) == "REQUEST"
    (master,) = events(data)
    text = unfolded(data)
    assert "DTSTART;TZID=Europe/Paris:20270304T080000" in text
    assert "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=8" in text
    assert master.decoded("SEQUENCE") == 0
    assert str(master["URL"]) == GATEWAY
    assert GATEWAY in str(master["DESCRIPTION"])
    # Both libraries: 08:00 in Paris every week, 07:00 UTC before the change, 06:00 after.
    assert_calendars_show(data, spans(UTC_STARTS))
    assert [s.start for s in expand(data)] == UTC_STARTS


def test_the_vtimezone_covers_both_offsets_of_the_series_zone() -> None:
    cal = Calendar.from_ical(render_series(make()))
    (zone,) = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Paris"
    assert {c.name for c in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def test_exdates_drop_the_occurrences_the_site_does_not_have() -> None:
    # The third skipped at booking, the fifth cancelled, the seventh without this site.
    out = [RULE_STARTS[2], RULE_STARTS[4], RULE_STARTS[6]]
    data = render_series(make(exdates=tuple(out), sequence=3))
    assert_itip(data)
    text = unfolded(data)
    assert "EXDATE;TZID=Europe/Paris:20270318T080000" in text
    assert "EXDATE;TZID=Europe/Paris:20270401T080000" in text  # after the change: still 08:00
    kept = [u for n, u in enumerate(UTC_STARTS) if n not in (2, 4, 6)]
    assert_calendars_show(data, spans(kept))


def test_overrides_move_and_retitle_single_occurrences() -> None:
    moved = Instance(
        recurrence_id=RULE_STARTS[1],
        start=RULE_STARTS[1] + timedelta(days=1, hours=2),  # Friday 10:00
        end=RULE_STARTS[1] + timedelta(days=1, hours=4),
        summary="Giao ban hằng tuần",
        agenda="1. Báo cáo\n2. Thảo luận",
        chair=CHAIR,
        connection_test_at=RULE_STARTS[1] + timedelta(days=1, hours=1, minutes=30),
    )
    retitled = Instance(
        recurrence_id=RULE_STARTS[5],
        start=RULE_STARTS[5],
        end=RULE_STARTS[5] + LENGTH,
        summary="Giao ban mở rộng",
        agenda="",
        chair=Party("Thứ trưởng", "thu-truong@moet.example.vn"),
        connection_test_at=RULE_STARTS[5] - timedelta(minutes=30),
    )
    series = make(overrides=(retitled, moved), sequence=2)
    data = render_series(series)
    assert_itip(data)
    master, first, second = events(data)
    assert "RECURRENCE-ID" not in master
    assert [e.decoded("RECURRENCE-ID") for e in (first, second)] == [
        RULE_STARTS[1],
        RULE_STARTS[5],
    ]  # in order, in the series' zone
    assert "RECURRENCE-ID;TZID=Europe/Paris:20270311T080000" in unfolded(data)
    assert {e.decoded("SEQUENCE") for e in (master, first, second)} == {2}
    assert "thu-truong@moet.example.vn" in str(second["ATTENDEE"])
    assert len(first.walk("VALARM")) == 2  # the moved one keeps its reminders
    starts = sorted([*UTC_STARTS[:1], *UTC_STARTS[2:], moved.start.astimezone(UTC)])
    expected = [(s, s + (timedelta(hours=2) if s == moved.start else LENGTH)) for s in starts]
    assert_calendars_show(data, expected)
    by_start = {s.start: s for s in expand_icaljs(data)}
    assert by_start[UTC_STARTS[5]].summary == "Giao ban mở rộng"
    assert by_start[moved.start.astimezone(UTC)].recurrence_id == UTC_STARTS[1]


def test_overrides_of_keeps_only_the_occurrences_that_differ() -> None:
    series = make()
    same = series.instance(RULE_STARTS[3])
    other = dataclasses.replace(same, summary="Khác")
    assert overrides_of(series, [same, other]) == (other,)
    later_test = dataclasses.replace(same, connection_test_at=RULE_STARTS[3])
    assert overrides_of(series, [later_test]) == (later_test,)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=TH;UNTIL=20270422",  # a date
        "FREQ=WEEKLY;BYDAY=TH;UNTIL=20270422T080000",  # local time
        "freq=weekly;until=20270425T000000Z;byday=th",  # lowercase, UTC
    ],
)
def test_until_is_written_as_the_last_instance_in_utc(rule: str) -> None:
    data = render_series(make(rule=rule))
    line = next(li for li in unfolded(data).split("\r\n") if li.startswith("RRULE:"))
    assert line.startswith("RRULE:FREQ=WEEKLY;")
    assert "UNTIL=20270422T060000Z" in line
    assert_calendars_show(data, spans(UTC_STARTS))


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("BYDAY=TH;COUNT=3", "FREQ"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20270422", "COUNT or UNTIL"),
        ("FREQ=WEEKLY;COUNT=3;COUNT=4", "twice"),
        ("FREQ=WEEKLY\r\nDTSTART:20270101T000000Z", "part"),
        ("FREQ=WEEKLY;X=a b", "part"),
    ],
)
def test_values_that_are_not_rules_are_refused(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rrule_line(rule, FIRST)
    with pytest.raises(ValueError, match=message):
        make(rule=rule)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"uid": "a b@x"}, "UID"),
        ({"sequence": -1}, "sequence"),
        ({"start": datetime(2027, 3, 4, 8)}, "aware"),
        ({"end": FIRST}, "end after"),
        ({"last": FIRST - timedelta(days=7)}, "last instance"),
        ({"zone": "Mars/Olympus"}, "time zone"),
        ({"join_url": "/join/x"}, "absolute"),
        ({"alarms": (0,)}, "alarms"),
        ({"language": "fr"}, "language"),
        ({"exdates": (RULE_STARTS[1],), "overrides": (Instance(
            recurrence_id=RULE_STARTS[1], start=RULE_STARTS[1],
            end=RULE_STARTS[1] + LENGTH, summary="x"),)}, "both"),
    ],
)  # fmt: skip
def test_invalid_series_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**changes)


def test_the_description_speaks_the_sites_zone_and_language() -> None:
    # A site in Hồ Chí Minh City reads a Paris series in its own time, in English.
    data = render_series(make(site_zone="Asia/Ho_Chi_Minh", language="en"))
    (master,) = events(data)
    description = str(master["DESCRIPTION"])
    assert "Recurring meeting, first occurrence" in description
    assert "(Asia/Ho_Chi_Minh time)" in description
    assert "14:00–15:30 Thursday 4 March 2027" in description  # 08:00 in Paris
    assert "13:00–14:30 Thursday 22 April 2027" in description  # after Paris' change
    assert "30 minutes before each occurrence" in description
    assert "DTSTART;TZID=Europe/Paris:20270304T080000" in unfolded(data)  # the rule's zone
    assert_calendars_show(data, spans(UTC_STARTS))


# One occurrence ----------------------------------------------------------------------------


def test_one_occurrence_request_carries_its_recurrence_id() -> None:
    moved = Instance(
        recurrence_id=RULE_STARTS[4],
        start=RULE_STARTS[4] + timedelta(hours=1),
        end=RULE_STARTS[4] + timedelta(hours=2),
        summary="Giao ban hằng tuần",
        chair=CHAIR,
    )
    series = make(sequence=4, overrides=(moved,))
    data = render_occurrence(series, RULE_STARTS[4])
    cal = assert_itip(data)
    assert str(cal["METHOD"]) == "REQUEST"
    (event,) = events(data)
    assert event.decoded("RECURRENCE-ID") == RULE_STARTS[4]
    assert event.decoded("DTSTART") == moved.start
    assert event.decoded("SEQUENCE") == 4
    assert "RRULE" not in event
    assert "09:00" in str(event["DESCRIPTION"])  # its own time, in the site's zone
    # Alone, a calendar shows that one instance.
    (seen,) = expand_icaljs(data)
    assert (seen.start, seen.recurrence_id) == (moved.start, UTC_STARTS[4])
    # An occurrence of the rule itself (no override) is written as the rule says.
    (plain,) = events(render_occurrence(series, RULE_STARTS[6]))
    assert plain.decoded("DTSTART") == RULE_STARTS[6]
    assert occurrence_event(series, RULE_STARTS[6]).start == RULE_STARTS[6]
    with pytest.raises(ValueError, match="excluded"):
        render_occurrence(make(exdates=(RULE_STARTS[6],)), RULE_STARTS[6])


def test_one_occurrence_cancel_is_a_cancel_of_its_recurrence_id() -> None:
    series = make(sequence=5, exdates=(RULE_STARTS[2],))
    data = render_occurrence_cancel(series, RULE_STARTS[2])
    cal = assert_itip(data)
    assert str(cal["METHOD"]) == "CANCEL"
    (event,) = events(data)
    assert event.decoded("RECURRENCE-ID") == RULE_STARTS[2]
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("SEQUENCE") == 5
    assert event.walk("VALARM") == []
    assert "RRULE" not in event
    # The site's coordinator and the chair, as in the REQUESTs.
    assert [str(a) for a in event["ATTENDEE"]] == [
        f"mailto:{COORDINATOR.email}",
        f"mailto:{CHAIR.email}",
    ]


def test_the_series_cancel_cancels_the_uid() -> None:
    data = render_series_cancel(make(sequence=9))
    cal = assert_itip(data)
    assert str(cal["METHOD"]) == "CANCEL"
    (event,) = events(data)
    assert str(event["UID"]) == UID
    assert "RECURRENCE-ID" not in event
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("SEQUENCE") == 9
    assert event.walk("VALARM") == []


# A site's calendar through the changes ----------------------------------------------------


def test_a_calendar_applying_each_message_shows_the_live_occurrences() -> None:
    client = Client()
    sequence = 0

    def series(**changes: Any) -> SeriesEvent:
        return make(sequence=sequence, **changes)

    # Booked: the whole object.
    client.apply(render_series(series()))
    assert client.shows() == spans(UTC_STARTS)
    live = {rid: (u, u + LENGTH) for rid, u in zip(RULE_STARTS, UTC_STARTS, strict=True)}

    # The second occurrence moved an hour later: that occurrence's REQUEST.
    sequence += 1
    moved = Instance(
        recurrence_id=RULE_STARTS[1],
        start=RULE_STARTS[1] + timedelta(hours=1),
        end=RULE_STARTS[1] + timedelta(hours=1) + LENGTH,
        summary=make().summary,
        agenda=make().agenda,
        chair=CHAIR,
        connection_test_at=RULE_STARTS[1] + timedelta(minutes=30),
    )
    overrides: tuple[Instance, ...] = (moved,)
    client.apply(render_occurrence(series(overrides=overrides), RULE_STARTS[1]))
    live[RULE_STARTS[1]] = (moved.start.astimezone(UTC), moved.end.astimezone(UTC))
    assert client.shows() == sorted(live.values())

    # The third cancelled, then the site removed from the sixth: a CANCEL of each instance.
    for n in (2, 5):
        sequence += 1
        excluded = tuple(r for r in RULE_STARTS if r not in live or r == RULE_STARTS[n])
        client.apply(
            render_occurrence_cancel(series(overrides=overrides, exdates=excluded), RULE_STARTS[n])
        )
        del live[RULE_STARTS[n]]
        assert client.shows() == sorted(live.values())

    # The series' time changed to 09:00 from the fifth on: one override per later occurrence,
    # mailed as the whole object.
    sequence += 1
    later = [r for r in RULE_STARTS[4:] if r in live]
    overrides = (
        moved,
        *(
            Instance(
                recurrence_id=r,
                start=r + timedelta(hours=1),
                end=r + timedelta(hours=1) + LENGTH,
                summary=make().summary,
                agenda=make().agenda,
                chair=CHAIR,
                connection_test_at=r + timedelta(minutes=30),
            )
            for r in later
        ),
    )
    excluded = tuple(r for r in RULE_STARTS if r not in live)
    whole = render_series(series(overrides=overrides, exdates=excluded))
    client.apply(whole)
    for r in later:
        live[r] = (r.astimezone(UTC) + timedelta(hours=1), r.astimezone(UTC) + hours_and(2.5))
    assert client.shows() == sorted(live.values())
    # The downloaded object at that point shows the same.
    assert_calendars_show(whole, sorted(live.values()))

    # The series cancelled: the CANCEL of the UID empties the calendar.
    sequence += 1
    client.apply(render_series_cancel(series(overrides=overrides, exdates=excluded)))
    assert client.masters == {}
    assert [m for m, *_ in client.applied] == ["REQUEST"] * 2 + ["CANCEL"] * 2 + [
        "REQUEST",
        "CANCEL",
    ]
    assert [s for *_, s in client.applied] == [0, 1, 2, 3, 4, 5]


def hours_and(n: float) -> timedelta:
    return timedelta(hours=n)


def test_a_series_in_vietnam_time_has_no_dst_and_crosses_the_new_year() -> None:
    first = datetime(2026, 12, 17, 8, 0, tzinfo=HCM)
    starts = [first + timedelta(weeks=n) for n in range(4)]
    data = render_series(
        make(
            zone="Asia/Ho_Chi_Minh",
            site_zone="Asia/Ho_Chi_Minh",
            start=first,
            end=first + LENGTH,
            rule="FREQ=WEEKLY;COUNT=4",
            last=starts[-1],
        )
    )
    assert_itip(data)
    assert_calendars_show(data, spans(starts))
    assert all(s.start.hour == 1 for s in expand(data))  # 08:00 +07:00


# A local time a DST gap skips ----------------------------------------------------------------

# Sundays at 02:30 in Paris from 14 March 2027: on 28 March the clocks go from 02:00 to 03:00, so
# that day's 02:30 does not exist. The service moves it forward by the gap (RFC 5545: read with
# the offset before the gap), 03:30 summer time, 01:30 UTC: the instant both libraries expand.
GAP_FIRST = datetime(2027, 3, 14, 2, 30, tzinfo=PARIS)
GAP_RULE = "FREQ=WEEKLY;BYDAY=SU;COUNT=4"
GAP_UTC = [datetime(2027, 3, d, 1, 30, tzinfo=UTC) for d in (14, 21, 28)] + [
    datetime(2027, 4, 4, 0, 30, tzinfo=UTC)
]
HOUR = timedelta(hours=1)


def gap_series(**changes: Any) -> SeriesEvent:
    return make(
        start=GAP_FIRST,
        end=GAP_FIRST + HOUR,
        rule=GAP_RULE,
        last=datetime(2027, 4, 4, 2, 30, tzinfo=PARIS),
        **changes,
    )


def starts_in_both(data: bytes) -> list[datetime]:
    """The instances' starts, the same in both libraries."""
    python = [s.start for s in expand(data)]
    assert python == [s.start for s in expand_icaljs(data)]
    return python


def test_the_occurrence_in_a_dst_gap_is_where_the_service_put_it() -> None:
    from orchestrator.booking.series.recurrence import expand as expand_rule

    booked = expand_rule(GAP_RULE, GAP_FIRST, GAP_FIRST + HOUR, "Europe/Paris")
    assert [o.start for o in booked.occurrences] == GAP_UTC
    data = render_series(gap_series())
    assert starts_in_both(data) == GAP_UTC
    # Known and left: the master carries DTEND, so a client ends that day's instance at 03:30
    # local, the instant it starts (02:30 read before the gap): zero long where the service
    # holds an hour. Only a meeting starting inside the night's lost hour is concerned.
    ends = {s.start: s.end for s in expand(data)}
    assert ends[GAP_UTC[2]] == GAP_UTC[2]
    assert all(ends[s] == s + HOUR for n, s in enumerate(GAP_UTC) if n != 2)


def test_an_exdate_in_a_dst_gap_drops_that_occurrence_in_both_libraries() -> None:
    data = render_series(gap_series(exdates=(GAP_UTC[2],), sequence=1))
    assert_itip(data)
    assert "EXDATE;TZID=Europe/Paris:20270328T023000" in unfolded(data)
    assert starts_in_both(data) == [s for n, s in enumerate(GAP_UTC) if n != 2]


def test_an_override_in_a_dst_gap_replaces_that_occurrence_in_both_libraries() -> None:
    moved_to = datetime(2027, 3, 28, 10, 0, tzinfo=PARIS)  # the same Sunday, 10:00 summer time
    moved = Instance(
        recurrence_id=GAP_UTC[2],
        start=moved_to,
        end=moved_to + HOUR,
        summary="Giao ban hằng tuần",
        agenda="",
        chair=CHAIR,
        connection_test_at=moved_to - timedelta(minutes=30),
    )
    data = render_series(gap_series(overrides=(moved,), sequence=1))
    assert_itip(data)
    assert "RECURRENCE-ID;TZID=Europe/Paris:20270328T023000" in unfolded(data)
    starts = sorted([*GAP_UTC[:2], moved_to.astimezone(UTC), GAP_UTC[3]])
    assert starts_in_both(data) == starts
    by_start = {s.start: s for s in expand_icaljs(data)}
    assert by_start[moved_to.astimezone(UTC)].recurrence_id == GAP_UTC[2]
    assert by_start[moved_to.astimezone(UTC)].end == moved_to.astimezone(UTC) + HOUR
