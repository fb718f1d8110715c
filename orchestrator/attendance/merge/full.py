"""The merge of a whole log: the attendance record of a session as it stood at any instant.

Pure (DESIGN 7): the same set of events gives the same record whatever order they arrived in and
however often each arrived. `merge` documents how each source is read.

About 760 lines, kept whole: the whole-log merge and the kept per-site read that live boards
take further (`Kept`, `kept_line`, `kept_standing`, `joined_standing`) must judge a site's spans
by the very same steps (`Log`, `_held`, `_measure`, `_judged`), and the property tests compare
the two paths event by event. The next split keeps those steps together: the guests' lines
(`_guest_line` and the unmatched occupants) into a module of their own.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from orchestrator.attendance.merge.record import (
    DEFAULT_THRESHOLDS,
    OBSERVATIONS,
    AnyEvent,
    AttendanceEvent,
    AttendanceRecord,
    AttendanceStatus,
    Connection,
    EventKind,
    EventSource,
    Interval,
    Override,
    SiteAttendance,
    Standing,
    Thresholds,
    UnmatchedOccupant,
)
from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import Session
from orchestrator.domain.slots import merge_ranges
from orchestrator.domain.trusted import trusted

_E = TypeVar("_E", bound="AnyEvent")
_interval = trusted(Interval)
_site_line_of = trusted(SiteAttendance)


def _utc(at: datetime) -> datetime:
    """An aware instant (every one a merge holds: its events' and its window's were checked) in
    UTC, as validating it as an `Instant` gives it."""
    return at if at.tzinfo is UTC else at.astimezone(UTC)


def interval(start: datetime, end: datetime) -> Interval:
    """`Interval(start=start, end=end)` of two aware instants, made without validating them
    again (a merge's are its events' and its window's, each checked once): a live board makes
    one for each span of each site it reads, 1.8 µs each validated, 0.7 µs so."""
    return _interval(start=_utc(start), end=_utc(end))


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
    - `measured_status`: `not_started` while `now` is before the start (connected minutes count
      from the start, so there is nothing to judge yet); then `present` if
      `connected >= min_presence * (cap - start)`; `partial` if connected since the start but
      less (a lost join's leave after the start counts); `unknown` if never connected since the
      start and every poll of it failed (at least one); else `absent`.
    - `late`: the first join is after start + grace (exactly at the grace, or in the test buffer,
      is on time). `left_early`: the last leave is after the start and before end - grace (a drop
      in the connection test is not leaving the session); `last_leave` is `None` while the site
      is connected at `cap`, so a connected site is never flagged.
    - `reconnects`: joins after the site had been fully disconnected (its intervals, minus one; a
      leave and a join at the same instant, a move into a breakout room, is none).

    Events naming a site the session does not have: occupants go to `unmatched` with that site
    id; check-ins, overrides and site-level polls are ignored.
    Raises `InvalidRequest` for a naive instant or `session_end <= session_start`.
    """
    site_ids, window = window_at(sites, session_start, session_end, now)
    return record_of(events, site_ids, window, thresholds)


def record_of(
    events: Iterable[AnyEvent], site_ids: tuple[str, ...], w: Window, th: Thresholds
) -> AttendanceRecord:
    """The record of `events` in the window `w` (see `merge`)."""
    log = read_events(events, frozenset(site_ids), w)
    return AttendanceRecord(
        session_start=w.start,
        session_end=w.end,
        at=w.now,
        thresholds=th,
        sites=site_lines(log, site_ids, w, th),
        unmatched=unmatched_of(log, w),
    )


def window_at(
    sites: Sequence[str], session_start: datetime, session_end: datetime, now: datetime
) -> tuple[tuple[str, ...], Window]:
    """The sites, each once, and the window of a merge at `now`; raises `InvalidRequest` for a
    naive instant or an end not after the start."""
    return tuple(dict.fromkeys(sites)), window_of(session_start, session_end, now)


def window_of(session_start: datetime, session_end: datetime, now: datetime) -> Window:
    """The window of a merge at `now` (`window_at` without the sites: a live board asks for it
    at every event, and a national session's sites are 10,000)."""
    _check_aware(session_start=session_start, session_end=session_end, now=now)
    start, end, now = (t.astimezone(UTC) for t in (session_start, session_end, now))
    if end <= start:
        raise InvalidRequest("a session must end after it starts", field="session_end")
    return Window(start=start, end=end, cap=min(now, end), now=now)


def read_events(events: Iterable[AnyEvent], known: frozenset[str], w: Window) -> Log:
    """`events` up to the window's `now`, read once each in order, for the sites `known`."""
    log = Log(known, w.start)
    for event in ordered(events, w.now):
        log.add(event)
    return log


def _by_site(log: Log) -> defaultdict[str | None, list[_Track]]:
    by_site: defaultdict[str | None, list[_Track]] = defaultdict(list)
    for track in log.tracks.values():
        by_site[track.site if track.site in log.known else None].append(track)
    return by_site


def site_lines(
    log: Log, sites: Sequence[str], w: Window, th: Thresholds
) -> tuple[SiteAttendance, ...]:
    """The lines of `sites`, in that order, from a read log."""
    by_site = _by_site(log)
    return tuple(_site_line(log, s, by_site.get(s, []), w, th) for s in sites)


def unmatched_of(log: Log, w: Window) -> tuple[UnmatchedOccupant, ...]:
    """The occupants of no site of the session, from a read log, earliest first."""
    unmatched = [_guest_line(track, w) for track in _by_site(log).get(None, [])]
    if not log.tracks:
        # A poll's JID (the room nick) never matches a webhook's (the real JID): while webhooks
        # report occupants they alone say who is unmatched, or one guest would count twice.
        unmatched += [_poll_guest_line(log, occupant, w) for occupant in log.guest_polls]
    return tuple(sorted(unmatched, key=_guest_order))


# --- reading the log ----------------------------------------------------------------------------

Span = tuple[datetime, datetime | None]  # end None: still connected at now
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


def _check_aware(**instants: datetime) -> None:
    for name, value in instants.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequest(f"{name} must carry a UTC offset or zone", field=name)


def order_of(e: AnyEvent) -> tuple[datetime, int, str, str]:
    """Where `e` is read among a log's events: by time, then `_RANK`, then source and key.
    (The source compares as its value, a `StrEnum`: its `.value` cost a live board's merge a
    tenth of its time.)"""
    return (e.at, _RANK[e.kind], e.source, e.dedupe_key)


def _place(e: AnyEvent) -> tuple[datetime, int, str]:
    """`order_of` without the key: a kept event's key may have to be made again."""
    return (e.at, _RANK[e.kind], e.source)


def before(a: AnyEvent, b: AnyEvent) -> bool:
    """Whether `a` is read before `b` (`order_of`)."""
    pa, pb = _place(a), _place(b)
    return pa < pb or (pa == pb and a.dedupe_key < b.dedupe_key)


def in_order(events: Iterable[_E], now: datetime | None = None) -> list[_E] | None:
    """`events` (up to `now`) in `order_of` order, their keys made only to tell apart events
    at one instant, rank and source; None when two of them are one event (same source and
    key): `ordered` reads those."""
    out = sorted(
        (e for e in events if now is None or e.at <= now), key=_place
    )  # stable: ties keep their order until sorted by key below
    places = [_place(e) for e in out]
    i, n = 0, len(out)
    while i < n - 1:
        j = i + 1
        while j < n and places[j] == places[i]:
            j += 1
        if j - i > 1:
            keys = sorted((e.dedupe_key, k) for k, e in enumerate(out[i:j], i))
            if any(a[0] == b[0] for a, b in itertools.pairwise(keys)):
                return None
            out[i:j] = [out[k] for _, k in keys]
        i = j
    return out


def ordered(events: Iterable[AnyEvent], now: datetime) -> list[AnyEvent]:
    """The events up to `now`, each once, in time order with a total tiebreak."""
    unique: dict[tuple[EventSource, str], AnyEvent] = {}
    for event in events:
        if event.at > now:
            continue
        key = (event.source, event.dedupe_key)
        seen = unique.get(key)
        # Two different events under one key: keep the same one whatever the arrival order.
        if seen is None or (seen != event and event.model_dump_json() < seen.model_dump_json()):
            unique[key] = event
    return sorted(unique.values(), key=order_of)


@dataclass(slots=True)
class _Track:
    """One webhook occupant: its site (the first its events name) and its closed spans (one
    still open runs from `open_since`)."""

    source: EventSource
    occupant: str
    site: str | None = None
    name: str | None = None
    email: str | None = None
    open_since: datetime | None = None
    last_close: datetime | None = None
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)

    def all_spans(self) -> list[Span]:
        """Its spans, the open one (end None) last."""
        if self.open_since is None:
            return list(self.spans)
        return [*self.spans, (self.open_since, None)]


