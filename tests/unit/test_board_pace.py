"""The pauses between a `changes` event's slices (`_Pace`): each lets other work run for
`CHANGES_WAIT` times what the slice before it cost, counted as the listener's wait, so that a
large event never takes more than a tenth of the loop while it is made. Time is a fake."""

from __future__ import annotations

import pytest

from orchestrator.attendance import boards


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_each_pause_lasts_the_wait_times_the_slice_before_it() -> None:
    time = FakeTime()
    listener = boards._Listener()
    pace = boards._Pace(listener, time=time, sleep=time.sleep)
    time.now += 0.002  # the first slice's work
    await pace.pause()
    time.now += 0.0005  # the second's, cheaper
    await pace.pause()
    await pace.pause()  # a slice that cost nothing: no pause
    wait = boards.CHANGES_WAIT
    assert time.slept == pytest.approx([wait * 0.002, wait * 0.0005, 0.0])
    assert listener.waited == pytest.approx(wait * 0.0025)
