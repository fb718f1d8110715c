"""The values of attendance: an event of any source, the thresholds, and the record a merge
makes of them (each site's line, the occupants of no site, the summary)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from pydantic import Field, model_validator

from orchestrator.attendance.merge.wording import Language, summary_line
from orchestrator.domain.models import Frozen, Instant, Slug


class EventSource(enum.StrEnum):
    JITSI = "jitsi"
    JAAS = "jaas"
    POLL = "poll"
    CHECKIN = "checkin"
    OVERRIDE = "override"


class EventKind(enum.StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    DESTROYED = "destroyed"
    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"
    CHECKIN = "checkin"
    OVERRIDE = "override"


class Connection(enum.StrEnum):
    """What the live board shows now."""

    CONNECTED = "connected"
    DROPPED = "dropped"
    WAITING = "waiting"
    UNKNOWN = "unknown"


class AttendanceStatus(enum.StrEnum):
    """The verdict on the session so far (final once it has ended); `not_started` before its
    start (a site connected in the connection test shows that through its `Connection`)."""

    NOT_STARTED = "not_started"
    PRESENT = "present"
    PARTIAL = "partial"
    ABSENT = "absent"
    UNKNOWN = "unknown"


class Verdict(enum.StrEnum):
    """A chair's override."""

    PRESENT = "present"
    ABSENT = "absent"


_WEBHOOK = frozenset({EventSource.JITSI, EventSource.JAAS})
_SOURCES: dict[EventKind, frozenset[EventSource]] = {
    EventKind.JOIN: _WEBHOOK,
    EventKind.LEAVE: _WEBHOOK,
    EventKind.DESTROYED: _WEBHOOK,
    EventKind.PRESENT: frozenset({EventSource.POLL}),
    EventKind.ABSENT: frozenset({EventSource.POLL}),
    EventKind.UNKNOWN: frozenset({EventSource.POLL}),
    EventKind.CHECKIN: frozenset({EventSource.CHECKIN}),
    EventKind.OVERRIDE: frozenset({EventSource.OVERRIDE}),
}
# The kinds a poll logs: an occupant seen, a room or site not seen, a failed poll.
OBSERVATIONS = frozenset({EventKind.PRESENT, EventKind.ABSENT, EventKind.UNKNOWN})


class AttendanceEvent(Frozen):
    """One entry of an attendance log, whatever its source.

    `occupant` is the stable key of one device in the room (the XMPP occupant JID, the JaaS
    `participantJid`, the JID a poll lists); it is empty for events about a site or the room.
    `dedupe_key` is the natural key that recognises a repeat: for event-sync (room, occupant_jid,
    event, timestamp), for JaaS the `idempotencyKey`; two events with the same source and key are
    one event.
    """

    source: EventSource
    kind: EventKind
    at: Instant
    dedupe_key: str = Field(min_length=1)
    site_id: Slug | None = None
    occupant: str = ""
    name: str | None = None
    email: str | None = None
    disconnect_reason: str | None = None
    headcount: int | None = Field(default=None, ge=0)
    names: tuple[str, ...] = ()
    verdict: Verdict | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AttendanceEvent:
        kind = self.kind
        if self.source not in _SOURCES[kind]:
            raise ValueError(f"a {kind} event cannot come from {self.source}")
        if kind in (EventKind.JOIN, EventKind.LEAVE, EventKind.PRESENT) and not self.occupant:
            raise ValueError(f"a {kind} event needs its occupant")
        if kind is EventKind.DESTROYED and (self.site_id or self.occupant):
            raise ValueError("a destroyed event concerns the whole room: no site, no occupant")
        if kind in (EventKind.CHECKIN, EventKind.OVERRIDE) and self.site_id is None:
            raise ValueError(f"a {kind} event needs its site")
        if (kind is EventKind.CHECKIN) != (self.headcount is not None):
            raise ValueError("a check-in, and only a check-in, carries a headcount")
        if self.names and kind is not EventKind.CHECKIN:
            raise ValueError("only a check-in carries names")
        is_override = kind is EventKind.OVERRIDE
        if is_override != (self.verdict is not None) or is_override != bool(
            self.reason and self.reason.strip()
        ):
            raise ValueError("an override, and only an override, carries a verdict and a reason")
        if self.disconnect_reason is not None and kind is not EventKind.LEAVE:
            raise ValueError("only a leave carries a disconnect reason")
        return self


class Thresholds(Frozen):
    """When a site counts as late, as having left early, and as present (DESIGN 7)."""

    late_grace_minutes: int = Field(default=10, ge=0)
    left_early_grace_minutes: int = Field(default=10, ge=0)
    min_presence: float = Field(default=0.5, ge=0.0, le=1.0)


DEFAULT_THRESHOLDS = Thresholds()


class Interval(Frozen):
    """A connected stretch `[start, end)`; one still running is cut at `now` or the session end."""

    start: Instant
    end: Instant


class Override(Frozen):
    verdict: Verdict
    reason: str
    at: Instant


class SiteAttendance(Frozen):
    """One site's line of the record.

    `connected` is the connected time inside `[session start, min(now, session end))`;
    `first_join` may lie before the start (the connection test); `last_leave` is `None` while the
    site is still connected at `min(now, session end)`. `status` is the chair's override when there
    is one, else `measured_status`.
    """

    site_id: str
    connection: Connection
    status: AttendanceStatus
    measured_status: AttendanceStatus
    override: Override | None = None
    late: bool
    left_early: bool
    first_join: Instant | None
    last_leave: Instant | None
    connected: timedelta
    reconnects: int
    intervals: tuple[Interval, ...]
    occupants: tuple[str, ...]
    headcount: int | None = None
    names: tuple[str, ...] = ()

    @property
    def connected_minutes(self) -> float:
        return self.connected.total_seconds() / 60


