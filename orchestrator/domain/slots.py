"""Free-slot search: the earliest grid starts where a session fits every busy calendar and policy.

Pure and fast: one pass over the busy ranges to index them, then a walk over candidate starts that
jumps over busy ranges, non-working days and the hours outside working windows.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import BookingPolicy, TimeRange
from orchestrator.domain.policy import check_policy, holiday_name

Range = tuple[datetime, datetime]

_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """The union of half-open `ranges` as sorted, disjoint ranges in UTC.

    Overlapping and touching ranges (`[a, b)` and `[b, c)`) are merged; empty or inverted ranges
    (`start >= end`) hold no time and are dropped.
    """
    return list(_union(iter(sorted(ranges, key=lambda r: r[0]))))


def find_free_slots(
    *,
    busy: Sequence[Range],
    duration: timedelta,
    window_start: datetime,
    window_end: datetime,
    buffer_before: timedelta,
    buffer_after: timedelta,
    zones: Sequence[tuple[str, str]],
    policy: BookingPolicy,
    now: datetime,
    step: timedelta = timedelta(minutes=30),
    align_zone: str = "Asia/Ho_Chi_Minh",
    limit: int = 10,
) -> list[TimeRange]:
    """The earliest `limit` free slots `[s, s + duration)`, ascending.

    `s` is a slot iff all of these hold:

    - `s` is on the grid of `align_zone`: for each local day, the instant that day begins (local
      midnight, or the first instant of the day where midnight does not exist) plus `k * step` of
      elapsed time, for every `k >= 0` that stays before the next day begins. The grid restarts
      every local day, so it stays on round local times across a daylight-saving change (when
      `step` divides the change) and a day may hold 23 or 25 hours of starts.
    - `window_start <= s` and `s + duration <= window_end`.
    - `check_policy(start=s, end=s + duration, now=now, zones=zones, policy=policy)` reports no
      breach (the policy module is the only judge; the shortcuts here never skip a slot it would
      accept).
    - The buffered range `[s - buffer_before, s + duration + buffer_after)` overlaps no range of
      `busy`. Ranges are half-open: touching is not overlapping, and an empty busy range
      (`start >= end`) blocks nothing.

    Consecutive grid starts may both be returned even though their slots overlap; fewer than
    `limit` slots come back when the window holds fewer.

    `busy` is the claims of every resource involved, in any order, possibly overlapping; its
    instants must be aware, best in UTC as the store gives them (Python compares two times sharing
    one zone by wall clock, which is ambiguous in a repeated hour). Every other instant must be
    aware too.
    Raises `InvalidRequest` for a naive instant, an unknown zone, a non-positive `duration` or
    `step`, a negative buffer, or `window_end < window_start`.
    """
    _check_aware(window_start=window_start, window_end=window_end, now=now)
    if duration <= timedelta(0):
        raise InvalidRequest("the duration must be positive", field="duration")
    if step <= timedelta(0):
        raise InvalidRequest("the step must be positive", field="step")
    if buffer_before < timedelta(0):
        raise InvalidRequest("buffers cannot be negative", field="buffer_before")
    if buffer_after < timedelta(0):
        raise InvalidRequest("buffers cannot be negative", field="buffer_after")
    if window_end < window_start:
        raise InvalidRequest("the window ends before it starts", field="window_end")
    grid = _Grid(_zone(align_zone, "align_zone"), step)
    calendar = _Calendar([_zone(name, "zones") for _, name in zones], policy, duration)
    if limit <= 0:
        return []

    window_start, window_end, now = (t.astimezone(UTC) for t in (window_start, window_end, now))
    first = max(window_start, now + timedelta(minutes=policy.min_notice_minutes))
    last = window_end - duration
    if first > last:
        return []
    # The duration rule does not depend on the start: one probe answers for every candidate.
    probe = check_policy(start=first, end=first + duration, now=now, zones=(), policy=policy)
    if any(b.rule == "max_duration" for b in probe):
        return []

    # Only ranges ending after the first buffered start can matter. A heap (O(n)) rather than a
    # sort (O(n log n)): the walk pops ranges in order and usually stops after a few of them.
    lo_cut = first - buffer_before
    heap = [r for r in busy if lo_cut < r[1]]
    heapq.heapify(heap)
    blocks = _union(_drain(heap))
    block = next(blocks, None)

    found: list[TimeRange] = []
    s = grid.ceil(first)
    while s <= last and len(found) < limit:
        allowed = calendar.earliest_allowed(s)
        if allowed > s:
            s = grid.ceil(allowed)
            continue
        free_from = s - buffer_before
        while block is not None and block[1] <= free_from:
            block = next(blocks, None)
        if block is not None and block[0] < s + duration + buffer_after:
            s = grid.ceil(block[1] + buffer_before)
            continue
        end = s + duration
        if not check_policy(start=s, end=end, now=now, zones=zones, policy=policy):
            found.append(TimeRange(start=s, end=end))
        s = grid.ceil(s + _TICK)
    return found


def _check_aware(**instants: datetime) -> None:
    for name, value in instants.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequest(f"{name} must carry a UTC offset or zone", field=name)


def _zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"unknown time zone {name!r}", field=field) from exc


def _drain(heap: list[Range]) -> Iterator[Range]:
    while heap:
        yield heapq.heappop(heap)


def _union(ordered: Iterator[Range]) -> Iterator[Range]:
    """Merge ranges given in order of start into disjoint, non-touching ranges, lazily."""
    current: Range | None = None
    for a, b in ordered:
        if a >= b:
            continue
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if current is None:
            current = (a, b)
        elif a <= current[1]:
            if b > current[1]:
                current = (current[0], b)
        else:
            yield current
            current = (a, b)
    if current is not None:
        yield current


def _day_start(zone: ZoneInfo, day: date) -> datetime:
    """The first instant of local `day` (fold=0 maps a skipped midnight to the transition)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


