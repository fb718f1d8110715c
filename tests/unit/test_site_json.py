"""A site's line as JSON made without its model (`site_json`, what a live board sends) is, to
the character, what the API's model writes (`site_out(...).model_dump_json()`), in UTF-8 and in
ASCII: whatever the instants' zones and microseconds, the minutes' rounding, the names and the
chair's reason hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.attendance.exports import site_json, site_out
from orchestrator.attendance.merge.record import (
    AttendanceStatus,
    Connection,
    Interval,
    Override,
    SiteAttendance,
    Verdict,
)

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30)), ZoneInfo("UTC")]
)
INSTANTS = st.builds(
    lambda at, zone: at.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2199, 12, 30)),
    ZONES,
)
TEXT = st.text(max_size=12)  # control characters, quotes, backslashes, Vietnamese, emoji


@st.composite
def lines(draw: st.DrawFn) -> SiteAttendance:
    verdict = draw(st.sampled_from(list(Verdict)) | st.none())
    override = (
        None
        if verdict is None
        else Override(verdict=verdict, reason=draw(TEXT) or "x", at=draw(INSTANTS))
    )
    spans = draw(st.lists(st.tuples(INSTANTS, INSTANTS), max_size=4))
    return SiteAttendance(
        site_id=draw(st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True)),
        connection=draw(st.sampled_from(list(Connection))),
        status=draw(st.sampled_from(list(AttendanceStatus))),
        measured_status=draw(st.sampled_from(list(AttendanceStatus))),
        override=override,
        late=draw(st.booleans()),
        left_early=draw(st.booleans()),
        first_join=draw(INSTANTS | st.none()),
        last_leave=draw(INSTANTS | st.none()),
        connected=timedelta(microseconds=draw(st.integers(0, 10**12))),
        reconnects=draw(st.integers(0, 10**4)),
        intervals=tuple(Interval(start=a, end=b) for a, b in spans),
        occupants=(),
        headcount=draw(st.integers(0, 100_000) | st.none()),
        names=tuple(draw(st.lists(TEXT, max_size=3))),
    )


@settings(max_examples=400, deadline=None)
@given(lines())
def test_a_line_s_json_is_the_model_s_to_the_character(line: SiteAttendance) -> None:
    assert site_json(line) == site_out(line).model_dump_json()
    assert site_json(line, ascii=True) == site_out(line).model_dump_json(ensure_ascii=True)


def test_a_line_in_vietnamese_asked_in_ascii_is_escaped() -> None:
    at = datetime(2026, 12, 6, 1, 0, 0, 1234, tzinfo=UTC)
    line = SiteAttendance(
        site_id="ha-noi",
        connection=Connection.CONNECTED,
        status=AttendanceStatus.PRESENT,
        measured_status=AttendanceStatus.PRESENT,
        late=False,
        left_early=False,
        first_join=at,
        last_leave=None,
        connected=timedelta(minutes=12, seconds=3),
        reconnects=0,
        intervals=(Interval(start=at, end=at + timedelta(minutes=12)),),
        occupants=(),
        headcount=3,
        names=("Nguyễn Văn A",),
    )
    assert '"Nguyễn Văn A"' in site_json(line)
    assert '"Nguy\\u1ec5n V\\u0103n A"' in site_json(line, ascii=True)
    assert '"first_join":"2026-12-06T01:00:00.001234Z"' in site_json(line)
