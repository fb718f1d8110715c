"""Booking use cases on real SQLite and PostgreSQL: rules 1-6 of DESIGN section 3."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.booking.schemas import (
    RegionalPlanRequest,
    SlotQuery,
    UpdateSessionRequest,
)
from orchestrator.bootstrap import Container
from orchestrator.directory.loader import parse_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import (
    BookingConflict,
    IdempotencyMismatch,
    InvalidRequest,
    InvalidState,
    PermissionDenied,
    PolicyViolation,
    SessionNotFound,
)
from orchestrator.domain.models import Principal, Role, SessionStatus
from orchestrator.domain.wire import wire_json
from orchestrator.store.base import ClaimOverlap, SessionQuery
from tests.builders import book_national as book
from tests.builders import national_booking as booking
from tests.conftest import OFFICE, SIX

HANOI = "+07:00"


async def test_book_six_sites(container: Container) -> None:
    out = await book(container)
    assert [s.site_id for s in out.sites] == SIX
    assert out.status is SessionStatus.SCHEDULED
    assert out.start == datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
    assert out.claimed.start == datetime(2026, 12, 10, 0, 30, tzinfo=UTC)
    assert out.claimed.end == datetime(2026, 12, 10, 4, 45, tzinfo=UTC)
    # every site its own link, naming the site
    urls = [s.join_url for s in out.sites]
    assert len(set(urls)) == 6
    assert all(out.room and out.room in (u or "") for u in urls)
    host = [s for s in out.sites if s.host]
    assert [s.site_id for s in host] == ["ha-noi"]
    read = await container.bookings.get(out.id, OFFICE)
    assert read.model_dump() == {
        k: v for k, v in out.model_dump().items() if k not in ("skipped", "policy_overridden")
    }


async def test_conflict_names_each_claim_and_holder(container: Container) -> None:
    first = await book(container)
    with pytest.raises(BookingConflict) as info:
        await book(
            container,
            title="Another",
            start=f"2026-12-10T11:00:00{HANOI}",
            end=f"2026-12-10T11:30:00{HANOI}",
            host_site="da-nang",
            sites=["da-nang"],
            leader_groups=[],
            chair={"name": "Other", "email": "other@moet.example.org"},
        )
    conflicts = info.value.conflicts
    assert {c.resource for c in conflicts} == {"site:da-nang"}
    assert {c.session_id for c in conflicts} == {first.id}
    assert conflicts[0].start == first.claimed.start
    assert conflicts[0].end == first.claimed.end


@pytest.mark.parametrize(
    ("buffers", "overlaps"),
    [((0, 0), False), ((0, 1), True), ((1, 0), True)],
)
async def test_half_open_ranges_and_buffers(
    container: Container, buffers: tuple[int, int], overlaps: bool
) -> None:
    await book(
        container,
        start=f"2026-12-10T08:00:00{HANOI}",
        end=f"2026-12-10T09:00:00{HANOI}",
        buffer_before_minutes=0,
        buffer_after_minutes=buffers[1],
    )
    second: dict[str, Any] = {
        "title": "Next",
        "start": f"2026-12-10T09:00:00{HANOI}",
        "end": f"2026-12-10T10:00:00{HANOI}",
        "buffer_before_minutes": buffers[0],
        "buffer_after_minutes": 0,
    }
    if overlaps:
        with pytest.raises(BookingConflict):
            await book(container, **second)
    else:
        await book(container, **second)


async def test_region_group_and_chair_are_claims(container: Container) -> None:
    await book(container)
    base: dict[str, Any] = {
        "title": "x",
        "sites": ["can-tho"],
        "host_site": "can-tho",
        "leader_groups": [],
        "chair": {"name": "c", "email": "someone@moet.example.org"},
        "start": f"2026-12-10T09:00:00{HANOI}",
        "end": f"2026-12-10T10:00:00{HANOI}",
    }
    # the leader group is busy
    with pytest.raises(BookingConflict) as info:
        await book(container, **{**base, "leader_groups": ["lanh-dao-bo"]})
    assert "group:lanh-dao-bo" in {c.resource for c in info.value.conflicts}
    # the chair is busy (email compared without case)
    with pytest.raises(BookingConflict) as info:
        await book(container, **{**base, "chair": {"name": "C", "email": "CHAIR@moet.example.org"}})
    assert "chair:chair@moet.example.org" in {c.resource for c in info.value.conflicts}


async def test_regional_sessions_claim_their_region(container: Container) -> None:
    region = "bac-trung-bo-duyen-hai-mien-trung"
    common: dict[str, Any] = {
        "kind": "regional",
        "region": region,
        "leader_groups": [],
        "start": f"2026-12-15T08:00:00{HANOI}",
        "end": f"2026-12-15T10:00:00{HANOI}",
        "override_reason": None,
    }
    first = await book(
        container,
        title="Giao ban vùng",
        host_site="da-nang",
        sites=["da-nang"],
        chair={"name": "Trưởng vùng", "email": "head@example.org"},
        **common,
    )
    assert first.region == region
    with pytest.raises(BookingConflict) as info:
        await book(
            container,
            title="Another in region",
            host_site="nghe-an",
            sites=["nghe-an"],
            chair={"name": "X", "email": "x@example.org"},
            **common,
        )
    assert {c.resource for c in info.value.conflicts} == {f"region:{region}"}


async def test_all_or_nothing_and_skip_conflicting(container: Container) -> None:
    blocker = await book(
        container,
        title="Cần Thơ busy",
        host_site="can-tho",
        sites=["can-tho"],
        leader_groups=[],
        chair={"name": "X", "email": "x@example.org"},
    )
    with pytest.raises(BookingConflict):
        await book(container)
    async with container.store.read() as uow:
        assert len(await uow.sessions.find(SessionQuery())) == 1
    out = await book(container, conflict_policy="skip_conflicting")
    assert [s.site_id for s in out.skipped] == ["can-tho"]
    assert out.skipped[0].conflicts[0].session_id == blocker.id
    assert "can-tho" not in [s.site_id for s in out.sites]
    assert len(out.sites) == 5


async def test_skip_never_skips_the_host(container: Container) -> None:
    await book(
        container,
        title="Hà Nội busy",
        sites=["ha-noi"],
        leader_groups=[],
        chair={"name": "X", "email": "x@example.org"},
    )
    with pytest.raises(BookingConflict) as info:
        await book(container, conflict_policy="skip_conflicting")
    assert {c.resource for c in info.value.conflicts} == {"site:ha-noi"}


async def test_cancel_frees_claims_and_is_idempotent(container: Container) -> None:
    first = await book(container)
    cancelled = await container.bookings.cancel(first.id, OFFICE, "moved online")
    assert cancelled.status is SessionStatus.CANCELLED
    again = await container.bookings.cancel(first.id, OFFICE)
    assert again.status is SessionStatus.CANCELLED
    second = await book(container, title="Rebooked")
    assert second.id != first.id
    with pytest.raises(InvalidState):
        await container.bookings.update(first.id, UpdateSessionRequest(title="x"), OFFICE)
    log = await container.access.audit_log(OFFICE, target=f"session:{first.id}")
    assert [e.action for e in log] == ["session.cancel", "session.book"]
    assert log[0].reason == "moved online"


async def test_reschedule_and_site_changes_obey_rule_1(container: Container) -> None:
    a = await book(container)
    b = await book(
        container,
        title="Afternoon",
        start=f"2026-12-10T14:00:00{HANOI}",
        end=f"2026-12-10T16:00:00{HANOI}",
        sites=["ha-noi", "da-nang"],
        leader_groups=[],
        chair={"name": "B", "email": "b@example.org"},
    )
    # moving B onto A's morning collides on ha-noi and da-nang
    with pytest.raises(BookingConflict) as info:
        await container.bookings.update(
            b.id,
            UpdateSessionRequest.model_validate(
                {"start": f"2026-12-10T09:00:00{HANOI}", "end": f"2026-12-10T10:00:00{HANOI}"}
            ),
            OFFICE,
        )
    assert {c.session_id for c in info.value.conflicts} == {a.id}
    # removing sites from A frees them; then B can move there
    await container.bookings.update(a.id, UpdateSessionRequest(remove_sites=["da-nang"]), OFFICE)
    with pytest.raises(BookingConflict):  # ha-noi still taken
        await container.bookings.update(
            b.id,
            UpdateSessionRequest.model_validate(
                {"start": f"2026-12-10T09:00:00{HANOI}", "end": f"2026-12-10T10:00:00{HANOI}"}
            ),
            OFFICE,
        )
    moved = await container.bookings.update(
        b.id,
        UpdateSessionRequest.model_validate(
            {
                "start": f"2026-12-11T09:00:00{HANOI}",
                "end": f"2026-12-11T10:00:00{HANOI}",
                "add_sites": ["can-tho"],
            }
        ),
        OFFICE,
    )
    assert moved.version == 2
    assert [s.site_id for s in moved.sites] == ["ha-noi", "da-nang", "can-tho"]
    assert moved.start == datetime(2026, 12, 11, 2, tzinfo=UTC)
    # the old slot of B is free again
    await book(
        container,
        title="Reuse",
        start=f"2026-12-10T14:00:00{HANOI}",
        end=f"2026-12-10T16:00:00{HANOI}",
        sites=["da-nang"],
        host_site="da-nang",
        leader_groups=[],
        chair={"name": "C", "email": "c@example.org"},
    )


async def test_adding_a_busy_site_is_refused(container: Container) -> None:
    a = await book(container, sites=["ha-noi", "da-nang"])
    await book(
        container,
        title="Cần Thơ",
        sites=["can-tho"],
        host_site="can-tho",
        leader_groups=[],
        chair={"name": "X", "email": "x@example.org"},
    )
    with pytest.raises(BookingConflict) as info:
        await container.bookings.update(a.id, UpdateSessionRequest(add_sites=["can-tho"]), OFFICE)
    assert {c.resource for c in info.value.conflicts} == {"site:can-tho"}
    with pytest.raises(InvalidRequest):
        await container.bookings.update(a.id, UpdateSessionRequest(add_sites=["nowhere"]), OFFICE)
    with pytest.raises(InvalidRequest):
        await container.bookings.update(
            a.id, UpdateSessionRequest(remove_sites=["ha-noi", "da-nang"]), OFFICE
        )


@pytest.mark.parametrize(
    ("over", "rule"),
    [
        ({"start": "2026-12-12T08:00:00+07:00", "end": "2026-12-12T10:00:00+07:00"}, "weekend"),
        ({"start": "2027-01-01T08:00:00+07:00", "end": "2027-01-01T10:00:00+07:00"}, "holiday"),
        # Tết Nguyên Đán 2027 (lunar new year): Saturday 6 February; the Monday after is off too
        ({"start": "2027-02-08T08:00:00+07:00", "end": "2027-02-08T10:00:00+07:00"}, "holiday"),
        (
            {"start": "2026-12-10T12:00:00+07:00", "end": "2026-12-10T13:00:00+07:00"},
            "working_hours",
        ),
        (
            {"start": "2026-12-10T16:30:00+07:00", "end": "2026-12-10T17:30:00+07:00"},
            "working_hours",
        ),
        ({"start": "2026-11-20T08:00:00+07:00", "end": "2026-11-20T09:00:00+07:00"}, "in_past"),
        (
            {"start": "2026-12-10T07:30:00+07:00", "end": "2026-12-11T17:00:00+07:00"},
            "max_duration",
        ),
        (
            {
                "kind": "regional",
                "region": "dong-bang-song-hong",
                "start": "2026-12-02T08:00:00+07:00",
                "end": "2026-12-02T10:00:00+07:00",
            },
            "min_notice",
        ),
    ],
)
async def test_policy_breaches_are_named_and_overridable(
    container: Container, over: dict[str, Any], rule: str
) -> None:
    with pytest.raises(PolicyViolation) as info:
        await book(container, **over)
    assert info.value.rule == rule
    out = await book(container, **over, override_reason="Bộ trưởng yêu cầu họp gấp")
    assert rule in out.policy_overridden
    log = await container.access.audit_log(OFFICE, target=f"session:{out.id}")
    assert log[0].reason == "Bộ trưởng yêu cầu họp gấp"
    assert rule in json.dumps(log[0].detail)


async def test_full_day_with_lunch_break_is_within_hours(container: Container) -> None:
    await book(container, start=f"2026-12-10T07:30:00{HANOI}", end=f"2026-12-10T17:00:00{HANOI}")


async def test_ad_hoc_session_starting_now_with_override(container: Container) -> None:
    now = container.clock.now()
    out = await book(
        container,
        start=now.isoformat(),
        end=(now + timedelta(hours=1)).isoformat(),
        override_reason="họp đột xuất",
    )
    assert out.status is SessionStatus.LIVE
    assert out.policy_overridden == []  # Monday 09:00: within hours, not in the past


async def test_only_the_office_may_override(container: Container) -> None:
    coordinator = Principal(role=Role.COORDINATOR, token_id="t", site_id="da-nang")
    with pytest.raises(PermissionDenied):
        await container.bookings.book(booking(), coordinator)


async def test_idempotency_key_replays_the_first_answer(container: Container) -> None:
    req = booking()
    first = await container.bookings.book(req, OFFICE, idempotency_key="k-1")
    again = await container.bookings.book(req, OFFICE, idempotency_key="k-1")
    assert again.replayed
    assert wire_json(again.value) == wire_json(first.value)
    assert again.status == 201
    async with container.store.read() as uow:
        assert len(await uow.sessions.find(SessionQuery())) == 1
    with pytest.raises(IdempotencyMismatch):
        await container.bookings.book(booking(title="other"), OFFICE, idempotency_key="k-1")
    # another caller's key space is its own
    other = Principal(role=Role.OFFICE, token_id="o2", label="second office")
    with pytest.raises(BookingConflict):
        await container.bookings.book(req, other, idempotency_key="k-1")


async def test_unknown_references_are_clear_errors(container: Container) -> None:
    with pytest.raises(InvalidRequest, match="unknown site"):
        await book(container, sites=["ha-noi", "atlantis"])
    with pytest.raises(InvalidRequest, match="leader group"):
        await book(container, leader_groups=["nobody"])
    with pytest.raises(InvalidRequest, match="region"):
        await book(container, kind="regional", region="nowhere")
    with pytest.raises(InvalidRequest, match="provider"):
        await book(container, provider="jaas")
    with pytest.raises(SessionNotFound):
        await container.bookings.get("missing", OFFICE)


async def test_database_refuses_overlap_even_without_the_check(container: Container) -> None:
    """Rule 2: the database is the last line of defence, on INSERT and on UPDATE."""
    first = await book(container)
    second = await book(
        container,
        title="later",
        start=f"2026-12-11T08:00:00{HANOI}",
        end=f"2026-12-11T09:00:00{HANOI}",
    )
    start = datetime(2026, 12, 10, 1, tzinfo=UTC)
    with pytest.raises(ClaimOverlap):
        async with container.store.write() as uow:
            await uow.claims.add(second.id, ["site:ha-noi"], start, start + timedelta(hours=1))
    with pytest.raises(ClaimOverlap):
        async with container.store.write() as uow:
            await uow.claims.replace(second.id, ["site:da-nang"], start, start + timedelta(hours=1))
    # nothing of the refused units was kept
    async with container.store.read() as uow:
        busy = await uow.claims.busy_ranges(
            ["site:ha-noi"], start - timedelta(days=1), start + timedelta(days=2)
        )
    assert len(busy) == 2
    assert first.id != second.id


async def test_time_zones_with_daylight_saving(container: Container) -> None:
    extra = parse_directory(
        """
        [[sites]]
        id = "paris"
        name = "Ambassade à Paris"
        timezone = "Europe/Paris"
        [[sites]]
        id = "new-york"
        name = "Consulate New York"
        timezone = "America/New_York"
        """
    )
    await container.directory.apply(extra, OFFICE)
    # 15:00 in Hà Nội on 10 December = 09:00 in Paris (UTC+1) = 03:00 in New York: outside hours
    with pytest.raises(PolicyViolation) as info:
        await book(
            container,
            sites=["ha-noi", "paris", "new-york"],
            leader_groups=[],
            start=f"2026-12-10T15:00:00{HANOI}",
            end=f"2026-12-10T16:00:00{HANOI}",
        )
    assert info.value.rule == "working_hours"
    assert {b.site_id for b in info.value.breaches} == {"new-york"}
    out = await book(
        container,
        sites=["ha-noi", "paris"],
        leader_groups=[],
        start=f"2026-12-10T15:00:00{HANOI}",
        end=f"2026-12-10T16:00:00{HANOI}",
    )
    paris = next(s for s in out.sites if s.site_id == "paris")
    assert paris.local_start is not None
    assert paris.local_start.isoformat() == "2026-12-10T09:00:00+01:00"
    # in summer Paris is UTC+2: the same Hà Nội time is 10:00 there
    summer = await book(
        container,
        sites=["ha-noi", "paris"],
        leader_groups=[],
        start=f"2027-06-10T15:00:00{HANOI}",
        end=f"2027-06-10T16:00:00{HANOI}",
    )
    paris = next(s for s in summer.sites if s.site_id == "paris")
    assert paris.local_start is not None
    assert paris.local_start.isoformat() == "2027-06-10T10:00:00+02:00"
    assert summer.start == datetime(2027, 6, 10, 8, tzinfo=UTC)


async def test_visibility_by_role(container: Container) -> None:
    mine = await book(container)
    other = await book(
        container,
        title="Other chair",
        start=f"2026-12-11T08:00:00{HANOI}",
        end=f"2026-12-11T09:00:00{HANOI}",
        sites=["can-tho"],
        host_site="can-tho",
        leader_groups=[],
        chair={"name": "O", "email": "other@example.org"},
    )
    chair = Principal(role=Role.CHAIR, token_id="c", email="chair@moet.example.org")
    assert [s.id for s in await container.bookings.list_sessions(SessionQuery(), chair)] == [
        mine.id
    ]
    with pytest.raises(SessionNotFound):
        await container.bookings.get(other.id, chair)
    coord = Principal(role=Role.COORDINATOR, token_id="d", site_id="can-tho")
    listed = await container.bookings.list_sessions(SessionQuery(), coord)
    assert [s.id for s in listed] == [mine.id, other.id]
    coord_dn = Principal(role=Role.COORDINATOR, token_id="e", site_id="da-nang")
    assert [s.id for s in await container.bookings.list_sessions(SessionQuery(), coord_dn)] == [
        mine.id
    ]
    with pytest.raises(SessionNotFound):
        await container.bookings.get(other.id, coord_dn)
    with pytest.raises(PermissionDenied):
        await container.bookings.cancel(mine.id, coord_dn)


async def test_list_filters(container: Container) -> None:
    a = await book(container)
    b = await book(
        container,
        title="Regional",
        kind="regional",
        region="dong-bang-song-cuu-long",
        sites=[],
        host_site="can-tho",
        leader_groups=[],
        chair={"name": "R", "email": "r@example.org"},
        start=f"2027-01-12T08:00:00{HANOI}",
        end=f"2027-01-12T10:00:00{HANOI}",
    )
    assert [s.site_id for s in b.sites] == ["can-tho"]
    everything = await container.bookings.list_sessions(SessionQuery(), OFFICE)
    assert [s.id for s in everything] == [a.id, b.id]
    by_region = await container.bookings.list_sessions(
        SessionQuery(region="dong-bang-song-cuu-long"), OFFICE
    )
    assert [s.id for s in by_region] == [b.id]
    by_site = await container.bookings.list_sessions(SessionQuery(site="nghe-an"), OFFICE)
    assert [s.id for s in by_site] == [a.id]
    window = await container.bookings.list_sessions(
        SessionQuery(start_from=datetime(2027, 1, 1, tzinfo=UTC)), OFFICE
    )
    assert [s.id for s in window] == [b.id]


async def test_free_slots_avoid_bookings_and_policy(container: Container) -> None:
    await book(container)  # Thursday 10 Dec 07:30-11:45 claimed (with buffers)
    q = SlotQuery.model_validate(
        {
            "sites": ["ha-noi", "da-nang"],
            "groups": ["lanh-dao-bo"],
            "duration_minutes": 120,
            "from": f"2026-12-10T00:00:00{HANOI}",
            "to": f"2026-12-12T00:00:00{HANOI}",
            "limit": 3,
        }
    )
    found = await container.bookings.find_slots(q, OFFICE)
    starts = [s.start.astimezone(UTC) for s in found.slots]
    # Thursday morning is taken (07:30-11:45 with buffers): the afternoon comes first
    assert starts[0] == datetime(2026, 12, 10, 6, 30, tzinfo=UTC)  # 13:30 Hà Nội
    # every slot found is really bookable
    probe = found.slots[-1]
    await book(
        container,
        title="probe",
        start=probe.start.isoformat(),
        end=probe.end.isoformat(),
        sites=["ha-noi", "da-nang"],
    )


async def test_regional_round_plan_and_commit(container: Container) -> None:
    regions = [
        "dong-bang-song-hong",
        "bac-trung-bo-duyen-hai-mien-trung",
        "dong-bang-song-cuu-long",
    ]
    req = RegionalPlanRequest.model_validate(
        {
            "regions": regions,
            "from": f"2026-12-14T00:00:00{HANOI}",
            "to": f"2027-01-08T00:00:00{HANOI}",
            "duration_minutes": 180,
            "leader_groups": ["lanh-dao-bo"],
        }
    )
    proposal = (await container.bookings.plan_regional(req, OFFICE)).value
    assert not proposal.committed
    assert [p.region for p in proposal.proposals] == regions
    spans = sorted((p.start, p.end) for p in proposal.proposals)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
    assert all(p.start >= datetime(2026, 12, 8, 1, tzinfo=UTC) for p in proposal.proposals)
    heads = {p.region: p.host_site for p in proposal.proposals}
    assert heads["dong-bang-song-hong"] == "ha-noi"
    committed = (
        await container.bookings.plan_regional(req.model_copy(update={"commit": True}), OFFICE)
    ).value
    assert committed.committed
    assert len(committed.sessions) == 3
    assert all(s.kind.value == "regional" for s in committed.sessions)
    # a second round in the same window goes around the first one
    again = (await container.bookings.plan_regional(req, OFFICE)).value
    booked = [(s.claimed.start, s.claimed.end) for s in committed.sessions]
    for p in again.proposals:
        assert all(p.end <= s or p.start >= e for s, e in booked)


async def test_regional_commit_is_all_or_none(container: Container) -> None:
    regions = ["dong-bang-song-hong", "dong-bang-song-cuu-long", "tay-nguyen"]
    req = RegionalPlanRequest.model_validate(
        {
            "regions": regions,
            "from": f"2026-12-14T00:00:00{HANOI}",
            "to": f"2026-12-31T00:00:00{HANOI}",
            "duration_minutes": 180,
            "leader_groups": ["lanh-dao-bo"],
            "commit": True,
        }
    )
    with pytest.raises(InvalidRequest, match="tay-nguyen"):
        await container.bookings.plan_regional(req, OFFICE)
    async with container.store.read() as uow:
        assert await uow.sessions.find(SessionQuery()) == []


async def test_status_filter_follows_the_clock(container: Container, clock: ManualClock) -> None:
    a = await book(container)
    b = await book(
        container,
        title="later",
        start=f"2026-12-11T08:00:00{HANOI}",
        end=f"2026-12-11T09:00:00{HANOI}",
    )
    c = await book(
        container,
        title="cancelled",
        start=f"2026-12-14T08:00:00{HANOI}",
        end=f"2026-12-14T09:00:00{HANOI}",
    )
    await container.bookings.cancel(c.id, OFFICE)

    async def ids(status: SessionStatus) -> list[str]:
        found = await container.bookings.list_sessions(SessionQuery(status=status), OFFICE)
        assert all(s.status is status for s in found)
        return [s.id for s in found]

    assert await ids(SessionStatus.SCHEDULED) == [a.id, b.id]
    assert await ids(SessionStatus.CANCELLED) == [c.id]
    clock.set(datetime(2026, 12, 10, 2, tzinfo=UTC))
    assert await ids(SessionStatus.LIVE) == [a.id]
    assert await ids(SessionStatus.SCHEDULED) == [b.id]
    clock.set(datetime(2026, 12, 10, 5, tzinfo=UTC))
    assert await ids(SessionStatus.ENDED) == [a.id]
    assert await ids(SessionStatus.LIVE) == []


async def test_host_alone_is_enough_for_a_national_session(container: Container) -> None:
    out = await book(container, sites=[], leader_groups=[])
    assert [s.site_id for s in out.sites] == ["ha-noi"]


async def test_large_sessions_take_the_bulk_path(container: Container) -> None:
    """Hundreds of sites go in as one statement on either database; the overlap rule holds
    there too."""
    many = parse_directory(
        "\n".join(f'[[sites]]\nid = "s{i:03d}"\nname = "Site {i}"\n' for i in range(250))
    )
    await container.directory.apply(many, OFFICE)
    ids = [f"s{i:03d}" for i in range(250)]
    out = await book(container, sites=ids, host_site="s000", leader_groups=[])
    assert len(out.sites) == 250
    assert len({s.join_url for s in out.sites}) == 250
    read = await container.bookings.get(out.id, OFFICE)
    assert [s.site_id for s in read.sites] == ids
    with pytest.raises(BookingConflict) as info:
        await book(container, title="again", sites=ids[::-1], host_site="s249", leader_groups=[])
    assert len(info.value.conflicts) >= 250
    start = datetime(2026, 12, 10, 1, tzinfo=UTC)
    with pytest.raises(ClaimOverlap):
        async with container.store.write() as uow:
            await uow.claims.add(
                out.id, [f"site:{i}" for i in ids], start, start + timedelta(hours=1)
            )


async def test_a_claim_spans_at_most_three_days(container: Container) -> None:
    with pytest.raises(InvalidRequest, match="3 days"):
        await book(
            container,
            start=f"2026-12-10T08:00:00{HANOI}",
            end=f"2026-12-13T08:00:00{HANOI}",
            override_reason="long event",
        )
