"""Times in words are in the session's zone, never UTC: the check-in refusal, the booking
policy's in-past and notice refusals (through the use cases and the API), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.attendance.service import CheckinRequest
from orchestrator.bootstrap import Container
from orchestrator.domain.errors import InvalidState, PolicyViolation
from tests.builders import (
    OFFICE,
    bearer,
    book,
    booking,
    client,
    coordinator,
    issue_tokens,
    regional_data,
)


async def test_the_check_in_refusal_names_the_window_in_the_sessions_zone(
    container: Container,
) -> None:
    booked = await book(container)  # 08:00-11:30 in Hà Nội on 10 December, 30 minutes' test
    with pytest.raises(InvalidState) as refused:
        await container.attendance.checkin(
            booked.id, "da-nang", CheckinRequest(headcount=3), coordinator("da-nang")
        )
    words = refused.value.message
    assert "2026-12-10 07:30–11:30 (Asia/Ho_Chi_Minh)" in words
    assert "+00:00" not in words
    assert "T00:30" not in words


async def test_the_in_past_refusal_says_the_time_in_the_sessions_zone(
    container: Container,
) -> None:
    # 08:00 on Friday 20 November in Hà Nội, three days before the tests' clock
    past = booking(
        start=datetime(2026, 11, 20, 1, 0, tzinfo=UTC), end=datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    )
    with pytest.raises(PolicyViolation) as refused:
        await container.bookings.book(past, OFFICE)
    (breach,) = [b for b in refused.value.breaches if b.rule == "in_past"]
    assert "2026-11-20 08:00 (Asia/Ho_Chi_Minh)" in breach.detail
    assert "2026-11-23 09:00 (Asia/Ho_Chi_Minh)" in breach.detail  # now, as Hà Nội reads it
    assert "+00:00" not in refused.value.message


async def test_the_api_says_notice_and_past_in_the_sessions_zone(container: Container) -> None:
    tokens = await issue_tokens(container)
    soon = regional_data(
        start="2026-11-30T08:00:00+07:00", end="2026-11-30T11:00:00+07:00", timezone="Asia/Tokyo"
    )
    async with client(container) as http:
        r = await http.post("/api/sessions", json=soon, headers=bearer(tokens.office))
    assert r.status_code == 422
    body = r.json()
    assert body["rule"] == "min_notice", body
    # 15 days after the tests' clock (09:00 on 23 November in Hà Nội), as Tokyo reads it
    assert "the earliest start now is 2026-12-08 11:00 (Asia/Tokyo)" in body["detail"]
    assert "+00:00" not in r.text
