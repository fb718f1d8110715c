"""How the event log cuts the webhooks waiting into batches (`EventLog`): no larger than the
store writes the quick way, each webhook's events together, gathered while the loop is still
reading more; and, with three writers, batches in flight at once whatever events they share
(the store takes their keys in one order: see
`test_postgresql_batches_sharing_events_in_any_order_never_lock_in_a_circle`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from orchestrator.attendance.eventlog import GATHER_ROWS, GATHER_TURNS, EventLog
from orchestrator.domain.clock import SystemClock
from orchestrator.store.base import StoredEvent
from orchestrator.store.base.attendance import Appended
from tests.builders import NoBoards

AT = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def ev(key: str) -> StoredEvent:
    return StoredEvent("jitsi", "join", AT, key, AT, "s-1", "room", "ha-noi", f"{key}@x", {})


class _Appender:
    """Logs each key once, `hold` seconds a batch; notes every batch and any two batches in
    flight at once with an event in common."""

    def __init__(self, parallel: int, batch_rows: int | None, hold: float = 0.0) -> None:
        self.parallel = parallel
        self.batch_rows = batch_rows
        self.hold = hold
        self.batches: list[int] = []
        self.flying: list[set[tuple[str, str]]] = []
        self.overlaps: list[set[tuple[str, str]]] = []
        self.logged: set[tuple[str, str]] = set()

    async def append(
        self, events: Sequence[StoredEvent], origin: str
    ) -> dict[tuple[str, str], Appended]:
        keys = {(e.source, e.dedupe_key) for e in events}
        self.overlaps.extend(keys & other for other in self.flying if keys & other)
        self.flying.append(keys)
        self.batches.append(len(events))
        try:
            await asyncio.sleep(self.hold)
        finally:
            self.flying.remove(keys)
        new = keys - self.logged
        self.logged |= new
        return {k: Appended(False, i) for i, k in enumerate(sorted(new))}


class _Store:
    def __init__(self, events: _Appender) -> None:
        self.events = events


def _log(events: _Appender) -> EventLog:
    return EventLog(_Store(events), SystemClock(), NoBoards(), set())  # type: ignore[arg-type]


async def test_webhooks_waiting_are_cut_into_batches_the_store_writes_the_quick_way() -> None:
    appender = _Appender(parallel=1, batch_rows=64)
    log = _log(appender)
    webhooks = [[ev(f"w{w}-{i}") for i in range(13)] for w in range(10)]
    webhooks.append([ev(f"end-{i}") for i in range(100)])  # a room's end: alone, whole
    webhooks.append([ev("last")])
    added = await asyncio.gather(*(log._write(rows) for rows in webhooks))
    assert added == [len(rows) for rows in webhooks]
    assert appender.batches == [52, 52, 26, 100, 1]  # 13 x 4 = 52; a fifth would be 65


async def test_with_no_limit_a_batch_takes_every_webhook_waiting() -> None:
    appender = _Appender(parallel=1, batch_rows=None)
    log = _log(appender)
    webhooks = [[ev(f"w{w}-{i}") for i in range(13)] for w in range(10)]
    assert await asyncio.gather(*(log._write(rows) for rows in webhooks)) == [13] * 10
    assert appender.batches == [130]


async def test_three_writers_write_batches_sharing_events_at_once() -> None:
    """A (k1, k3), then B (k2, k1), then C (k3, k2), each taken while the one before is in
    flight: none waits for another (the store orders their keys), and each event is new once."""
    appender = _Appender(parallel=3, batch_rows=None, hold=0.05)
    log = _log(appender)
    futures = [log._write([ev("k1"), ev("k3")])]
    await asyncio.sleep(0.01)  # A is in flight
    futures += [log._write([ev("k2"), ev("k1")])] + [log._write([ev(f"b{i}")]) for i in range(7)]
    await asyncio.sleep(0.01)  # B is taken (eight webhooks wait: a second writer)
    futures += [log._write([ev("k3"), ev("k2")])] + [log._write([ev(f"c{i}")]) for i in range(7)]
    added = await asyncio.gather(*futures)
    assert appender.batches == [2, 9, 9]
    assert appender.overlaps == [{("jitsi", "k1")}, {("jitsi", "k3")}, {("jitsi", "k2")}]
    assert sum(added) == 3 + 7 + 7  # k1, k3, k2 once each, and the fillers


def _arriving(
    log: EventLog, keys: list[str], rows: int = 1, *, now: bool = True
) -> list[asyncio.Future[int]]:
    """Each of `keys` written as a webhook of its own (of `rows` events), one a turn of the
    loop, as webhooks read one loop turn after another come; the first now, or at the next
    turn."""
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[int]] = []

    def arrive(k: int) -> None:
        futures.append(log._write([ev(f"{keys[k]}.{i}") for i in range(rows)]))
        if k + 1 < len(keys):
            loop.call_soon(arrive, k + 1)

    if now:
        arrive(0)
    else:
        loop.call_soon(arrive, 0)
    return futures


async def _settled(futures: list[asyncio.Future[int]], count: int) -> list[int]:
    for _ in range(1000):
        if len(futures) == count:
            break
        await asyncio.sleep(0)
    return list(await asyncio.gather(*futures))


async def test_a_writer_gathers_the_webhooks_still_arriving_into_one_batch() -> None:
    appender = _Appender(parallel=1, batch_rows=64)
    log = _log(appender)
    assert await _settled(_arriving(log, ["a", "b", "c"]), 3) == [1, 1, 1]
    assert appender.batches == [3]  # taken at once, they were [1, 2] or [1, 1, 1]


async def test_a_writer_waits_no_more_than_its_turns_nor_past_enough_webhooks() -> None:
    appender = _Appender(parallel=1, batch_rows=64)
    log = _log(appender)
    keys = [f"t{i}" for i in range(GATHER_TURNS + 6)]
    assert sum(await _settled(_arriving(log, keys), len(keys))) == len(keys)
    assert appender.batches[0] == GATHER_TURNS + 1  # the first, then one a turn

    appender = _Appender(parallel=1, batch_rows=64)
    log = _log(appender)
    many = [log._write([ev(f"m{i}")]) for i in range(GATHER_ROWS - 1)]
    late = _arriving(log, [f"late{i}" for i in range(5)])
    assert sum(await _settled(late, 5)) + sum(await asyncio.gather(*many)) == GATHER_ROWS + 4
    assert appender.batches[0] == GATHER_ROWS  # enough wait: no further turn


async def test_a_writer_stops_gathering_once_the_store_has_a_full_batch_waiting() -> None:
    appender = _Appender(parallel=1, batch_rows=8)
    log = _log(appender)
    arrived: list[int] = []
    futures: list[list[asyncio.Future[int]]] = []  # (the arrivals' list, once made)
    append = appender.append

    async def noting(events: Sequence[StoredEvent], origin: str) -> dict[tuple[str, str], Appended]:
        arrived.append(len(futures[0]))
        return await append(events, origin)

    appender.append = noting  # type: ignore[method-assign]
    futures.append(_arriving(log, [f"w{i}" for i in range(6)], rows=3))
    assert sum(await _settled(futures[0], 6)) == 18
    assert arrived[0] == 3  # 9 rows wait, past the store's 8: no further turn (else 5)
    assert appender.batches[0] == 6  # two webhooks of three: a third would be 9


async def test_no_further_writer_starts_while_one_gathers() -> None:
    """PostgreSQL: A in flight, eight webhooks start B; those that come while B gathers join
    B's batch rather than start a third writer."""
    appender = _Appender(parallel=3, batch_rows=None, hold=0.05)
    log = _log(appender)
    first = log._write([ev("a")])
    await asyncio.sleep(0.01)  # A is in flight
    eight = [log._write([ev(f"b{i}")]) for i in range(8)]
    late = _arriving(log, [f"late{i}" for i in range(3)])
    writers = [len(log._writers)]
    for _ in range(6):
        await asyncio.sleep(0)
        writers.append(len(log._writers))
    assert max(writers) == 2  # (3 without the rule: the first webhook after B started)
    assert sum(await asyncio.gather(first, *eight, *await _wait_all(late, 3))) == 12
    assert appender.batches == [1, 11]


