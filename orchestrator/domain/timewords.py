"""Instants in words, in a named zone: what refusals and explanations write for people, so that
no message shows an office or a site a UTC time ("+00:00") it has to convert."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(when: datetime, zone: str) -> str:
    """`2026-12-10 07:30 (Asia/Ho_Chi_Minh)`."""
    return f"{when.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


def local_day(when: datetime, zone: str) -> str:
    """`2026-12-10`, the local day of `when` in `zone`."""
    return f"{when.astimezone(ZoneInfo(zone)):%Y-%m-%d}"


def local_range(start: datetime, end: datetime, zone: str) -> str:
    """`2026-12-10 07:30–11:30 (Asia/Ho_Chi_Minh)`, or both dates when the range crosses a day."""
    tz = ZoneInfo(zone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M}–{b:%H:%M} ({zone})"
    return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} ({zone})"
