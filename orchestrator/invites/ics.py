"""One site's invite as iCalendar text (RFC 5545), kept to RFC 5546's rules for its METHOD.

The text is written directly rather than through icalendar's object model, which is about ten
times slower and would miss the invite-rendering target; icalendar still builds each VTIMEZONE
(once per zone and year range, then cached) and the tests parse every object back with it.

An invite is put together from folded UTF-8 blocks. What every site of a session shares (the
VTIMEZONE, times, title, organizer, chair, alarms, the description around the site's own lines)
is written once and cached; each invite writes only its own lines (UID, LOCATION, URL, the
site's part of DESCRIPTION, the coordinator's ATTENDEE).

About 500 lines on purpose: the blocks, their cache and the folding they share are one writer;
apart they would hand half-written lines across modules.
"""

from __future__ import annotations

import enum
import functools
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.invites.wording import (
    LANGUAGES,
    Language,
    description_frame,
    words,
)

PRODID = "-//orchestrator//session invites 1.0//EN"
DEFAULT_ALARMS: tuple[int, ...] = (1440, 60, 30)  # minutes before the start


class InviteMethod(enum.StrEnum):
    """The iTIP method of an invite: a new or changed session, or a cancelled one."""

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


# Characters that may not appear in a TEXT value (RFC 5545 3.3.11: CONTROL except HTAB; line
# breaks are written as \n) and in a quoted parameter value (DQUOTE as well).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINEBREAK_RE = re.compile(r"\r\n?|\n")
_WHITESPACE_RE = re.compile(r"\s")
_UID_PART_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._+=-]*")
_DOMAIN_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_ADDRESS_PUNCTUATION_RE = re.compile(r'["<>()\[\]\\,;:]')
# The ASCII characters of _CONTROL_RE and _WHITESPACE_RE as bytes: in an ASCII string (a join
# link, hundreds of characters) deleting them with bytes.translate and comparing lengths finds
# them several times faster than a regex search.
_CONTROL_BYTES = bytes(c for c in range(128) if _CONTROL_RE.match(chr(c)))
_WHITESPACE_BYTES = bytes(c for c in range(128) if _WHITESPACE_RE.match(chr(c)))


def _has_any(value: str, characters: bytes, pattern: re.Pattern[str]) -> bool:
    """Whether `pattern` matches somewhere in `value`; `characters` are the ASCII characters
    it matches (the only ones it could find in an ASCII value)."""
    if value.isascii():  # O(1)
        data = value.encode("ascii")
        return len(data.translate(None, characters)) != len(data)
    return pattern.search(value) is not None


def invite_uid(session_id: str, site_id: str, domain: str) -> str:
    """The invite's UID, `<session-id>.<site-id>@<domain>`: the same for one site forever.

    A session id that is a UUID is written in its canonical lowercase form and the domain is
    lowercased, so the UID does not change with how the caller spells them. Raises ValueError
    for parts that would make the UID ambiguous (empty, whitespace, `@`, other punctuation).
    """
    if not _UID_PART_RE.fullmatch(site_id):
        raise ValueError(f"site id {site_id!r} cannot go into an invite UID")
    return f"{_session_part(session_id)}.{site_id}@{_uid_domain(domain)}"


# Cached: one session and one domain serve thousands of invites.
@functools.lru_cache(maxsize=1024)
def _session_part(session_id: str) -> str:
    try:
        part = str(uuid.UUID(session_id))
    except ValueError:
        part = session_id
    if not _UID_PART_RE.fullmatch(part):
        raise ValueError(f"session id {session_id!r} cannot go into an invite UID")
    return part


@functools.lru_cache(maxsize=64)
def _uid_domain(domain: str) -> str:
    host = domain.strip().lower()
    if not _DOMAIN_RE.fullmatch(host):
        raise ValueError(f"{domain!r} is not a domain name (e.g. hop.moet.gov.vn)")
    return host


@dataclass(frozen=True, slots=True)
class Party:
    """A person on the invite: a name (may be empty) and an email address."""

    name: str
    email: str

    def __post_init__(self) -> None:
        if _CONTROL_RE.search(self.name) or "\n" in self.name or "\r" in self.name:
            raise ValueError(f"name {self.name!r} has control characters")
        local, at, host = self.email.rpartition("@")
        if not at or not local or "." not in host or _WHITESPACE_RE.search(self.email):
            raise ValueError(f"{self.email!r} is not an email address")
        if _ADDRESS_PUNCTUATION_RE.search(self.email):
            raise ValueError(f"{self.email!r}: use a plain address (no display name, no quotes)")


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")


