"""Turns at claiming resources in one process (`ClaimGate`) and what a turn tells those who
waited for it (`held_over`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.booking.gate import ClaimGate, held_over
from orchestrator.domain.errors import BookingConflict, Conflict

T0 = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)


async def test_one_turn_per_resource_all_or_none() -> None:
    gate = ClaimGate()
    first = gate.enter(["site:a", "group:g"])
    assert first is not None
    assert gate.enter(["site:b", "group:g"]) is None  # shares group:g: nothing taken
    other = gate.enter(["site:b"])
    assert other is not None
    gate.leave(first)
    gate.leave(other)
    assert gate.busy() == 0


async def test_waiters_wake_when_the_turn_ends_and_hear_what_it_held() -> None:
    gate = ClaimGate()
    turn = gate.enter(["site:a", "site:b"])
    assert turn is not None
    woke: list[list[Conflict]] = []

    async def waiter() -> None:
        ended = await gate.wait(["site:b", "site:c"])
        woke.append(held_over(ended, ["site:b", "site:c"], T0, T0 + timedelta(hours=1)))

    waiting = [asyncio.create_task(waiter()) for _ in range(3)]
    await asyncio.sleep(0)
    assert woke == []
    claims = [
        Conflict("site:a", "s1", T0, T0 + timedelta(hours=2)),
        Conflict("site:b", "s1", T0, T0 + timedelta(hours=2)),
    ]
    gate.leave(turn, claims)
    await asyncio.gather(*waiting)
    assert woke == [[claims[1]]] * 3  # only the claims they want, over their time


def test_held_over_keeps_overlapping_claims_of_other_sessions() -> None:
    gate = ClaimGate()
    turn = gate.enter(["site:a"])
    assert turn is not None
    gate.leave(
        turn,
        [
            Conflict("site:a", "s1", T0, T0 + timedelta(hours=1)),
            Conflict("site:a", "mine", T0, T0 + timedelta(hours=1)),
            Conflict("site:x", "s1", T0, T0 + timedelta(hours=1)),
        ],
    )
    later = T0 + timedelta(hours=1)  # touching, not overlapping
    assert held_over([turn], ["site:a"], later, later + timedelta(hours=1)) == []
    assert held_over([turn], ["site:a"], T0, later, exclude_session="mine") == [
        Conflict("site:a", "s1", T0, later)
    ]


async def test_a_turn_refused_tells_what_refused_it() -> None:
    gate = ClaimGate()
    turn = gate.enter(["site:a"])
    assert turn is not None
    held = [Conflict("site:a", "s1", T0, T0 + timedelta(hours=1))]
    waiter = asyncio.create_task(gate.wait(["site:a"]))
    await asyncio.sleep(0)
    with pytest.raises(BookingConflict), gate.leaving_on_error(turn):
        raise BookingConflict(held)
    assert held_over(await waiter, ["site:a"], T0, T0 + timedelta(minutes=5)) == held
    other = gate.enter(["site:a"])
    assert other is not None
    with pytest.raises(RuntimeError), gate.leaving_on_error(other):
        raise RuntimeError("the database is gone")
    assert other.held == ()
    assert gate.busy() == 0
