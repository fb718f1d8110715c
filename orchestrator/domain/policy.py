"""Booking policy (DESIGN rule 4): working hours, weekends, holidays, notice and duration.

Pure functions over instants and zone names, so the booking use case and the slot finder apply
exactly the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from orchestrator.domain.errors import Breach
from orchestrator.domain.models import BookingPolicy
from orchestrator.domain.timewords import local_time


@lru_cache(maxsize=64)
def _holidays(country: str, year: int, language: str | None) -> dict[date, str]:
    # imported at the first question: the package's calendars are about 4 MB of a process
    import holidays as holiday_calendars

    return dict(holiday_calendars.country_holidays(country, years=year, language=language).items())


def holiday_name(country: str, day: date, language: str | None = None) -> str | None:
    """The public holiday on `day` in `country` (lunar ones included), or None; its name in
    `language` (`vi`, `en_US`: the `holidays` package's codes) when the package has it."""
    return _holidays(country, day.year, language).get(day)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _days_touched(local_start: datetime, local_end: datetime) -> list[date]:
    last = (local_end - timedelta(microseconds=1)).date()
    days = [local_start.date()]
    while days[-1] < last:
        days.append(days[-1] + timedelta(days=1))
    return days


def check_time_rules(
    start: datetime,
    end: datetime,
    zones: Iterable[tuple[str, str]],
    policy: BookingPolicy,
) -> list[Breach]:
    """Calendar rules for `[start, end)` at each (site id, zone name): weekend, holiday, hours.

    A session must start and end inside working hours of one working day in every site's zone
    (a full-day conference with a lunch break is allowed; one starting at lunch is not).
    Buffers are not checked here: they may spill outside working hours.
    """
    breaches: list[Breach] = []
    seen: set[str] = set()
    for site_id, zone_name in zones:
        if zone_name in seen:
            continue
        seen.add(zone_name)
        zone = _zone(zone_name)
        ls, le = start.astimezone(zone), end.astimezone(zone)
        days = _days_touched(ls, le)
        off = [d for d in days if d.weekday() not in policy.working_days]
        if off:
            breaches.append(
                Breach(
                    "weekend", f"{off[0]:%A %Y-%m-%d} is not a working day in {zone_name}", site_id
                )
            )
            continue
        if policy.holidays:
            named = [(d, holiday_name(policy.holiday_country, d)) for d in days]
            hit = [(d, n) for d, n in named if n]
            if hit:
                d, n = hit[0]
                breaches.append(
                    Breach("holiday", f"{d:%Y-%m-%d} is a public holiday ({n})", site_id)
                )
                continue
        if policy.working_hours and not _within_hours(ls, le, policy):
            hours = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in policy.working_hours)
            breaches.append(
                Breach(
                    "working_hours",
                    f"{ls:%H:%M}-{le:%H:%M} in {zone_name} is outside working hours ({hours})",
                    site_id,
                )
            )
    return breaches


def _within_hours(ls: datetime, le: datetime, policy: BookingPolicy) -> bool:
    if ls.date() != (le - timedelta(microseconds=1)).date():
        return False
    st, et = ls.time().replace(tzinfo=None), le.time().replace(tzinfo=None)
    starts_ok = any(w.start <= st < w.end for w in policy.working_hours)
    ends_ok = any(w.start < et <= w.end for w in policy.working_hours)
    return starts_ok and ends_ok


def check_policy(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    zones: Iterable[tuple[str, str]],
    policy: BookingPolicy,
    shown_in: str = "UTC",
) -> list[Breach]:
    """Every breach of `policy` by a session `[start, end)` booked at `now`, most basic first.

    The breaches' words give times in the zone `shown_in` (the session's)."""
    breaches: list[Breach] = []
    if start < now:
        breaches.append(
            Breach(
                "in_past",
                f"the session starts in the past ({local_time(start, shown_in)}; "
                f"it is now {local_time(now, shown_in)})",
            )
        )
    duration = (end - start).total_seconds() / 60
    if duration > policy.max_duration_minutes:
        breaches.append(
            Breach(
                "max_duration",
                f"{duration:.0f} minutes is longer than the maximum of "
                f"{policy.max_duration_minutes}",
            )
        )
    if start >= now and start - now < timedelta(minutes=policy.min_notice_minutes):
        days = policy.min_notice_minutes / (24 * 60)
        breaches.append(
            Breach(
                "min_notice",
                f"this kind of session must be booked at least {days:g} days "
                f"({policy.min_notice_minutes} minutes) ahead: the earliest start now is "
                f"{local_time(now + timedelta(minutes=policy.min_notice_minutes), shown_in)}",
            )
        )
    breaches.extend(check_time_rules(start, end, zones, policy))
    return breaches