@dataclass(frozen=True, slots=True)
class InviteEvent:
    """Everything one VEVENT of one site's invite carries; validated once, then frozen.

    `sequence` is the persisted SEQUENCE of this UID (the caller raises it on every change of
    time, status, location or link and on every cancel). `start`, `end`, `dtstamp` and
    `connection_test_at` are aware instants; DTSTART/DTEND are written in the site's `timezone`.
    `location` is the site's room; without one the join link is the location. `alarms` are
    reminders in minutes before the start (REQUEST only). `language` picks the text of the
    description.
    """

    uid: str
    sequence: int
    method: InviteMethod
    summary: str
    start: datetime
    end: datetime
    timezone: str
    organizer: Party
    attendee: Party
    join_url: str
    dtstamp: datetime
    chair: Party | None = None
    agenda: str = ""
    connection_test_at: datetime | None = None
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
        object.__setattr__(self, "method", InviteMethod(self.method))
        for name in ("start", "end", "dtstamp"):
            _aware(name, getattr(self, name))
        if self.connection_test_at is not None:
            _aware("connection_test_at", self.connection_test_at)
            if self.connection_test_at > self.start:
                raise ValueError("the connection test must not be after the start")
        if self.end <= self.start:
            raise ValueError("an invite must end after it starts")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if not self.join_url.isascii() or _has_any(
            self.join_url, _WHITESPACE_BYTES, _WHITESPACE_RE
        ):
            raise ValueError("the join link must be an ASCII URI without spaces")
        if ":" not in self.join_url:
            raise ValueError(f"the join link {self.join_url!r} is not an absolute URI")
        alarms = tuple(self.alarms)
        if any(isinstance(m, bool) or not isinstance(m, int) or m <= 0 for m in alarms):
            raise ValueError(f"alarms are positive minutes before the start, got {alarms!r}")
        object.__setattr__(self, "alarms", tuple(sorted(set(alarms), reverse=True)))
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")

    @property
    def cancelled(self) -> bool:
        return self.method is InviteMethod.CANCEL

    @property
    def url(self) -> str:
        """The URL property: the site's own join link."""
        return self.join_url

    @property
    def effective_location(self) -> str:
        """LOCATION: the site's room, or the join link when the site has no room."""
        return self.location or self.join_url


def _frame_key(
    event: InviteEvent,
) -> tuple[bool, datetime, datetime, str, Language, datetime | None, str]:
    """What the description's frame depends on (see `description_frame`)."""
    return (
        event.cancelled,
        event.start,
        event.end,
        event.timezone,
        event.language,
        event.connection_test_at,
        event.agenda,
    )


def describe(event: InviteEvent) -> str:
    """The DESCRIPTION text: time, connection test, site, join link and agenda."""
    w = words(event.language)
    before, after = description_frame(*_frame_key(event))
    site = f"{w['calendar.site']}: {event.site_name}\n" if event.site_name else ""
    return f"{before}\n{site}{w['calendar.link']}: {event.join_url}{after}"


# Writing the text -----------------------------------------------------------------------


def _text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): `\\`, `;`, `,` escaped, line breaks as `\\n`."""
    if "\r" in value:  # before the control characters go: CR is one of them
        value = _LINEBREAK_RE.sub("\n", value)
    if _has_any(value, _CONTROL_BYTES, _CONTROL_RE):
        value = _CONTROL_RE.sub("", value)
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _param(value: str) -> str:
    """A quoted parameter value: no DQUOTE or control characters may appear inside."""
    value = _CONTROL_RE.sub("", value.replace('"', "'").replace("\r", " ").replace("\n", " "))
    return f'"{value}"'


@functools.lru_cache(maxsize=1024)
def _escaped_frame(
    key: tuple[bool, datetime, datetime, str, Language, datetime | None, str],
) -> tuple[str, str]:
    """The description's frame as TEXT values, escaped once per session."""
    before, after = description_frame(*key)
    return _text(before), _text(after)


def _description(event: InviteEvent) -> str:
    """`_text(describe(event))`, escaping only the site's lines anew (the frame is cached).

    Escaping piecewise gives the same text: _text works character by character except that it
    joins CR LF, and no piece ends in a CR that the next one's LF could join (the frame ends in
    a time, the site's line in its own line break, the link line in the link, which has no
    whitespace).
    """
    w = words(event.language).texts
    before, after = _escaped_frame(_frame_key(event))
    site = _text(f"{w['calendar.site']}: {event.site_name}\n") if event.site_name else ""
    return f"{before}\\n{site}{_text(w['calendar.link'])}: {_text(event.join_url)}{after}"


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@functools.lru_cache(maxsize=64)  # one DTSTAMP serves a whole batch; strftime is slow
def _dtstamp_line(dtstamp: datetime) -> bytes:
    return _fold(f"DTSTAMP:{_utc(dtstamp)}")