class _Grid:
    """Candidate starts: each local day's first instant plus whole steps, within that day."""

    def __init__(self, zone: ZoneInfo, step: timedelta) -> None:
        self._zone = zone
        self._step = step
        self._starts: dict[date, datetime] = {}

    def _start(self, day: date) -> datetime:
        start = self._starts.get(day)
        if start is None:
            start = self._starts[day] = _day_start(self._zone, day)
        return start

    def ceil(self, t: datetime) -> datetime:
        """The first grid start at or after `t`."""
        day = t.astimezone(self._zone).date()
        begin = self._start(day)
        while begin > t:  # only in zones whose clocks went back across midnight
            day -= _DAY
            begin = self._start(day)
        after = self._start(day + _DAY)
        while after <= t:
            day += _DAY
            begin, after = after, self._start(day + _DAY)
        candidate = begin - ((begin - t) // self._step) * self._step
        return min(candidate, after)


def spans_break(
    start: datetime, end: datetime, zones: Iterable[str], policy: BookingPolicy
) -> bool:
    """Whether `[start, end)` runs through a break between two working-hour windows (the lunch
    break of 07:30-11:30, 13:30-17:00) on the wall clock of any of `zones`."""
    hours = sorted(policy.working_hours, key=lambda w: w.start)
    breaks = [
        (a.end.replace(tzinfo=None), b.start.replace(tzinfo=None))
        for a, b in pairwise(hours)
        if a.end < b.start
    ]
    if not breaks:
        return False
    for name in set(zones):
        zone = ZoneInfo(name)
        ls, le = start.astimezone(zone), end.astimezone(zone)
        if ls.date() != le.date():
            continue
        st, et = ls.time().replace(tzinfo=None), le.time().replace(tzinfo=None)
        if any(st < gap_start and gap_end < et for gap_start, gap_end in breaks):
            return True
    return False


class _Calendar:
    """A conservative mirror of the calendar rules, used only to jump ahead.

    For each zone and local day it knows whether the day can hold a session at all (a working day,
    not a holiday) and bounds the instants a session may start and end at; any start it rejects,
    `check_time_rules` would reject too.
    """

    def __init__(self, zones: list[ZoneInfo], policy: BookingPolicy, duration: timedelta) -> None:
        self._zones = list({z.key: z for z in zones}.values())
        self._policy = policy
        self._duration = duration
        self._days: dict[tuple[str, date], tuple[bool, datetime, datetime, datetime]] = {}
        hours = policy.working_hours
        self._first_start = min((w.start.replace(tzinfo=None) for w in hours), default=None)
        self._last_end = max((w.end.replace(tzinfo=None) for w in hours), default=None)

    def earliest_allowed(self, s: datetime) -> datetime:
        """`s` if it may pass the calendar rules, else an instant before which none can."""
        allowed = s
        for zone in self._zones:
            working, earliest, latest_end, next_day = self._day(zone, s.astimezone(zone).date())
            if not working or s + self._duration > latest_end:
                allowed = max(allowed, next_day)
            elif s < earliest:
                allowed = max(allowed, earliest)
        return allowed

    def _day(self, zone: ZoneInfo, day: date) -> tuple[bool, datetime, datetime, datetime]:
        key = (zone.key, day)
        info = self._days.get(key)
        if info is None:
            info = self._days[key] = self._describe(zone, day)
        return info

    def _describe(self, zone: ZoneInfo, day: date) -> tuple[bool, datetime, datetime, datetime]:
        """(may hold a session, earliest start, latest end, next day's start) of a local day."""
        policy = self._policy
        begin, next_day = _day_start(zone, day), _day_start(zone, day + _DAY)
        working = day.weekday() in policy.working_days and not (
            policy.holidays and holiday_name(policy.holiday_country, day)
        )
        if self._first_start is None or self._last_end is None:
            # Without working hours a session may span days; only its first day is bounded here.
            return working, begin, datetime.max.replace(tzinfo=UTC), next_day
        # Around a clock change a wall time maps to two instants, or to none: taking the earlier
        # of both folds for the start and the later for the end keeps the bounds conservative.
        earliest = min(_instant(zone, day, self._first_start, f) for f in (0, 1))
        latest_end = min(next_day, max(_instant(zone, day, self._last_end, f) for f in (0, 1)))
        return working, earliest, latest_end, next_day


def _instant(zone: ZoneInfo, day: date, wall: time, fold: int) -> datetime:
    return datetime.combine(day, wall, tzinfo=zone).replace(fold=fold).astimezone(UTC)
