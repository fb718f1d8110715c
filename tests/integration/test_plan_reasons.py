"""The regional planner says the rule that refused a region (the notice, days off, working hours,
other bookings, the round's own meetings) with its times in the request's zone; it shows each
region's chair and where it came from, and books the chair the office names. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.booking.schemas import RegionalPlanRequest
from orchestrator.bootstrap import Container
from orchestrator.domain.errors import NoRoomForRegion
from tests.builders import OFFICE, bearer, book_national, client, issue_tokens

HANOI = "+07:00"
SOUTH = "dong-nam-bo"
CENTRE = "bac-trung-bo-duyen-hai-mien-trung"
DELTA = "dong-bang-song-cuu-long"
RED_RIVER = "dong-bang-song-hong"  # no region chair in the example directory


def plan(first: str, last_excluded: str, *regions: str, **more: Any) -> RegionalPlanRequest:
    return RegionalPlanRequest.model_validate(
        {
            "regions": list(regions) or [SOUTH],
            "from": f"{first}T00:00:00{HANOI}",
            "to": f"{last_excluded}T00:00:00{HANOI}",
            "duration_minutes": 180,
            "leader_groups": ["lanh-dao-bo"],
            **more,
        }
    )


async def refused(c: Container, req: RegionalPlanRequest) -> NoRoomForRegion:
    with pytest.raises(NoRoomForRegion) as caught:
        await c.bookings.plan_regional(req, OFFICE)
    assert "+00:00" not in caught.value.message
    return caught.value


async def test_a_window_inside_the_notice_is_refused_for_the_notice(container: Container) -> None:
    # the tests' clock: 09:00 on Monday 23 November in Hà Nội; 15 days on is 8 December 09:00
    no = await refused(container, plan("2026-11-30", "2026-12-08"))
    assert no.rule == "min_notice"
    assert "the earliest start is 2026-12-08 09:00 (Asia/Ho_Chi_Minh)" in no.message
    assert "2026-11-30 – 2026-12-07 (Asia/Ho_Chi_Minh)" in no.message
    assert "once the other regions" not in no.message


async def test_the_notice_is_named_when_it_leaves_too_little_for_the_round(
    container: Container,
) -> None:
    # Only the afternoon of 8 December is left after the notice: one region fits, not three.
    no = await refused(container, plan("2026-12-01", "2026-12-09", SOUTH, CENTRE, DELTA))
    assert no.rule == "min_notice"
    assert no.region == CENTRE
    tokyo = await refused(
        container, plan("2026-12-01", "2026-12-09", SOUTH, CENTRE, timezone="Asia/Tokyo")
    )
    assert "the earliest start is 2026-12-08 11:00 (Asia/Tokyo)" in tokyo.message


async def test_days_off_are_named(container: Container) -> None:
    holiday = await refused(container, plan("2027-01-01", "2027-01-04"))
    assert holiday.rule == "holiday"
    assert [d.day.isoformat() for d in holiday.days_off] == [
        "2027-01-01",
        "2027-01-02",
        "2027-01-03",
    ]
    assert "2027-01-01 (public holiday:" in holiday.message
    weekend = await refused(container, plan("2026-12-12", "2026-12-14"))
    assert weekend.rule == "weekend"
    assert "2026-12-12 (weekend), 2026-12-13 (weekend)" in weekend.message


async def test_a_meeting_longer_than_a_working_window_is_refused_for_the_hours(
    container: Container,
) -> None:
    no = await refused(container, plan("2026-12-14", "2026-12-19", duration_minutes=600))
    assert no.rule == "working_hours"
    assert "07:30-11:30, 13:30-17:00" in no.message


async def test_other_bookings_are_named_with_their_local_times(container: Container) -> None:
    await book_national(container, title="Hội nghị sáng")  # 08:00-11:30 on 10 December
    await book_national(
        container,
        title="Hội nghị chiều",
        start="2026-12-10T13:30:00+07:00",
        end="2026-12-10T17:00:00+07:00",
    )
    no = await refused(container, plan("2026-12-10", "2026-12-11"))
    assert no.rule == "conflict"
    assert [h.title for h in no.holders] == ["Hội nghị sáng", "Hội nghị chiều"]
    assert "«Hội nghị sáng» 2026-12-10 08:00–11:30 (Asia/Ho_Chi_Minh)" in no.message


async def test_the_rounds_own_meetings_are_named_last(container: Container) -> None:
    no = await refused(container, plan("2026-12-14", "2026-12-15", SOUTH, CENTRE, DELTA))
    assert no.rule == "round"
    assert no.placed == [SOUTH, CENTRE]


async def test_the_api_answers_the_rule_in_the_problem(container: Container) -> None:
    tokens = await issue_tokens(container)
    body = {
        "regions": [SOUTH],
        "from": "2026-11-30T00:00:00+07:00",
        "to": "2026-12-08T00:00:00+07:00",
        "duration_minutes": 180,
    }
    async with client(container) as http:
        r = await http.post("/api/plans/regional", json=body, headers=bearer(tokens.office))
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "invalid_request"
    assert problem["rule"] == "min_notice"
    assert problem["region"] == SOUTH
    assert problem["earliest"] == "2026-12-08T09:00:00+07:00"
    assert "+00:00" not in r.text


# the chair -----------------------------------------------------------------------------------


async def test_each_proposal_says_its_chair_and_where_it_came_from(container: Container) -> None:
    req = plan("2026-12-14", "2026-12-19", RED_RIVER, SOUTH)
    proposal = (await container.bookings.plan_regional(req, OFFICE)).value
    by_region = {p.region: p for p in proposal.proposals}
    assert by_region[RED_RIVER].chair_source == "fallback"
    assert by_region[RED_RIVER].chair.email == "vanphong@moet.example.org"
    assert by_region[SOUTH].chair_source == "directory"
    assert by_region[SOUTH].chair.email == "truong-vung@sgddt-tp-ho-chi-minh.example.org"


async def test_the_office_names_a_regions_chair_and_it_is_booked(container: Container) -> None:
    chairs = {
        RED_RIVER: {"name": "Nguyễn Thị Hồng", "email": "truong-vung@sgddt-ha-noi.example.org"}
    }
    req = plan("2026-12-14", "2026-12-19", RED_RIVER, SOUTH, chairs=chairs, commit=True)
    booked = (await container.bookings.plan_regional(req, OFFICE)).value
    by_region = {p.region: p for p in booked.proposals}
    assert by_region[RED_RIVER].chair_source == "request"
    assert by_region[SOUTH].chair_source == "directory"
    (session,) = [s for s in booked.sessions if s.region == RED_RIVER]
    assert session.chair.name == "Nguyễn Thị Hồng"
    assert session.chair.email == "truong-vung@sgddt-ha-noi.example.org"


async def test_chairs_for_regions_not_planned_are_refused(container: Container) -> None:
    tokens = await issue_tokens(container)
    body = {
        "regions": [SOUTH],
        "from": "2026-12-14T00:00:00+07:00",
        "to": "2026-12-19T00:00:00+07:00",
        "duration_minutes": 180,
        "chairs": {"tay-nguyen": {"name": "A", "email": "a@example.org"}},
    }
    async with client(container) as http:
        r = await http.post("/api/plans/regional", json=body, headers=bearer(tokens.office))
    assert r.status_code == 422
    assert "tay-nguyen" in r.text


def test_a_plan_request_keeps_its_chairs() -> None:
    req = plan("2026-12-14", "2026-12-19", SOUTH, chairs={SOUTH: {"name": "B", "email": "b@x.org"}})
    assert req.chairs[SOUTH].email == "b@x.org"
    assert datetime(2026, 12, 13, 17, tzinfo=UTC) == req.from_


async def test_the_api_says_the_rule_in_vietnamese_when_asked(container: Container) -> None:
    tokens = await issue_tokens(container)
    body = {
        "regions": [SOUTH],
        "from": "2026-11-30T00:00:00+07:00",
        "to": "2026-12-08T00:00:00+07:00",
        "duration_minutes": 180,
    }
    headers = {**bearer(tokens.office), "Accept-Language": "vi"}
    async with client(container) as http:
        r = await http.post("/api/plans/regional", json=body, headers=headers)
    assert r.status_code == 422
    problem = r.json()
    assert "Giao ban vùng phải đặt trước ít nhất 15 ngày" in problem["detail"]
    assert "2026-12-08 09:00 (Asia/Ho_Chi_Minh)" in problem["detail"]
    assert problem["rule"] == "min_notice"  # data, never translated
