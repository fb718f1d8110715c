"""The scheduler port: wake our code at given instants, by job id only (DESIGN 8).

A scheduler decides nothing. It calls one handler, `handler(job_id, kind, scheduled_for)`, when a
job falls due; the handler (our code) reads the database and the injected clock and decides what
is due and what to do. Jobs hold ids, never data: they live in memory and are rebuilt from the
database by our code each time the scheduler starts (after a restart or a change of leader).

Misfires. Each job kind has a grace, given at construction (`DEFAULT_MISFIRE_GRACE`): a job that
fires late, for example one that fell due while the service was down and is rebuilt on start,
still runs, once, if it is late by no more than its kind's grace; beyond the grace it is skipped
(and logged). Nothing is silently lost by that: what is due is decided from the database, not from
the scheduler's memory, so the next `tick` catches up whatever a skipped job would have done
(and a reminder for a meeting that began long ago is better not sent at all).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Protocol

DEFAULT_MISFIRE_GRACE: Mapping[str, timedelta] = MappingProxyType(
    {
        # the periodic catch-up of everything due: the next tick comes soon anyway
        "tick": timedelta(seconds=60),
        # going live and ending: still worth doing after a short outage the same day
        "lifecycle": timedelta(hours=6),
        # a reminder an hour late is still useful; later, the meeting may have begun
        "reminder": timedelta(hours=1),
        # preparation deadlines are counted in days
        "deadline": timedelta(hours=24),
    }
)


class UnknownJobKind(ValueError):
    """A job of a kind without a misfire grace: every kind's grace must be chosen deliberately."""

    def __init__(self, kind: str, known: tuple[str, ...]) -> None:
        super().__init__(f"job kind {kind!r} has no misfire grace (known: {', '.join(known)})")
        self.kind = kind
        self.known = known


@dataclass(frozen=True)
class ScheduledJob:
    """A job as the scheduler holds it."""

    id: str
    kind: str
    next_run: datetime | None  # aware, UTC; None when it will not run again


class JobHandler(Protocol):
    """The one callback every job runs."""

    def __call__(self, job_id: str, kind: str, scheduled_for: datetime, /) -> Awaitable[None]:
        """Handle job `job_id` of `kind`, due at `scheduled_for` (aware, UTC; the instant the job
        was planned for, which may be earlier than now). Exceptions are logged by the scheduler,
        which goes on with the other jobs."""
        ...


class JobScheduler(Protocol):
    """Calls the handler given at construction when jobs fall due. Jobs are in memory only.

    Methods other than `start` and `stop` may be called before `start`: the jobs are then held
    and planned when the scheduler starts. Scheduling an unknown kind raises `UnknownJobKind`.
    """

    async def start(self) -> None:
        """Begin firing jobs (on the running event loop). Jobs due in the past fire at once if
        within their kind's grace. Starting a running scheduler does nothing."""
        ...

    async def stop(self) -> None:
        """Stop firing and forget every job (the next `start` begins empty: rebuild from the
        database). Handlers already running are awaited for a bounded time, then cancelled.
        Stopping a stopped scheduler does nothing."""
        ...

    def schedule_at(self, job_id: str, when: datetime, kind: str) -> None:
        """Fire `job_id` once at `when` (aware; ValueError if naive), replacing any job with the
        same id (its old time is forgotten)."""
        ...

    def schedule_every(self, job_id: str, seconds: float, kind: str) -> None:
        """Fire `job_id` every `seconds` (> 0, else ValueError), the first time `seconds` from
        now, replacing any job with the same id. Runs never overlap and runs missed in a row are
        coalesced into one."""
        ...

    def cancel(self, job_id: str) -> bool:
        """Drop `job_id`; False if there was no such job."""
        ...

    def jobs(self) -> list[ScheduledJob]:
        """Every job held, soonest first."""
        ...
