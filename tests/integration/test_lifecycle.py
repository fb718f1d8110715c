"""A session's whole life under a moved clock (no sleeping): booked, reminded, moved, live,
ended, its record frozen and mailed; reminders counted exactly, restarts sending nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.booking.schemas import BookingOut, UpdateSessionRequest
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import SessionStatus
from orchestrator.settings import Settings
from tests import builders
from tests.builders import book_regional, deliver, with_smtp
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE
from tests.smtp_server import SmtpTestServer

START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 08:00 in Hà Nội
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)
SITES = ["ha-noi", "da-nang", "can-tho"]


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpTestServer) -> Settings:
    return with_smtp(settings, smtp_server)


@pytest.fixture
async def service(mail_settings: Settings, clock: ManualClock) -> AsyncIterator[Container]:
    c = build(mail_settings, clock=clock)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    yield c
    await c.close()


async def book(c: Container, start: datetime = START, end: datetime = END) -> BookingOut:
    return await builders.book(c, title="Giao ban", start=start, end=end, sites=SITES)


async def run_until(c: Container, clock: ManualClock, until: datetime, step: timedelta) -> None:
    """Move the clock in steps, doing what is due and delivering the outbox at each."""
    while clock.now() < until:
        clock.advance(step)
        await c.lifecycle.tick()
        await deliver(c)


def reminders(server: SmtpTestServer) -> Counter[str]:
    got: Counter[str] = Counter()
    for m in server.messages:
        subject = str(m.parsed()["Subject"])
        if subject.startswith(("Nhắc lịch", "Reminder")):
            for rcpt in m.rcpt_tos:
                got[rcpt] += 1
    return got


async def test_a_whole_life(
    service: Container, clock: ManualClock, smtp_server: SmtpTestServer
) -> None:
    s = await book(service)
    # two days before: nothing due yet but the plan lists it
    clock.set(START - timedelta(days=2))
    upcoming = await service.lifecycle.pending(ahead=timedelta(days=3))
    assert [d.kind for d in upcoming] == ["reminder", "reminder", "reminder", "live", "end"]
    await run_until(service, clock, START - timedelta(hours=2), timedelta(minutes=10))
    # the one-day reminder went to three coordinators and the chair, once each
    assert len(reminders(smtp_server)) == 4
    assert set(reminders(smtp_server).values()) == {1}
    # moved by a day: the remaining reminders follow the new time
    await service.bookings.update(
        s.id,
        UpdateSessionRequest(start=START + timedelta(days=1), end=END + timedelta(days=1)),
        OFFICE,
    )
    await run_until(service, clock, START + timedelta(hours=1), timedelta(minutes=10))
    session = await service.bookings.get(s.id, OFFICE)
    assert session.status is SessionStatus.SCHEDULED  # not live at the old time
    await run_until(service, clock, START + timedelta(days=1, minutes=5), timedelta(minutes=5))
    assert (await service.bookings.session(s.id)).status is SessionStatus.LIVE
    # 1-day (old and new start), 1-hour and 30-minute reminders: 4 each
    assert set(reminders(smtp_server).values()) == {4}
    await run_until(service, clock, END + timedelta(days=1, minutes=10), timedelta(minutes=15))
    assert (await service.bookings.session(s.id)).status is SessionStatus.ENDED
    record = await service.attendance.record(s.id, OFFICE)
    assert record.frozen_at is not None
    to_chair = [
        m
        for m in smtp_server.messages
        if "chair@moet.example.org" in m.rcpt_tos and "Attendance" in str(m.parsed()["Subject"])
    ]
    assert len(to_chair) == 1
    assert await service.lifecycle.pending(ahead=timedelta(days=3)) == []


async def test_cancel_drops_reminders(
    service: Container, clock: ManualClock, smtp_server: SmtpTestServer
) -> None:
    s = await book(service)
    clock.set(START - timedelta(days=3))
    await service.bookings.cancel(s.id, OFFICE)
    assert await service.lifecycle.pending(ahead=timedelta(days=5)) == []
    await run_until(service, clock, END + timedelta(hours=1), timedelta(hours=1))
    assert reminders(smtp_server) == Counter()


async def test_restart_with_due_actions_runs_each_once(
    service: Container, mail_settings: Settings, clock: ManualClock, smtp_server: SmtpTestServer
) -> None:
    await book(service)
    clock.set(START - timedelta(minutes=20))  # the service was down through 3 reminder times
    await service.close()
    again = build(mail_settings, clock=clock)
    try:
        done = await again.lifecycle.tick()
        # the day and hour reminders are past but the meeting has not begun: each is sent once
        assert sorted(d.minutes_before or 0 for d in done) == [30, 60, 1440]
        assert await again.lifecycle.tick() == []
        await deliver(again)
        assert set(reminders(smtp_server).values()) == {3}
        clock.set(START + timedelta(minutes=1))
        done = await again.lifecycle.tick()
        assert [d.kind for d in done] == ["live"]
    finally:
        await again.close()


async def test_a_reminder_after_the_start_is_dropped(
    service: Container, clock: ManualClock, smtp_server: SmtpTestServer
) -> None:
    await book(service)
    clock.set(START + timedelta(minutes=10))  # down until after the start
    done = await service.lifecycle.tick()
    assert [d.kind for d in done] == ["live"]
    await deliver(service)
    assert reminders(smtp_server) == Counter()


async def test_preparation_reminders_before_due_and_once_when_missed(
    service: Container, clock: ManualClock, smtp_server: SmtpTestServer
) -> None:
    session_id = (await book_regional(service)).id  # Tuesday 12 January
    # the plan is due 28 December 2026: reminders on 21 and 27 December, then once on the 29th
    await run_until(service, clock, datetime(2026, 12, 22, 2, tzinfo=UTC), timedelta(hours=6))

    def documents() -> list[str]:
        return [
            str(m.parsed()["Subject"])
            for m in smtp_server.messages
            if str(m.parsed()["Subject"]).startswith("Nhắc nộp")
        ]

    first = documents()
    assert sorted(first) == sorted(
        f"Nhắc nộp tài liệu: {title} – Giao ban vùng"
        for title in ("Báo cáo chuyên đề", "Kế hoạch giao ban", "Báo cáo chung của vùng")
    )
    # the meeting plan is submitted: its later reminders stop, the others go on
    await service.preparation.submit(
        session_id, "meeting_plan:ha-noi", "plan.pdf", "application/pdf", b"%PDF", OFFICE
    )
    await run_until(service, clock, datetime(2026, 12, 30, 2, tzinfo=UTC), timedelta(hours=6))
    later = Counter(documents()[len(first) :])
    assert later == Counter(
        {
            "Nhắc nộp tài liệu: Báo cáo chuyên đề – Giao ban vùng": 2,  # the day before, missed
            "Nhắc nộp tài liệu: Báo cáo chung của vùng – Giao ban vùng": 2,
        }
    )


async def test_a_round_does_what_tick_does_and_says_what_next_at_says(
    service: Container, mail_settings: Settings, clock: ManualClock
) -> None:
    """The scheduler's round (`round`: one look at what is pending) against `tick` then
    `next_at` on a twin service over the same database and clock."""
    await book(service)
    await book(service, START + timedelta(days=1), END + timedelta(days=1))
    twin = build(mail_settings, clock=clock)
    try:
        for at in (START - timedelta(days=3), START - timedelta(minutes=20), END + timedelta(1)):
            clock.set(at)
            expected_next = await twin.lifecycle.next_at()
            done, when = await service.lifecycle.round()
            assert when == await twin.lifecycle.next_at()
            assert await twin.lifecycle.tick() == []  # what was due, the round did
            if expected_next is not None and expected_next > at:
                assert when == expected_next
            assert all(d.at <= at for d in done)
            if at == START - timedelta(minutes=20):  # the day, hour and half-hour reminders
                assert sorted(d.minutes_before or 0 for d in done) == [30, 60, 1440]
    finally:
        await twin.close()
