"""Attendance: per-site presence merged from webhooks, polls, check-ins and chair overrides."""

from orchestrator.attendance.merge import (
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
    merge,
    merge_session,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "AttendanceEvent",
    "AttendanceRecord",
    "AttendanceStatus",
    "Connection",
    "EventKind",
    "EventSource",
    "Interval",
    "Override",
    "SiteAttendance",
    "Thresholds",
    "UnmatchedOccupant",
    "Verdict",
    "merge",
    "merge_session",
]
