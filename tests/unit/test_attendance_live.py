"""The live record of a session, kept event by event (`LiveMerge`): whatever order and batches
the events come in, its lines, unmatched occupants and summary equal the whole `merge`, and the
sites it reports as changed are the only ones whose lines moved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.attendance import (
    AttendanceEvent,
    AttendanceRecord,
    EventKind,
    EventSource,
    Thresholds,
    merge,
)
from orchestrator.attendance.merge import LiveMerge, Verdict
from orchestrator.attendance.merge.full import order_of
from orchestrator.attendance.merge.live import KEEP_FROM
from orchestrator.attendance.merge.record import SiteAttendance, Standing

START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
M = timedelta(minutes=1)
SITES = ("ha-noi", "da-nang", "can-tho")
TH = Thresholds(min_presence=0.3)
# occupants: their site as their events name it (None: no site token; "hue": not of the session)
OCCUPANTS: dict[str, tuple[str | None, ...]] = {
    "hn1": ("ha-noi",),
    "hn2": ("ha-noi",),
    "dn1": ("da-nang",),
    "ct1": ("can-tho",),
    "guest": (None,),
    "other": ("hue",),
    "odd": (None, "da-nang", "can-tho"),  # the first site its events name wins
}
BOUNDED = settings(max_examples=200, deadline=None)


def at(minute: int) -> datetime:
    return START + minute * M


def occupant_event(who: str, kind: str, minute: int, variant: int, n: int) -> AttendanceEvent:
    names = OCCUPANTS[who]
    return AttendanceEvent(
        source=EventSource.JITSI,
        kind=EventKind.JOIN if kind == "join" else EventKind.LEAVE,
        occupant=f"{who}@x/1",
        site_id=names[variant % len(names)],
        at=at(minute),
        dedupe_key=f"{who}|{kind}|{minute}|{n}",
    )


def other_event(kind: str, minute: int, site: int, n: int) -> list[AttendanceEvent]:
    place = [*SITES, "hue"][site % 4]
    when = at(minute)
    if kind == "destroyed":
        return [
            AttendanceEvent(
                source=EventSource.JITSI, kind=EventKind.DESTROYED, at=when, dedupe_key=f"d{n}"
            )
        ]
    if kind == "poll":  # one poll of the room: it answered and saw one site's device and a guest
        key = f"poll|{minute}"
        return [
            AttendanceEvent(
                source=EventSource.POLL, kind=EventKind.ABSENT, at=when, dedupe_key=key
            ),
            AttendanceEvent(
                source=EventSource.POLL,
                kind=EventKind.PRESENT,
                occupant=f"room/{place}",
                site_id=place,
                at=when,
                dedupe_key=f"{key}|{place}",
            ),
            AttendanceEvent(
                source=EventSource.POLL,
                kind=EventKind.PRESENT,
                occupant="room/guest",
                at=when,
                dedupe_key=f"{key}|guest",
            ),
        ]
    if kind == "failed":
        return [
            AttendanceEvent(
                source=EventSource.POLL, kind=EventKind.UNKNOWN, at=when, dedupe_key=f"f{minute}"
            )
        ]
    if kind == "checkin":
        return [
            AttendanceEvent(
                source=EventSource.CHECKIN,
                kind=EventKind.CHECKIN,
                site_id=place,
                at=when,
                headcount=n,
                dedupe_key=f"c{n}",
            )
        ]
    return [
        AttendanceEvent(
            source=EventSource.OVERRIDE,
            kind=EventKind.OVERRIDE,
            site_id=place,
            at=when,
            verdict=Verdict.PRESENT if n % 2 else Verdict.ABSENT,
            reason="the chair saw them",
            dedupe_key=f"o{n}",
        )
    ]


occupant_raw = st.tuples(
    st.just("occupant"),
    st.sampled_from(sorted(OCCUPANTS)),
    st.sampled_from(["join", "leave"]),
    st.integers(-15, 130),
    st.integers(0, 2),
)
other_raw = st.tuples(
    st.just("other"),
    st.sampled_from(["destroyed", "poll", "failed", "checkin", "override"]),
    st.integers(0, 3),
    st.integers(-15, 130),
    st.integers(0, 2),
)


@st.composite
def logs(draw: st.DrawFn, rare: bool = False) -> list[AttendanceEvent]:
    """A session's log; `rare` adds room-wide events, polls, check-ins, overrides and, now and
    then, two different events under one key."""
    kinds = st.one_of(occupant_raw, other_raw) if rare else occupant_raw
    raw = draw(st.lists(kinds, max_size=30))
    out: list[AttendanceEvent] = []
    for n, item in enumerate(raw):
        if item[0] == "occupant":
            _, who, kind, minute, variant = item
            out.append(occupant_event(who, kind, minute, variant, n))
        else:
            _, kind, site, minute, _ = item
            out.extend(other_event(kind, minute, site, n))
    if rare and out and draw(st.booleans()):
        twin = draw(st.sampled_from(out))
        out.append(twin.model_copy(update={"at": twin.at + M}))  # same key, other content
    return out


def full(events: Sequence[AttendanceEvent], now: datetime) -> tuple[object, ...]:
    r = merge(events, sites=SITES, session_start=START, session_end=END, now=now, thresholds=TH)
    return r.sites, r.unmatched, r.summary("en"), r.summary("vi")


def live() -> LiveMerge:
    return LiveMerge(sites=SITES, session_start=START, session_end=END, thresholds=TH)


def batches(data: st.DataObject, events: list[AttendanceEvent]) -> list[list[AttendanceEvent]]:
    """The events shuffled, some repeated, cut into batches."""
    again = data.draw(st.lists(st.sampled_from(events), max_size=8)) if events else []
    stream = data.draw(st.permutations(events + again))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@BOUNDED
@given(events=logs(rare=True), now=st.integers(-20, 140), data=st.data())
def test_incremental_application_in_any_order_equals_the_full_merge(
    events: list[AttendanceEvent], now: int, data: st.DataObject
) -> None:
    state = live()
    for batch in batches(data, events):
        state.add(batch, at(now))
    assert tuple(state.lines(SITES, at(now))) == full(events, at(now))[0]
    assert state.unmatched(at(now)) == full(events, at(now))[1]
    # and at other instants: events after `now` count once their time has come
    later = at(data.draw(st.integers(-20, 140)))
    assert (tuple(state.lines(SITES, later)), state.unmatched(later)) == full(events, later)[:2]


@BOUNDED
@given(events=logs(rare=True), now=st.integers(-20, 119), data=st.data())
def test_a_board_that_applies_the_changes_shows_the_full_merge(
    events: list[AttendanceEvent], now: int, data: st.DataObject
) -> None:
    """A board shown every site's line (asked for a site at a time, while events keep coming),
    then only the lines of the sites each batch changed, shows what the whole merge says; so
    does the summary made of the kept counts."""
    state, when = live(), at(now)
    parts = batches(data, events)
    first = data.draw(st.integers(0, len(parts)))
    for batch in parts[:first]:
        state.add(batch, when)
    rest = parts[first:]
    pending: set[str] = set()
    everything = False

    def add(batch: list[AttendanceEvent]) -> None:
        nonlocal everything
        changed = state.add(batch, when)
        if changed is None:
            everything = True
        else:
            pending.update(changed)

    mark = state.pass_begins()
    board: dict[str, object] = {}
    standing = data.draw(st.booleans())  # the first pass made of standings, not lines
    for site in SITES:
        if standing:
            board.update({s.site_id: s for s in state.standings([site], when)})
        else:
            board.update({line.site_id: line for line in state.lines([site], when)})
        if rest and data.draw(st.booleans()):
            add(rest.pop(0))
    complete = state.pass_ends(mark)
    for batch in rest:
        add(batch)
    if everything or not complete:
        # a room-wide change (or two events under one key): the board gets every line again
        mark = state.pass_begins()
        board = {line.site_id: line for line in state.lines(SITES, when)}
        assert state.pass_ends(mark)
    else:
        board.update({line.site_id: line for line in state.lines(sorted(pending), when)})
    expected = full(events, when)
    shown = tuple(board[s] for s in SITES)
    if standing:  # what a board keeps of each site: its standing, or its line when it changed
        assert tuple(x if isinstance(x, Standing) else Standing.of(x) for x in shown) == tuple(
            Standing.of(line) for line in expected[0]
        )
    else:
        assert shown == expected[0]
    unmatched = state.unmatched(when)
    assert unmatched == expected[1]
    summaries = (
        state.summary("en", len(unmatched), when),
        state.summary("vi", len(unmatched), when),
    )
    assert summaries == expected[2:]
    assert state.record(when) == whole(events, when)


def whole(events: Sequence[AttendanceEvent], now: datetime) -> AttendanceRecord:
    return merge(events, sites=SITES, session_start=START, session_end=END, now=now, thresholds=TH)


@BOUNDED
@given(events=logs(), now=st.integers(-20, 119), data=st.data())
def test_the_sites_reported_changed_are_the_only_ones_that_moved(
    events: list[AttendanceEvent], now: int, data: st.DataObject
) -> None:
    state, when = live(), at(now)
    for batch in batches(data, events):
        before = full(state.events(), when)[0]
        changed = state.add(batch, when)
        after = full(state.events(), when)[0]
        assert changed is not None  # webhooks alone never change every site at once
        moved = {a.site_id for a, b in zip(before, after, strict=True) if a != b}
        assert moved <= changed


def kept(kept_reads: int) -> LiveMerge:
    """A live merge that keeps every site's read (`keep_from=0`) and takes it further as
    events come, at most `kept_reads` of them at a time."""
    return LiveMerge(
        sites=SITES,
        session_start=START,
        session_end=END,
        thresholds=TH,
        keep_from=0,
        kept_reads=kept_reads,
    )


@BOUNDED
@given(
    events=logs(rare=True),
    in_order=st.booleans(),
    kept_reads=st.sampled_from([1, 2, 100]),
    now=st.integers(-20, 140),
    data=st.data(),
)
def test_a_site_read_further_as_events_come_equals_the_full_merge(
    events: list[AttendanceEvent], in_order: bool, kept_reads: int, now: int, data: st.DataObject
) -> None:
    """Each site's log is read once and taken further with what comes after it (a kept read),
    and read again when an event comes before what it read: asked after every batch, at a
    `now` that moves on (and now and then back), for some sites or all, the lines equal the
    whole merge, with the events in time order or not, in batches, repeated."""
    again = data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    if in_order:  # as a live room sends them, a few repeated
        stream = sorted(events + again, key=order_of)
    else:
        stream = data.draw(st.permutations(events + again))
    parts: list[list[AttendanceEvent]] = []
    while len(stream) > sum(map(len, parts)):  # small batches: a read is taken further often
        done = sum(map(len, parts))
        parts.append(stream[done : done + data.draw(st.integers(1, 3))])
    state, added = kept(kept_reads), []
    for batch in parts:
        state.add(batch, at(now))
        added += batch
        now += data.draw(st.sampled_from([0, 0, 1, 5, 30, -3]))
        asked = data.draw(st.sampled_from([SITES, SITES[:1], SITES[1:]]))
        expected = {line.site_id: line for line in full(added, at(now))[0]}
        if data.draw(st.booleans()):
            assert state.lines(asked, at(now)) == [expected[s] for s in asked]
        else:  # a board's counts: the standing alone
            assert state.standings(asked, at(now)) == [Standing.of(expected[s]) for s in asked]
        assert state.unmatched(at(now)) == full(added, at(now))[1]
    assert tuple(state.lines(SITES, at(now))) == full(events, at(now))[0]


@BOUNDED
@given(events=logs(), data=st.data())
def test_a_live_room_read_as_it_happens_equals_the_full_merge(
    events: list[AttendanceEvent], data: st.DataObject
) -> None:
    """Webhooks in time order, each site asked for as each event comes, `now` the event's
    instant: every site's read is taken further, never read again, and its line is the
    whole merge's."""
    state = kept(100)
    added: list[AttendanceEvent] = []
    for event in sorted(events, key=order_of):
        now = event.at + data.draw(st.sampled_from([timedelta(0), M]))
        changed = state.add([event], now)
        added.append(event)
        assert changed is not None
        lines = state.lines(SITES, now)
        assert tuple(lines) == full(added, now)[0]


