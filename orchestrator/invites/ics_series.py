"""One site's invite to a series (DESIGN 10) as iCalendar text: the whole object (a master
VEVENT with its RRULE and EXDATEs, one VEVENT per occurrence that differs from the rule), one
occurrence's REQUEST, one occurrence's CANCEL, and the CANCEL of the series.

Written like `ics` (whose blocks, VTIMEZONE and folding it reuses) and held to the same RFC 5546
rules for each METHOD. The rule is expanded by calendars in the series' zone: DTSTART, EXDATE
and RECURRENCE-ID carry that zone's TZID (08:00 stays 08:00 local across a DST change), while
the description gives times in the site's own zone and language. Pure: the values come from the
caller.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.invites.ics import (
    _CONTROL_RE,
    _UID_RE,
    _WHITESPACE_RE,
    InviteEvent,
    InviteMethod,
    Party,
    _calendar_head,
    _description,
    _dtstamp_line,
    _event_tail,
    _fold,
    _organizer_lines,
    _param,
    _serialise,
    _text,
    _timing_lines,
    _utc,
    vtimezone_block,
)
from orchestrator.invites.wording import LANGUAGES, Language, describe_range, words

# An RRULE value: NAME=VALUE parts separated by `;` (RFC 5545 3.3.10), nothing else.
_RULE_PART_RE = re.compile(r"[A-Za-z]+=[A-Za-z0-9,+\-:]+")
_FREQS = frozenset({"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"})


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")


def _check_zone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r}") from exc


def rrule_line(rule: str, last: datetime) -> str:
    """The RRULE property of `rule` (an RFC 5545 RRULE value), its UNTIL written as `last` in
    UTC: RFC 5545 wants UTC there when DTSTART has a TZID, and the last instance itself (UNTIL
    is inclusive) gives every calendar the same end whatever form the booking used (a date, a
    local time). COUNT and the other parts are kept as they are. Raises ValueError for a value
    that is not a rule."""
    parts: list[tuple[str, str]] = []
    for part in rule.strip().removeprefix("RRULE:").split(";"):
        if not _RULE_PART_RE.fullmatch(part):
            raise ValueError(f"{part!r} is not a part of a recurrence rule")
        name, _, value = part.partition("=")
        parts.append((name.upper(), value.upper()))
    names = [name for name, _ in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"a part appears twice in the rule {rule!r}")
    found = dict(parts)
    if found.get("FREQ") not in _FREQS:
        raise ValueError(f"the rule {rule!r} needs FREQ (DAILY, WEEKLY, MONTHLY, YEARLY...)")
    if "COUNT" in found and "UNTIL" in found:
        raise ValueError("a rule has COUNT or UNTIL, not both")
    written = [(name, _utc(last) if name == "UNTIL" else value) for name, value in parts]
    # FREQ first: RFC 5545 allows any order, some calendars read only that one.
    written.sort(key=lambda part: part[0] != "FREQ")
    return "RRULE:" + ";".join(f"{name}={value}" for name, value in written)


@dataclass(frozen=True, slots=True)
class Instance:
    """One occurrence as the site's calendar shows it: its original start (`recurrence_id`,
    its RECURRENCE-ID forever) and what it is now."""

    recurrence_id: datetime
    start: datetime
    end: datetime
    summary: str
    agenda: str = ""
    chair: Party | None = None
    connection_test_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("recurrence_id", "start", "end"):
            _aware(name, getattr(self, name))
        if self.connection_test_at is not None:
            _aware("connection_test_at", self.connection_test_at)
            if self.connection_test_at > self.start:
                raise ValueError("the connection test must not be after the start")
        if self.end <= self.start:
            raise ValueError("an occurrence must end after it starts")


@dataclass(frozen=True, slots=True)
class SeriesEvent:
    """Everything one site's invite to a series carries; validated once, then frozen.

    `uid` is the (series, site) UID and `sequence` its SEQUENCE (only ever raised). `zone` is the
    series' zone, in which `rule` is expanded from `start`/`end` (the first occurrence's original
    times; their difference is every rule instance's length); `last` is the rule's last instance
    (its original start). `exdates` are the original starts of the rule's instances this site's
    calendar must not show (skipped, cancelled, or without this site); `overrides` the instances
    that differ from the rule (moved, retitled, another chair...). `site_zone` and `language` are
    the site's, for the words of the description; `join_url` the site's gateway link (URL,
    DESCRIPTION, and LOCATION when the site has no room). `buffer_before_minutes` says when each
    occurrence's connection test starts.
    """

    uid: str
    sequence: int
    zone: str
    start: datetime
    end: datetime
    rule: str
    last: datetime
    summary: str
    organizer: Party
    attendee: Party
    join_url: str
    dtstamp: datetime
    site_zone: str = ""
    chair: Party | None = None
    agenda: str = ""
    buffer_before_minutes: int = 0
    exdates: tuple[datetime, ...] = ()
    overrides: tuple[Instance, ...] = ()
    location: str = ""
    site_name: str = ""
    alarms: tuple[int, ...] = ()
    language: Language = "vi"

    def __post_init__(self) -> None:
        if not _UID_RE.fullmatch(self.uid):
            raise ValueError(f"UID {self.uid!r}: use ASCII letters, digits and @ . _ + = -")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise ValueError(f"sequence must be an int, got {self.sequence!r}")
        if self.sequence < 0:
            raise ValueError(f"sequence must be >= 0, got {self.sequence}")
        for name in ("start", "end", "last", "dtstamp"):
            _aware(name, getattr(self, name))
        if self.end <= self.start:
            raise ValueError("an occurrence must end after it starts")
        if self.last < self.start:
            raise ValueError("the rule's last instance must not be before its first")
        _check_zone(self.zone)
        if not self.site_zone:
            object.__setattr__(self, "site_zone", self.zone)
        _check_zone(self.site_zone)
        rrule_line(self.rule, self.last)  # raises for a value that is not a rule
        if self.buffer_before_minutes < 0:
            raise ValueError("the connection test cannot start after the occurrence")
        if (
            not self.join_url.isascii()
            or _WHITESPACE_RE.search(self.join_url)
            or _CONTROL_RE.search(self.join_url)
            or ":" not in self.join_url
        ):
            raise ValueError("the join link must be an absolute ASCII URI without spaces")
        if _CONTROL_RE.search(self.rule):
            raise ValueError("the rule has control characters")
        for moment in self.exdates:
            _aware("an EXDATE", moment)
        exdates = tuple(sorted(set(self.exdates)))
        object.__setattr__(self, "exdates", exdates)
        overrides = tuple(sorted(self.overrides, key=lambda i: i.recurrence_id))
        ids = [i.recurrence_id for i in overrides]
        if len(set(ids)) != len(ids):
            raise ValueError("two overrides of one occurrence")
        if set(ids) & set(exdates):
            raise ValueError("an occurrence is both excluded and overridden")
        object.__setattr__(self, "overrides", overrides)
        alarms = tuple(self.alarms)
        if any(isinstance(m, bool) or not isinstance(m, int) or m <= 0 for m in alarms):
            raise ValueError(f"alarms are positive minutes before the start, got {alarms!r}")
        object.__setattr__(self, "alarms", tuple(sorted(set(alarms), reverse=True)))
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def effective_location(self) -> str:
        """LOCATION: the site's room, or the join link when the site has no room."""
        return self.location or self.join_url

    def connection_test(self, start: datetime) -> datetime | None:
        """When the connection test of an occurrence starting at `start` begins (None without
        a buffer)."""
        before = self.buffer_before_minutes
        return start - timedelta(minutes=before) if before else None

    def instance(self, recurrence_id: datetime) -> Instance:
        """The occurrence whose original start is `recurrence_id`: its override, else the rule's
        instance as the master describes it. Raises ValueError for an excluded one."""
        _aware("recurrence_id", recurrence_id)
        if recurrence_id in self.exdates:
            raise ValueError(f"the occurrence of {recurrence_id.isoformat()} is excluded")
        for override in self.overrides:
            if override.recurrence_id == recurrence_id:
                return override
        return Instance(
            recurrence_id=recurrence_id,
            start=recurrence_id,
            end=recurrence_id + self.duration,
            summary=self.summary,
            agenda=self.agenda,
            chair=self.chair,
            connection_test_at=self.connection_test(recurrence_id),
        )