@dataclass
class Window:
    start: datetime
    end: datetime
    cap: datetime  # min(now, end): where running intervals are cut for the record
    now: datetime


class Log:
    """One pass over the ordered events, sorting them by what they speak of. It may be read
    further at any time with later events (`add` in `order_of` order).

    With `kept` (one site of `known`), that site's closed spans are also kept merged as they
    close (`Kept`), so a live site's line is measured without going over its whole log."""

    def __init__(self, known: frozenset[str], start: datetime, kept: str | None = None) -> None:
        self.known = known
        self.start = start
        self.kept = None if kept is None else Kept(kept, start)
        self.tracks: dict[tuple[EventSource, str], _Track] = {}
        self.open: dict[tuple[EventSource, str], _Track] = {}
        self.destroyed: list[datetime] = []
        self.cuts: defaultdict[str, list[datetime]] = defaultdict(list)
        self.room_polls: dict[datetime, EventKind] = {}
        self.site_polls: defaultdict[str, dict[datetime, EventKind]] = defaultdict(dict)
        self.guest_polls: dict[str, list[AnyEvent]] = {}
        self.checkins: dict[str, AnyEvent] = {}
        self.overrides: dict[str, AnyEvent] = {}

    def add(self, e: AnyEvent) -> None:
        if e.kind in (EventKind.JOIN, EventKind.LEAVE):
            self._occupant(e)
        elif e.kind is EventKind.DESTROYED:
            for track in self.open.values():
                self._close(track, e.at)
            self.open.clear()
            self.destroyed.append(e.at)
        elif e.kind in OBSERVATIONS:
            self._poll(e)
        elif e.site_id in self.known:
            book = self.checkins if e.kind is EventKind.CHECKIN else self.overrides
            book[e.site_id] = e  # in time order: the latest wins

    def _occupant(self, e: AnyEvent) -> None:
        key = (e.source, e.occupant)
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = _Track(e.source, e.occupant)
        if track.site is None and e.site_id is not None:
            track.site = e.site_id
            if self.kept is not None and track.site == self.kept.site:
                self.kept.joined(track)
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
            if self.kept is not None and track.site == self.kept.site:
                self.kept.closed(min(since, e.at), e.at)
        if track.site in self.known:
            self.cuts[track.site].append(e.at)

    def _close(self, track: _Track, at: datetime) -> None:
        assert track.open_since is not None
        track.spans.append((track.open_since, at))
        if self.kept is not None and track.site == self.kept.site:
            self.kept.closed(track.open_since, at)
        track.open_since = None
        track.last_close = at

    def _last_destroyed(self) -> datetime | None:
        return self.destroyed[-1] if self.destroyed else None

    def _poll(self, e: AnyEvent) -> None:
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
    since_start: bool  # connected at some instant in [start, end) (a lost join's leave counts)
    ever: bool  # connected at any instant up to now
    now: bool  # connected at now


