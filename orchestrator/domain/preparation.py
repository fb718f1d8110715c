"""Preparation tasks as pure rules: who owes which document around a session, when it is due,
what state it is in and when to remind (DESIGN 2; seed 002's regional-meeting rules).

No I/O and no clock reads: every function takes the instants it needs.

How a due date is computed, step by step:

1. **The anchor date** is the session's date in the session's own zone (`Session.timezone`, the
   zone its date is announced in), so every site owes on the same calendar date: the local date of
   `start` for `before_start`, the local date of the last instant of the meeting for `after_end`
   (a meeting ending exactly at 00:00 ended the day before).
2. **Counting** `days` from the anchor date: `calendar` days by default ("15 days before the
   meeting on 3 January" is 19 December; "within 15 days after the meeting ending 25 November" is
   10 December); `working` counts only working days of the `WorkCalendar`.
3. **Rolling**: a date that is not a working day (a weekend, or a Vietnamese public holiday from
   `holiday_name`, lunar ones included) moves by the rule's `roll`. Unless a rule says otherwise,
   `before_start` deadlines roll to the *previous* working day (a plan due on a Tết day is due on
   the last working day before Tết, so it still reaches the ministry in time and nobody works on
   Tết) and `after_end` deadlines roll to the *next* working day (the holiday does not shorten the
   period given). The rolled date is never later than the counted one for `before_start`, never
   earlier for `after_end`, and always a working day.
4. **The due instant** is the end of that date (23:59:59.999999) on the wall clock of the zone of
   whoever owes the document (the site's zone; the region head's site's zone), stored in UTC. The
   due instant itself is still on time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, model_validator

from orchestrator.domain.models import (
    Frozen,
    Instant,
    Session,
    SessionKind,
    SessionStatus,
    Site,
    Slug,
    ZoneName,
)
from orchestrator.domain.policy import holiday_name

KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Bounds the walk in `nominal_date` and `roll_date`; no real rule looks further than a year.
MAX_DAYS = 366
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def _kind(value: str) -> str:
    if not KIND_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid task kind: use 1-64 lowercase ASCII letters, digits and "
            "'_', starting with a letter (e.g. topic_report)"
        )
    return value


TaskKind = Annotated[str, AfterValidator(_kind)]


class Who(enum.StrEnum):
    """Who owes the document."""

    EACH_SITE = "each_site"  # every participating site, the head's and the host's included
    REGION_HEAD = "region_head"  # the region head's site only


class Anchor(enum.StrEnum):
    BEFORE_START = "before_start"
    AFTER_END = "after_end"


class Counting(enum.StrEnum):
    CALENDAR = "calendar"
    WORKING = "working"


class Roll(enum.StrEnum):
    """Where a due date that falls on a non-working day goes."""

    NONE = "none"
    PREVIOUS_WORKING_DAY = "previous_working_day"
    NEXT_WORKING_DAY = "next_working_day"


DEFAULT_ROLL: Mapping[Anchor, Roll] = MappingProxyType(
    {Anchor.BEFORE_START: Roll.PREVIOUS_WORKING_DAY, Anchor.AFTER_END: Roll.NEXT_WORKING_DAY}
)


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    SUBMITTED = "submitted"
    LATE = "late"  # submitted after the due instant


class ReminderKind(enum.StrEnum):
    BEFORE = "before"
    MISSED = "missed"


class WorkCalendar(Frozen):
    """Which days count as working days for rolling and for `working` counting."""

    working_days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4), min_length=1)  # Monday = 0
    # None: no public holidays, only the weekly rest days.
    holiday_country: str | None = "VN"

    @model_validator(mode="after")
    def _weekdays(self) -> WorkCalendar:
        if any(not 0 <= d <= 6 for d in self.working_days):
            raise ValueError("working days are weekday numbers 0 (Monday) to 6 (Sunday)")
        return self

    def is_working_day(self, day: date) -> bool:
        if day.weekday() not in self.working_days:
            return False
        return self.holiday_country is None or holiday_name(self.holiday_country, day) is None


VN_CALENDAR = WorkCalendar()


class TaskRule(Frozen):
    """One document owed around a session, and how its due date is computed (module docstring).

    Leaving `roll` out (or None) picks `DEFAULT_ROLL[anchor]`, written into the rule, so a stored
    or dumped rule always says which way it rolls.
    """

    kind: TaskKind
    who: Who
    anchor: Anchor
    days: int = Field(ge=0, le=MAX_DAYS)
    title_vi: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    counting: Counting = Counting.CALENDAR
    # Never left at this value when `anchor` is valid: `_default_roll` fills it from the anchor.
    roll: Roll = Roll.NONE

    @model_validator(mode="before")
    @classmethod
    def _default_roll(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("roll") is None:
            raw: Any = data.get("anchor")
            try:
                anchor = Anchor(raw)
            except ValueError:
                return data  # the field validator reports the bad anchor
            return {**data, "roll": DEFAULT_ROLL[anchor]}
        return data


def check_rule_set(rules: Iterable[TaskRule]) -> tuple[TaskRule, ...]:
    """`rules` as a tuple, or ValueError if two share a kind (task ids must not collide)."""
    out = tuple(rules)
    kinds = [r.kind for r in out]
    repeated = sorted({k for k in kinds if kinds.count(k) > 1})
    if repeated:
        raise ValueError(f"each task kind may appear once in a rule set: {', '.join(repeated)}")
    return out


# Seed 002: every department prepares (at least) one topic report; the region head sends the
# ministry the meeting plan and the region's joint report 15 days before the meeting, and the
# results with the departments' recommendations within 15 days after it. The topic reports feed
# the joint report, so they are due by the same date.
DEFAULT_REGIONAL_RULES: tuple[TaskRule, ...] = (
    TaskRule(
        kind="topic_report",
        who=Who.EACH_SITE,
        anchor=Anchor.BEFORE_START,
        days=15,
        title_vi="Báo cáo chuyên đề",
        title_en="Topic report",
    ),
    TaskRule(
        kind="meeting_plan",
        who=Who.REGION_HEAD,
        anchor=Anchor.BEFORE_START,
        days=15,
        title_vi="Kế hoạch giao ban",
        title_en="Meeting plan",
    ),
    TaskRule(
        kind="joint_report",
        who=Who.REGION_HEAD,
        anchor=Anchor.BEFORE_START,
        days=15,
        title_vi="Báo cáo chung của vùng",
        title_en="Region's joint report",
    ),
    TaskRule(
        kind="results_report",
        who=Who.REGION_HEAD,
        anchor=Anchor.AFTER_END,
        days=15,
        title_vi="Báo cáo kết quả hội nghị và kiến nghị",
        title_en="Results report with recommendations",
    ),
)

DEFAULT_RULES: Mapping[SessionKind, tuple[TaskRule, ...]] = MappingProxyType(
    {SessionKind.REGIONAL: DEFAULT_REGIONAL_RULES, SessionKind.NATIONAL: ()}
)


def rules_for(
    kind: SessionKind, configured: Mapping[SessionKind, Sequence[TaskRule]] | None = None
) -> tuple[TaskRule, ...]:
    """The office's rules for `kind` if it configured any (an empty list means none), else the
    defaults."""
    if configured is not None and kind in configured:
        return check_rule_set(configured[kind])
    return DEFAULT_RULES[kind]


class TaskDue(Frozen):
    """One document one site owes for one session.

    `id` is `<kind>:<site_id>`: unique within its session and the same every time the tasks are
    computed, so submissions and sent reminders can be keyed by (`session_id`, `id`).
    """

    id: str
    session_id: str
    kind: TaskKind
    who: Who
    anchor: Anchor
    site_id: Slug
    title_vi: str
    title_en: str
    due: Instant
    due_date: date  # the local date, in `zone`, whose end is `due`
    zone: ZoneName
    rolled_from: date | None = None  # the counted date, when rolling moved it

    def title(self, language: str) -> str:
        return self.title_vi if language == "vi" else self.title_en


class Reminder(Frozen):
    """One reminder about one task; `id` is stable so a reminder is never sent twice."""

    id: str
    session_id: str
    task_id: str
    kind: ReminderKind
    days_before: int | None  # None for the missed-deadline reminder
    at: Instant


def task_id(kind: str, site_id: str) -> str:
    return f"{kind}:{site_id}"


def end_of_local_day(day: date, zone: str) -> datetime:
    """The last microsecond of `day` on the wall clocks of `zone`, in UTC.

    `fold=1` takes the later of two 23:59:59.999999 where clocks go back at midnight
    (America/Santiago), so the day's last hour is not cut off.
    """
    local = datetime.combine(day, time.max, tzinfo=ZoneInfo(zone)).replace(fold=1)
    return local.astimezone(UTC)


def _local_instant(day: date, at: time, zone: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def anchor_date(anchor: Anchor, session: Session) -> date:
    """The session's start date or the date of its last instant, in the session's zone."""
    zone = ZoneInfo(session.timezone)
    if anchor is Anchor.BEFORE_START:
        return session.start.astimezone(zone).date()
    return (session.end - _TICK).astimezone(zone).date()


def nominal_date(rule: TaskRule, session: Session, calendar: WorkCalendar = VN_CALENDAR) -> date:
    """The due date counted by `rule` from the session, before rolling."""
    day = anchor_date(rule.anchor, session)
    step = -_ONE_DAY if rule.anchor is Anchor.BEFORE_START else _ONE_DAY
    if rule.counting is Counting.CALENDAR:
        return day + rule.days * step
    left = rule.days
    while left:
        day += step
        if calendar.is_working_day(day):
            left -= 1
    return day


def roll_date(day: date, roll: Roll, calendar: WorkCalendar = VN_CALENDAR) -> date:
    """`day` itself if it is a working day or `roll` is none, else the nearest working day in the
    direction `roll` names."""
    if roll is Roll.NONE:
        return day
    step = -_ONE_DAY if roll is Roll.PREVIOUS_WORKING_DAY else _ONE_DAY
    for _ in range(MAX_DAYS):
        if calendar.is_working_day(day):
            return day
        day += step
    raise ValueError(f"no working day within {MAX_DAYS} days of {day:%Y-%m-%d}")


def tasks_for(
    session: Session,
    sites: Mapping[str, Site],
    head_site: str | None = None,
    rules: Sequence[TaskRule] | None = None,
    *,
    calendar: WorkCalendar = VN_CALENDAR,
) -> list[TaskDue]:
    """Every task `rules` make for `session`, earliest due first (then by id).

    `rules` None means `DEFAULT_RULES[session.kind]`. `each_site` tasks go to every participating
    site; `region_head` tasks go to `head_site`, or to the session's host site when it is None.
    A site's zone comes from `sites`; a site missing there uses the session's zone. A cancelled
    session owes nothing.
    """
    if session.status is SessionStatus.CANCELLED:
        return []
    chosen = check_rule_set(DEFAULT_RULES[session.kind] if rules is None else rules)
    head = head_site or session.host_site

    def zone_of(site_id: str) -> str:
        site = sites.get(site_id)
        return site.timezone if site is not None else session.timezone

    tasks: list[TaskDue] = []
    for rule in chosen:
        counted = nominal_date(rule, session, calendar)
        day = roll_date(counted, rule.roll, calendar)
        owners = session.site_ids if rule.who is Who.EACH_SITE else (head,)
        for site_id in dict.fromkeys(owners):
            zone = zone_of(site_id)
            tasks.append(
                TaskDue(
                    id=task_id(rule.kind, site_id),
                    session_id=session.id,
                    kind=rule.kind,
                    who=rule.who,
                    anchor=rule.anchor,
                    site_id=site_id,
                    title_vi=rule.title_vi,
                    title_en=rule.title_en,
                    due=end_of_local_day(day, zone),
                    due_date=day,
                    zone=zone,
                    rolled_from=counted if day != counted else None,
                )
            )
    tasks.sort(key=lambda t: (t.due, t.id))
    return tasks


DUE_SOON = timedelta(days=3)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def status_of(
    task: TaskDue,
    submitted_at: datetime | None,
    now: datetime,
    *,
    due_soon: timedelta = DUE_SOON,
) -> TaskStatus:
    """Where `task` stands at `now`.

    Submitted at or before `due`: submitted; after it: late. Not submitted: overdue once `now` is
    past `due`, due_soon from `due - due_soon` up to and including `due`, pending before that.
    """
    _require_aware("now", now)
    if submitted_at is not None:
        _require_aware("submitted_at", submitted_at)
        return TaskStatus.LATE if submitted_at > task.due else TaskStatus.SUBMITTED
    if now > task.due:
        return TaskStatus.OVERDUE
    if now >= task.due - due_soon:
        return TaskStatus.DUE_SOON
    return TaskStatus.PENDING


DEFAULT_REMINDER_DAYS: tuple[int, ...] = (7, 1)
DEFAULT_REMINDER_TIME = time(8, 0)


def reminder_schedule(
    task: TaskDue,
    *,
    days_before: Iterable[int] = DEFAULT_REMINDER_DAYS,
    when_missed: bool = True,
    at_local: time = DEFAULT_REMINDER_TIME,
) -> list[Reminder]:
    """Every reminder `task` gets if nobody submits, in time order.

    A reminder `n` days before goes out at `at_local` on the owner's wall clock, `n` calendar days
    before the due date (0: the morning of the due date); the missed-deadline reminder at
    `at_local` the day after the due date, so nobody is paged at midnight.
    """
    leads = sorted(set(days_before), reverse=True)
    if any(n < 0 for n in leads):
        raise ValueError("reminders go out 0 or more days before the due date")
    out = [
        Reminder(
            id=f"{task.id}:before-{n}d",
            session_id=task.session_id,
            task_id=task.id,
            kind=ReminderKind.BEFORE,
            days_before=n,
            at=_local_instant(task.due_date - n * _ONE_DAY, at_local, task.zone),
        )
        for n in leads
    ]
    if when_missed:
        out.append(
            Reminder(
                id=f"{task.id}:missed",
                session_id=task.session_id,
                task_id=task.id,
                kind=ReminderKind.MISSED,
                days_before=None,
                at=_local_instant(task.due_date + _ONE_DAY, at_local, task.zone),
            )
        )
    return out


def reminders(
    task: TaskDue,
    now: datetime,
    *,
    submitted_at: datetime | None = None,
    days_before: Iterable[int] = DEFAULT_REMINDER_DAYS,
    when_missed: bool = True,
    at_local: time = DEFAULT_REMINDER_TIME,
) -> list[Reminder]:
    """The reminders still worth sending at `now`, in time order; none once submitted.

    Those not yet due, plus the latest one already due if no later one is due yet: a service that
    was down catches up with one reminder, not a burst of stale ones. The caller keeps sent ids and
    skips them, so recomputing never sends a reminder twice.
    """
    _require_aware("now", now)
    if submitted_at is not None:
        return []
    schedule = reminder_schedule(
        task, days_before=days_before, when_missed=when_missed, at_local=at_local
    )
    return [
        r
        for i, r in enumerate(schedule)
        if r.at > now or i + 1 == len(schedule) or schedule[i + 1].at > now
    ]