async def test_no_further_writer_starts_while_a_running_one_gathers() -> None:
    """PostgreSQL: A's commit comes back with seven webhooks waiting; A gathers, and those
    that come meanwhile (eight wait, then nine...) join A's next batch rather than start B."""
    appender = _Appender(parallel=3, batch_rows=None, hold=0.02)
    log = _log(appender)
    late: list[list[asyncio.Future[int]]] = []
    writers: list[int] = []
    append = appender.append

    async def then_more(
        events: Sequence[StoredEvent], origin: str
    ) -> dict[tuple[str, str], Appended]:
        out = await append(events, origin)
        if not late:  # from the next turn, when A gathers
            late.append(_arriving(log, [f"late{i}" for i in range(3)], now=False))
        writers.append(len(log._writers))
        return out

    appender.append = then_more  # type: ignore[method-assign]
    first = log._write([ev("a")])
    await asyncio.sleep(0.005)  # A is in flight
    seven = [log._write([ev(f"s{i}")]) for i in range(7)]
    assert await first == 1
    for _ in range(8):
        writers.append(len(log._writers))
        await asyncio.sleep(0)
    assert sum(await asyncio.gather(*seven, *await _wait_all(late[0], 3))) == 10
    assert max(writers) == 1  # (2 without the rule: B, at the first webhook after A's commit)
    assert appender.batches == [1, 10]


async def _wait_all(futures: list[asyncio.Future[int]], count: int) -> list[asyncio.Future[int]]:
    await _settled(futures, count)
    return futures


async def test_a_lone_webhook_is_written_at_the_next_turn() -> None:
    appender = _Appender(parallel=1, batch_rows=64)
    log = _log(appender)
    done = log._write([ev("lone")])
    turns = 0
    while not appender.batches:
        await asyncio.sleep(0)
        turns += 1
    assert turns <= 2  # the writer starts, one turn brings nothing: it writes
    assert await done == 1
