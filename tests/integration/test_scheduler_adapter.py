"""The APScheduler adapter of the scheduler port, with short real delays (DESIGN 8): what is due is
our code's business and is tested with a moved clock elsewhere; here only that the adapter wakes
the handler at the right time, once, with the right arguments."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from orchestrator.scheduler.apscheduler_adapter import ApschedulerJobScheduler
from orchestrator.scheduler.port import JobScheduler, ScheduledJob, UnknownJobKind

# Whole seconds: APScheduler's misfire_grace_time is an int.
GRACE = {"reminder": timedelta(seconds=2), "tick": timedelta(seconds=1)}
EARLY = 0.02  # a timer may fire this much before its instant (clock granularity)
LATE = 0.3  # and this much after it on a loaded machine


@dataclass
class Call:
    job_id: str
    kind: str
    scheduled_for: datetime
    at: float  # time.monotonic() when the handler ran


@dataclass
class Recorder:
    """The handler: records each call; raises for ids in `failing`."""

    calls: list[Call] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    busy: float = 0.0  # seconds each call takes
    running: int = 0
    most_at_once: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, job_id: str, kind: str, scheduled_for: datetime) -> None:
        self.calls.append(Call(job_id, kind, scheduled_for, time.monotonic()))
        self.changed.set()
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.busy:
                await asyncio.sleep(self.busy)
            if job_id in self.failing:
                raise RuntimeError(f"handler failed for {job_id}")
        finally:
            self.running -= 1

    def of(self, job_id: str) -> list[Call]:
        return [c for c in self.calls if c.job_id == job_id]

    async def wait_for(self, job_id: str, count: int = 1, within: float = 2.0) -> None:
        async with asyncio.timeout(within):
            while len(self.of(job_id)) < count:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def scheduler(recorder: Recorder) -> AsyncIterator[ApschedulerJobScheduler]:
    s = ApschedulerJobScheduler(recorder, GRACE, stop_timeout=0.5)
    try:
        yield s
    finally:
        await s.stop()


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_the_adapter_is_a_job_scheduler(scheduler: ApschedulerJobScheduler) -> None:
    port: JobScheduler = scheduler  # mypy checks the structural match
    assert port.jobs() == []


async def test_a_date_job_fires_once_at_its_time(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    await scheduler.start()
    t0 = time.monotonic()
    when = soon(0.4)
    scheduler.schedule_at("session-1:live", when, "reminder")
    await recorder.wait_for("session-1:live")
    [call] = recorder.calls
    assert (call.job_id, call.kind, call.scheduled_for) == ("session-1:live", "reminder", when)
    assert call.scheduled_for.tzinfo is UTC
    assert 0.4 - EARLY <= call.at - t0 <= 0.4 + LATE
    await asyncio.sleep(0.3)
    assert len(recorder.calls) == 1  # one-shot
    assert scheduler.jobs() == []


async def test_an_aware_time_in_another_zone_is_the_same_instant(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    hanoi = timezone(timedelta(hours=7))
    when = soon(0.2).astimezone(hanoi)
    await scheduler.start()
    scheduler.schedule_at("j", when, "reminder")
    await recorder.wait_for("j")
    assert recorder.calls[0].scheduled_for == when
    assert recorder.calls[0].scheduled_for.utcoffset() == timedelta(0)


async def test_scheduling_the_same_id_replaces_the_job(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    first, second = soon(0.3), soon(0.7)
    scheduler.schedule_at("r", first, "reminder")  # before start: held, then planned
    scheduler.schedule_at("r", second, "reminder")
    assert scheduler.jobs() == [ScheduledJob("r", "reminder", second)]
    await scheduler.start()
    third = soon(0.5)
    scheduler.schedule_at("r", third, "reminder")  # while running
    assert scheduler.jobs() == [ScheduledJob("r", "reminder", third)]
    await recorder.wait_for("r")
    await asyncio.sleep(0.4)  # past `second`: the replaced time never fires
    assert [c.scheduled_for for c in recorder.calls] == [third]


async def test_a_cancelled_job_does_not_fire(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    await scheduler.start()
    scheduler.schedule_at("gone", soon(0.2), "reminder")
    scheduler.schedule_at("kept", soon(0.4), "reminder")
    scheduler.schedule_every("every", 0.1, "tick")
    assert scheduler.cancel("gone") is True
    assert scheduler.cancel("every") is True
    assert scheduler.cancel("never-was") is False
    await recorder.wait_for("kept")
    assert [c.job_id for c in recorder.calls] == ["kept"]


async def test_an_interval_job_runs_again_and_again(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    await scheduler.start()
    t0 = time.monotonic()
    scheduler.schedule_every("tick", 0.1, "tick")
    await recorder.wait_for("tick", count=5)
    calls = recorder.of("tick")
    assert calls[0].at - t0 >= 0.1 - EARLY  # the first run is one interval away
    gaps = [
        (b.scheduled_for - a.scheduled_for).total_seconds() for a, b in itertools.pairwise(calls)
    ]
    assert all(abs(g - 0.1) < 1e-3 for g in gaps), gaps  # consecutive planned instants
    assert {c.kind for c in calls} == {"tick"}


async def test_runs_of_one_job_never_overlap(
    scheduler: ApschedulerJobScheduler, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.busy = 0.35  # longer than the interval
    await scheduler.start()
    scheduler.schedule_every("slow", 0.1, "tick")
    await recorder.wait_for("slow", count=2, within=2.5)
    assert recorder.most_at_once == 1
    assert "maximum number of running instances reached" in caplog.text


async def test_a_job_missed_while_down_runs_once_on_start_within_its_grace(
    scheduler: ApschedulerJobScheduler, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # Rebuilt from the database on start: one fell due half a second ago (grace 2 s), one
    # half a minute ago.
    recent, stale = soon(-0.5), soon(-30)
    scheduler.schedule_at("recent", recent, "reminder")
    scheduler.schedule_at("stale", stale, "reminder")
    await scheduler.start()
    await recorder.wait_for("recent")
    await asyncio.sleep(0.3)
    assert [(c.job_id, c.scheduled_for) for c in recorder.calls] == [("recent", recent)]
    assert "job stale missed its run" in caplog.text
    assert scheduler.jobs() == []


async def test_a_past_time_given_while_running_follows_the_same_rule(
    scheduler: ApschedulerJobScheduler, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    await scheduler.start()
    scheduler.schedule_at("stale", soon(-10), "reminder")
    scheduler.schedule_at("recent", soon(-1), "reminder")
    await recorder.wait_for("recent")
    await asyncio.sleep(0.2)
    assert [c.job_id for c in recorder.calls] == ["recent"]
    assert "job stale missed its run" in caplog.text


async def test_handler_errors_are_logged_and_later_jobs_still_run(
    scheduler: ApschedulerJobScheduler, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.failing = {"bad", "bad-tick"}
    await scheduler.start()
    scheduler.schedule_at("bad", soon(0.1), "reminder")
    scheduler.schedule_every("bad-tick", 0.1, "tick")
    scheduler.schedule_at("good", soon(0.4), "reminder")
    await recorder.wait_for("good")
    await recorder.wait_for("bad-tick", count=3)
    assert len(recorder.of("bad")) == 1
    assert "job bad (reminder) due at" in caplog.text
    assert "RuntimeError: handler failed for bad" in caplog.text
    assert scheduler.running


async def test_jobs_lists_each_job_with_its_next_run(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    late, early = soon(60), soon(30)
    scheduler.schedule_at("late", late, "reminder")
    scheduler.schedule_at("early", early, "reminder")
    before = scheduler.jobs()
    assert [(j.id, j.kind, j.next_run) for j in before] == [
        ("early", "reminder", early),
        ("late", "reminder", late),
    ]
    await scheduler.start()
    t = datetime.now(UTC)
    scheduler.schedule_every("tick", 10, "tick")
    after = scheduler.jobs()
    assert [j.id for j in after] == ["tick", "early", "late"]
    tick = after[0].next_run
    assert tick is not None
    assert tick.tzinfo is not None
    assert tick.utcoffset() == timedelta(0)
    assert timedelta(seconds=9) < tick - t <= timedelta(seconds=10.5)
    assert recorder.calls == []


async def test_stop_forgets_the_jobs_and_a_restart_begins_empty(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    await scheduler.start()
    await scheduler.start()  # idempotent
    scheduler.schedule_at("before-stop", soon(0.2), "reminder")
    await scheduler.stop()
    assert not scheduler.running
    assert scheduler.jobs() == []
    await scheduler.stop()  # idempotent
    await asyncio.sleep(0.3)
    assert recorder.calls == []
    await scheduler.start()  # a new leader's start: our code rebuilds from the database
    scheduler.schedule_at("after-restart", soon(0.1), "reminder")
    await recorder.wait_for("after-restart")
    assert [c.job_id for c in recorder.calls] == ["after-restart"]


async def test_stop_before_start_forgets_the_held_jobs(
    scheduler: ApschedulerJobScheduler, recorder: Recorder
) -> None:
    scheduler.schedule_at("held", soon(0.1), "reminder")
    await scheduler.stop()
    assert scheduler.jobs() == []
    await scheduler.start()
    await asyncio.sleep(0.3)
    assert recorder.calls == []


async def test_a_handler_may_stop_the_scheduler() -> None:
    stopped = asyncio.Event()

    async def stop_from_inside(job_id: str, kind: str, scheduled_for: datetime) -> None:
        await s.stop()
        stopped.set()

    s = ApschedulerJobScheduler(stop_from_inside, GRACE, stop_timeout=5)
    await s.start()
    s.schedule_at("last", soon(0), "reminder")
    async with asyncio.timeout(1):
        await stopped.wait()
    assert not s.running


async def test_stop_waits_for_a_running_handler(recorder: Recorder) -> None:
    recorder.busy = 0.2
    s = ApschedulerJobScheduler(recorder, GRACE, stop_timeout=2)
    await s.start()
    s.schedule_at("j", soon(0), "reminder")
    await recorder.wait_for("j")
    await s.stop()
    assert recorder.running == 0  # finished, not cancelled


async def test_stop_cancels_a_handler_that_outlives_the_timeout(recorder: Recorder) -> None:
    recorder.busy = 30
    s = ApschedulerJobScheduler(recorder, GRACE, stop_timeout=0.2)
    await s.start()
    s.schedule_at("stuck", soon(0), "reminder")
    await recorder.wait_for("stuck")
    t0 = time.monotonic()
    await s.stop()
    assert time.monotonic() - t0 < 1
    assert recorder.running == 0


def test_every_kind_needs_a_deliberate_grace(scheduler: ApschedulerJobScheduler) -> None:
    with pytest.raises(UnknownJobKind, match="'lifecycle' has no misfire grace"):
        scheduler.schedule_at("x", soon(1), "lifecycle")
    with pytest.raises(ValueError, match="aware"):
        scheduler.schedule_at("x", datetime(2026, 1, 1), "reminder")
    with pytest.raises(ValueError, match="positive"):
        scheduler.schedule_every("x", 0, "tick")
    with pytest.raises(ValueError, match="whole number of seconds"):
        ApschedulerJobScheduler(Recorder(), {"tick": timedelta(milliseconds=500)})
    assert scheduler.jobs() == []
