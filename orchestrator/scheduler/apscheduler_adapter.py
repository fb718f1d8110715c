"""The scheduler port on APScheduler 3's `AsyncIOScheduler` (memory job store, UTC)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN  # type: ignore[import-untyped]
from apscheduler.executors.base import BaseExecutor  # type: ignore[import-untyped]
from apscheduler.jobstores.base import JobLookupError  # type: ignore[import-untyped]
from apscheduler.jobstores.memory import MemoryJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from orchestrator.scheduler.port import (
    DEFAULT_MISFIRE_GRACE,
    JobHandler,
    ScheduledJob,
    UnknownJobKind,
)

log = logging.getLogger(__name__)


class _RunTimeExecutor(BaseExecutor):  # type: ignore[misc]
    """Like APScheduler's AsyncIOExecutor (coroutine jobs as tasks on the scheduler's loop, the
    same misfire rule), except that each job is awaited with the run time it fires for, as
    `scheduled_for`: the stock executor does not pass it on."""

    def __init__(self) -> None:
        super().__init__()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._loop = asyncio.get_running_loop()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        assert self._loop is not None, "the executor has not been started"
        job_id: str = job.id
        task = self._loop.create_task(self._run(job, run_times), name=f"job {job_id}")
        self.tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and (exc := t.exception()) is not None:
                self._run_job_error(job_id, exc, exc.__traceback__)
            else:
                self._run_job_success(job_id, [])  # releases the job's max_instances slot

        task.add_done_callback(done)

    async def _run(self, job: Any, run_times: list[datetime]) -> None:
        # coalesce=True: the scheduler hands over only the latest of the missed run times
        for run_time in run_times:
            late = datetime.now(UTC) - run_time
            grace: int | None = job.misfire_grace_time
            if grace is not None and late > timedelta(seconds=grace):
                log.warning(
                    "job %s missed its run at %s by %s (grace %d s): skipped",
                    job.id,
                    run_time.isoformat(),
                    late,
                    grace,
                )
                continue
            await job.func(*job.args, **{**job.kwargs, "scheduled_for": run_time.astimezone(UTC)})


def _grace_seconds(kind: str, grace: timedelta) -> int:
    seconds = grace.total_seconds()
    # APScheduler takes whole seconds only, and 0 would mean "never late"
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(f"misfire grace of {kind!r} must be a whole number of seconds >= 1")
    return int(seconds)


class ApschedulerJobScheduler:
    """`JobScheduler` on APScheduler 3.11's AsyncIOScheduler: jobs in its memory store (the
    database is the truth; our code rebuilds them on start), `coalesce=True`, `max_instances=1`,
    `misfire_grace_time` per kind from `misfire_grace`, time zone UTC. Handler exceptions are
    logged and never stop the scheduler. `stop` waits up to `stop_timeout` seconds for running
    handlers, then cancels them."""

    def __init__(
        self,
        handler: JobHandler,
        misfire_grace: Mapping[str, timedelta] = DEFAULT_MISFIRE_GRACE,
        *,
        stop_timeout: float = 10.0,
    ) -> None:
        self._handler = handler
        self._grace = {kind: _grace_seconds(kind, g) for kind, g in misfire_grace.items()}
        self._stop_timeout = stop_timeout
        self._executor = _RunTimeExecutor()
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            jobstores={"default": MemoryJobStore()},
            executors={"default": self._executor},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._shut_down = asyncio.Event()
        self._scheduler.add_listener(lambda _: self._shut_down.set(), EVENT_SCHEDULER_SHUTDOWN)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    async def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler.running:
            self._shut_down.clear()
            # AsyncIOScheduler shuts down on a later turn of the loop (call_soon_threadsafe);
            # its memory store forgets the jobs then
            self._scheduler.shutdown(wait=False)
            await self._shut_down.wait()
        self._scheduler.remove_all_jobs()  # those held before any start
        # a handler may stop the scheduler: it does not wait for itself
        tasks = self._executor.tasks - {asyncio.current_task()}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self._stop_timeout)
        for task in pending:
            log.warning("job task %s still running at stop: cancelled", task.get_name())
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def schedule_at(self, job_id: str, when: datetime, kind: str) -> None:
        if when.tzinfo is None:
            raise ValueError(f"job {job_id!r}: `when` must be an aware datetime")
        self._add(job_id, kind, "date", {"run_date": when.astimezone(UTC)})

    def schedule_every(self, job_id: str, seconds: float, kind: str) -> None:
        if seconds <= 0:
            raise ValueError(f"job {job_id!r}: the interval must be positive")
        self._add(job_id, kind, "interval", {"seconds": seconds})

    def cancel(self, job_id: str) -> bool:
        try:
            self._scheduler.remove_job(job_id)
        except JobLookupError:
            return False
        return True

    def jobs(self) -> list[ScheduledJob]:
        now = datetime.now(UTC)
        out = []
        for job in self._scheduler.get_jobs():
            # a job added before start() has no run time yet: ask its trigger
            nxt = job.trigger.get_next_fire_time(None, now) if job.pending else job.next_run_time
            out.append(
                ScheduledJob(job.id, job.kwargs["kind"], nxt.astimezone(UTC) if nxt else None)
            )
        return sorted(out, key=lambda j: (j.next_run is None, j.next_run or now, j.id))

    def _add(self, job_id: str, kind: str, trigger: str, trigger_args: dict[str, Any]) -> None:
        if kind not in self._grace:
            raise UnknownJobKind(kind, tuple(self._grace))
        # Before start() APScheduler keeps added jobs in a list, where replace_existing does not
        # apply yet: remove first so that one id is always one job.
        self.cancel(job_id)
        self._scheduler.add_job(
            self._fire,
            trigger,
            # APScheduler checks the kwargs against `_fire`'s signature when the job is added;
            # the executor replaces this `scheduled_for` with the actual run time.
            kwargs={"job_id": job_id, "kind": kind, "scheduled_for": None},
            id=job_id,
            name=f"{kind} {job_id}",
            misfire_grace_time=self._grace[kind],
            replace_existing=True,
            **trigger_args,
        )

    async def _fire(self, *, job_id: str, kind: str, scheduled_for: datetime) -> None:
        try:
            await self._handler(job_id, kind, scheduled_for)
        except Exception:
            log.exception("job %s (%s) due at %s failed", job_id, kind, scheduled_for.isoformat())
