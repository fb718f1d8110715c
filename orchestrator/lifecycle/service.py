"""What is due when, decided from the database and the injected clock (DESIGN 8).

A session goes live at its start and ends at its end (its attendance record is then frozen and
mailed to the chair); reminders go out before it through the outbox. Each action has a key that
names it exactly (a reminder of one session at one start time), recorded when done, so a tick
repeated, a restart or a second instance never does it twice; a moved session gets new keys
and so new reminders, a cancelled one none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import InvalidState
from orchestrator.domain.models import Session, SessionKind, SessionStatus
from orchestrator.domain.outbox import OutboxKind
from orchestrator.domain.ports import RecordFreezer
from orchestrator.domain.preparation import (
    TaskDue,
    TaskRule,
    reminder_schedule,
    rules_for,
    tasks_for,
)
from orchestrator.store.base import SessionQuery, Store

log = logging.getLogger(__name__)

DEFAULT_REMINDERS: dict[SessionKind, tuple[int, ...]] = {
    # minutes before the start: a day, an hour, and the connection test
    SessionKind.NATIONAL: (24 * 60, 60, 30),
    SessionKind.REGIONAL: (24 * 60, 60, 30),
}
LOOK_BACK = timedelta(days=1)  # ended sessions caught up after downtime
TASK_LOOK_BACK = timedelta(days=40)  # results are due 15 days after; a missed one a day later
TASK_LOOK_AHEAD = timedelta(days=40)  # plans are due 15 days before; the first reminder 7 before
NEXT_WITHIN = timedelta(days=2)  # how far `next_at` looks (the tick catches up on anything later)


def _next_after(now: datetime, pending: Sequence[Due]) -> datetime | None:
    # what is overdue is the tick's to retry; a wake-up in the past would spin
    return min((d.at for d in pending if d.at > now), default=None)


@dataclass(frozen=True)
class Due:
    """One action of the lifecycle and the instant it is due."""

    at: datetime
    kind: str  # live, end, reminder
    session_id: str
    key: str
    why: str
    minutes_before: int | None = None
    task: TaskDue | None = None


def actions_of(session: Session, reminders: Sequence[int]) -> list[Due]:
    """Every lifecycle action of `session`, done or not, earliest first."""
    if session.status is SessionStatus.CANCELLED:
        return []
    start, end = session.start.isoformat(), session.end.isoformat()
    out = [
        Due(
            session.start,
            "live",
            session.id,
            f"live:{session.id}:{start}",
            f"'{session.title}' starts",
        ),
        Due(
            session.end,
            "end",
            session.id,
            f"end:{session.id}:{end}",
            f"'{session.title}' ends: freeze and send the attendance record",
        ),
    ]
    for minutes in reminders:
        out.append(
            Due(
                session.start - timedelta(minutes=minutes),
                "reminder",
                session.id,
                f"reminder:{session.id}:{minutes}:{start}",
                f"reminder {minutes} min before '{session.title}'",
                minutes,
            )
        )
    return sorted(out, key=lambda d: (d.at, d.key))


class Lifecycle:
    """Runs what is due: transitions and reminders; `records` freezes each session's attendance
    record when it ends."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        records: RecordFreezer,
        reminders: Mapping[SessionKind, Sequence[int]] | None = None,
        task_rules: Mapping[SessionKind, Sequence[TaskRule]] | None = None,
    ) -> None:
        self._task_rules = dict(task_rules or {})
        self._store = store
        self._clock = clock
        self._records = records
        self._reminders = dict(reminders or DEFAULT_REMINDERS)
        self._horizon = timedelta(
            minutes=max([0, *(m for r in self._reminders.values() for m in r)])
        )

    async def _candidates(self, now: datetime, ahead: timedelta) -> list[Session]:
        # without their sites: a round reads a live national session's 10,000 only if a task
        # needs them (`_task_reminders`)
        async with self._store.read() as uow:
            sessions = await uow.sessions.find(
                SessionQuery(
                    start_from=now - LOOK_BACK, start_to=now + ahead, sites=False, limit=10_000
                )
            )
        return [s for s in sessions if s.status is not SessionStatus.CANCELLED]

    async def pending(self, *, ahead: timedelta = timedelta(days=2)) -> list[Due]:
        """Actions not done yet, due now or within `ahead` (what `jobs list` shows)."""
        now = self._clock.now()
        sessions = await self._candidates(now, ahead + self._horizon)
        async with self._store.read() as uow:
            done = await uow.actions.done_keys([s.id for s in sessions])
        out = [
            d
            for s in sessions
            for d in actions_of(s, self._reminders.get(s.kind, ()))
            if d.key not in done and d.at <= now + ahead and self._still_useful(d, s, now)
        ]
        out.extend(await self._task_reminders(now, ahead))
        return sorted(out, key=lambda d: (d.at, d.key))

    async def _task_reminders(self, now: datetime, ahead: timedelta) -> list[Due]:
        """Reminders of preparation tasks not submitted: before each due date, once when missed."""
        kinds = tuple(k for k in SessionKind if rules_for(k, self._task_rules))
        if not kinds:
            return []
        async with self._store.read() as uow:
            sessions = [
                s
                for s in await uow.sessions.find(
                    SessionQuery(
                        start_from=now - TASK_LOOK_BACK,
                        start_to=now + TASK_LOOK_AHEAD,
                        kinds=kinds,  # national sessions owe no task by default
                        limit=10_000,
                    )
                )
                if s.status is not SessionStatus.CANCELLED
            ]
            if not sessions:
                return []
            sites = await uow.directory.get_sites([i for s in sessions for i in s.site_ids])
            regions = {r.id: r for r in await uow.directory.list_regions()}
            done = await uow.actions.done_keys([s.id for s in sessions])
            submitted = {s.id: await uow.preparation.get_submissions(s.id) for s in sessions}
        out: list[Due] = []
        for session in sessions:
            region = regions.get(session.region or "")
            head = region.head_site if region and region.head_site in session.site_ids else None
            for task in tasks_for(session, sites, head, rules_for(session.kind, self._task_rules)):
                if task.id in submitted[session.id]:
                    continue
                schedule = reminder_schedule(task)
                for reminder in schedule:
                    key = f"task:{session.id}:{reminder.id}:{task.due.isoformat()}"
                    later_due = any(r.at <= now and r.at > reminder.at for r in schedule)
                    if key in done or reminder.at > now + ahead or later_due:
                        continue  # done, not yet, or overtaken by a later one (no bursts)
                    out.append(
                        Due(
                            reminder.at,
                            "task-reminder",
                            session.id,
                            key,
                            f"{task.title_en} ({task.site_id}) "
                            + (
                                "missed"
                                if reminder.days_before is None
                                else f"due in {reminder.days_before} day(s)"
                            ),
                            task=task,
                        )
                    )
        return out

    def _still_useful(self, due: Due, session: Session, now: datetime) -> bool:
        # A reminder for a meeting that already began helps nobody: it is dropped, not sent.
        return not (due.kind == "reminder" and now >= session.start)

    async def next_at(self) -> datetime | None:
        """When the next action falls due (for the scheduler's next wake-up)."""
        now = self._clock.now()
        return _next_after(now, await self.pending(ahead=NEXT_WITHIN))

    async def tick(self) -> list[Due]:
        """Do every action due now that is not done; the ones done."""
        return await self._do_due(self._clock.now(), await self.pending(ahead=timedelta(0)))

    async def round(self) -> tuple[list[Due], datetime | None]:
        """`tick`, then `next_at`, from one look at what is pending: a live national session's
        10,000 sites are read once a round, not twice (the actions `tick` does are due by now,
        so they never were the next one)."""
        now = self._clock.now()
        pending = await self.pending(ahead=NEXT_WITHIN)
        return await self._do_due(now, pending), _next_after(now, pending)

    async def _do_due(self, now: datetime, pending: Sequence[Due]) -> list[Due]:
        done: list[Due] = []
        for due in pending:
            if due.at > now:
                continue
            try:
                if await self._do(due, now):
                    done.append(due)
            except Exception:  # one failing action must not hold back the others
                log.exception("lifecycle action %s failed; it is tried again next tick", due.key)
        return done

    async def _do(self, due: Due, now: datetime) -> bool:
        if due.kind == "end":
            try:
                await self._records.freeze(due.session_id)
            except InvalidState:
                return False
        async with self._store.write() as uow:
            if not await uow.actions.mark_done(due.key, due.session_id, due.kind, now):
                return False  # another instance or an earlier tick did it
            # its own fields only: a national session's 10,000 sites stayed in a fresh server's
            # memory (5 MB) for a change of status
            session = await uow.sessions.get(due.session_id, sites=False)
            if session is None or session.status is SessionStatus.CANCELLED:
                return False
            if due.kind == "live" and session.status is SessionStatus.SCHEDULED:
                await uow.sessions.set_status(session.id, SessionStatus.LIVE, now)
            elif due.kind == "end":
                await uow.sessions.set_status(session.id, SessionStatus.ENDED, now)
            elif due.kind == "task-reminder":
                assert due.task is not None
                await uow.outbox.add(
                    OutboxKind.TASK_REMINDER,
                    session.id,
                    session.version,
                    {"key": due.key, "why": due.why, "task": due.task.model_dump(mode="json")},
                    now,
                )
            elif due.kind == "reminder":
                await uow.outbox.add(
                    OutboxKind.REMINDER,
                    session.id,
                    session.version,
                    {"minutes_before": due.minutes_before, "key": due.key},
                    now,
                )
            await uow.audit.record(
                at=now,
                actor="scheduler",
                action=f"session.{due.kind}",
                target=f"session:{session.id}",
                detail={"why": due.why},
            )
        log.info("done: %s", due.why)
        return True
