"""The merge kept up to date event by event, for live boards: `LiveMerge` gives what `merge`
gives over the same events, merging again only the sites an event concerns.

Just over 500 lines, kept whole: `LiveMerge` is one object whose filing of events, kept per-site
reads and summary counts must change together (its docstring's contract is one property test).
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from orchestrator.attendance.merge.full import (
    Log,
    Window,
    before,
    in_order,
    joined_standing,
    kept_line,
    kept_standing,
    ordered,
    read_events,
    record_of,
    site_lines,
    unmatched_of,
    window_at,
    window_of,
)
from orchestrator.attendance.merge.record import (
    DEFAULT_THRESHOLDS,
    OBSERVATIONS,
    AnyEvent,
    AttendanceEvent,
    AttendanceRecord,
    Connection,
    EventKind,
    EventSource,
    KeptEvent,
    Keying,
    Note,
    SiteAttendance,
    Standing,
    Thresholds,
    UnmatchedOccupant,
    Verdict,
)
from orchestrator.attendance.merge.wording import Language, summary_line
from orchestrator.domain.models import Session

Changed = frozenset[str] | None  # the sites whose lines may have changed; None: every site
_DeviceKey = tuple[EventSource, str]
# A site's log read so far is kept (`_Read`) once the site has this many events: shorter ones
# are read again at each ask, as cheaply; at most `KEPT_READS` sites keep theirs (the sites
# asked for most recently), so a national session's board does not keep 10,000 of them.
KEEP_FROM = 24
KEPT_READS = 500


# what the summary counts of a site (connected, unknown, late, left early), each one tuple
_COUNTED = {flags: flags for flags in itertools.product((False, True), repeat=4)}
_UNCOUNTED = _COUNTED[False, False, False, False]


@dataclass(slots=True)
class _Read:
    """A site's log read up to `last` (the last event read, in `order_of` order), to be read
    further with what came since: its own events after the first `seen`, the room's after the
    first `room`, and `held` (looked at, but after `now` then)."""

    log: Log
    last: AnyEvent | None
    seen: int
    room: int
    held: list[KeptEvent]


class LiveMerge:
    """One session's record kept up to date event by event, for live boards.

    `lines(sites, now)` and `unmatched(now)` equal what `merge` gives over every event added so
    far, at any `now` and whatever order the events came in; so does `record(now)`. A site's line
    depends only on its own events (its devices' joins and leaves, polls of it, its check-ins
    and overrides), on the room's (destroyed, room-level polls) and on the window, so it is
    merged from just those; and a site's log, once read, is kept as read (`Log` with its kept
    spans) and read further with the events that come after what it read, so a change costs
    what its new events cost, not what the site's log costs (an event before what was read, or
    a `now` before it, has the site's log read again).
    `add` tells which sites a batch may have changed; room-level events concern every site. Two
    different events under one key (the platforms never send them) make every line come from the
    whole log, where `merge` chooses between them.

    With `unique`, the caller gives each event once (a log's rows, each taken once: a board
    keeps their ids): no index of the events by key is kept (`has` is not answered), and with
    `keying` an event whose key it makes again keeps no key of its own (`KeptEvent.key`). A
    national board's events then cost about half their memory.

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
        keep_from: int = KEEP_FROM,
        kept_reads: int = KEPT_READS,
        unique: bool = False,
        keying: Keying | None = None,
    ) -> None:
        self.sites, w = window_at(sites, session_start, session_end, session_start)
        self.start, self.end = w.start, w.end
        self.thresholds = thresholds
        self._keep_from = keep_from
        self._kept_reads = kept_reads
        self._reads: dict[str, _Read] = {}  # least recently asked first
        self._known = frozenset(self.sites)
        # by source, then key: no (source, key) tuple kept per event; None: `unique`
        self._events: dict[EventSource, dict[str, KeptEvent]] | None = None if unique else {}
        self._keying = keying if unique else None  # (an index needs every key)
        self._kept = 0
        self._twins: list[KeptEvent] = []  # other events under a key already kept
        self._of_site: defaultdict[str, list[KeptEvent]] = defaultdict(list)
        self._room: list[KeptEvent] = []  # destroyed, room-level polls
        # the sites each device named, by source then occupant (no key tuple kept per device),
        # a device naming one site sharing that site's tuple in `_one`
        self._named: dict[EventSource, dict[str, tuple[str | None, ...]]] = {}
        self._one: dict[str | None, tuple[str | None]] = {}
        self._suspects: dict[_DeviceKey, list[KeptEvent]] = {}  # devices that may be unmatched
        self._guests: list[KeptEvent] = []  # polls that saw an occupant of no site
        self._first_occupant: datetime | None = None
        self._future: list[tuple[datetime, int, str | None]] = []  # heap: events after `now`
        self._seq = 0
        self._shared: dict[object, object] = {}  # one copy of each repeated name, email, instant
        # what the summary counts of each site's last line
        self._counted: dict[str, tuple[bool, ...]] = {}  # one of `_COUNTED`'s
        self._counts = [0, 0, 0, 0]
        self._stale: set[str] = set()
        self._stale_all = True  # nothing kept yet
        self._epoch = 0
        self._all_changed_at = 0

    def __len__(self) -> int:
        return self._kept + len(self._twins)

    def has(self, source: EventSource, dedupe_key: str) -> bool:
        """Whether an event of `source` under `dedupe_key` was added. Raises `ValueError` when
        `unique` (no event is looked up by its key)."""
        if self._events is None:
            raise ValueError("a live merge of unique events keeps no index of their keys")
        return dedupe_key in self._events.get(source, ())

    @property
    def complete(self) -> bool:
        """Every site's kept counts are its current ones (the summary is exact)."""
        return not self._stale_all

    def add(self, events: Iterable[AttendanceEvent | KeptEvent], now: datetime) -> Changed:
        """Add events (repeats are dropped); the sites whose lines they may have changed
        (`unmatched` may change too: compare `len` before and after). A `KeptEvent` is taken as
        it is: made by `kept`.

        An event after `now` counts only once its time comes: `due` names its sites then.
        """
        self._epoch += 1
        changed: set[str] = set()
        everything = False
        index = self._events
        for event in events:
            e = event if isinstance(event, KeptEvent) else self._keep(event)
            if index is None:
                self._kept += 1
            else:
                kept = index.setdefault(e.source, {})
                seen = kept.get(e.dedupe_key)
                if seen is None:
                    kept[e.dedupe_key] = e
                    self._kept += 1
                elif seen == e or e in self._twins:
                    continue
                else:
                    self._twins.append(e)
                    everything = True
            sites = self._file(e)
            if sites is None:
                everything = True
            else:
                changed.update(sites)
            if e.at > now:  # (an unmatched occupant's: its time wakes the whole record)
                later: list[str | None] = [None] if not sites else [*sorted(sites)]
                for site in later:
                    self._seq += 1
                    heapq.heappush(self._future, (e.at, self._seq, site))
        return self._mark(None if everything else frozenset(changed))

    def _keep(self, e: AttendanceEvent) -> KeptEvent:
        return self.kept(
            e.source,
            e.kind,
            e.at,
            e.dedupe_key,
            e.site_id,
            e.occupant,
            e.name,
            e.email,
            e.headcount,
            e.names,
            e.verdict,
            e.reason,
        )

    def kept(
        self,
        source: EventSource,
        kind: EventKind,
        at: datetime,
        dedupe_key: str,
        site_id: str | None,
        occupant: str,
        name: str | None,
        email: str | None,
        headcount: int | None = None,
        names: tuple[str, ...] = (),
        verdict: Verdict | None = None,
        reason: str | None = None,
    ) -> KeptEvent:
        """An event as `add` keeps it, made of fields already checked (`AttendanceEvent`'s, or
        a logged row's: the service checked it before logging it), without checking them again:
        the instants, sites, occupants and (name, email) pairs that repeat shared, and no key
        where `keying` makes it again."""
        share = self._shared.setdefault
        keying = self._keying
        key: str | Keying = dedupe_key
        if keying is not None and keying.key(source, kind, at, occupant) == dedupe_key:
            key = keying
        person = None
        if name is not None or email is not None:
            pair = (name, email)
            person = share(pair, pair)
        note = None
        if headcount is not None or names or verdict is not None or reason is not None:
            note = Note(headcount, names, verdict, reason)
        return KeptEvent(
            source,
            kind,
            share(at, at),  # type: ignore[arg-type]
            key,
            None if site_id is None else share(site_id, site_id),  # type: ignore[arg-type]
            share(occupant, occupant),  # type: ignore[arg-type]
            person,  # type: ignore[arg-type]
            note,
        )

    def _file(self, e: KeptEvent) -> Sequence[str] | None:
        """Put `e` with the logs it belongs to; the sites it concerns (None: every site)."""
        kind = e.kind
        if kind is EventKind.JOIN or kind is EventKind.LEAVE:
            return self._file_occupant(e)
        if kind is EventKind.DESTROYED:
            self._room.append(e)
            return None
        if e.site_id is not None and e.site_id in self._known:
            self._of_site[e.site_id].append(e)
            return (e.site_id,)
        if kind is EventKind.PRESENT:
            self._guests.append(e)
            return ()
        if kind in OBSERVATIONS and e.site_id is None:
            self._room.append(e)
            return None
        return ()  # a check-in, override or poll of a site the session does not have

    def _file_occupant(self, e: KeptEvent) -> Sequence[str]:
        site, occupant, known = e.site_id, e.occupant, self._known
        if self._first_occupant is None or e.at < self._first_occupant:
            self._first_occupant = e.at
        devices = self._named.get(e.source)
        if devices is None:
            devices = self._named[e.source] = {}
        named = devices.get(occupant, ())
        key = (e.source, occupant)
        suspect = key in self._suspects
        if site not in named:
            # a site or a log newly concerned needs the device's whole log (its first site wins)
            if site in known:
                if named or suspect:
                    self._of_site[site].extend(self._device_log(key, named))
            elif not suspect:
                self._suspects[key] = self._device_log(key, named)
                suspect = True
            if named:
                named = devices[occupant] = (*named, site)
            else:
                one = self._one.get(site)
                if one is None:
                    one = self._one[site] = (site,)
                named = devices[occupant] = one
        if len(named) == 1:  # (nearly every device)
            sites: Sequence[str] = named if site in known else ()  # type: ignore[assignment]
        else:
            sites = [s for s in dict.fromkeys(named) if s is not None and s in known]
        of_site = self._of_site
        for s in sites:
            of_site[s].append(e)
        if suspect:
            self._suspects[key].append(e)
        return sites

    def _device_log(self, key: _DeviceKey, named: tuple[str | None, ...]) -> list[KeptEvent]:
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

    def events(self) -> list[KeptEvent]:
        """Every event added (`unique`: every event the record reads: not the check-ins,
        overrides and polls of sites the session does not have)."""
        if self._events is not None:
            return [*(e for kept in self._events.values() for e in kept.values()), *self._twins]
        seen: dict[int, KeptEvent] = {}  # by identity: one event may be in several logs
        for log in (*self._of_site.values(), *self._suspects.values(), self._room, self._guests):
            for e in log:
                seen.setdefault(id(e), e)
        return list(seen.values())

    def record(self, now: datetime) -> AttendanceRecord:
        """The whole record at `now`, as `merge` makes it of every event added."""
        site_ids, w = window_at(self.sites, self.start, self.end, now)
        return record_of(self.events(), site_ids, w, self.thresholds)

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

    def _count(self, standing: Standing) -> None:
        new = _COUNTED[
            standing.connection is Connection.CONNECTED,
            standing.connection is Connection.UNKNOWN,
            standing.late and not standing.overridden,  # the chair's verdict settles the flags
            standing.left_early and not standing.overridden,
        ]
        old = self._counted.get(standing.site_id, _UNCOUNTED)
        if new is not old:  # (a national board's first pass: 10,000 times, so no loop)
            counts = self._counts
            counts[0] += new[0] - old[0]
            counts[1] += new[1] - old[1]
            counts[2] += new[2] - old[2]
            counts[3] += new[3] - old[3]
            self._counted[standing.site_id] = new
        self._stale.discard(standing.site_id)

    def lines(self, sites: Iterable[str], now: datetime) -> list[SiteAttendance]:
        """The lines of `sites` (of this session) as `merge` gives them at `now`."""
        w = window_of(self.start, self.end, now)
        wanted = list(dict.fromkeys(sites))
        if self._twins:
            log = read_events(self.events(), self._known, w)
            out = list(site_lines(log, wanted, w, self.thresholds))
        else:
            out = [kept_line(self._read(site, w), site, w, self.thresholds) for site in wanted]
        for line in out:
            self._count(Standing.of(line))
        return out

    def standings(self, sites: Iterable[str], now: datetime) -> list[Standing]:
        """`Standing.of` each line `lines` gives, without making the lines (a board's counts
        and filters need only these: a national board's first pass makes 10,000 of them)."""
        if self._twins:
            return [Standing.of(line) for line in self.lines(sites, now)]
        w = window_of(self.start, self.end, now)
        th = self.thresholds
        of_site, quiet = self._of_site, not self._room
        # A site whose one event is the join of one of its devices (most of a national
        # session's) is judged without reading its log (`joined_standing`), once for all the
        # sites that joined at the same instant (Prosody's are whole seconds).
        once = quiet and now < self.end
        bare = Log(frozenset(), self.start, kept="")
        joined: dict[datetime, Standing] = {}
        out: list[Standing] = []
        empty: Standing | None = None  # the standing of a site of no event (the same for all)
        for site in dict.fromkeys(sites):
            own: Sequence[KeptEvent] = of_site.get(site, ())
            if quiet and not own:
                if empty is None:
                    empty = kept_standing(self._read(site, w), site, w, th)
                out.append(empty._replace(site_id=site))
            elif (
                once
                and len(own) == 1
                and (e := own[0]).kind is EventKind.JOIN
                and e.site_id == site
                and e.at <= now
                and site not in self._reads
            ):
                same = joined.get(e.at)
                if same is None:
                    same = joined[e.at] = joined_standing(bare, site, e.at, w, th)
                out.append(Standing(site, *same[1:]))
            else:
                out.append(kept_standing(self._read(site, w), site, w, th))
        for standing in out:
            self._count(standing)
        return out

    def _read(self, site: str, w: Window) -> Log:
        """The site's log (its own events and the room's) read up to `w.now`: the kept read
        taken further when what came since is all later than what it read (`order_of`), else
        read afresh; kept for the next ask when the site's log is long enough to be worth it."""
        own = self._of_site.get(site, ())
        now = w.now
        r = self._reads.pop(site, None)
        if r is not None and r.last is not None and r.last.at > now:
            r = None  # read past `now`: read again
        if r is not None:
            fresh = [*r.held, *own[r.seen :], *self._room[r.room :]]
            due = in_order([e for e in fresh if e.at <= now])
            if due is not None and (r.last is None or not due or before(r.last, due[0])):
                for e in due:
                    r.log.add(e)
                if due:
                    r.last = due[-1]
                r.held = [e for e in fresh if e.at > now]
                r.seen, r.room = len(own), len(self._room)
            else:
                r = None  # an event before what was read (or twice): read again
        if r is None:
            every = [*own, *self._room] if self._room else own
            log = Log(frozenset([site]), self.start, kept=site)
            one = len(every) == 1  # (most sites of a national session)
            read = [e for e in every if e.at <= now] if one else in_order(every, now)
            if read is None:  # an event twice: as `merge` reads it
                read = ordered(every, now)
            for e in read:
                log.add(e)
            if len(every) < self._keep_from:
                return log  # read afresh at each ask
            last = read[-1] if read else None
            r = _Read(log, last, len(own), len(self._room), [e for e in every if e.at > now])
        self._reads[site] = r
        if len(self._reads) > self._kept_reads:
            del self._reads[next(iter(self._reads))]
        return r.log

    def unmatched(self, now: datetime) -> tuple[UnmatchedOccupant, ...]:
        """The `unmatched` of `merge` at `now`."""
        w = window_of(self.start, self.end, now)
        if self._twins:
            return unmatched_of(read_events(self.events(), self._known, w), w)
        events = [e for log in self._suspects.values() for e in log]
        if self._first_occupant is None or self._first_occupant > w.now:
            events += self._guests  # listed only while no webhook reported an occupant
        return unmatched_of(read_events([*events, *self._room], self._known, w), w)

    def summary(
        self, language: Language, unmatched: int, now: datetime, *, as_counted: bool = False
    ) -> str:
        """`AttendanceRecord.summary` while the session runs (`now` before its end), from the
        kept counts; stale sites (changed since their lines or standings were last made) are
        brought up to date first, unless `as_counted`: then they count as their last lines
        said. Raises `ValueError` unless `complete`."""
        if self._stale_all:
            raise ValueError("no whole pass over the sites yet (`pass_begins`, `pass_ends`)")
        if self._stale and not as_counted:
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


def live_session(
    session: Session, *, thresholds: Thresholds = DEFAULT_THRESHOLDS, unique: bool = False
) -> LiveMerge:
    """`LiveMerge` for a booked session, as `merge_session` is `merge` for one: its sites, in the
    booking's order, and its start and end; no event yet."""
    return LiveMerge(
        sites=session.site_ids,
        session_start=session.start,
        session_end=session.end,
        thresholds=thresholds,
        unique=unique,
    )
