"""A series' dry run (the booking form's preview) on SQLite and PostgreSQL: every occurrence with
its breaches and conflicts, and the same verdict booking then gives, with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.booking.series.schemas import BookSeriesRequest, SeriesCheckOut
from orchestrator.bootstrap import Container
from orchestrator.domain.errors import (
    InvalidRequest,
    PermissionDenied,
    SeriesConflict,
    SeriesPolicyViolation,
)
from orchestrator.store.base import SeriesQuery, SessionQuery
from tests.builders import book_national, coordinator, national_data
from tests.conftest import OFFICE

# Thursdays at 08:00 in Hà Nội from 14 January 2027; 4 February is a public holiday.
FIRST = datetime(2027, 1, 14, 1, 0, tzinfo=UTC)
THURSDAYS = ["2027-01-14", "2027-01-21", "2027-01-28", "2027-02-04", "2027-02-11"]


def request(**over: Any) -> BookSeriesRequest:
    base: dict[str, Any] = {
        "title": "Giao ban tuần",
        "start": FIRST,
        "end": FIRST + timedelta(hours=2),
        "recurrence": "FREQ=WEEKLY;BYDAY=TH;COUNT=5",
    }
    return BookSeriesRequest.model_validate(national_data(**{**base, **over}))


async def hold_can_tho(c: Container, day: str) -> str:
    """Cần Thơ alone from 09:00 to 10:00 on `day`, inside the series' occurrence."""
    start = datetime.fromisoformat(f"{day}T02:00:00+00:00")
    held = await book_national(
        c,
        title="Họp Sở Cần Thơ",
        start=start,
        end=start + timedelta(hours=1),
        host_site="can-tho",
        sites=["can-tho"],
        leader_groups=[],
        chair={"name": "Giám đốc", "email": "giamdoc@sgddt-can-tho.example.org"},
    )
    return held.id


def days(check: SeriesCheckOut, *, booked: bool | None = None) -> list[str]:
    return [
        o.occurrence.date().isoformat()
        for o in check.occurrences
        if booked is None or o.booked is booked
    ]


async def test_all_or_nothing_names_the_holiday_and_the_conflict_and_books_nothing(
    container: Container,
) -> None:
    held = await hold_can_tho(container, "2027-01-21")
    check = await container.bookings.series.check(request(), OFFICE)
    assert check.recurrence == "FREQ=WEEKLY;BYDAY=TH;COUNT=5"
    assert check.timezone == "Asia/Ho_Chi_Minh"
    assert days(check) == THURSDAYS
    assert check.occurrences[0].occurrence.isoformat() == "2027-01-14T08:00:00+07:00"
    assert check.refused == "policy"  # judged first, as booking does
    assert days(check, booked=True) == []
    by_day = {o.occurrence.date().isoformat(): o for o in check.occurrences}
    assert [b.rule for b in by_day["2027-02-04"].breaches] == ["holiday"]
    assert not by_day["2027-02-04"].overridden
    assert [(c.resource, c.session_id) for c in by_day["2027-01-21"].conflicts] == [
        ("site:can-tho", held)
    ]
    assert [h.title for h in check.holders] == ["Họp Sở Cần Thơ"]
    assert check.holiday_country == "VN"
    for day in ("2027-01-14", "2027-01-28", "2027-02-11"):
        assert by_day[day].conflicts == []
        assert by_day[day].breaches == []
    with pytest.raises(SeriesPolicyViolation):
        await container.bookings.series.book(request(), OFFICE)

    overridden = await container.bookings.series.check(request(override_reason="Lệnh"), OFFICE)
    assert overridden.refused == "conflict"
    assert overridden.occurrences[3].overridden
    with pytest.raises(SeriesConflict):
        await container.bookings.series.book(request(override_reason="Lệnh"), OFFICE)


async def test_skipping_books_what_the_preview_said(container: Container) -> None:
    await hold_can_tho(container, "2027-01-21")
    req = request(conflict_policy="skip_conflicting_occurrences")
    check = await container.bookings.series.check(req, OFFICE)
    assert check.refused is None
    assert days(check, booked=False) == ["2027-01-21", "2027-02-04"]
    # the dry run wrote nothing
    assert await container.bookings.series.list_series(SeriesQuery(), OFFICE) == []
    assert len(await container.bookings.list_sessions(SessionQuery(), OFFICE)) == 1
    out = (await container.bookings.series.book(req, OFFICE)).value
    assert [o.occurrence for o in out.occurrences] == [
        o.occurrence for o in check.occurrences if o.booked
    ]
    assert [k.occurrence for k in out.skipped] == [
        o.occurrence for o in check.occurrences if not o.booked
    ]


async def test_skipping_every_occurrence_is_refused_as_booking_is(container: Container) -> None:
    req = request(
        start=datetime(2027, 2, 4, 1, 0, tzinfo=UTC),
        end=datetime(2027, 2, 4, 3, 0, tzinfo=UTC),
        recurrence="FREQ=WEEKLY;BYDAY=TH;COUNT=1",
        conflict_policy="skip_conflicting_occurrences",
    )
    check = await container.bookings.series.check(req, OFFICE)
    assert check.refused == "policy"
    with pytest.raises(SeriesPolicyViolation):
        await container.bookings.series.book(req, OFFICE)


async def test_the_rule_and_the_role_are_checked_as_booking_checks_them(
    container: Container,
) -> None:
    with pytest.raises(InvalidRequest) as info:
        await container.bookings.series.check(request(recurrence="FREQ=WEEKLY;BYDAY=FR"), OFFICE)
    assert info.value.reason == "recurrence_bound"
    with pytest.raises(InvalidRequest) as info:
        await container.bookings.series.check(
            request(recurrence="FREQ=WEEKLY;BYDAY=FR;COUNT=3"), OFFICE
        )
    assert info.value.reason == "not_an_instance"
    with pytest.raises(PermissionDenied):
        await container.bookings.series.check(request(), coordinator("ha-noi"))