class Keys:
    """A source that makes some keys of what the event says (as event-sync does)."""

    def key(self, source: EventSource, kind: EventKind, at: datetime, occupant: str) -> str | None:
        if source is not EventSource.JITSI or kind not in (EventKind.JOIN, EventKind.LEAVE):
            return None
        return f"{occupant}|{kind.value}|{at.isoformat()}"


@BOUNDED
@given(events=logs(rare=True), made=st.sets(st.integers(0, 40)), data=st.data())
def test_unique_events_kept_without_their_keys_equal_the_full_merge(
    events: list[AttendanceEvent], made: set[int], data: st.DataObject
) -> None:
    """A board gives each logged event once (`unique`): no index by key, and the keys its
    source makes again (`keying`) are not kept; in any order, in batches, at a `now` that
    moves, asked for lines or standings, the record is the whole merge's."""
    keys, unique = Keys(), {}
    for n, e in enumerate(events):
        made_key = keys.key(e.source, e.kind, e.at, e.occupant)
        if n in made and made_key is not None:
            e = e.model_copy(update={"dedupe_key": made_key})
        unique.setdefault((e.source, e.dedupe_key), e)  # once each: no twins, no repeats
    given_events = list(unique.values())
    stream = data.draw(st.permutations(given_events))
    state = LiveMerge(
        sites=SITES,
        session_start=START,
        session_end=END,
        thresholds=TH,
        keep_from=data.draw(st.sampled_from([0, KEEP_FROM])),
        unique=True,
        keying=keys,
    )
    now, added = data.draw(st.integers(-20, 140)), []
    done = 0
    while done < len(stream):
        batch = stream[done : done + data.draw(st.integers(1, 4))]
        done += len(batch)
        state.add(batch, at(now))
        added += batch
        now += data.draw(st.sampled_from([0, 1, 7, -2]))
        expected = full(added, at(now))
        if data.draw(st.booleans()):
            assert tuple(state.lines(SITES, at(now))) == expected[0]
        else:
            assert state.standings(SITES, at(now)) == [Standing.of(x) for x in expected[0]]
        assert state.unmatched(at(now)) == expected[1]
    assert len(state) == len(given_events)
    assert state.record(at(now)) == whole(given_events, at(now))
    with pytest.raises(ValueError, match="no index"):
        state.has(EventSource.JITSI, "anything")