def _without_overrides(series: SeriesEvent) -> SeriesEvent:
    """The series as its rule alone describes it (no override, no exclusion)."""
    return dataclasses.replace(series, overrides=(), exdates=())


# Writing ---------------------------------------------------------------------------------


def _year_range(series: SeriesEvent) -> tuple[int, int]:
    tz = ZoneInfo(series.zone)
    moments = [series.start, series.last + series.duration]
    for override in series.overrides:
        moments += (override.start, override.end)
    years = [moment.astimezone(tz).year for moment in moments]
    return min(years), max(years)


def _rule_local(moment: datetime, tz: ZoneInfo) -> str:
    """An occurrence's original start as the rule names it, on the zone's wall clock: its local
    time, or, for an occurrence whose local time a DST gap skips (the service reads such a time
    with the offset before the gap, RFC 5545), that skipped time itself (02:30 on the night the
    clocks go from 02:00 to 03:00), which is what calendars match a RECURRENCE-ID or an EXDATE
    against: ical.js by the wall-clock value, others by the instant, the same either way."""
    local = moment.astimezone(tz)
    before = (moment - timedelta(hours=3)).astimezone(tz)  # gaps are shorter than three hours
    shift = (local.utcoffset() or timedelta()) - (before.utcoffset() or timedelta())
    if shift > timedelta():
        skipped = local.replace(tzinfo=None) - shift
        as_read = skipped.replace(tzinfo=tz)  # fold 0: the offset before the gap
        round_trip = as_read.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != skipped and as_read.astimezone(UTC) == moment.astimezone(UTC):
            return f"{skipped:%Y%m%dT%H%M%S}"
    return f"{local:%Y%m%dT%H%M%S}"


