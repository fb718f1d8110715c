"""Attendance before and around the start (DESIGN 7): no verdict before the start, minutes from
the start, a drop in the connection test is not leaving early, and the summary follows the
chair's overrides; the live merge says the same as the whole one."""

from __future__ import annotations

from datetime import datetime

import pytest

from orchestrator.attendance import (
    AttendanceEvent,
    AttendanceRecord,
    AttendanceStatus,
    Connection,
    Verdict,
)
from orchestrator.attendance.merge import LiveMerge
from tests.unit.test_attendance_merge import (
    END,
    START,
    checkin,
    join,
    leave,
    override,
    record,
    vn,
)

SITES = ("ha-noi", "da-nang", "can-tho")
NOT_STARTED = AttendanceStatus.NOT_STARTED


def board(events: list[AttendanceEvent], now: datetime) -> AttendanceRecord:
    return record(events, now, sites=SITES)


def live_lines(events: list[AttendanceEvent], now: datetime) -> tuple[object, str]:
    live = LiveMerge(sites=SITES, session_start=START, session_end=END)
    live.add(events, now)
    mark = live.pass_begins()
    lines = tuple(live.lines(SITES, now))
    assert live.pass_ends(mark)
    summary = live.summary("vi", len(live.unmatched(now)), now) if now < END else ""
    return lines, summary


def test_hours_before_the_start_every_site_is_not_started_not_absent() -> None:
    r = board([], vn(5, 0))
    assert [(s.status, s.measured_status, s.connection) for s in r.sites] == [
        (NOT_STARTED, NOT_STARTED, Connection.WAITING)
    ] * 3
    assert r.summary("vi") == "0/3 điểm cầu đã kết nối"


def test_a_site_in_the_connection_test_is_connected_not_started_for_no_minute() -> None:
    r = board([join("a", vn(7, 40), "ha-noi"), checkin("ha-noi", vn(7, 45), 12)], vn(7, 50))
    s = r.site("ha-noi")
    assert (s.connection, s.status, s.connected_minutes) == (Connection.CONNECTED, NOT_STARTED, 0)
    assert (s.first_join, s.headcount, s.late) == (vn(7, 40), 12, False)
    assert r.summary("en") == "1/3 sites connected"


def test_minutes_count_from_the_start() -> None:
    s = board([join("a", vn(7, 40), "ha-noi")], vn(8, 30)).site("ha-noi")
    assert (s.status, s.connected_minutes) == (AttendanceStatus.PRESENT, 30)


def test_a_drop_in_the_connection_test_is_not_leaving_early() -> None:
    events = [join("a", vn(7, 40), "da-nang"), leave("a", vn(7, 50), "da-nang")]
    before = board(events, vn(7, 55)).site("da-nang")
    assert (before.connection, before.status, before.left_early) == (
        Connection.DROPPED,
        NOT_STARTED,
        False,
    )
    assert before.last_leave == vn(7, 50)
    # After the start it never came back: absent, still not "left early".
    r = board(events, vn(9, 0))
    after = r.site("da-nang")
    assert (after.status, after.left_early, after.connected_minutes) == (
        AttendanceStatus.ABSENT,
        False,
        0,
    )
    assert "rời sớm" not in r.summary("vi")
    ended = board(events, vn(10, 30))
    assert (ended.site("da-nang").status, ended.site("da-nang").left_early) == (
        AttendanceStatus.ABSENT,
        False,
    )


def test_a_drop_after_the_start_is_still_leaving_early() -> None:
    events = [join("a", vn(7, 40), "da-nang"), leave("a", vn(8, 20), "da-nang")]
    r = board(events, vn(9, 0))
    assert r.site("da-nang").left_early
    assert r.summary("vi") == "0/3 điểm cầu đã kết nối, 1 rời sớm"


@pytest.mark.parametrize("now", [vn(9, 0), vn(10, 30)])
def test_the_summary_follows_the_chairs_override(now: datetime) -> None:
    events = [
        join("a", vn(7, 40), "da-nang"),
        leave("a", vn(8, 20), "da-nang"),
        join("b", vn(8, 30), "can-tho"),
        override("da-nang", vn(8, 50), Verdict.PRESENT, "Đã họp qua điện thoại"),
        override("can-tho", vn(8, 51), Verdict.PRESENT, "Trục trặc đường truyền"),
    ]
    r = board(events, now)
    dn, ct = r.site("da-nang"), r.site("can-tho")
    # The measured facts stay on the lines; the summary counts the chair's verdict.
    assert (dn.status, dn.measured_status, dn.left_early) == (
        AttendanceStatus.PRESENT,
        AttendanceStatus.PARTIAL,
        True,
    )
    assert (ct.status, ct.late) == (AttendanceStatus.PRESENT, True)
    assert "rời sớm" not in r.summary("vi")
    assert "vào muộn" not in r.summary("vi")
    assert "late" not in r.summary("en")
    if now >= END:
        assert r.summary("vi") == "2/3 điểm cầu đã kết nối"


def test_an_override_before_the_start_is_the_status_at_once() -> None:
    events = [override("can-tho", vn(7, 30), Verdict.ABSENT, "Báo vắng bằng công văn")]
    s = board(events, vn(7, 45)).site("can-tho")
    assert (s.status, s.measured_status) == (AttendanceStatus.ABSENT, NOT_STARTED)


AROUND_THE_START = [vn(5, 0), vn(7, 50), vn(7, 59, 59), vn(8, 0), vn(8, 40), vn(9, 55)]


@pytest.mark.parametrize("now", AROUND_THE_START)
def test_the_live_merge_says_what_the_whole_merge_says_around_the_start(now: datetime) -> None:
    events = [
        join("a", vn(7, 40), "ha-noi"),
        join("b", vn(7, 42), "da-nang"),
        leave("b", vn(7, 50), "da-nang"),
        join("c", vn(8, 15), "can-tho"),
        leave("c", vn(8, 30), "can-tho"),
        override("can-tho", vn(8, 35), Verdict.PRESENT, "Có mặt tại hội trường"),
    ]
    whole = board(events, now)
    lines, summary = live_lines(events, now)
    assert lines == whole.sites
    assert summary == whole.summary("vi")