def _measure(spans: Sequence[Span], w: Window) -> _Measure:
    kept = [(s, e) for s, e in spans if s < w.end]
    cut = [(s, w.cap if e is None else min(e, w.cap)) for s, e in kept]
    merged = merge_ranges(cut)
    connected = sum(
        (max(timedelta(0), min(b, w.cap) - max(a, w.start)) for a, b in merged), timedelta(0)
    )
    running = any(e is None or e > w.cap for _, e in kept)
    return _Measure(
        intervals=tuple(interval(a, b) for a, b in merged),
        connected=connected,
        first_join=min((s for s, _ in kept), default=None),
        last_leave=None if running or not cut else max(e for _, e in cut),
        since_start=any(e is None or e > w.start for _, e in kept),
        ever=bool(spans),
        now=any(e is None for _, e in spans),
    )


class Kept:
    """A live site's closed spans, merged as they close (`Log` with `kept`): its occupants'
    spans close in time order (a leave, a lost join's leave, the room destroyed, each at its
    event's instant), so each joins the union at its end, in amortised constant time, with its
    `Interval` made once. Its line is then measured without going over its log (`kept_line`):
    the union's parts before the open spans' start as they are, the rest merged with them.

    `dirty` when spans came out of that order (a device naming the site only after some of its
    spans closed): the union is made again from the site's tracks when next measured."""

    __slots__ = (
        "after",
        "before",
        "count",
        "dirty",
        "ends",
        "first",
        "intervals",
        "last",
        "occupants",
        "site",
        "start",
        "starts",
    )

    def __init__(self, site: str, start: datetime) -> None:
        self.site = site
        self.start = start  # the session's
        self.occupants: list[str] = []  # sorted
        self._empty()

    def _empty(self) -> None:
        self.starts: list[datetime] = []  # the union's parts, in order
        self.ends: list[datetime] = []
        self.intervals: list[Interval] = []
        self.before: list[timedelta] = [timedelta(0)]  # connected time before each part
        self.first: datetime | None = None  # the earliest start of any closed span
        self.last: datetime | None = None  # the latest end of any closed span
        self.count = 0  # closed spans
        self.dirty = False
        self.after = False  # a span ended after the session's start

    def joined(self, track: _Track) -> None:
        """`track` now belongs to the site."""
        bisect.insort(self.occupants, track.occupant)
        if track.spans:
            self.dirty = True

    def closed(self, a: datetime, b: datetime) -> None:
        """A span `[a, b)` of the site closed; `b` is no earlier than any span's before."""
        if self.dirty:
            return
        if self.last is not None and b < self.last:
            self.dirty = True
            return
        self.count += 1
        self.first = a if self.first is None or a < self.first else self.first
        self.last = b
        self.after = self.after or b > self.start
        if a >= b:
            return  # no time: not in the union
        starts, ends = self.starts, self.ends
        while ends and ends[-1] >= a:  # the parts it overlaps or touches: the last ones
            a = min(a, starts.pop())
            ends.pop()
            self.intervals.pop()
            self.before.pop()
        starts.append(a)
        ends.append(b)
        self.intervals.append(interval(a, b))
        self.before.append(self.before[-1] + max(timedelta(0), b - max(a, self.start)))

    def rebuild(self, tracks: Sequence[_Track]) -> None:
        """Make the union again from the closed spans of `tracks`, the site's."""
        self._empty()
        for a, b in sorted((s for t in tracks for s in t.spans), key=lambda s: s[1]):
            self.closed(a, b)

    def measure(self, opens: Sequence[datetime], w: Window, *, parts: bool = True) -> _Measure:
        """`_measure` of the site's spans, with `opens` the starts of those still open, while
        `now` is before the end and every closed span ended by `now` (it was read up to it);
        without `parts`, its `intervals` are left empty (what the site's standing needs)."""
        now, start = w.now, w.start
        k = n = len(self.ends)
        tail: Interval | None = None
        connected = self.before[n]
        first = self.first
        if opens:
            s0 = min(opens)
            if s0 < now:
                k = bisect.bisect_left(self.ends, s0)  # the parts touching [s0, now) on
                a = min(s0, self.starts[k]) if k < n else s0
                if parts:
                    tail = interval(a, now)
                connected = self.before[k] + max(timedelta(0), now - max(a, start))
            first = s0 if first is None or s0 < first else first
        kept = () if not parts else self.intervals[:k] if k < n else self.intervals
        return _Measure(
            intervals=(*kept, tail) if tail is not None else tuple(kept),
            connected=connected,
            first_join=first,
            last_leave=None if opens else self.last,
            since_start=bool(opens) or self.after,
            ever=bool(opens) or self.count > 0,
            now=bool(opens),
        )