def _trigger(minutes: int) -> str:
    # Whole days as nominal days (-P1D: the same wall-clock time the day before, also across a
    # DST change), the rest as hours or minutes.
    if minutes % 1440 == 0:
        return f"-P{minutes // 1440}D"
    if minutes % 60 == 0:
        return f"-PT{minutes // 60}H"
    return f"-PT{minutes}M"


def _fold(line: str) -> bytes:
    """One content line in UTF-8, folded at 75 octets (RFC 5545 3.1), never inside a character.

    The object is put together from such bytes (and cached blocks of them): its text is never
    encoded as a whole.
    """
    data = line.encode()
    size = len(data)
    if size <= 75:
        return data
    if size == len(line):  # ASCII: any cut falls between characters
        return b"\r\n ".join([data[:75], *[data[i : i + 74] for i in range(75, size, 74)]])
    parts = []
    start, cut = 0, 75
    while cut < size:
        while data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: step back to its lead
            cut -= 1
        parts.append(data[start:cut])
        start, cut = cut, cut + 74  # a continuation line begins with one space
    parts.append(data[start:])
    return b"\r\n ".join(parts)


def _serialise(blocks: list[bytes]) -> bytes:
    """The object's bytes from blocks of content lines that are each folded already."""
    blocks.append(b"")
    return b"\r\n".join(blocks)