def _recurrence_id_line(series: SeriesEvent, recurrence_id: datetime) -> bytes:
    zone = series.zone
    return _fold(f"RECURRENCE-ID;TZID={zone}:{_rule_local(recurrence_id, ZoneInfo(zone))}")


def _attendee_line(attendee: Party) -> bytes:
    return _fold(
        f"ATTENDEE;CN={_param(attendee.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
        f"RSVP=TRUE:mailto:{attendee.email}"
    )


def mail_event(series: SeriesEvent, instance: Instance, method: InviteMethod) -> InviteEvent:
    """The occurrence as a single invite, in the site's zone: its description is written as a
    session's is (time, connection test, site, link, agenda)."""
    return InviteEvent(
        uid=series.uid,
        sequence=series.sequence,
        method=method,
        summary=instance.summary,
        start=instance.start,
        end=instance.end,
        timezone=series.site_zone,
        organizer=series.organizer,
        attendee=series.attendee,
        join_url=series.join_url,
        dtstamp=series.dtstamp,
        chair=instance.chair,
        agenda=instance.agenda,
        connection_test_at=instance.connection_test_at,
        location=series.location,
        site_name=series.site_name,
        language=series.language,
    )


def occurrence_event(series: SeriesEvent, recurrence_id: datetime) -> InviteEvent:
    """One occurrence of the series as a single invite (its time, the site's words): what the
    mail about that occurrence says. Raises ValueError for an excluded occurrence."""
    return mail_event(series, series.instance(recurrence_id), InviteMethod.REQUEST)


def series_description(series: SeriesEvent) -> str:
    """The master's DESCRIPTION: the first and last occurrences in the site's zone, when each
    occurrence's connection test starts, the site, the gateway link and the agenda."""
    w = words(series.language)
    lang = series.language
    zone = series.site_zone
    lines = [
        f"{w['calendar.series.first']}: {describe_range(series.start, series.end, zone, lang)}",
        f"{w['calendar.series.last']}: "
        f"{describe_range(series.last, series.last + series.duration, zone, lang)}",
    ]
    if series.buffer_before_minutes:
        lines.append(w["calendar.series.test"].format(minutes=series.buffer_before_minutes))
    if series.site_name:
        lines.append(f"{w['calendar.site']}: {series.site_name}")
    lines.append(f"{w['calendar.series.link']}: {series.join_url}")
    agenda = series.agenda.strip()
    if agenda:
        lines.append(f"\n{w['calendar.agenda']}:\n{agenda}")
    return "\n".join(lines)


def _vevent(
    series: SeriesEvent,
    blocks: list[bytes],
    *,
    instance: Instance | None,
    method: InviteMethod,
    scheduling: bool = True,
) -> None:
    """Append one VEVENT: the master (`instance` None: RRULE, EXDATEs) or one occurrence
    (RECURRENCE-ID). `scheduling`: an iTIP REQUEST/CANCEL (attendees; alarms in a REQUEST)."""
    lang = series.language
    cancelled = method is InviteMethod.CANCEL
    zone = series.zone
    blocks += (b"BEGIN:VEVENT", _fold(f"UID:{series.uid}"))
    if instance is not None:
        blocks.append(_recurrence_id_line(series, instance.recurrence_id))
    start, end = (series.start, series.end) if instance is None else (instance.start, instance.end)
    summary = series.summary if instance is None else instance.summary
    blocks += (
        _dtstamp_line(series.dtstamp),
        _timing_lines(series.sequence, cancelled, lang, summary, zone, start, end),
    )
    if instance is None:
        blocks.append(_fold(rrule_line(series.rule, series.last)))
        tz = ZoneInfo(zone)
        blocks += (
            _fold(f"EXDATE;TZID={zone}:{_rule_local(moment, tz)}") for moment in series.exdates
        )
        description = _text(series_description(series))
    else:
        description = _description(mail_event(series, instance, method))
    blocks += (
        _fold(f"LOCATION:{_text(series.effective_location)}"),
        _fold(f"URL:{series.join_url}"),
        _fold(f"DESCRIPTION;LANGUAGE={lang}:{description}"),
        _organizer_lines(series.organizer),
    )
    if not scheduling:
        blocks.append(b"END:VEVENT")
        return
    blocks.append(_attendee_line(series.attendee))
    chair = series.chair if instance is None else instance.chair
    # One ATTENDEE per address: when the coordinator also chairs, the recipient's line wins.
    if chair is not None and chair.email.lower() == series.attendee.email.lower():
        chair = None
    # RFC 5546 3.2.5: no VALARM in a CANCEL.
    alarms = () if cancelled else series.alarms
    blocks.append(_event_tail(chair, summary, lang, alarms))


