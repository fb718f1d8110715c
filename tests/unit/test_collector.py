"""The collector held off during large work (`held_off`): re-entrant, across tasks, and never
turning on a collector someone else turned off; and what lives long settled out of its full
collections (`settled`) and handed back (`unsettled`)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from orchestrator.domain.collector import held_off, settled, unsettled


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:  # as it was before the test, whatever the test left
        gc.enable()
    else:
        gc.disable()


def test_off_inside_on_after() -> None:
    with held_off():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_blocks_turn_it_on_after_the_outer_one() -> None:
    with held_off():
        with held_off():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_on_again_after_an_error() -> None:
    with pytest.raises(RuntimeError), held_off():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_tasks_leave_it_on_after_the_last() -> None:
    seen: list[bool] = []

    async def work(first: asyncio.Event, second: asyncio.Event) -> None:
        with held_off():
            first.set()
            await second.wait()
        seen.append(gc.isenabled())

    async def main() -> None:
        a, b = asyncio.Event(), asyncio.Event()
        one = asyncio.create_task(work(a, b))
        await a.wait()
        c, d = asyncio.Event(), asyncio.Event()
        two = asyncio.create_task(work(c, d))
        await c.wait()
        b.set()  # the first ends while the second still holds it
        await one
        assert seen == [False]
        d.set()
        await two
        assert seen == [False, True]

    asyncio.run(main())


def test_left_off_when_someone_else_turned_it_off() -> None:
    gc.disable()
    with held_off():
        assert not gc.isenabled()
    assert not gc.isenabled()


class Node:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settled_objects_leave_the_full_collections() -> None:
    long_lived = [[n] for n in range(1000)]  # tracked by the collector
    settled()
    assert gc.get_freeze_count() >= len(long_lived)


def test_garbage_is_collected_not_settled() -> None:
    with held_off():  # no collection on its own meanwhile
        cycle = weakref.ref(Node())
        assert cycle() is not None  # garbage, not collected yet
        settled()
    assert cycle() is None


def test_what_was_settled_and_is_garbage_now_is_collected_when_handed_back() -> None:
    node = Node()
    cycle = weakref.ref(node)
    settled()
    del node  # garbage now, but settled: no full collection walks it
    gc.collect()
    assert cycle() is not None
    unsettled()
    assert cycle() is None
    assert gc.get_freeze_count() > 0  # what still lives is settled again
