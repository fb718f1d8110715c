"""The booking's dry run (`Bookings.check`) on real SQLite and PostgreSQL: it answers what `book`
would answer for the same request (the conflicts, the sites skipped, the rules broken) and
writes nothing."""

from __future__ import annotations

from datetime import datetime

import pytest

from orchestrator.bootstrap import Container
from orchestrator.domain.errors import BookingConflict, InvalidRequest, PermissionDenied
from orchestrator.domain.models import ConflictPolicy
from orchestrator.store.base import SessionQuery
from tests.builders import book_national, coordinator, national_booking
from tests.conftest import OFFICE

HANOI = "+07:00"
# Đà Nẵng alone, 11:00-11:30 on the day the usual national booking runs 08:00-11:30 in Hà Nội
CLASH = {
    "title": "Another",
    "start": f"2026-12-10T11:00:00{HANOI}",
    "end": f"2026-12-10T11:30:00{HANOI}",
    "host_site": "da-nang",
    "sites": ["da-nang"],
    "leader_groups": [],
    "chair": {"name": "Other", "email": "other@moet.example.org"},
}


async def _sessions(c: Container) -> int:
    return len(await c.bookings.list_sessions(SessionQuery(), OFFICE))


async def test_a_free_window_is_bookable_and_nothing_is_written(container: Container) -> None:
    checked = await container.bookings.check(national_booking(), OFFICE)
    assert checked.bookable
    assert checked.conflicts == []
    assert checked.breaches == []
    assert checked.skipped == []
    assert "site:ha-noi" in checked.resources
    assert checked.claimed.start == datetime.fromisoformat(f"2026-12-10T07:30:00{HANOI}")
    assert await _sessions(container) == 0
    # and booking it then succeeds with the claims the dry run named
    booked = await book_national(container)
    assert booked.claimed.start == checked.claimed.start
    assert booked.claimed.end == checked.claimed.end


async def test_conflicts_are_those_book_would_refuse(container: Container) -> None:
    first = await book_national(container)
    request = national_booking(**CLASH)
    checked = await container.bookings.check(request, OFFICE)
    assert not checked.bookable
    assert [c.resource for c in checked.conflicts] == ["site:da-nang"]
    assert [h.session_id for h in checked.holders] == [first.id]
    assert checked.holders[0].title == first.title
    with pytest.raises(BookingConflict) as info:
        await container.bookings.book(request, OFFICE)
    assert [c.resource for c in info.value.conflicts] == [c.resource for c in checked.conflicts]
    assert await _sessions(container) == 1


async def test_skip_conflicting_names_the_sites_left_out(container: Container) -> None:
    first = await book_national(container, **CLASH)  # Đà Nẵng alone
    request = national_booking(
        **{
            **CLASH,
            "sites": ["da-nang", "can-tho"],
            "host_site": "can-tho",
            "chair": {"name": "Third", "email": "third@moet.example.org"},
        },
        conflict_policy=ConflictPolicy.SKIP_CONFLICTING.value,
    )
    checked = await container.bookings.check(request, OFFICE)
    assert checked.conflicts == []
    assert [s.site_id for s in checked.skipped] == ["da-nang"]
    assert [h.session_id for h in checked.holders] == [first.id]
    assert checked.bookable
    booked = (await container.bookings.book(request, OFFICE)).value
    assert [s.site_id for s in booked.skipped] == ["da-nang"]


@pytest.mark.parametrize(
    ("over", "rule"),
    [
        (
            {"start": "2026-12-10T16:30:00+07:00", "end": "2026-12-10T17:30:00+07:00"},
            "working_hours",
        ),
        ({"start": "2026-11-20T08:00:00+07:00", "end": "2026-11-20T09:00:00+07:00"}, "in_past"),
    ],
)
async def test_breaches_are_named_and_an_override_makes_them_bookable(
    container: Container, over: dict[str, str], rule: str
) -> None:
    checked = await container.bookings.check(national_booking(**over), OFFICE)
    assert rule in [b.rule for b in checked.breaches]
    assert not checked.overridden
    assert not checked.bookable
    overridden = await container.bookings.check(
        national_booking(**over, override_reason="Bộ trưởng yêu cầu"), OFFICE
    )
    assert overridden.overridden
    assert overridden.bookable
    assert await _sessions(container) == 0


async def test_suggestions_are_free_for_the_same_claims(container: Container) -> None:
    await book_national(container)
    checked = await container.bookings.check(national_booking(), OFFICE, suggestions=3)
    assert len(checked.suggestions) == 3
    for slot in checked.suggestions:
        again = await container.bookings.check(
            national_booking(start=slot.start.isoformat(), end=slot.end.isoformat()), OFFICE
        )
        assert again.conflicts == [], slot


async def test_only_the_office_checks_and_bad_requests_are_refused(container: Container) -> None:
    with pytest.raises(PermissionDenied):
        await container.bookings.check(national_booking(), coordinator("da-nang"))
    with pytest.raises(InvalidRequest, match="unknown site"):
        await container.bookings.check(national_booking(sites=["ha-noi", "atlantis"]), OFFICE)
