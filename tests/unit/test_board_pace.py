"""The pauses between a `changes` event's slices (`_Pace`): each lets other work run for
`CHANGES_WAIT` times what the slice before it cost, counted as the listener's wait, so that a
large event never takes more than a fourth of the loop while it is made."""

from __future__ import annotations

import asyncio
import time

import pytest

from orchestrator.attendance import boards


def hold(seconds: float) -> None:
    """Work that holds the loop for `seconds`, as a slice of lines does."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


async def test_a_pause_lasts_the_wait_times_the_slice_before_it() -> None:
    listener = boards._Listener()
    pace = boards._Pace(listener)
    others: list[float] = []

    async def webhook() -> None:
        others.append(time.perf_counter())

    hold(0.02)  # a slice's work
    began = time.perf_counter()
    task = asyncio.create_task(webhook())
    await pace.pause()
    paused = time.perf_counter() - began
    await task
    assert others  # other work ran during the pause
    assert others[0] < began + paused
    assert paused >= boards.CHANGES_WAIT * 0.02 * 0.95
    assert listener.waited == pytest.approx(paused, abs=0.005)

    # the next pause follows the next slice's cost, not the first's
    hold(0.005)
    began = time.perf_counter()
    await pace.pause()
    assert boards.CHANGES_WAIT * 0.005 * 0.95 <= time.perf_counter() - began < 0.06