def test_a_key_made_again_is_the_key_given() -> None:
    state = LiveMerge(sites=SITES, session_start=START, session_end=END, unique=True, keying=Keys())
    join = occupant_event("hn1", "join", 10, 0, 1)
    made = join.model_copy(update={"dedupe_key": f"hn1@x/1|join|{at(10).isoformat()}"})
    kept = state.kept(
        made.source, made.kind, made.at, made.dedupe_key, made.site_id, made.occupant, None, None
    )
    assert kept.key is not made.dedupe_key  # not kept: made again when asked for
    assert kept.dedupe_key == made.dedupe_key
    other = state.kept(
        join.source, join.kind, join.at, join.dedupe_key, join.site_id, join.occupant, "A", "a@x"
    )
    assert other.key == join.dedupe_key  # a key the source does not make this way is kept
    assert (other.name, other.email) == ("A", "a@x")


def test_an_event_before_what_a_site_read_makes_it_read_again() -> None:
    state = kept(100)
    join = occupant_event("hn1", "join", 10, 0, 1)
    leave = occupant_event("hn1", "leave", 50, 0, 2)
    lost = occupant_event("hn2", "leave", 30, 0, 3)  # its join was lost: connected since 10
    state.add([join, leave], at(60))
    [first] = state.lines(["ha-noi"], at(60))
    assert [(i.start, i.end) for i in first.intervals] == [(at(10), at(50))]
    state.add([lost], at(60))
    [line] = state.lines(["ha-noi"], at(60))
    assert line == full([join, leave, lost], at(60))[0][0]
    assert [(i.start, i.end) for i in line.intervals] == [(START, at(50))]
    # `now` back before what was read: read again up to it
    [back] = state.lines(["ha-noi"], at(20))
    assert back == full([join, leave, lost], at(20))[0][0]
    assert back.connection == "connected"