@functools.lru_cache(maxsize=256)
def vtimezone_block(tzid: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE of `tzid` for local years `first_year`..`last_year`, folded.

    Built by icalendar from the zone database (milliseconds per zone) and cached, so each zone
    costs that once per year range rather than once per invite. No trailing line break.
    """
    # icalendar (about 3 MB) is imported at the first invite, not with the service
    from icalendar import Timezone  # type: ignore[import-untyped, unused-ignore]

    component = Timezone.from_tzid(
        tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )
    # icalendar folds its own lines; unfold them so that _fold is the only folding.
    text = component.to_ical().decode().replace("\r\n ", "")
    return b"\r\n".join([_fold(line) for line in text.split("\r\n") if line])


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y%m%dT%H%M%S}"


# Blocks that every site of a session shares (the same method, time, title, organizer, chair
# and alarms for thousands of invites) are written and folded once and cached; only the
# per-site lines (UID, LOCATION, URL, DESCRIPTION, the coordinator) are written for each invite.


def _lines(*lines: str) -> bytes:
    """Content lines, each folded, as one block."""
    return b"\r\n".join([_fold(line) for line in lines])


@functools.lru_cache(maxsize=8)
def _calendar_head(method: str) -> bytes:
    return _lines(
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
    )


@functools.lru_cache(maxsize=1024)
def _year_range_of(tzid: str, start: datetime, end: datetime) -> tuple[int, int]:
    tz = ZoneInfo(tzid)
    return start.astimezone(tz).year, end.astimezone(tz).year


@functools.lru_cache(maxsize=1024)
def _timing_lines(
    sequence: int,
    cancelled: bool,
    language: Language,
    summary: str,
    tzid: str,
    start: datetime,
    end: datetime,
) -> bytes:
    """SEQUENCE, STATUS, SUMMARY, DTSTART and DTEND."""
    tz = ZoneInfo(tzid)
    return _lines(
        f"SEQUENCE:{sequence}",
        "STATUS:CANCELLED" if cancelled else "STATUS:CONFIRMED",
        f"SUMMARY;LANGUAGE={language}:{_text(summary)}",
        f"DTSTART;TZID={tzid}:{_local(start, tz)}",
        f"DTEND;TZID={tzid}:{_local(end, tz)}",
    )


@functools.lru_cache(maxsize=256)
def _organizer_lines(organizer: Party) -> bytes:
    """ORGANIZER and TRANSP."""
    return _lines(
        f"ORGANIZER;CN={_param(organizer.name)}:mailto:{organizer.email}", "TRANSP:OPAQUE"
    )


@functools.lru_cache(maxsize=256)
def _event_tail(
    chair: Party | None, summary: str, language: Language, alarms: tuple[int, ...]
) -> bytes:
    """A scheduling VEVENT's chair (if any) and VALARMs (if any) and its END."""
    lines = []
    if chair is not None:
        lines.append(f"ATTENDEE;CN={_param(chair.name)};ROLE=CHAIR;RSVP=FALSE:mailto:{chair.email}")
    reminder = _text(f"{words(language)['calendar.reminder']}: {summary}")
    for minutes in alarms:
        lines += (
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{reminder}",
            f"TRIGGER:{_trigger(minutes)}",
            "END:VALARM",
        )
    lines.append("END:VEVENT")
    return _lines(*lines)


def _vevent(event: InviteEvent, blocks: list[bytes], *, scheduling: bool) -> None:
    """Append the VEVENT. `scheduling`: an iTIP REQUEST/CANCEL (attendees, alarms)."""
    lang = event.language
    blocks += (
        b"BEGIN:VEVENT",
        _fold(f"UID:{event.uid}"),
        _dtstamp_line(event.dtstamp),
        _timing_lines(
            event.sequence,
            event.cancelled,
            lang,
            event.summary,
            event.timezone,
            event.start,
            event.end,
        ),
        _fold(f"LOCATION:{_text(event.effective_location)}"),
        _fold(f"URL:{event.join_url}"),
        _fold(f"DESCRIPTION;LANGUAGE={lang}:{_description(event)}"),
        _organizer_lines(event.organizer),
    )
    if not scheduling:
        blocks.append(b"END:VEVENT")
        return
    attendee = event.attendee
    blocks.append(
        _fold(
            f"ATTENDEE;CN={_param(attendee.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
            f"RSVP=TRUE:mailto:{attendee.email}"
        )
    )
    chair = event.chair
    # One ATTENDEE per address: when the coordinator also chairs, the recipient's line wins.
    if chair is not None and chair.email.lower() == attendee.email.lower():
        chair = None
    # RFC 5546 3.2.5: no VALARM in a CANCEL.
    alarms = () if event.cancelled else event.alarms
    blocks.append(_event_tail(chair, event.summary, lang, alarms))


def _year_range(event: InviteEvent) -> tuple[int, int]:
    return _year_range_of(event.timezone, event.start, event.end)


def render_calendar(event: InviteEvent) -> bytes:
    """The iTIP object of one invite: METHOD, one VEVENT and the VTIMEZONE of its TZID.

    REQUEST: STATUS:CONFIRMED, the attendee (`RSVP=TRUE`) and the chair, VALARMs.
    CANCEL: STATUS:CANCELLED, the same attendees, no VALARM. Both carry every property RFC 5546
    requires for their method (ORGANIZER, ATTENDEE, DTSTAMP, DTSTART, SEQUENCE, SUMMARY, UID).
    """
    blocks = [
        _calendar_head(event.method.value),
        vtimezone_block(event.timezone, *_year_range(event)),
    ]
    _vevent(event, blocks, scheduling=True)
    blocks.append(b"END:VCALENDAR")
    return _serialise(blocks)


def render_feed(
    events: Iterable[InviteEvent],
    *,
    name: str | None = None,
    refresh_minutes: int = 60,
    extra: Iterable[tuple[str, int, int, list[bytes]]] = (),
) -> bytes:
    """A subscription feed: METHOD:PUBLISH, one VEVENT per invite, a VTIMEZONE per TZID used.

    Cancelled invites stay in the feed with STATUS:CANCELLED so subscribed calendars drop them.
    RFC 5546 3.2.1 forbids ATTENDEE in a PUBLISH, so the feed names only the organizer, and it
    carries no alarms. `extra` are VEVENT blocks written elsewhere (a series' master and its
    overrides, `ics_series.series_feed_blocks`), each with the zone and local years its
    VTIMEZONE must cover. Raises ValueError when two events share a UID.
    """
    if refresh_minutes < 1:
        raise ValueError("refresh_minutes must be at least 1")
    items = list(events)
    seen: set[str] = set()
    ranges: dict[str, tuple[int, int]] = {}
    for event in items:
        if event.uid in seen:
            raise ValueError(f"UID {event.uid} appears twice in one feed")
        seen.add(event.uid)
        first, last = _year_range(event)
        known = ranges.get(event.timezone)
        ranges[event.timezone] = (
            (first, last) if known is None else (min(known[0], first), max(known[1], last))
        )
    written = list(extra)
    for tzid, first, last, _ in written:
        known = ranges.get(tzid)
        ranges[tzid] = (
            (first, last) if known is None else (min(known[0], first), max(known[1], last))
        )
    refresh = f"PT{refresh_minutes}M" if refresh_minutes % 60 else f"PT{refresh_minutes // 60}H"
    blocks = [
        _calendar_head("PUBLISH"),
        _lines(f"REFRESH-INTERVAL;VALUE=DURATION:{refresh}", f"X-PUBLISHED-TTL:{refresh}"),
    ]
    if name:
        blocks.append(_lines(f"NAME:{_text(name)}", f"X-WR-CALNAME:{_text(name)}"))
    blocks += (vtimezone_block(tzid, *ranges[tzid]) for tzid in sorted(ranges))
    for event in items:
        _vevent(event, blocks, scheduling=False)
    for *_, vevents in written:
        blocks += vevents
    blocks.append(b"END:VCALENDAR")
    return _serialise(blocks)
