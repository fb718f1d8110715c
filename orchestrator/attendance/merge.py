"""Attendance, merged: one record per session from its webhook, poll, check-in and override logs.

Pure (DESIGN 7): the same set of events gives the same record whatever order they arrived in and
however often each arrived. `merge` documents how each source is read.
"""

from __future__ import annotations

import enum
import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator

from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import Frozen, Instant, Session, Slug
from orchestrator.domain.slots import merge_ranges

Language = Literal["vi", "en"]


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
    """The verdict on the session so far (final once it has ended)."""

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
_OBSERVATIONS = frozenset({EventKind.PRESENT, EventKind.ABSENT, EventKind.UNKNOWN})
# Order of events at one instant: a poll saw the room as it was before anything else happened
# then; leaves before joins, so a leave and a join at the same instant (a move into a breakout
# room) keep the occupant connected.
_RANK: dict[EventKind, int] = {
    EventKind.PRESENT: 0,
    EventKind.ABSENT: 0,
    EventKind.UNKNOWN: 0,
    EventKind.LEAVE: 1,
    EventKind.DESTROYED: 2,
    EventKind.JOIN: 3,
    EventKind.CHECKIN: 4,
    EventKind.OVERRIDE: 4,
}


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
        Zero counts other than the first are left out.
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
            late=sum(s.late for s in self.sites),
            left_early=sum(s.left_early for s in self.sites),
            unknown=unknown,
            unmatched=len(self.unmatched),
        )


def summary_line(
    language: Language,
    *,
    connected: int,
    total: int,
    late: int,
    left_early: int,
    unknown: int,
    unmatched: int,
) -> str:
    """The summary of `AttendanceRecord.summary` from its counts."""
    words = _PHRASES.get(language)
    if words is None:
        raise InvalidRequest(f"no summary in {language!r} (use vi or en)", field="language")
    counts = {"late": late, "left_early": left_early, "unknown": unknown, "unmatched": unmatched}
    parts = [words["connected"].format(n=connected, total=total)]
    for key, n in counts.items():
        if n:
            parts.append(words[key].format(n=n, s="" if n == 1 else "s"))
    return ", ".join(parts)


_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "connected": "{n}/{total} sites connected",
        "late": "{n} late",
        "left_early": "{n} left early",
        "unknown": "{n} unknown",
        "unmatched": "{n} unmatched occupant{s}",
    },
    "vi": {
        "connected": "{n}/{total} điểm cầu đã kết nối",
        "late": "{n} vào muộn",
        "left_early": "{n} rời sớm",
        "unknown": "{n} chưa rõ",
        "unmatched": "{n} người không thuộc điểm cầu nào",
    },
}

DEFAULT_THRESHOLDS = Thresholds()