def test_events_after_now_are_due_when_their_time_comes() -> None:
    state = live()
    join = occupant_event("dn1", "join", 10, 0, 1)
    assert state.add([join], at(5)) == {"da-nang"}
    assert state.due(at(9)) == frozenset()
    assert state.next_due() == at(10)
    assert state.due(at(10)) == {"da-nang"}
    assert state.next_due() is None
    [line] = state.lines(["da-nang"], at(10))
    assert line.connection == "connected"


def test_repeats_change_nothing_and_the_summary_needs_a_whole_record_first() -> None:
    state = live()
    join = occupant_event("hn1", "join", 1, 0, 1)
    assert state.add([join], at(2)) == {"ha-noi"}
    assert state.add([join], at(2)) == frozenset()
    assert len(state) == 1
    assert state.has(EventSource.JITSI, join.dedupe_key)
    assert not state.complete
    with pytest.raises(ValueError, match="no whole pass"):
        state.summary("en", 0, at(2))


def test_a_summary_as_counted_leaves_the_sites_changed_since_as_their_lines_were() -> None:
    state = live()
    state.pass_begins()
    state.lines(SITES, at(2))
    assert state.pass_ends(0)
    none = state.summary("en", 0, at(2))
    joins = [occupant_event("hn1", "join", 1, 0, 1), occupant_event("dn1", "join", 1, 0, 2)]
    state.add(joins, at(2))
    assert state.summary("en", 0, at(2), as_counted=True) == none
    state.lines(["da-nang"], at(2))
    one = state.summary("en", 0, at(2), as_counted=True)
    assert one not in (none, full(joins, at(2))[2])  # da-nang counted, ha-noi not yet
    assert state.summary("en", 0, at(2)) == full(joins, at(2))[2]  # the rest made first
    assert state.summary("en", 0, at(2), as_counted=True) == full(joins, at(2))[2]