class Standing(NamedTuple):
    """A site's line in a few words: what a board counts and filters it by (its connection,
    its status, its flags, and whether the chair overrode it), made without the line itself
    when only those are wanted (`LiveMerge.standings`)."""

    site_id: str
    connection: Connection
    status: AttendanceStatus
    late: bool
    left_early: bool
    overridden: bool

    @classmethod
    def of(cls, line: SiteAttendance) -> Standing:
        return cls(
            line.site_id,
            line.connection,
            line.status,
            line.late,
            line.left_early,
            line.override is not None,
        )


class UnmatchedOccupant(Frozen):
    """An occupant that maps to none of the session's sites (no site token, or another site's)."""

    source: EventSource
    occupant: str
    site_id: str | None
    name: str | None
    email: str | None
    connected_now: bool
    first_join: Instant | None
    last_leave: Instant | None
    connected: timedelta
    intervals: tuple[Interval, ...]

    @property
    def connected_minutes(self) -> float:
        return self.connected.total_seconds() / 60


class AttendanceRecord(Frozen):
    """The attendance of one session as it stood at `at`."""

    session_start: Instant
    session_end: Instant
    at: Instant
    thresholds: Thresholds
    sites: tuple[SiteAttendance, ...]
    unmatched: tuple[UnmatchedOccupant, ...]

    @property
    def ended(self) -> bool:
        return self.at >= self.session_end

    def site(self, site_id: str) -> SiteAttendance:
        """The line of `site_id`; raises `KeyError` for a site the session does not have."""
        for line in self.sites:
            if line.site_id == site_id:
                return line
        raise KeyError(site_id)

    def summary(self, language: Language = "vi") -> str:
        """One line for the chair, e.g. "5/6 sites connected, 1 late".

        While the session runs, "connected" counts the sites connected now; once it has ended,
        the sites that connected during it (status present or partial, overrides included).
        Late and left early count only sites the chair has not overridden: an override is the
        chair's verdict on the site. Zero counts other than the first are left out.
        """
        if self.ended:
            attended = (AttendanceStatus.PRESENT, AttendanceStatus.PARTIAL)
            connected = sum(s.status in attended for s in self.sites)
            unknown = sum(s.status is AttendanceStatus.UNKNOWN for s in self.sites)
        else:
            connected = sum(s.connection is Connection.CONNECTED for s in self.sites)
            unknown = sum(s.connection is Connection.UNKNOWN for s in self.sites)
        return summary_line(
            language,
            connected=connected,
            total=len(self.sites),
            late=sum(s.late and s.override is None for s in self.sites),
            left_early=sum(s.left_early and s.override is None for s in self.sites),
            unknown=unknown,
            unmatched=len(self.unmatched),
        )


class Keying(Protocol):
    """How a source makes an event's `dedupe_key` of what the event says, for the events whose
    key says nothing more (event-sync's: room, occupant, event, instant): their key need not be
    kept, it is made again when asked for (`KeptEvent.dedupe_key`)."""

    def key(self, source: EventSource, kind: EventKind, at: datetime, occupant: str) -> str | None:
        """The key of such an event, or None when this source does not make it so."""
        ...


class Note(NamedTuple):
    """What only a check-in (`headcount`, `names`) or an override (`verdict`, `reason`) says."""

    headcount: int | None
    names: tuple[str, ...]
    verdict: Verdict | None
    reason: str | None


class KeptEvent(NamedTuple):
    """An event as a live session keeps it: `AttendanceEvent`'s fields (already checked: by
    `AttendanceEvent`, or when the service logged it) in a fraction of its memory, made in a
    fifth of a frozen dataclass's time: the occupant's name and email as one shared pair
    (`person`), what only check-ins and overrides say apart (`note`), and the key as a `Keying`
    when that makes it again (most webhooks' keys: none kept). Without the disconnect reason,
    which no record shows (two events under one key that differ in it alone make the same
    record, whichever is kept). Reads as an `AttendanceEvent` does.
    """

    source: EventSource
    kind: EventKind
    at: datetime
    key: str | Keying  # the dedupe key, or what makes it
    site_id: str | None
    occupant: str
    person: tuple[str | None, str | None] | None  # (name, email)
    note: Note | None

    @property
    def dedupe_key(self) -> str:
        key = self.key
        if isinstance(key, str):
            return key
        made = key.key(self.source, self.kind, self.at, self.occupant)
        assert made is not None  # kept as a `Keying` only when it made this very key
        return made

    @property
    def name(self) -> str | None:
        return None if self.person is None else self.person[0]

    @property
    def email(self) -> str | None:
        return None if self.person is None else self.person[1]

    @property
    def headcount(self) -> int | None:
        return None if self.note is None else self.note.headcount

    @property
    def names(self) -> tuple[str, ...]:
        return () if self.note is None else self.note.names

    @property
    def verdict(self) -> Verdict | None:
        return None if self.note is None else self.note.verdict

    @property
    def reason(self) -> str | None:
        return None if self.note is None else self.note.reason

    def model_dump_json(self) -> str:  # what the merge compares two events under one key by
        return AttendanceEvent(
            source=self.source,
            kind=self.kind,
            at=self.at,
            dedupe_key=self.dedupe_key,
            site_id=self.site_id,
            occupant=self.occupant,
            name=self.name,
            email=self.email,
            headcount=self.headcount,
            names=self.names,
            verdict=self.verdict,
            reason=self.reason,
        ).model_dump_json()


AnyEvent = AttendanceEvent | KeptEvent  # what the merge reads