def kept_line(log: Log, site: str, w: Window, th: Thresholds) -> SiteAttendance:
    """The line of the site `log` keeps (`Log` with `kept`), as `site_lines` gives it."""
    kept = _kept(log, site, w)
    if kept is None:
        return _site_line(log, site, [t for t in log.tracks.values() if t.site == site], w, th)
    opens = [t.open_since for t in log.open.values() if t.site == site and t.open_since]
    return _line(log, site, kept.measure(opens, w), tuple(kept.occupants), w, th)


def kept_standing(log: Log, site: str, w: Window, th: Thresholds) -> Standing:
    """`Standing.of` the line `kept_line` gives, without making the line."""
    kept = _kept(log, site, w)
    if kept is None:
        return Standing.of(kept_line(log, site, w, th))
    opens = [t.open_since for t in log.open.values() if t.site == site and t.open_since]
    return measured_standing(log, site, kept.measure(opens, w, parts=False), w, th)


def joined_standing(bare: Log, site: str, at: datetime, w: Window, th: Thresholds) -> Standing:
    """`kept_standing` of a site whose whole log (and the room's) is one join of one of its
    devices at `at`, no later than `w.now`, itself before the end: what most sites of a
    national session are. The same steps without a `Log` read for the site: `bare` is one read
    from no event (`Log(frozenset(), start, kept="")`), shared, never added to: no span
    closed, no poll, check-in or override; the site's one span open since `at`."""
    assert bare.kept is not None
    assert not bare.tracks
    assert w.now < w.end
    return measured_standing(bare, site, bare.kept.measure((at,), w, parts=False), w, th)


