"""Preparation tasks as pure rules: due dates, rolling, zones, status and reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestrator.domain.models import (
    Chair,
    Session,
    SessionKind,
    SessionSite,
    SessionStatus,
    Site,
)
from orchestrator.domain.policy import holiday_name
from orchestrator.preparation import (
    DEFAULT_REGIONAL_RULES,
    VN_CALENDAR,
    Anchor,
    Counting,
    ReminderKind,
    Roll,
    TaskDue,
    TaskRule,
    TaskStatus,
    Who,
    WorkCalendar,
    end_of_local_day,
    nominal_date,
    reminder_schedule,
    reminders,
    rules_for,
    status_of,
    tasks_for,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PARIS = ZoneInfo("Europe/Paris")
REGION = ["hue", "quang-tri", "quang-binh", "ha-tinh"]
SITES = {s: Site(id=s, name=s.title(), region="bac-trung-bo") for s in REGION}
CREATED = datetime(2025, 1, 1, tzinfo=UTC)


def hanoi(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def last_instant(day: date, zone: ZoneInfo = VN) -> datetime:
    return datetime.combine(day, time.max, tzinfo=zone).astimezone(UTC)


def meeting(
    start: datetime,
    end: datetime | None = None,
    *,
    kind: SessionKind = SessionKind.REGIONAL,
    sites: list[str] | None = None,
    host: str = "hue",
    status: SessionStatus = SessionStatus.SCHEDULED,
) -> Session:
    return Session(
        id="s-giao-ban",
        title="Giao ban vùng Bắc Trung Bộ",
        kind=kind,
        region="bac-trung-bo" if kind is SessionKind.REGIONAL else None,
        start=start,
        end=end or start + timedelta(hours=3, minutes=30),
        timezone="Asia/Ho_Chi_Minh",
        host_site=host,
        chair=Chair(name="Trưởng vùng", email="truong-vung@example.org"),
        sites=tuple(SessionSite(site_id=s) for s in (sites or REGION)),
        status=status,
        created_at=CREATED,
        updated_at=CREATED,
    )


def rule(anchor: Anchor, days: int = 15, **extra: object) -> TaskRule:
    return TaskRule.model_validate(
        {
            "kind": "doc",
            "who": "region_head",
            "anchor": anchor,
            "days": days,
            "title_vi": "Tài liệu",
            "title_en": "Document",
            **extra,
        }
    )


def by_id(tasks: list[TaskDue]) -> dict[str, TaskDue]:
    return {t.id: t for t in tasks}


# --- the regional defaults -------------------------------------------------------------------


def test_regional_defaults_give_each_site_a_topic_report_and_the_head_three_documents() -> None:
    tasks = by_id(tasks_for(meeting(hanoi(2029, 1, 3)), SITES, None, None))
    assert set(tasks) == {
        "topic_report:hue",
        "topic_report:quang-tri",
        "topic_report:quang-binh",
        "topic_report:ha-tinh",
        "meeting_plan:hue",  # no head given: the host site is the region head
        "joint_report:hue",
        "results_report:hue",
    }
    assert tasks["meeting_plan:hue"].who is Who.REGION_HEAD
    assert tasks["meeting_plan:hue"].title("vi") == "Kế hoạch giao ban"
    assert tasks["results_report:hue"].title("en") == "Results report with recommendations"
    assert all(t.session_id == "s-giao-ban" for t in tasks.values())


def test_an_explicit_head_site_owes_the_head_documents() -> None:
    tasks = by_id(tasks_for(meeting(hanoi(2029, 1, 3)), SITES, "quang-tri", None))
    assert {i for i in tasks if not i.startswith("topic_report:")} == {
        "meeting_plan:quang-tri",
        "joint_report:quang-tri",
        "results_report:quang-tri",
    }


def test_fifteen_days_before_crosses_a_month_and_year_boundary() -> None:
    # Wednesday 3 January 2029; 19 December 2028 is a Tuesday, so nothing rolls.
    tasks = by_id(tasks_for(meeting(hanoi(2029, 1, 3)), SITES, None, None))
    for task_id in ("meeting_plan:hue", "joint_report:hue", "topic_report:ha-tinh"):
        assert tasks[task_id].due_date == date(2028, 12, 19)
        assert tasks[task_id].due == datetime(2028, 12, 19, 16, 59, 59, 999999, tzinfo=UTC)
        assert tasks[task_id].rolled_from is None
        assert tasks[task_id].zone == "Asia/Ho_Chi_Minh"


def test_fifteen_days_after_crosses_a_month_boundary() -> None:
    # The meeting ends Wednesday 25 November 2026; 10 December is a Thursday.
    session = meeting(hanoi(2026, 11, 25, 8), hanoi(2026, 11, 25, 11, 30))
    results = by_id(tasks_for(session, SITES, None, None))["results_report:hue"]
    assert results.due_date == date(2026, 12, 10)
    assert results.due == last_instant(date(2026, 12, 10))
    assert results.rolled_from is None


def test_a_meeting_ending_at_midnight_ended_the_day_before() -> None:
    session = meeting(hanoi(2026, 11, 25, 18), hanoi(2026, 11, 26, 0))
    results = by_id(tasks_for(session, SITES, None, None))["results_report:hue"]
    assert results.due_date == date(2026, 12, 10)


def test_the_anchor_date_is_the_sessions_date_in_its_own_zone() -> None:
    # 06:30 on 3 January in Hà Nội is still 2 January in UTC; the meeting is on 3 January.
    early = hanoi(2029, 1, 3, 6, 30)
    assert early.astimezone(UTC).date() == date(2029, 1, 2)
    plan = by_id(tasks_for(meeting(early), SITES, None, None))["meeting_plan:hue"]
    assert plan.due_date == date(2028, 12, 19)


# --- rolling off holidays and weekends -------------------------------------------------------


def test_a_before_deadline_on_new_years_day_rolls_to_the_previous_working_day() -> None:
    assert holiday_name("VN", date(2026, 1, 1))
    tasks = by_id(tasks_for(meeting(hanoi(2026, 1, 16)), SITES, None, None))
    plan = tasks["meeting_plan:hue"]
    assert plan.rolled_from == date(2026, 1, 1)
    assert plan.due_date == date(2025, 12, 31)
    assert plan.due == last_instant(date(2025, 12, 31))


def test_an_after_deadline_on_new_years_day_rolls_past_the_weekend_to_monday() -> None:
    # Ends Thursday 17 December 2026; day 15 is Friday 1 January 2027, then Saturday and Sunday.
    session = meeting(hanoi(2026, 12, 17, 8), hanoi(2026, 12, 17, 11))
    results = by_id(tasks_for(session, SITES, None, None))["results_report:hue"]
    assert results.rolled_from == date(2027, 1, 1)
    assert results.due_date == date(2027, 1, 4)


def test_a_before_deadline_in_tet_rolls_to_the_last_working_day_before_tet() -> None:
    # Meeting Tuesday 23 February 2027; day -15 is 8 February, the third day of Tết. The holidays
    # run 4-10 February 2027, so the last working day before is Wednesday 3 February.
    assert all(holiday_name("VN", date(2027, 2, d)) for d in range(4, 11))
    plan = by_id(tasks_for(meeting(hanoi(2027, 2, 23)), SITES, None, None))["meeting_plan:hue"]
    assert plan.rolled_from == date(2027, 2, 8)
    assert plan.due_date == date(2027, 2, 3)


def test_an_after_deadline_in_tet_rolls_to_the_first_working_day_after_tet() -> None:
    session = meeting(hanoi(2027, 1, 25, 8), hanoi(2027, 1, 25, 11))  # Monday; +15 = 9 February
    results = by_id(tasks_for(session, SITES, None, None))["results_report:hue"]
    assert results.rolled_from == date(2027, 2, 9)
    assert results.due_date == date(2027, 2, 11)


def test_weekend_deadlines_roll_to_friday_before_and_monday_after() -> None:
    # Monday 28 December 2026: day -15 is Sunday 13 December.
    plan = by_id(tasks_for(meeting(hanoi(2026, 12, 28)), SITES, None, None))["meeting_plan:hue"]
    assert (plan.rolled_from, plan.due_date) == (date(2026, 12, 13), date(2026, 12, 11))
    # Ends Friday 4 December 2026: day +15 is Saturday 19 December.
    session = meeting(hanoi(2026, 12, 4, 8), hanoi(2026, 12, 4, 11))
    results = by_id(tasks_for(session, SITES, None, None))["results_report:hue"]
    assert (results.rolled_from, results.due_date) == (date(2026, 12, 19), date(2026, 12, 21))


def test_the_default_roll_is_written_into_the_rule_and_can_be_overridden() -> None:
    assert rule(Anchor.BEFORE_START).roll is Roll.PREVIOUS_WORKING_DAY
    assert rule(Anchor.AFTER_END).roll is Roll.NEXT_WORKING_DAY
    assert rule(Anchor.BEFORE_START).model_dump()["roll"] == "previous_working_day"
    assert rule(Anchor.AFTER_END, roll=None).roll is Roll.NEXT_WORKING_DAY
    session = meeting(hanoi(2026, 12, 28))  # day -15 is Sunday 13 December
    kept = tasks_for(session, SITES, None, [rule(Anchor.BEFORE_START, roll="none")])
    assert (kept[0].due_date, kept[0].rolled_from) == (date(2026, 12, 13), None)
    later = tasks_for(session, SITES, None, [rule(Anchor.BEFORE_START, roll="next_working_day")])
    assert later[0].due_date == date(2026, 12, 14)


def test_working_day_counting_skips_weekends_and_holidays() -> None:
    # Friday 8 January 2027, 5 working days back: 7, 6, 5, 4 January, (1 January is New Year's
    # Day, 2-3 a weekend), 31 December.
    session = meeting(hanoi(2027, 1, 8))
    counted = rule(Anchor.BEFORE_START, days=5, counting=Counting.WORKING)
    assert nominal_date(counted, session) == date(2026, 12, 31)
    assert nominal_date(rule(Anchor.BEFORE_START, days=5), session) == date(2027, 1, 3)
    no_holidays = WorkCalendar(holiday_country=None)
    assert nominal_date(counted, session, no_holidays) == date(2027, 1, 1)


# --- zones -----------------------------------------------------------------------------------


def test_a_site_in_another_zone_gets_its_own_end_of_day_across_daylight_saving() -> None:
    sites = {**SITES, "paris": Site(id="paris", name="Paris", timezone="Europe/Paris")}
    # Thursday 9 April 2026: due Wednesday 25 March, before Paris moves its clocks (CET, +01).
    winter = by_id(tasks_for(meeting(hanoi(2026, 4, 9), sites=[*REGION, "paris"]), sites))
    paris, hue = winter["topic_report:paris"], winter["topic_report:hue"]
    assert paris.zone == "Europe/Paris"
    assert paris.due_date == hue.due_date == date(2026, 3, 25)
    assert paris.due == datetime(2026, 3, 25, 22, 59, 59, 999999, tzinfo=UTC)
    assert hue.due == datetime(2026, 3, 25, 16, 59, 59, 999999, tzinfo=UTC)
    # Tuesday 14 April 2026: due Monday 30 March, after the change (CEST, +02).
    summer = by_id(tasks_for(meeting(hanoi(2026, 4, 14), sites=[*REGION, "paris"]), sites))
    assert summer["topic_report:paris"].due == datetime(2026, 3, 30, 21, 59, 59, 999999, tzinfo=UTC)
    assert summer["topic_report:paris"].due == last_instant(date(2026, 3, 30), PARIS)


def test_a_head_site_in_another_zone_owes_by_its_own_end_of_day() -> None:
    sites = {**SITES, "paris": Site(id="paris", name="Paris", timezone="Europe/Paris")}
    plan = by_id(tasks_for(meeting(hanoi(2026, 4, 14)), sites, "paris"))["meeting_plan:paris"]
    assert plan.zone == "Europe/Paris"
    assert plan.due == last_instant(date(2026, 3, 30), PARIS)


def test_a_site_missing_from_the_directory_uses_the_sessions_zone() -> None:
    tasks = by_id(tasks_for(meeting(hanoi(2029, 1, 3)), {}, None, None))
    assert tasks["topic_report:ha-tinh"].zone == "Asia/Ho_Chi_Minh"


def test_end_of_day_takes_the_later_hour_when_clocks_go_back_at_midnight() -> None:
    # Chile leaves summer time at 24:00 on Saturday 4 April 2026: 23:00-24:00 happens twice.
    assert end_of_local_day(date(2026, 4, 4), "America/Santiago") == datetime(
        2026, 4, 5, 3, 59, 59, 999999, tzinfo=UTC
    )
    assert end_of_local_day(date(2026, 4, 3), "America/Santiago") == datetime(
        2026, 4, 4, 2, 59, 59, 999999, tzinfo=UTC
    )


# --- rule sets and ids -----------------------------------------------------------------------


def test_ids_are_deterministic_and_independent_of_order() -> None:
    session = meeting(hanoi(2029, 1, 3))
    first = tasks_for(session, SITES, None, None)
    assert first == tasks_for(session, dict(reversed(SITES.items())), None, None)
    reordered = meeting(hanoi(2029, 1, 3), sites=list(reversed(REGION)))
    assert [t.id for t in tasks_for(reordered, SITES, None, None)] == [t.id for t in first]
    assert all(t.id == f"{t.kind}:{t.site_id}" for t in first)
    assert [t.due for t in first] == sorted(t.due for t in first)


def test_national_sessions_owe_nothing_unless_the_office_configures_rules() -> None:
    national = meeting(hanoi(2029, 1, 3), kind=SessionKind.NATIONAL, host="hue")
    assert tasks_for(national, SITES, None, None) == []
    configured = {SessionKind.NATIONAL: [rule(Anchor.AFTER_END, days=7, who="each_site")]}
    assert rules_for(SessionKind.REGIONAL, configured) == DEFAULT_REGIONAL_RULES
    chosen = rules_for(SessionKind.NATIONAL, configured)
    assert [t.id for t in tasks_for(national, SITES, None, chosen)] == sorted(
        f"doc:{s}" for s in REGION
    )
    assert rules_for(SessionKind.REGIONAL, {SessionKind.REGIONAL: []}) == ()


def test_a_rule_set_may_not_repeat_a_kind() -> None:
    twice = [rule(Anchor.BEFORE_START), rule(Anchor.AFTER_END)]
    with pytest.raises(ValueError, match="once"):
        tasks_for(meeting(hanoi(2029, 1, 3)), SITES, None, twice)


def test_a_cancelled_session_owes_nothing() -> None:
    cancelled = meeting(hanoi(2029, 1, 3), status=SessionStatus.CANCELLED)
    assert tasks_for(cancelled, SITES, None, None) == []


VALID = {
    "kind": "doc",
    "who": "each_site",
    "anchor": "before_start",
    "days": 1,
    "title_vi": "Tài liệu",
    "title_en": "Document",
}


@pytest.mark.parametrize(
    "bad",
    [
        {"days": -1},
        {"days": 367},
        {"kind": "Topic Report"},
        {"who": "everyone"},
        {"anchor": "sometime"},
        {"roll": "sideways"},
        {"counting": "lunar"},
        {"title_en": ""},
    ],
)
def test_invalid_rules_are_refused(bad: dict[str, object]) -> None:
    TaskRule.model_validate(VALID)
    with pytest.raises(ValidationError):
        TaskRule.model_validate({**VALID, **bad})


# --- status ----------------------------------------------------------------------------------


def plan_due_19_december() -> TaskDue:
    return by_id(tasks_for(meeting(hanoi(2029, 1, 3)), SITES, None, None))["meeting_plan:hue"]


def test_status_moves_from_pending_to_due_soon_to_overdue() -> None:
    task = plan_due_19_december()
    tick = timedelta(microseconds=1)
    window = timedelta(days=3)
    assert status_of(task, None, task.due - window - tick) is TaskStatus.PENDING
    assert status_of(task, None, task.due - window) is TaskStatus.DUE_SOON
    assert status_of(task, None, task.due) is TaskStatus.DUE_SOON
    assert status_of(task, None, task.due + tick) is TaskStatus.OVERDUE
    wide = timedelta(days=10)
    assert status_of(task, None, task.due - window - tick, due_soon=wide) is TaskStatus.DUE_SOON


def test_a_submission_is_on_time_up_to_the_due_instant_and_late_after() -> None:
    task = plan_due_19_december()
    later = task.due + timedelta(days=30)
    assert status_of(task, task.due - timedelta(days=20), later) is TaskStatus.SUBMITTED
    assert status_of(task, task.due, later) is TaskStatus.SUBMITTED
    assert status_of(task, task.due + timedelta(microseconds=1), later) is TaskStatus.LATE


def test_status_refuses_naive_times() -> None:
    task = plan_due_19_december()
    with pytest.raises(ValueError, match="aware"):
        status_of(task, None, datetime(2028, 12, 1))
    with pytest.raises(ValueError, match="aware"):
        status_of(task, datetime(2028, 12, 1), datetime(2028, 12, 1, tzinfo=UTC))


# --- reminders -------------------------------------------------------------------------------


def test_reminders_go_out_at_eight_local_seven_and_one_day_before_and_once_when_missed() -> None:
    task = plan_due_19_december()
    schedule = reminder_schedule(task)
    assert [(r.id, r.kind, r.days_before, r.at) for r in schedule] == [
        ("meeting_plan:hue:before-7d", ReminderKind.BEFORE, 7, hanoi(2028, 12, 12)),
        ("meeting_plan:hue:before-1d", ReminderKind.BEFORE, 1, hanoi(2028, 12, 18)),
        ("meeting_plan:hue:missed", ReminderKind.MISSED, None, hanoi(2028, 12, 20)),
    ]
    assert all(r.task_id == task.id and r.session_id == task.session_id for r in schedule)


def test_reminders_still_due_shrink_as_time_passes_and_stop_when_submitted() -> None:
    task = plan_due_19_december()

    def ids(
        now: datetime,
        submitted_at: datetime | None = None,
        days_before: tuple[int, ...] = (7, 1),
        when_missed: bool = True,
    ) -> list[str]:
        still = reminders(
            task, now, submitted_at=submitted_at, days_before=days_before, when_missed=when_missed
        )
        return [r.id.rsplit(":", 1)[1] for r in still]

    assert ids(hanoi(2028, 12, 1)) == ["before-7d", "before-1d", "missed"]
    # Just past the 7-day reminder: it is still worth sending (catch-up), nothing is stale.
    assert ids(hanoi(2028, 12, 12, 9)) == ["before-7d", "before-1d", "missed"]
    # Past the 1-day reminder: the 7-day one is stale and dropped.
    assert ids(hanoi(2028, 12, 18, 9)) == ["before-1d", "missed"]
    assert ids(hanoi(2028, 12, 21)) == ["missed"]
    assert ids(hanoi(2028, 12, 1), submitted_at=hanoi(2028, 11, 30)) == []
    assert ids(hanoi(2028, 12, 1), days_before=(3,), when_missed=False) == ["before-3d"]


def test_reminders_follow_the_owners_zone_and_refuse_negative_leads() -> None:
    sites = {**SITES, "paris": Site(id="paris", name="Paris", timezone="Europe/Paris")}
    paris = by_id(tasks_for(meeting(hanoi(2026, 4, 14)), sites, "paris"))["meeting_plan:paris"]
    first = reminder_schedule(paris)[0]
    assert first.at == datetime(2026, 3, 23, 8, tzinfo=PARIS)  # still CET: 07:00 UTC
    assert first.at == datetime(2026, 3, 23, 7, tzinfo=UTC)
    with pytest.raises(ValueError, match="0 or more"):
        reminder_schedule(paris, days_before=(-1,))


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
    hour=st.integers(min_value=0, max_value=23),
    days=st.integers(min_value=0, max_value=40),
    anchor=st.sampled_from(list(Anchor)),
    counting=st.sampled_from(list(Counting)),
)
def test_rolling_never_moves_a_deadline_the_wrong_way_and_lands_on_a_working_day(
    day: date, hour: int, days: int, anchor: Anchor, counting: Counting
) -> None:
    session = meeting(hanoi(day.year, day.month, day.day, hour))
    a_rule = rule(anchor, days=days, counting=counting)
    (task,) = tasks_for(session, SITES, None, [a_rule])
    counted = task.rolled_from or task.due_date
    assert counted == nominal_date(a_rule, session)
    if anchor is Anchor.BEFORE_START:
        assert task.due_date <= counted <= day
    else:
        day = (session.end - timedelta(microseconds=1)).astimezone(VN).date()  # may end tomorrow
        assert task.due_date >= counted >= day
    assert VN_CALENDAR.is_working_day(task.due_date)
    assert (task.rolled_from is None) == VN_CALENDAR.is_working_day(counted)
    assert task.due == last_instant(task.due_date)
    if counting is Counting.CALENDAR:
        assert abs((counted - day).days) == days
