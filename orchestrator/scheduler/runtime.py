"""The scheduler as `serve` runs it: elected leader only, waking the lifecycle on time.

The leader keeps two kinds of jobs, both ids only: a `tick` every `tick_seconds` that does
whatever is due (and so catches up after any outage), and one `lifecycle` job at the next
instant something falls due, rescheduled after every run. Losing the leadership stops them;
the new leader rebuilds them from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from orchestrator.lifecycle.service import Lifecycle
from orchestrator.scheduler.leader import Leadership
from orchestrator.scheduler.port import JobHandler, JobScheduler

log = logging.getLogger(__name__)

TICK = "tick"
NEXT = "next-due"


class SchedulerRuntime:
    """Leadership, the job scheduler and the lifecycle, wired for one service instance."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        make_scheduler: Callable[[JobHandler], JobScheduler],
        leadership: Leadership,
        *,
        tick_seconds: float = 30.0,
    ) -> None:
        self._lifecycle = lifecycle
        self._scheduler = make_scheduler(self.handle)
        self._leadership = leadership
        self._tick = tick_seconds
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        return self._leadership.is_leader

    async def handle(self, job_id: str, kind: str, scheduled_for: datetime) -> None:
        """What every job does: the due actions, then the next wake-up."""
        await self._run(job_id)

    async def _run(self, why: str) -> None:
        done, when = await self._lifecycle.round()
        if done:
            log.info("scheduler (%s): %d action(s) done", why, len(done))
        if when is None:
            self._scheduler.cancel(NEXT)
        else:
            self._scheduler.schedule_at(NEXT, when, "lifecycle")

    async def _elected(self) -> None:
        log.info("this instance now runs the scheduler")
        await self._scheduler.start()
        self._scheduler.schedule_every(TICK, self._tick, "tick")
        try:
            await self._run("elected")
        except Exception:  # the periodic tick catches up; leadership must not end over it
            log.exception("the first round after the election failed")

    async def _lost(self) -> None:
        log.warning("this instance no longer runs the scheduler")
        await self._scheduler.stop()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._leadership.run(self._elected, self._lost))

    async def stop(self) -> None:
        # Jobs stop before the lock is released, so two instances never run them at once.
        with contextlib.suppress(Exception):
            await self._scheduler.stop()
        await self._leadership.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=10)
