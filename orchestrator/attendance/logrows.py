"""The event log's rows as a live board reads them: which rows the record reads (`merged`),
each read once (`Taken`) into the merge's kept events (`kept_events` from rows read back,
`kept_stored` from rows just written), and the event-sync keys of a room's events made again
(`SyncKeys`). Apart from `eventlog`, which writes the log: these are the boards' side of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from orchestrator.attendance.merge.live import LiveMerge
from orchestrator.attendance.merge.record import (
    EventKind,
    EventSource,
    KeptEvent,
    Verdict,
)
from orchestrator.attendance.sources import SYNC_EVENTS, sync_key
from orchestrator.store.base import StoredEvent
from orchestrator.store.base.attendance import LoggedEvent


def merged(e: StoredEvent | LoggedEvent) -> bool:
    """Whether the record reads `e`: not after the freeze, and of a kind it merges."""
    return not e.after_freeze and e.kind in _MERGED_KINDS


# Logged but not merged: a room's creation says nothing about any site.
_MERGED_KINDS = frozenset(k.value for k in EventKind)
_SOURCES = {s.value: s for s in EventSource}
_KINDS = {k.value: k for k in EventKind}
_VERDICTS = {v.value: v for v in Verdict}


class SyncKeys:
    """The event-sync keys of one room's events (`sources.sync_key`), made again for a live
    merge (`Keying`): a webhook's join or leave in the main room keeps no key of its own."""

    __slots__ = ("room",)

    def __init__(self, room: str) -> None:
        self.room = room

    def key(self, source: EventSource, kind: EventKind, at: datetime, occupant: str) -> str | None:
        if source is not EventSource.JITSI or kind not in _SYNC_EVENTS:
            return None
        return sync_key(self.room, None, occupant, _SYNC_EVENTS[kind], at)


_SYNC_EVENTS = {EventKind.JOIN: SYNC_EVENTS["join"], EventKind.LEAVE: SYNC_EVENTS["leave"]}


class Taken:
    """The ids of the log rows a board took, one bit each (exact, and a few kilobytes for a
    hundred thousand rows): a row read again, or heard of twice, is taken once."""

    __slots__ = ("base", "bits")

    def __init__(self) -> None:
        self.base = 0  # the id of the first bit, a multiple of 8
        self.bits = bytearray()

    def __contains__(self, row: int) -> bool:
        k = row - self.base
        return 0 <= k < 8 * len(self.bits) and bool(self.bits[k >> 3] & (1 << (k & 7)))

    def add(self, row: int) -> bool:
        """Take `row`; False when it was taken already."""
        if not self.bits:
            self.base = row & ~7
        elif row < self.base:  # an earlier row (another instance's, committed late)
            base = row & ~7
            self.bits[0:0] = bytes((self.base - base) >> 3)
            self.base = base
        k = row - self.base
        byte, mask = k >> 3, 1 << (k & 7)
        if byte >= len(self.bits):
            self.bits.extend(bytes(byte - len(self.bits) + 1 + len(self.bits) // 4))
        if self.bits[byte] & mask:
            return False
        self.bits[byte] |= mask
        return True


def kept_events(
    live: LiveMerge, rows: Iterable[LoggedEvent], taken: Taken | None = None
) -> list[KeptEvent]:
    """The rows the record reads (`merged`) as `live` keeps them, those `taken` has not got
    (each then taken): the service checked each event before it logged it, so a row is not
    checked again (an `AttendanceEvent` each cost more than reading the row)."""
    kept = live.kept
    return [
        kept(
            _SOURCES[r.source],
            _KINDS[r.kind],
            r.at,
            r.dedupe_key,
            r.site_id,
            r.occupant or "",
            r.name,
            r.email,
            r.headcount,
            () if r.names is None else tuple(r.names),
            None if r.verdict is None else _VERDICTS[r.verdict],
            r.reason,
        )
        for r in rows
        if not r.after_freeze and r.kind in _MERGED_KINDS and (taken is None or taken.add(r.id))
    ]


def kept_stored(
    live: LiveMerge, logged: Iterable[tuple[StoredEvent, int]], taken: Taken
) -> list[KeptEvent]:
    """`kept_events` of rows just logged (`feed`: each with its id), read from what was
    written."""
    out: list[KeptEvent] = []
    for r, row in logged:
        if not merged(r) or not taken.add(row):
            continue
        d = r.data
        names = d.get("names")
        verdict = d.get("verdict")
        out.append(
            live.kept(
                _SOURCES[r.source],
                _KINDS[r.kind],
                r.at,
                r.dedupe_key,
                r.site_id,
                r.occupant or "",
                d.get("name"),
                d.get("email"),
                d.get("headcount"),
                tuple(names) if names else (),
                _VERDICTS[verdict] if verdict else None,
                d.get("reason"),
            )
        )
    return out