def measured_standing(log: Log, site: str, m: _Measure, w: Window, th: Thresholds) -> Standing:
    """The site's standing, its spans measured (`m`): what `Standing.of` its line says."""
    connection, measured, chair = _judged(log, site, m, w, th)
    late, left_early = _flags(m, w, th)
    status = AttendanceStatus(chair.verdict.value) if chair and chair.verdict else measured
    return Standing(site, connection, status, late, left_early, chair is not None)


def _kept(log: Log, site: str, w: Window) -> Kept | None:
    """The site's kept spans, up to date, when its line can be measured from them: before the
    end (after it, spans are cut there) and with no poll that saw it (sampled and held)."""
    kept = log.kept
    assert kept is not None
    assert kept.site == site
    own = log.site_polls.get(site)
    if w.now >= w.end or (own and EventKind.PRESENT in own.values()):
        return None
    if kept.dirty:
        kept.rebuild([t for t in log.tracks.values() if t.site == site])
    return kept


def _site_line(
    log: Log, site: str, tracks: Sequence[_Track], w: Window, th: Thresholds
) -> SiteAttendance:
    spans: list[Span] = [s for t in tracks for s in t.all_spans()]
    own = log.site_polls.get(site, {})
    if EventKind.PRESENT in own.values():
        instants = own.keys() | log.room_polls.keys()
        samples = [(t, log.observation(site, t) is EventKind.PRESENT) for t in instants]
        spans += _held(samples, [*log.cuts.get(site, ()), *log.destroyed])
    occupants = tuple(sorted(t.occupant for t in tracks))
    return _line(log, site, _measure(spans, w), occupants, w, th)


def _judged(
    log: Log, site: str, m: _Measure, w: Window, th: Thresholds
) -> tuple[Connection, AttendanceStatus, AnyEvent | None]:
    """A site's connection and measured status, its spans measured, and its latest override."""
    own = log.site_polls.get(site)
    instants = own.keys() | log.room_polls.keys() if own else log.room_polls.keys()
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
    if w.now < w.start:
        measured = AttendanceStatus.NOT_STARTED
    elif m.since_start:
        enough = m.connected >= elapsed * th.min_presence
        measured = AttendanceStatus.PRESENT if enough else AttendanceStatus.PARTIAL
    elif instants and all(log.observation(site, t) is EventKind.UNKNOWN for t in instants):
        measured = AttendanceStatus.UNKNOWN
    else:
        measured = AttendanceStatus.ABSENT
    return connection, measured, log.overrides.get(site)


def _flags(m: _Measure, w: Window, th: Thresholds) -> tuple[bool, bool]:
    """Late, left early."""
    late_after, early_before = _graces(w.start, w.end, th)
    return (
        m.first_join is not None and m.first_join > late_after,
        m.last_leave is not None and w.start < m.last_leave < early_before,
    )


@functools.lru_cache(maxsize=64)
def _graces(start: datetime, end: datetime, th: Thresholds) -> tuple[datetime, datetime]:
    """Joined after the first is late; left before the second, early."""
    return (
        start + timedelta(minutes=th.late_grace_minutes),
        end - timedelta(minutes=th.left_early_grace_minutes),
    )


def _line(
    log: Log, site: str, m: _Measure, occupants: tuple[str, ...], w: Window, th: Thresholds
) -> SiteAttendance:
    """A site's line, its spans measured."""
    connection, measured, chair = _judged(log, site, m, w, th)
    override = None
    if chair is not None:
        assert chair.verdict is not None  # the event's validator guarantees both
        assert chair.reason is not None
        override = Override(verdict=chair.verdict, reason=chair.reason, at=chair.at)
    checkin = log.checkins.get(site)
    late, left_early = _flags(m, w, th)
    first, last = m.first_join, m.last_leave
    # (made as validating it would: its instants in UTC, every other value of its own type)
    return _site_line_of(
        site_id=site,
        connection=connection,
        status=AttendanceStatus(override.verdict.value) if override else measured,
        measured_status=measured,
        override=override,
        late=late,
        left_early=left_early,
        first_join=None if first is None else _utc(first),
        last_leave=None if last is None else _utc(last),
        connected=m.connected,
        reconnects=max(0, len(m.intervals) - 1),
        intervals=m.intervals,
        occupants=occupants,
        headcount=checkin.headcount if checkin else None,
        names=tuple(checkin.names) if checkin else (),
    )


def _guest_line(track: _Track, w: Window) -> UnmatchedOccupant:
    m = _measure(track.all_spans(), w)
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


def _poll_guest_line(log: Log, occupant: str, w: Window) -> UnmatchedOccupant:
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
