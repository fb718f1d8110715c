"""Attendance, merged, and pure: one record per session from its webhook, poll, check-in and
override logs (DESIGN 7), with no store, network or clock of its own."""

from orchestrator.attendance.merge.full import merge, merge_session
from orchestrator.attendance.merge.live import Changed, LiveMerge, live_session
from orchestrator.attendance.merge.record import (
    DEFAULT_THRESHOLDS,
    AttendanceEvent,
    AttendanceRecord,
    AttendanceStatus,
    Connection,
    EventKind,
    EventSource,
    Interval,
    Override,
    SiteAttendance,
    Thresholds,
    UnmatchedOccupant,
    Verdict,
)
from orchestrator.attendance.merge.wording import CSV_HEADERS, Language, summary_line

__all__ = [
    "CSV_HEADERS",
    "DEFAULT_THRESHOLDS",
    "AttendanceEvent",
    "AttendanceRecord",
    "AttendanceStatus",
    "Changed",
    "Connection",
    "EventKind",
    "EventSource",
    "Interval",
    "Language",
    "LiveMerge",
    "Override",
    "SiteAttendance",
    "Thresholds",
    "UnmatchedOccupant",
    "Verdict",
    "live_session",
    "merge",
    "merge_session",
    "summary_line",
]