def test_a_device_that_names_its_site_late_brings_its_whole_log() -> None:
    state = live()
    join = occupant_event("odd", "join", 5, 0, 1)  # no site token yet
    leave = occupant_event("odd", "leave", 50, 1, 2)  # names da-nang
    assert state.add([join], at(60)) == frozenset()
    assert state.add([leave], at(60)) == {"da-nang"}
    expected = full([join, leave], at(60))
    assert (tuple(state.lines(SITES, at(60))), state.unmatched(at(60))) == expected[:2]
    assert state.lines(["da-nang"], at(60))[0].first_join == at(5)


@pytest.mark.parametrize("now_minute", [-5, 0, 3, 20, 100, 130])
def test_standings_of_sites_that_joined_once_equal_the_merge(now_minute: int) -> None:
    """A national board's first pass: most sites' one event is a join (many at the same
    instant, some late, some after `now`), a few left again, a few never came; the standings
    are judged without reading those sites' logs, and must be what the merge says."""
    sites = [f"truong-{i:03d}" for i in range(60)]

    def device(site: str, kind: EventKind, when: datetime) -> AttendanceEvent:
        return AttendanceEvent(
            source=EventSource.JITSI,
            kind=kind,
            occupant=f"{site}@x/1",
            site_id=site,
            at=when,
            dedupe_key=f"{site}|{kind.value}",
        )

    events = []
    for i, site in enumerate(sites):
        if i % 6 == 5:
            continue  # never joined
        joined = at((-10, 0, 1, 25, 90)[i % 6])  # before the start, at it, late, after `now`
        events.append(device(site, EventKind.JOIN, joined))
        if i % 12 == 0:  # and left again
            events.append(device(site, EventKind.LEAVE, joined + 30 * M))
    now = at(now_minute)
    state = LiveMerge(sites=sites, session_start=START, session_end=END, thresholds=TH)
    state.add(events, now)
    expected = merge(
        events, sites=sites, session_start=START, session_end=END, now=now, thresholds=TH
    )
    assert state.standings(sites, now) == [Standing.of(line) for line in expected.sites]
    assert state.lines(sites, now) == list(expected.sites)


@BOUNDED
@given(events=logs(rare=True), now=st.integers(-20, 140), data=st.data())
def test_lines_made_without_validation_are_what_validating_them_gives(
    events: list[AttendanceEvent], now: int, data: st.DataObject
) -> None:
    """The merge makes its lines and intervals from values it has checked once (`trusted`):
    each is equal to the line validated again from its own fields, instants in UTC, whether
    the events were given in UTC or in Vietnam's time."""
    zone = data.draw(st.sampled_from([UTC, timezone(timedelta(hours=7))]))
    given_in = [e.model_copy(update={"at": e.at.astimezone(zone)}) for e in events]
    state = live()
    state.add(given_in, at(now))
    for line in (*state.lines(SITES, at(now)), *full(given_in, at(now))[0]):
        assert SiteAttendance.model_validate(dict(line)) == line
        assert all(i.start.tzinfo is UTC and i.end.tzinfo is UTC for i in line.intervals)
        assert line.first_join is None or line.first_join.tzinfo is UTC