def merge_session(
    session: Session,
    events: Iterable[AttendanceEvent],
    *,
    now: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> AttendanceRecord:
    """`merge` for a booked session: its sites, in the booking's order, and its start and end."""
    return merge(
        events,
        sites=session.site_ids,
        session_start=session.start,
        session_end=session.end,
        now=now,
        thresholds=thresholds,
    )


def merge(
    events: Iterable[AttendanceEvent],
    *,
    sites: Sequence[str],
    session_start: datetime,
    session_end: datetime,
    now: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> AttendanceRecord:
    """The attendance record of a session with `sites`, from `events`, as it stood at `now`.

    Deterministic: duplicates (same source and `dedupe_key`) count once, the order of `events`
    does not matter, and events after `now` are left out (replaying a log at any instant gives
    the record as it was then). Events at one instant are read polls first, then leaves, room
    destructions, joins, check-ins and overrides.

    How each source is read:

    - Webhooks (`jitsi`, `jaas`): each occupant's `join`s and `leave`s, in time order, make its
      intervals `[join, leave)`. A second `join` while connected changes nothing. A `leave`
      without a `join` (the join was lost) means connected since the latest of the session start,
      the occupant's previous leave and the room's last `destroyed`: a leave proves a connection,
      and missing data must never accuse a site. A `join` without a `leave` is connected still.
      `destroyed` ends every open interval. An occupant belongs to the first site its events name.
    - Polls: the poll events sharing one instant are one poll of the room. `present` names an
      occupant the poll saw, with its site or none; a room-level `absent` (no `site_id`) marks a
      poll that answered, so every site it did not list was absent; a room-level `unknown` marks a
      failed poll, for every site; site-level `absent` / `unknown` speak of one site. A site's
      `present` sample holds until its next observation (the next poll, one of its occupants
      leaving, the room destroyed). Occupants only a poll saw, of no site, are listed in
      `unmatched` only when no webhook reported any occupant (a poll's JID is the room nick and
      never matches a webhook's, so one guest would count twice).
    - Check-ins: the latest gives `headcount` and `names`. Overrides: the latest replaces `status`;
      `measured_status` keeps the merged verdict.

    Per site, with `cap = min(now, session_end)`:

    - `intervals`: the union of its occupants' intervals and poll samples (two devices count
      once), cut at `cap`; intervals starting at or after the end are left out of the record.
      `connected` is their time inside `[start, cap)`.
    - `connection`: `connected` if an occupant or poll sample is connected at `now` (after the end
      too: it is the live state); else `unknown` if the site's latest poll failed; else `dropped`
      if it was ever connected; else `waiting`.
    - `measured_status`: `present` if `connected >= min_presence * (cap - start)` (before the
      start, any connection in the test buffer); `partial` if connected before the end, but less;
      `unknown` if never connected and every poll of it failed (at least one); else `absent`.
    - `late`: the first join is after start + grace (exactly at the grace, or in the test buffer,
      is on time). `left_early`: the last leave is before end - grace; `last_leave` is `None`
      while the site is connected at `cap`, so a connected site is never flagged.
    - `reconnects`: joins after the site had been fully disconnected (its intervals, minus one; a
      leave and a join at the same instant, a move into a breakout room, is none).

    Events naming a site the session does not have: occupants go to `unmatched` with that site
    id; check-ins, overrides and site-level polls are ignored.
    Raises `InvalidRequest` for a naive instant or `session_end <= session_start`.
    """
    site_ids, window = _window(sites, session_start, session_end, now)
    return _record(events, site_ids, window, thresholds)


def _record(
    events: Iterable[_Event], site_ids: tuple[str, ...], w: _Window, th: Thresholds
) -> AttendanceRecord:
    log = _read(events, frozenset(site_ids), w)
    return AttendanceRecord(
        session_start=w.start,
        session_end=w.end,
        at=w.now,
        thresholds=th,
        sites=_lines(log, site_ids, w, th),
        unmatched=_unmatched(log, w),
    )


def _window(
    sites: Sequence[str], session_start: datetime, session_end: datetime, now: datetime
) -> tuple[tuple[str, ...], _Window]:
    _check_aware(session_start=session_start, session_end=session_end, now=now)
    start, end, now = (t.astimezone(UTC) for t in (session_start, session_end, now))
    if end <= start:
        raise InvalidRequest("a session must end after it starts", field="session_end")
    return tuple(dict.fromkeys(sites)), _Window(start=start, end=end, cap=min(now, end), now=now)


def _read(events: Iterable[_Event], known: frozenset[str], w: _Window) -> _Log:
    log = _Log(known, w.start)
    for event in _ordered(events, w.now):
        log.add(event)
    log.close()
    return log


def _by_site(log: _Log) -> defaultdict[str | None, list[_Track]]:
    by_site: defaultdict[str | None, list[_Track]] = defaultdict(list)
    for track in log.tracks.values():
        by_site[track.site if track.site in log.known else None].append(track)
    return by_site


def _lines(
    log: _Log, sites: Sequence[str], w: _Window, th: Thresholds
) -> tuple[SiteAttendance, ...]:
    by_site = _by_site(log)
    return tuple(_site_line(log, s, by_site.get(s, []), w, th) for s in sites)


def _unmatched(log: _Log, w: _Window) -> tuple[UnmatchedOccupant, ...]:
    unmatched = [_guest_line(track, w) for track in _by_site(log).get(None, [])]
    if not log.tracks:
        # A poll's JID (the room nick) never matches a webhook's (the real JID): while webhooks
        # report occupants they alone say who is unmatched, or one guest would count twice.
        unmatched += [_poll_guest_line(log, occupant, w) for occupant in log.guest_polls]
    return tuple(sorted(unmatched, key=_guest_order))


# --- reading the log ----------------------------------------------------------------------------

Span = tuple[datetime, datetime | None]  # end None: still connected at now


def _check_aware(**instants: datetime) -> None:
    for name, value in instants.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequest(f"{name} must carry a UTC offset or zone", field=name)


def _ordered(events: Iterable[_Event], now: datetime) -> list[_Event]:
    """The events up to `now`, each once, in time order with a total tiebreak."""
    unique: dict[tuple[EventSource, str], _Event] = {}
    for event in events:
        if event.at > now:
            continue
        key = (event.source, event.dedupe_key)
        seen = unique.get(key)
        # Two different events under one key: keep the same one whatever the arrival order.
        if seen is None or (seen != event and event.model_dump_json() < seen.model_dump_json()):
            unique[key] = event
    return sorted(
        unique.values(), key=lambda e: (e.at, _RANK[e.kind], e.source.value, e.dedupe_key)
    )


@dataclass
class _Track:
    """One webhook occupant: its site (the first its events name) and its spans."""

    source: EventSource
    occupant: str
    site: str | None = None
    name: str | None = None
    email: str | None = None
    open_since: datetime | None = None
    last_close: datetime | None = None
    spans: list[Span] = field(default_factory=list)


@dataclass
class _Window:
    start: datetime
    end: datetime
    cap: datetime  # min(now, end): where running intervals are cut for the record
    now: datetime


class _Log:
    """One pass over the ordered events, sorting them by what they speak of."""

    def __init__(self, known: frozenset[str], start: datetime) -> None:
        self.known = known
        self.start = start
        self.tracks: dict[tuple[EventSource, str], _Track] = {}
        self.open: dict[tuple[EventSource, str], _Track] = {}
        self.destroyed: list[datetime] = []
        self.cuts: defaultdict[str, list[datetime]] = defaultdict(list)
        self.room_polls: dict[datetime, EventKind] = {}
        self.site_polls: defaultdict[str, dict[datetime, EventKind]] = defaultdict(dict)
        self.guest_polls: dict[str, list[_Event]] = {}
        self.checkins: dict[str, _Event] = {}
        self.overrides: dict[str, _Event] = {}

    def add(self, e: _Event) -> None:
        if e.kind in (EventKind.JOIN, EventKind.LEAVE):
            self._occupant(e)
        elif e.kind is EventKind.DESTROYED:
            for track in self.open.values():
                self._close(track, e.at)
            self.open.clear()
            self.destroyed.append(e.at)
        elif e.kind in _OBSERVATIONS:
            self._poll(e)
        elif e.site_id in self.known:
            book = self.checkins if e.kind is EventKind.CHECKIN else self.overrides
            book[e.site_id] = e  # in time order: the latest wins

    def close(self) -> None:
        for track in self.open.values():
            assert track.open_since is not None
            track.spans.append((track.open_since, None))
        self.open.clear()

    def _occupant(self, e: _Event) -> None:
        key = (e.source, e.occupant)
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = _Track(e.source, e.occupant)
        if track.site is None:
            track.site = e.site_id
        track.name = e.name if e.name is not None else track.name
        track.email = e.email if e.email is not None else track.email
        if e.kind is EventKind.JOIN:
            if track.open_since is None:
                track.open_since = e.at
                self.open[key] = track
            return
        if track.open_since is not None:
            del self.open[key]
            self._close(track, e.at)
        else:
            # The join was lost: connected since the last instant it surely was not.
            since = max(t for t in (self.start, track.last_close, self._last_destroyed()) if t)
            track.spans.append((min(since, e.at), e.at))
            track.last_close = e.at
        if track.site in self.known:
            self.cuts[track.site].append(e.at)

    def _close(self, track: _Track, at: datetime) -> None:
        assert track.open_since is not None
        track.spans.append((track.open_since, at))
        track.open_since = None
        track.last_close = at

    def _last_destroyed(self) -> datetime | None:
        return self.destroyed[-1] if self.destroyed else None

    def _poll(self, e: _Event) -> None:
        if e.site_id in self.known:
            polls = self.site_polls[e.site_id]
            polls[e.at] = _stronger(polls.get(e.at), e.kind)
        elif e.kind is EventKind.PRESENT:
            self.guest_polls.setdefault(e.occupant, []).append(e)
        elif e.site_id is None:
            self.room_polls[e.at] = _stronger(self.room_polls.get(e.at), e.kind)

    def observation(self, site: str, at: datetime) -> EventKind:
        """What the poll at `at` says of `site`: seen beats failed beats not seen."""
        own = self.site_polls[site].get(at) if site in self.site_polls else None
        if own is EventKind.PRESENT:
            return own
        room = self.room_polls.get(at)
        if EventKind.UNKNOWN in (own, room):
            return EventKind.UNKNOWN
        return EventKind.ABSENT


def _stronger(a: EventKind | None, b: EventKind) -> EventKind:
    order = (EventKind.ABSENT, EventKind.UNKNOWN, EventKind.PRESENT)
    return b if a is None or order.index(b) > order.index(a) else a


def _held(samples: Sequence[tuple[datetime, bool]], cuts: Iterable[datetime]) -> list[Span]:
    """Sample and hold: connected from a `True` sample until the next sample or cut."""
    timeline = sorted([(t, 0, seen) for t, seen in samples] + [(t, 1, False) for t in cuts])
    spans: list[Span] = []
    since: datetime | None = None
    for at, _, seen in timeline:
        if seen and since is None:
            since = at
        elif not seen and since is not None:
            spans.append((since, at))
            since = None
    if since is not None:
        spans.append((since, None))
    return spans


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class _Measure:
    intervals: tuple[Interval, ...]
    connected: timedelta
    first_join: datetime | None
    last_leave: datetime | None
    seen: bool  # connected at some instant before the end (a lost join counts, for no time)
    ever: bool  # connected at any instant up to now
    now: bool  # connected at now


def _measure(spans: Sequence[Span], w: _Window) -> _Measure:
    kept = [(s, e) for s, e in spans if s < w.end]
    cut = [(s, w.cap if e is None else min(e, w.cap)) for s, e in kept]
    merged = merge_ranges(cut)
    connected = sum(
        (max(timedelta(0), min(b, w.cap) - max(a, w.start)) for a, b in merged), timedelta(0)
    )
    running = any(e is None or e > w.cap for _, e in kept)
    return _Measure(
        intervals=tuple(Interval(start=a, end=b) for a, b in merged),
        connected=connected,
        first_join=min((s for s, _ in kept), default=None),
        last_leave=None if running or not cut else max(e for _, e in cut),
        seen=bool(kept),
        ever=bool(spans),
        now=any(e is None for _, e in spans),
    )


def _site_line(
    log: _Log, site: str, tracks: Sequence[_Track], w: _Window, th: Thresholds
) -> SiteAttendance:
    spans: list[Span] = [s for t in tracks for s in t.spans]
    own = log.site_polls.get(site, {})
    if EventKind.PRESENT in own.values():
        instants = own.keys() | log.room_polls.keys()
        samples = [(t, log.observation(site, t) is EventKind.PRESENT) for t in instants]
        spans += _held(samples, [*log.cuts.get(site, ()), *log.destroyed])
    m = _measure(spans, w)

    instants = own.keys() | log.room_polls.keys()
    latest_poll = log.observation(site, max(instants)) if instants else None
    if m.now:
        connection = Connection.CONNECTED
    elif latest_poll is EventKind.UNKNOWN:
        connection = Connection.UNKNOWN
    elif m.ever:
        connection = Connection.DROPPED
    else:
        connection = Connection.WAITING

    elapsed = max(timedelta(0), w.cap - w.start)
    if m.seen:
        enough = m.connected >= elapsed * th.min_presence
        measured = AttendanceStatus.PRESENT if enough else AttendanceStatus.PARTIAL
    elif instants and all(log.observation(site, t) is EventKind.UNKNOWN for t in instants):
        measured = AttendanceStatus.UNKNOWN
    else:
        measured = AttendanceStatus.ABSENT

    override = None
    if (chair := log.overrides.get(site)) is not None:
        assert chair.verdict is not None  # the event's validator guarantees both
        assert chair.reason is not None
        override = Override(verdict=chair.verdict, reason=chair.reason, at=chair.at)
    checkin = log.checkins.get(site)
    late_after = w.start + timedelta(minutes=th.late_grace_minutes)
    early_before = w.end - timedelta(minutes=th.left_early_grace_minutes)
    return SiteAttendance(
        site_id=site,
        connection=connection,
        status=AttendanceStatus(override.verdict.value) if override else measured,
        measured_status=measured,
        override=override,
        late=m.first_join is not None and m.first_join > late_after,
        left_early=m.last_leave is not None and m.last_leave < early_before,
        first_join=m.first_join,
        last_leave=m.last_leave,
        connected=m.connected,
        reconnects=max(0, len(m.intervals) - 1),
        intervals=m.intervals,
        occupants=tuple(sorted(t.occupant for t in tracks)),
        headcount=checkin.headcount if checkin else None,
        names=checkin.names if checkin else (),
    )


def _guest_line(track: _Track, w: _Window) -> UnmatchedOccupant:
    m = _measure(track.spans, w)
    return UnmatchedOccupant(
        source=track.source,
        occupant=track.occupant,
        site_id=track.site,
        name=track.name,
        email=track.email,
        connected_now=m.now,
        first_join=m.first_join,
        last_leave=m.last_leave,
        connected=m.connected,
        intervals=m.intervals,
    )


def _poll_guest_line(log: _Log, occupant: str, w: _Window) -> UnmatchedOccupant:
    seen = log.guest_polls[occupant]
    at = {e.at for e in seen}
    samples = [(t, t in at) for t in at | log.room_polls.keys()]
    m = _measure(_held(samples, log.destroyed), w)
    return UnmatchedOccupant(
        source=EventSource.POLL,
        occupant=occupant,
        site_id=next((e.site_id for e in seen if e.site_id), None),
        name=next((e.name for e in reversed(seen) if e.name is not None), None),
        email=next((e.email for e in reversed(seen) if e.email is not None), None),
        connected_now=m.now,
        first_join=m.first_join,
        last_leave=m.last_leave,
        connected=m.connected,
        intervals=m.intervals,
    )


_NEVER = datetime.max.replace(tzinfo=UTC)


def _guest_order(u: UnmatchedOccupant) -> tuple[datetime, str, str]:
    return (u.first_join or _NEVER, u.source.value, u.occupant)


# --- live sessions ------------------------------------------------------------------------------

Changed = frozenset[str] | None  # the sites whose lines may have changed; None: every site


@dataclass(frozen=True, slots=True)
class _Kept:
    """An event as a live session keeps it: `AttendanceEvent`'s fields (already checked) in
    about a third of its memory."""

    source: EventSource
    kind: EventKind
    at: datetime
    dedupe_key: str
    site_id: str | None
    occupant: str
    name: str | None
    email: str | None
    disconnect_reason: str | None
    headcount: int | None
    names: tuple[str, ...]
    verdict: Verdict | None
    reason: str | None

    def model_dump_json(self) -> str:  # what `_ordered` compares two events under one key by
        return AttendanceEvent.model_validate(
            {f: getattr(self, f) for f in self.__slots__}
        ).model_dump_json()


_Event = AttendanceEvent | _Kept
_DeviceKey = tuple[EventSource, str]


class LiveMerge:
    """One session's record kept up to date event by event, for live boards.

    `lines(sites, now)` and `unmatched(now)` equal what `merge` gives over every event added so
    far, at any `now` and whatever order the events came in; so does `record(now)`. A site's line
    depends only on its own events (its devices' joins and leaves, polls of it, its check-ins
    and overrides), on the room's (destroyed, room-level polls) and on the window, so it is
    merged from just those: a change costs what the site's own log costs, not the session's.
    `add` tells which sites a batch may have changed; room-level events concern every site. Two
    different events under one key (the platforms never send them) make every line come from the
    whole log, where `merge` chooses between them.

    What `summary` counts of each site's last line is kept, so that it needs no pass over every
    site: while the session runs those counts (connected now, unknown, late, left early) change
    only with events, never with time alone. It is exact once the lines of every site have been
    asked for (`pass_begins`, `lines`, `pass_ends`) and no room-wide event came since
    (`complete`).
    """

    def __init__(
        self,
        *,
        sites: Sequence[str],
        session_start: datetime,
        session_end: datetime,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        self.sites, w = _window(sites, session_start, session_end, session_start)
        self.start, self.end = w.start, w.end
        self.thresholds = thresholds
        self._known = frozenset(self.sites)
        self._events: dict[tuple[EventSource, str], _Kept] = {}
        self._twins: list[_Kept] = []  # other events under a key already kept
        self._of_site: defaultdict[str, list[_Kept]] = defaultdict(list)
        self._room: list[_Kept] = []  # destroyed, room-level polls
        self._named: dict[_DeviceKey, tuple[str | None, ...]] = {}  # sites a device named
        self._suspects: dict[_DeviceKey, list[_Kept]] = {}  # devices that may be unmatched
        self._guests: list[_Kept] = []  # polls that saw an occupant of no site
        self._first_occupant: datetime | None = None
        self._future: list[tuple[datetime, int, str | None]] = []  # heap: events after `now`
        self._seq = 0
        self._shared: dict[object, object] = {}  # one copy of each repeated name, email, instant
        # what the summary counts of each site's last line
        self._counted: dict[str, tuple[bool, bool, bool, bool]] = {}
        self._counts = [0, 0, 0, 0]
        self._stale: set[str] = set()
        self._stale_all = True  # nothing kept yet
        self._epoch = 0
        self._changed_at: dict[str, int] = {}
        self._all_changed_at = 0

    def __len__(self) -> int:
        return len(self._events) + len(self._twins)

    def has(self, source: EventSource, dedupe_key: str) -> bool:
        return (source, dedupe_key) in self._events

    @property
    def complete(self) -> bool:
        """Every site's kept counts are its current ones (the summary is exact)."""
        return not self._stale_all

    def add(self, events: Iterable[AttendanceEvent], now: datetime) -> Changed:
        """Add events (repeats are dropped); the sites whose lines they may have changed
        (`unmatched` may change too: compare `len` before and after).

        An event after `now` counts only once its time comes: `due` names its sites then.
        """
        self._epoch += 1
        changed: set[str] = set()
        everything = False
        for event in events:
            e = self._keep(event)
            key = (e.source, e.dedupe_key)
            seen = self._events.get(key)
            if seen is None:
                self._events[key] = e
            elif seen == e or e in self._twins:
                continue
            else:
                self._twins.append(e)
                everything = True
            sites = self._file(e)
            if sites is None:
                everything = True
            else:
                changed |= sites
            if e.at > now:  # (an unmatched occupant's: its time wakes the whole record)
                later: list[str | None] = [None] if not sites else [*sorted(sites)]
                for site in later:
                    self._seq += 1
                    heapq.heappush(self._future, (e.at, self._seq, site))
        return self._mark(None if everything else frozenset(changed))

    def _keep(self, e: AttendanceEvent) -> _Kept:
        share = self._shared.setdefault
        return _Kept(
            source=e.source,
            kind=e.kind,
            at=share(e.at, e.at),  # type: ignore[arg-type]
            dedupe_key=e.dedupe_key,
            site_id=None if e.site_id is None else share(e.site_id, e.site_id),  # type: ignore[arg-type]
            occupant=e.occupant,
            name=None if e.name is None else share(e.name, e.name),  # type: ignore[arg-type]
            email=None if e.email is None else share(e.email, e.email),  # type: ignore[arg-type]
            disconnect_reason=e.disconnect_reason,
            headcount=e.headcount,
            names=e.names,
            verdict=e.verdict,
            reason=e.reason,
        )

    def _file(self, e: _Kept) -> set[str] | None:
        """Put `e` with the logs it belongs to; the sites it concerns (None: every site)."""
        if e.kind in (EventKind.JOIN, EventKind.LEAVE):
            return self._file_occupant(e)
        if e.kind is EventKind.DESTROYED:
            self._room.append(e)
            return None
        if e.site_id is not None and e.site_id in self._known:
            self._of_site[e.site_id].append(e)
            return {e.site_id}
        if e.kind is EventKind.PRESENT:
            self._guests.append(e)
            return set()
        if e.kind in _OBSERVATIONS and e.site_id is None:
            self._room.append(e)
            return None
        return set()  # a check-in, override or poll of a site the session does not have

    def _file_occupant(self, e: _Kept) -> set[str]:
        key = (e.source, e.occupant)
        if self._first_occupant is None or e.at < self._first_occupant:
            self._first_occupant = e.at
        named = self._named.get(key, ())
        if e.site_id not in named:
            # a site or a log newly concerned needs the device's whole log (its first site wins)
            if e.site_id in self._known:
                self._of_site[e.site_id].extend(self._device_log(key, named))
            elif key not in self._suspects:
                self._suspects[key] = self._device_log(key, named)
            named = self._named[key] = (*named, e.site_id)
        sites = {s for s in named if s is not None and s in self._known}
        for site in sites:
            self._of_site[site].append(e)
        if key in self._suspects:
            self._suspects[key].append(e)
        return sites

    def _device_log(self, key: _DeviceKey, named: tuple[str | None, ...]) -> list[_Kept]:
        """The events kept so far of the device `key`, which named the sites `named`."""
        if key in self._suspects:
            return list(self._suspects[key])
        for site in named:
            if site is not None and site in self._known:
                return [e for e in self._of_site[site] if (e.source, e.occupant) == key]
        return []

    def _mark(self, changed: Changed) -> Changed:
        if changed is None:
            self._stale_all = True
            self._all_changed_at = self._epoch
        else:
            self._stale |= changed
            for site in changed:
                self._changed_at[site] = self._epoch
        return changed

    def due(self, now: datetime) -> Changed:
        """The sites of events whose time has come since they were added (see `add`)."""
        sites: set[str] = set()
        everything = False
        while self._future and self._future[0][0] <= now:
            site = heapq.heappop(self._future)[2]
            everything |= site is None
            if site is not None:
                sites.add(site)
        if not sites and not everything:
            return frozenset()
        self._epoch += 1
        return self._mark(None if everything else frozenset(sites))

    def next_due(self) -> datetime | None:
        return self._future[0][0] if self._future else None

    def events(self) -> list[_Kept]:
        """Every event added."""
        return [*self._events.values(), *self._twins]

    def record(self, now: datetime) -> AttendanceRecord:
        """The whole record at `now`, as `merge` makes it of every event added."""
        site_ids, w = _window(self.sites, self.start, self.end, now)
        return _record(self.events(), site_ids, w, self.thresholds)

    def pass_begins(self) -> int:
        """Before `lines` of every site (in as many calls as wanted, events may come between
        them): a mark to give `pass_ends`."""
        return self._epoch

    def pass_ends(self, mark: int) -> bool:
        """After `lines` of every site since `pass_begins` gave `mark`: whether the kept counts
        are now complete (no room-wide event came meanwhile; sites changed meanwhile are
        stale, and brought up to date by `summary`)."""
        if self._all_changed_at <= mark:
            self._stale_all = False
        return self.complete

    def _count(self, line: SiteAttendance) -> None:
        new = (
            line.connection is Connection.CONNECTED,
            line.connection is Connection.UNKNOWN,
            line.late,
            line.left_early,
        )
        old = self._counted.get(line.site_id, (False, False, False, False))
        self._counts = [c - o + n for c, o, n in zip(self._counts, old, new, strict=True)]
        self._counted[line.site_id] = new

    def lines(self, sites: Iterable[str], now: datetime) -> list[SiteAttendance]:
        """The lines of `sites` (of this session) as `merge` gives them at `now`."""
        w = _window(self.sites, self.start, self.end, now)[1]
        wanted = list(dict.fromkeys(sites))
        if self._twins:
            log = _read(self.events(), self._known, w)
            out = list(_lines(log, wanted, w, self.thresholds))
        else:
            out = []
            for site in wanted:
                log = _read([*self._of_site.get(site, ()), *self._room], frozenset([site]), w)
                out.extend(_lines(log, [site], w, self.thresholds))
        for line in out:
            self._count(line)
            self._stale.discard(line.site_id)
        return out

    def unmatched(self, now: datetime) -> tuple[UnmatchedOccupant, ...]:
        """The `unmatched` of `merge` at `now`."""
        w = _window(self.sites, self.start, self.end, now)[1]
        if self._twins:
            return _unmatched(_read(self.events(), self._known, w), w)
        events = [e for log in self._suspects.values() for e in log]
        if self._first_occupant is None or self._first_occupant > w.now:
            events += self._guests  # listed only while no webhook reported an occupant
        return _unmatched(_read([*events, *self._room], self._known, w), w)

    def summary(self, language: Language, unmatched: int, now: datetime) -> str:
        """`AttendanceRecord.summary` while the session runs (`now` before its end), from the
        kept counts; stale sites are brought up to date first. Raises `ValueError` unless
        `complete`."""
        if self._stale_all:
            raise ValueError("no whole pass over the sites yet (`pass_begins`, `pass_ends`)")
        if self._stale:
            self.lines(sorted(self._stale), now)
        connected, unknown, late, left_early = self._counts
        return summary_line(
            language,
            connected=connected,
            total=len(self.sites),
            late=late,
            left_early=left_early,
            unknown=unknown,
            unmatched=unmatched,
        )
