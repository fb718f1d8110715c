"""How a batch of events reaches each database (`Store.events`): a room's end on SQLite as
several statements in one transaction, a batch on PostgreSQL as one JSON text; text, data and
instants in any offset read back as written; an instant without its offset refused."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.store.base.errors import StoreError
from orchestrator.store.sql import SqlStore
from orchestrator.store.sql import appender as appender_module
from orchestrator.store.sql.appender import _pg_batch
from tests.integration.appender_kit import AT, event, written


async def test_a_room_s_end_of_20000_events_is_logged_as_written(store: SqlStore) -> None:
    batch = [event(f"k{i}", data={"name": f"Điểm {i}"}) for i in range(20_000)]
    added = await store.events.append(batch, "here")
    assert len(added) == 20_000
    async with store.read() as uow:
        logged = await uow.attendance.list_events("s-1")
    assert [e.data for e in logged[:2]] == [{"name": "Điểm 0"}, {"name": "Điểm 1"}]
    assert len(logged) == 20_000


async def test_a_batch_of_several_statements_is_one_transaction(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch larger than a statement takes (`CHUNK_ROWS`: a room's end, on SQLite) is
    written as several statements in one transaction: a repeat in a later statement of an
    event in an earlier one is logged once, an event logged before is skipped, and when one
    of its statements fails nothing of the batch is logged."""
    monkeypatch.setattr(appender_module, "CHUNK_ROWS", 4)
    await store.events.append([event("old")], "here")
    keys = [f"k{i}" for i in range(9)]
    batch = [event(k) for k in keys] + [event("k1"), event("old")]  # three statements of four
    added = await store.events.append(batch, "here")
    assert set(added) == {("jitsi", k) for k in keys}
    failing = [event(f"f{i}") for i in range(10)] + [event("f10", kind=None)]  # in the third
    with pytest.raises(StoreError):
        await store.events.append(failing, "here")
    async with store.read() as uow:
        logged = await uow.attendance.list_events("s-1")
    assert [replace(e, id=None) for e in logged] == written(
        store, [event("old")], [event(k) for k in keys]
    )


def test_a_postgresql_batch_is_one_json_text_its_rows_in_the_order_of_their_keys() -> None:
    """`_pg_batch`: each row numbered in the order of its key (the order every batch inserts
    in), its instants with their offset to the microsecond, its `data` as written, what orjson
    refuses (an integer beyond 64 bits) included."""
    huge = 2**70
    batch = [event("b", data={"n": huge}), event("a", at=AT.replace(microsecond=0))]
    rows = json.loads(_pg_batch(batch))
    assert [(r["n"], r["dedupe_key"]) for r in rows] == [(0, "a"), (1, "b")]
    assert [r["at"] for r in rows] == [
        "2026-11-23T02:00:00+00:00",
        "2026-11-23T02:00:01.123456+00:00",
    ]
    assert rows[1]["data"] == {"n": huge}
    assert rows[0]["data"] == event("a").data


async def test_quotes_backslashes_vietnamese_and_any_offset_read_back_as_written(
    store: SqlStore,
) -> None:
    ict = timezone(timedelta(hours=7))
    odd = event(
        'k"\\ Điểm',
        occupant='a"b\\c Đà Nẵng/x\t',
        at=datetime(2026, 11, 23, 9, 0, 0, 7, tzinfo=ict),
        data={"name": 'Trường "A" \\ Điểm cầu', "email": "x@example.org"},
    )
    await store.events.append([odd, event("plain")], "here")  # (one row alone goes as well)
    async with store.read() as uow:
        logged = await uow.attendance.list_events("s-1")
    assert [replace(e, id=None) for e in logged] == written(store, [odd, event("plain")])


async def test_an_instant_without_its_offset_fails_its_batch(store: SqlStore) -> None:
    with pytest.raises(StoreError):
        await store.events.append([event("naive", at=AT.replace(tzinfo=None))], "here")
    async with store.read() as uow:
        assert await uow.attendance.list_events("s-1") == []