def _calendar(series: SeriesEvent, method: InviteMethod, body: list[bytes]) -> bytes:
    blocks = [
        _calendar_head(method.value),
        vtimezone_block(series.zone, *_year_range(series)),
        *body,
        b"END:VCALENDAR",
    ]
    return _serialise(blocks)


def render_series(series: SeriesEvent) -> bytes:
    """The whole current object, `METHOD:REQUEST`: the master VEVENT (DTSTART in the series'
    zone, RRULE, an EXDATE per excluded occurrence), one VEVENT with RECURRENCE-ID per override,
    and the VTIMEZONE. What a site downloads and what a booking or a series change mails."""
    body: list[bytes] = []
    _vevent(series, body, instance=None, method=InviteMethod.REQUEST)
    for override in series.overrides:
        _vevent(series, body, instance=override, method=InviteMethod.REQUEST)
    return _calendar(series, InviteMethod.REQUEST, body)


def render_occurrence(series: SeriesEvent, recurrence_id: datetime) -> bytes:
    """`METHOD:REQUEST` of one occurrence alone (its RECURRENCE-ID VEVENT, as it is now): what
    a change of that occurrence mails. Raises ValueError for an excluded occurrence."""
    body: list[bytes] = []
    _vevent(series, body, instance=series.instance(recurrence_id), method=InviteMethod.REQUEST)
    return _calendar(series, InviteMethod.REQUEST, body)


def render_occurrence_cancel(
    series: SeriesEvent,
    recurrence_id: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    summary: str | None = None,
) -> bytes:
    """`METHOD:CANCEL` of one occurrence (its RECURRENCE-ID, `STATUS:CANCELLED`): what cancelling
    it, or removing this site from it, mails. `start`/`end`/`summary` are the occurrence's last
    values (default: the rule's instance)."""
    _aware("recurrence_id", recurrence_id)
    rule = _without_overrides(series).instance(recurrence_id)
    instance = Instance(
        recurrence_id=recurrence_id,
        start=start or rule.start,
        end=end or rule.end,
        summary=summary if summary is not None else rule.summary,
        agenda=rule.agenda,
        chair=rule.chair,
        connection_test_at=None,
    )
    body: list[bytes] = []
    _vevent(series, body, instance=instance, method=InviteMethod.CANCEL)
    return _calendar(series, InviteMethod.CANCEL, body)


def render_series_cancel(series: SeriesEvent) -> bytes:
    """`METHOD:CANCEL` of the UID: the master with `STATUS:CANCELLED` (its rule kept, so a
    calendar finds every instance), which removes the whole series from the site's calendar."""
    body: list[bytes] = []
    _vevent(series, body, instance=None, method=InviteMethod.CANCEL)
    return _calendar(series, InviteMethod.CANCEL, body)


def series_feed_blocks(series: SeriesEvent, *, cancelled: bool = False) -> list[bytes]:
    """The series' VEVENTs for a `METHOD:PUBLISH` feed (no attendees, no alarms; RFC 5546
    3.2.1): the master and its overrides, `STATUS:CANCELLED` once the series is cancelled (so
    subscribed calendars drop it). The feed writes the VTIMEZONE (`series_zone_years`)."""
    method = InviteMethod.CANCEL if cancelled else InviteMethod.REQUEST
    body: list[bytes] = []
    _vevent(series, body, instance=None, method=method, scheduling=False)
    for override in series.overrides:
        _vevent(series, body, instance=override, method=method, scheduling=False)
    return body


def series_zone_years(series: SeriesEvent) -> tuple[str, int, int]:
    """The zone and the local years the series' VTIMEZONE must cover."""
    return (series.zone, *_year_range(series))


def overrides_of(series: SeriesEvent, instances: Iterable[Instance]) -> tuple[Instance, ...]:
    """The `instances` that differ from what the master says of their rule instance (time,
    title, agenda, chair, connection test): those are written as overrides."""
    base = _without_overrides(series)
    return tuple(i for i in instances if i != base.instance(i.recurrence_id))
