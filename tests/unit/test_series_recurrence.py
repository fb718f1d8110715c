"""A series' rule expanded in its zone by dateutil: wall-clock kept across DST, a skipped local
time moved forward, the first occurrence being the start, and the limits (DESIGN 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orchestrator.booking.series.recurrence import (
    MAX_OCCURRENCES,
    Occurrence,
    check_apart,
    expand,
    normalise,
)
from orchestrator.domain.errors import InvalidRequest

PARIS = ZoneInfo("Europe/Paris")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def _local(occurrences: tuple[Occurrence, ...], zone: ZoneInfo) -> list[str]:
    return [o.start.astimezone(zone).isoformat() for o in occurrences]


def _refusal(
    rule: str, start: datetime, hours: float = 1, zone: str = "Asia/Ho_Chi_Minh"
) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        expand(rule, start, start + timedelta(hours=hours), zone)
    assert caught.value.reason is not None
    return caught.value


def _refused(rule: str, start: datetime, hours: float = 1, zone: str = "Asia/Ho_Chi_Minh") -> str:
    return str(_refusal(rule, start, hours, zone).reason)


def test_paris_keeps_eight_oclock_across_the_spring_change() -> None:
    start = datetime(2027, 3, 18, 8, 0, tzinfo=PARIS)  # a Thursday, CET
    got = expand("FREQ=WEEKLY;BYDAY=TH;COUNT=4", start, start + timedelta(hours=2), "Europe/Paris")
    assert _local(got.occurrences, PARIS) == [
        "2027-03-18T08:00:00+01:00",
        "2027-03-25T08:00:00+01:00",
        "2027-04-01T08:00:00+02:00",  # clocks went forward on 28 March
        "2027-04-08T08:00:00+02:00",
    ]
    assert [o.start.astimezone(UTC).hour for o in got.occurrences] == [7, 7, 6, 6]
    assert all(o.end - o.start == timedelta(hours=2) for o in got.occurrences)
    assert all(o.original == o.start for o in got.occurrences)


def test_paris_keeps_eight_oclock_across_the_autumn_change() -> None:
    start = datetime(2027, 10, 25, 8, 0, tzinfo=PARIS)  # Monday
    got = expand(
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=6", start, start + timedelta(hours=1), "Europe/Paris"
    )
    assert _local(got.occurrences, PARIS) == [
        "2027-10-25T08:00:00+02:00",
        "2027-10-26T08:00:00+02:00",
        "2027-10-27T08:00:00+02:00",
        "2027-10-28T08:00:00+02:00",
        "2027-10-29T08:00:00+02:00",
        "2027-11-01T08:00:00+01:00",  # clocks went back on Sunday 31 October
    ]


def test_a_local_time_the_gap_skips_moves_forward_by_the_gap() -> None:
    start = datetime(2027, 3, 21, 2, 30, tzinfo=PARIS)  # Sunday; 28 March has no 02:30
    got = expand("FREQ=WEEKLY;COUNT=3", start, start + timedelta(minutes=45), "Europe/Paris")
    assert _local(got.occurrences, PARIS) == [
        "2027-03-21T02:30:00+01:00",
        "2027-03-28T03:30:00+02:00",  # 02:30 read with the offset before the gap
        "2027-04-04T02:30:00+02:00",
    ]
    moved = got.occurrences[1]
    assert moved.start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert moved.original == moved.start  # the rule's own instant, not a change
    assert moved.end - moved.start == timedelta(minutes=45)


def test_a_repeated_local_time_is_its_first_instance() -> None:
    start = datetime(2027, 10, 24, 2, 30, tzinfo=PARIS)
    got = expand("FREQ=WEEKLY;COUNT=2", start, start + timedelta(hours=1), "Europe/Paris")
    assert _local(got.occurrences, PARIS)[1] == "2027-10-31T02:30:00+02:00"


def test_ho_chi_minh_city_weekly_and_monthly() -> None:
    start = datetime(2027, 1, 14, 8, 0, tzinfo=HCM)  # a Thursday
    weekly = expand(
        "FREQ=WEEKLY;BYDAY=TH;COUNT=8", start, start + timedelta(hours=3), "Asia/Ho_Chi_Minh"
    )
    assert len(weekly.occurrences) == 8
    assert _local(weekly.occurrences, HCM)[-1] == "2027-03-04T08:00:00+07:00"
    assert {o.start.astimezone(HCM).time().isoformat() for o in weekly.occurrences} == {"08:00:00"}
    # the second Thursday of each month, until the end of June (a local date)
    monthly = expand(
        "FREQ=MONTHLY;BYDAY=2TH;UNTIL=20270630",
        start,
        start + timedelta(hours=3),
        "Asia/Ho_Chi_Minh",
    )
    assert monthly.rule == "FREQ=MONTHLY;BYDAY=2TH;UNTIL=20270630T165959Z"
    assert _local(monthly.occurrences, HCM) == [
        "2027-01-14T08:00:00+07:00",
        "2027-02-11T08:00:00+07:00",
        "2027-03-11T08:00:00+07:00",
        "2027-04-08T08:00:00+07:00",
        "2027-05-13T08:00:00+07:00",
        "2027-06-10T08:00:00+07:00",
    ]


def test_a_start_given_with_another_offset_is_read_in_the_series_zone() -> None:
    start = datetime(2027, 1, 14, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội, a Thursday
    got = expand(
        "FREQ=WEEKLY;BYDAY=TH;COUNT=2", start, start + timedelta(hours=1), "Asia/Ho_Chi_Minh"
    )
    assert _local(got.occurrences, HCM) == [
        "2027-01-14T08:00:00+07:00",
        "2027-01-21T08:00:00+07:00",
    ]


def test_the_start_must_be_an_instance_of_the_rule() -> None:
    wednesday = datetime(2027, 1, 13, 8, 0, tzinfo=HCM)
    with pytest.raises(InvalidRequest) as caught:
        expand(
            "FREQ=WEEKLY;BYDAY=TH;COUNT=8",
            wednesday,
            wednesday + timedelta(hours=1),
            "Asia/Ho_Chi_Minh",
        )
    assert caught.value.reason == "not_an_instance"
    assert caught.value.field == "start"
    assert caught.value.values == {"start": "2027-01-13T08:00:00+07:00"}
    # a rule that names no day at all is refused the same way (and soon: see recurrence.py)
    assert _refused("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3", wednesday) == (
        "not_an_instance"
    )
    assert _refused("FREQ=YEARLY;BYWEEKNO=54;COUNT=2", wednesday) == "not_an_instance"
    # an UNTIL before the start leaves no occurrence: the start is not one
    assert _refused("FREQ=DAILY;UNTIL=20270101", wednesday) == "recurrence_until_first"


def test_at_most_two_hundred_occurrences() -> None:
    start = datetime(2027, 1, 14, 8, 0, tzinfo=HCM)
    daily = expand(
        f"FREQ=DAILY;COUNT={MAX_OCCURRENCES}", start, start + timedelta(hours=1), "Asia/Ho_Chi_Minh"
    )
    assert len(daily.occurrences) == MAX_OCCURRENCES
    assert _refused("FREQ=DAILY;COUNT=201", start) == "recurrence_number"
    assert _refused("FREQ=DAILY;UNTIL=20271231", start) == "recurrence_too_many"
    assert _refused("FREQ=DAILY;COUNT=0", start) == "recurrence_number"


def test_every_occurrence_within_two_years_of_the_first() -> None:
    start = datetime(2027, 1, 14, 8, 0, tzinfo=HCM)
    monthly = expand("FREQ=MONTHLY;COUNT=25", start, start + timedelta(hours=1), "Asia/Ho_Chi_Minh")
    assert _local(monthly.occurrences, HCM)[-1] == "2029-01-14T08:00:00+07:00"
    yearly = expand("FREQ=YEARLY;COUNT=3", start, start + timedelta(hours=1), "Asia/Ho_Chi_Minh")
    assert _local(yearly.occurrences, HCM)[-1] == "2029-01-14T08:00:00+07:00"  # two years on
    assert _refused("FREQ=MONTHLY;COUNT=26", start) == "recurrence_too_long"
    assert _refused("FREQ=WEEKLY;COUNT=200", start) == "recurrence_too_long"
    assert _refused("FREQ=YEARLY;UNTIL=20300101T000000Z", start) == "recurrence_too_long"


def test_rules_this_product_does_not_book_are_refused_with_their_reason() -> None:
    start = datetime(2027, 1, 14, 8, 0, tzinfo=HCM)
    assert _refused("FREQ=HOURLY;COUNT=3", start) == "recurrence_freq"
    assert _refused("FREQ=WEEKLY", start) == "recurrence_bound"
    assert _refused("FREQ=WEEKLY;COUNT=3;UNTIL=20270301", start) == "recurrence_bound"
    assert _refused("FREQ=DAILY;BYHOUR=8,14;COUNT=4", start) == "recurrence_part"
    assert _refused("FREQ=DAILY;BYMONTHDAY=14;COUNT=4", start) == "recurrence_part"
    assert _refused("FREQ=WEEKLY;BYDAY=2TH;COUNT=4", start) == "recurrence_part"
    assert _refused("FREQ=WEEKLY;COUNT=2;COUNT=3", start) == "recurrence_twice"
    assert _refused("FREQ=WEEKLY;BYDAY=XX;COUNT=2", start) == "recurrence_syntax"
    assert _refused("every thursday", start) == "recurrence_syntax"
    assert _refused("FREQ=WEEKLY;UNTIL=next-june", start) == "recurrence_until"
    assert _refused("FREQ=WEEKLY;INTERVAL=0;COUNT=2", start) == "recurrence_number"


def test_the_rule_is_stored_upper_case_with_until_in_utc() -> None:
    assert normalise("RRULE:freq=weekly;byday=th;count=8", "Europe/Paris") == (
        "FREQ=WEEKLY;BYDAY=TH;COUNT=8"
    )
    assert normalise("FREQ=WEEKLY;UNTIL=20270701T080000", "Europe/Paris") == (
        "FREQ=WEEKLY;UNTIL=20270701T060000Z"
    )
    assert normalise("FREQ=WEEKLY;UNTIL=20270701T080000Z", "Europe/Paris") == (
        "FREQ=WEEKLY;UNTIL=20270701T080000Z"
    )


def test_occurrences_whose_claims_overlap_each_other_are_refused() -> None:
    start = datetime(2027, 1, 14, 8, 0, tzinfo=HCM)
    day = expand("FREQ=DAILY;COUNT=3", start, start + timedelta(hours=9), "Asia/Ho_Chi_Minh")
    check_apart(day.occurrences, 30, 15, "Asia/Ho_Chi_Minh")  # 07:30 to 17:15 each day: apart
    with pytest.raises(InvalidRequest) as caught:
        # 00:00 to 01:00 the next day: each day's claims reach into the next one's
        check_apart(day.occurrences, 8 * 60, 8 * 60, "Asia/Ho_Chi_Minh")
    assert caught.value.reason == "occurrences_overlap"
    assert caught.value.values == {  # named in the series' zone
        "first": "2027-01-14T08:00:00+07:00",
        "second": "2027-01-15T08:00:00+07:00",
    }


def test_an_until_before_the_first_occurrence_is_named_as_such() -> None:
    start = datetime(2027, 1, 7, 1, tzinfo=UTC)  # Thursday 08:00 in Hà Nội
    refused = _refusal("FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231", start)
    assert refused.reason == "recurrence_until_first"
    assert "before the first occurrence" in refused.message
    assert refused.values == {"until": "2026-12-31 23:59", "start": "2027-01-07 08:00+07:00"}
    # UNTIL on the first occurrence's own day, before its hour, names none either
    assert (
        _refused("FREQ=WEEKLY;BYDAY=TH;UNTIL=20270107T000000Z", start) == "recurrence_until_first"
    )
    # at its start: one occurrence
    one = expand(
        "FREQ=WEEKLY;BYDAY=TH;UNTIL=20270107T010000Z",
        start,
        start + timedelta(hours=1),
        "Asia/Ho_Chi_Minh",
    )
    assert len(one.occurrences) == 1
