"""A series' rule (an RFC 5545 RRULE value) checked and expanded in the series' zone by
python-dateutil's `rrule`, never by hand.

Occurrences keep their wall-clock time across DST changes (08:00 stays 08:00 local); a local time
that a DST gap skips is read with the offset before the gap, so it moves forward by the gap, as
RFC 5545 says. Each occurrence lasts exactly as long as the first. A rule may name at most
`MAX_OCCURRENCES` occurrences, all within `MAX_YEARS` of the first, which must be the series'
`start` itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime, time, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

from orchestrator.domain.errors import InvalidRequest

MAX_OCCURRENCES = 200
MAX_YEARS = 2
MAX_INTERVAL = 1000
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# The parts a calendar office uses; BYHOUR, BYMINUTE and BYSECOND would make several occurrences
# a day, at times other than the series' own.
PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYSETPOS",
    "WKST",
)
_DAYS_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTH", "WKST")
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")


@dataclass(frozen=True)
class Occurrence:
    """One occurrence the rule names: its original start (the RECURRENCE-ID) and its range, UTC."""

    original: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Expansion:
    """A rule as stored (`UNTIL` in UTC, parts upper-case) and the occurrences it names."""

    rule: str
    occurrences: tuple[Occurrence, ...]


def _refuse(message: str, *, reason: str, field: str = "recurrence", **values: object) -> None:
    raise InvalidRequest(message, field=field, reason=reason, values=values)


def _parts(value: str) -> list[tuple[str, str]]:
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    out: list[tuple[str, str]] = []
    for item in text.split(";"):
        name, sep, part = item.partition("=")
        name, part = name.strip().upper(), part.strip().upper()
        if not sep or not name or not part:
            _refuse(
                f"the recurrence {value!r} is not an RRULE value: write NAME=VALUE parts "
                "separated by ';', e.g. FREQ=WEEKLY;BYDAY=TH;COUNT=8",
                reason="recurrence_syntax",
                detail=value,
            )
        out.append((name, part))
    return out


def _until_utc(part: str, zone: ZoneInfo) -> datetime:
    """UNTIL as an instant: UTC as written with `Z`, else a local time of the series' zone (a
    bare date: the end of that local day)."""
    m = _UNTIL.match(part)
    if m is None:
        _refuse(
            f"UNTIL={part} is not a date or date-time (write e.g. 20270630T000000Z or 20270630)",
            reason="recurrence_until",
            value=part,
        )
        raise AssertionError("unreachable")
    day, clock, utc = m.groups()
    try:
        if clock is None:
            local = datetime.combine(datetime.strptime(day, "%Y%m%d").date(), time(23, 59, 59))
            return local.replace(tzinfo=zone).astimezone(UTC)
        naive = datetime.strptime(day + clock, "%Y%m%d%H%M%S")
    except ValueError:
        _refuse(
            f"UNTIL={part} is not a date or date-time (write e.g. 20270630T000000Z or 20270630)",
            reason="recurrence_until",
            value=part,
        )
        raise AssertionError("unreachable") from None
    return naive.replace(tzinfo=UTC) if utc else naive.replace(tzinfo=zone).astimezone(UTC)


def normalise(value: str, timezone: str) -> str:
    """The rule as stored: parts upper-case, UNTIL in UTC (RFC 5545 asks that of a rule whose
    start has a zone). Raises InvalidRequest for what this product does not book: another
    frequency, a part outside `PARTS`, a part twice, neither or both of COUNT and UNTIL, a COUNT
    above `MAX_OCCURRENCES`, an INTERVAL outside 1..`MAX_INTERVAL`."""
    parts = _parts(value)
    names = [n for n, _ in parts]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        _refuse(
            f"{', '.join(twice)} given twice in the recurrence",
            reason="recurrence_twice",
            parts=", ".join(twice),
        )
    strangers = [n for n in names if n not in PARTS]
    if strangers:
        _refuse(
            f"the recurrence may not use {', '.join(strangers)} (allowed: {', '.join(PARTS)})",
            reason="recurrence_part",
            parts=", ".join(strangers),
            allowed=", ".join(PARTS),
        )
    given = dict(parts)
    freq = given.get("FREQ")
    if freq not in FREQUENCIES:
        _refuse(
            f"FREQ must be one of {', '.join(FREQUENCIES)}",
            reason="recurrence_freq",
            allowed=", ".join(FREQUENCIES),
        )
    if freq in ("DAILY", "WEEKLY"):
        # Every day or week of the calendar has each weekday and lies in some month, so with
        # these parts only the rule always names days; an ordinal weekday (1MO) is for
        # MONTHLY and YEARLY rules (RFC 5545).
        odd = [n for n in names if n not in _DAYS_PARTS]
        if odd or re.search(r"\d", given.get("BYDAY", "")):
            _refuse(
                f"a {freq} recurrence may use only {', '.join(_DAYS_PARTS)}, with plain weekdays "
                "(MO, TU, ...); use MONTHLY or YEARLY for days of the month or year",
                reason="recurrence_part",
                parts=", ".join(odd) or "BYDAY",
                allowed=", ".join(_DAYS_PARTS),
            )
    if ("COUNT" in given) == ("UNTIL" in given):
        _refuse(
            "the recurrence needs COUNT or UNTIL (one of them, not both)", reason="recurrence_bound"
        )
    for name, low, high in (("COUNT", 1, MAX_OCCURRENCES), ("INTERVAL", 1, MAX_INTERVAL)):
        if name in given:
            raw = given[name]
            if not raw.isdigit() or not low <= int(raw) <= high:
                _refuse(
                    f"{name} must be a whole number from {low} to {high}",
                    reason="recurrence_number",
                    part=name,
                    low=low,
                    high=high,
                )
    zone = ZoneInfo(timezone)
    out = []
    for name, part in parts:
        if name == "UNTIL":
            part = _until_utc(part, zone).strftime("%Y%m%dT%H%M%SZ")
        out.append(f"{name}={part}")
    return ";".join(out)


def _rule(rule: str, first: datetime) -> rrule:
    """The rule without its bound (COUNT, UNTIL: `expand` sets its own), read by dateutil."""
    unbounded = ";".join(p for p in rule.split(";") if p.split("=")[0] not in ("COUNT", "UNTIL"))
    try:
        parsed = rrulestr(f"RRULE:{unbounded}", dtstart=first)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        _refuse(
            f"the recurrence {rule!r} cannot be read: {exc}",
            reason="recurrence_syntax",
            detail=rule,
        )
        raise AssertionError("unreachable") from exc
    assert isinstance(parsed, rrule)
    return parsed


# The Gregorian calendar repeats every 400 years, weekdays and leap days included.
_CYCLE = 400


def _far_shift(year: int) -> int:
    """Whole cycles of years that take `year` as close to the end of the calendar as leaves room
    for `MAX_YEARS` (see `expand`)."""
    return (MAXYEAR - MAX_YEARS - 1 - year) // _CYCLE * _CYCLE


def expand(value: str, start: datetime, end: datetime, timezone: str) -> Expansion:
    """The occurrences `value` names from `start` (the first; its length is every one's),
    expanded in `timezone`.

    Raises InvalidRequest: the rule refused by `normalise` or unreadable, `start` not an instance
    of it, more than `MAX_OCCURRENCES` occurrences, or one beyond `MAX_YEARS` after the first."""
    rule = normalise(value, timezone)
    zone = ZoneInfo(timezone)
    given = dict(item.split("=", 1) for item in rule.split(";"))
    first = start.astimezone(zone).replace(tzinfo=None)  # the wall clock the rule speaks of
    limit = first + relativedelta(years=MAX_YEARS)  # the same local day and time
    until = None
    if "UNTIL" in given:
        until = _until_utc(given["UNTIL"], zone).astimezone(zone).replace(tzinfo=None)
        if until < first:
            _refuse(
                f"UNTIL={given['UNTIL']} comes before the first occurrence "
                f"({start.astimezone(zone).isoformat()}): the series would have none",
                reason="recurrence_until_first",
                until=until.isoformat(sep=" ", timespec="minutes"),
                start=start.astimezone(zone).isoformat(sep=" ", timespec="minutes"),
            )
        if until > limit:
            _refuse(
                f"UNTIL must fall within {MAX_YEARS} years of the first occurrence",
                reason="recurrence_too_long",
                years=MAX_YEARS,
                max=MAX_OCCURRENCES,
            )
    count = int(given["COUNT"]) if "COUNT" in given else None
    # dateutil checks its end only against the days it finds: a rule naming no day at all
    # (BYMONTH=2;BYMONTHDAY=30) walks on to the year 9999. Expanded in the same days whole
    # 400-year cycles later, near that end, such a walk is short, and the days are the same.
    shift = _far_shift(first.year)
    parsed = _rule(rule, first.replace(year=first.year + shift))
    bound = min(until or limit, limit)
    bounded = parsed.replace(count=None, until=bound.replace(year=bound.year + shift))
    found = [
        d.replace(year=d.year - shift) for d in islice(bounded, (count or MAX_OCCURRENCES) + 1)
    ]
    if not found or found[0] != first:
        _refuse(
            f"start {start.astimezone(zone).isoformat()} is not an occurrence of the "
            f"recurrence {rule}: give the first occurrence's start",
            reason="not_an_instance",
            field="start",
            start=start.astimezone(zone).isoformat(),
        )
    if count is not None and len(found) < count:
        _refuse(
            f"the {count} occurrences do not fit within {MAX_YEARS} years of the first",
            reason="recurrence_too_long",
            years=MAX_YEARS,
            max=MAX_OCCURRENCES,
        )
    if len(found) > (count or MAX_OCCURRENCES):
        if count is None:
            _refuse(
                f"the recurrence names more than {MAX_OCCURRENCES} occurrences",
                reason="recurrence_too_many",
                max=MAX_OCCURRENCES,
            )
        found = found[:count]
    length = end - start
    first_at = start.astimezone(UTC)
    occurrences = [Occurrence(original=first_at, start=first_at, end=first_at + length)]
    for local in found[1:]:
        # A local time skipped by a DST gap is read with the offset before the gap (fold 0), so
        # as an instant it falls the gap's length later on the clock: moved forward (RFC 5545).
        at = local.replace(tzinfo=zone).astimezone(UTC)
        occurrences.append(Occurrence(original=at, start=at, end=at + length))
    return Expansion(rule, tuple(occurrences))


def check_apart(
    occurrences: Sequence[Occurrence], before_min: int, after_min: int, timezone: str
) -> None:
    """Raise InvalidRequest when two occurrences' claimed ranges (buffers included) overlap:
    the series would conflict with itself. The occurrences are named in `timezone`."""
    zone = ZoneInfo(timezone)
    before, after = timedelta(minutes=before_min), timedelta(minutes=after_min)
    ranges = sorted(((o.start - before, o.end + after, o) for o in occurrences), key=_first_two)
    for (_, end, a), (begin, _, b) in pairwise(ranges):
        if begin < end:
            _refuse(
                f"the occurrences of {a.original.astimezone(zone).isoformat()} and "
                f"{b.original.astimezone(zone).isoformat()} overlap (buffers included): the "
                "series would conflict with itself",
                reason="occurrences_overlap",
                first=a.original.astimezone(zone).isoformat(),
                second=b.original.astimezone(zone).isoformat(),
            )


def _first_two(item: tuple[datetime, datetime, Occurrence]) -> tuple[datetime, datetime]:
    return item[0], item[1]
