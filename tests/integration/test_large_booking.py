"""A booking of thousands of sites on real SQLite and PostgreSQL: its row first, then its claims
while its links are minted beside them, then its sites (`BookingSteps._claim_while_linking`);
what it stores and answers is what a small booking's path stores and answers, and the database
still refuses an overlapping claim, however it is written."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError

from orchestrator.booking.book import LINKS_BESIDE_CLAIMS
from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory, parse_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import BookingConflict, InvalidRequest
from orchestrator.settings import JitsiSettings, Settings
from orchestrator.store import tables as t
from orchestrator.store.base import ClaimOverlap, StoreFailure
from orchestrator.store.sql import SqlStore, resource_key
from tests.builders import national_booking
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE

SITES = LINKS_BESIDE_CLAIMS + 200
IDS = [f"s{i:04d}" for i in range(SITES)]
HANOI = "+07:00"


async def _with_many_sites(c: Container) -> Container:
    many = parse_directory(
        "\n".join(f'[[sites]]\nid = "{i}"\nname = "Điểm cầu {i}"\n' for i in IDS)
    )
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    await c.directory.apply(many, OFFICE)
    return c


@pytest.fixture
async def large(settings: Settings, clock: ManualClock) -> Any:
    c = await _with_many_sites(build(settings, clock=clock))
    try:
        yield c
    finally:
        await c.close()


def _booking(**over: Any) -> BookSessionRequest:
    return national_booking(
        **{"sites": IDS, "host_site": IDS[0], "leader_groups": [], "override_reason": "x", **over}
    )


async def _claims(c: Container, session_id: str) -> list[str]:
    store = c.store
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.claims.c.resource).where(
                t.claims.c.session_id == session_id, t.claims.c.active.is_(True)
            )
        )
        return sorted(r.resource for r in rows)


async def test_a_large_booking_stores_and_answers_every_site(large: Container) -> None:
    answer = await large.bookings.book(_booking(), OFFICE)
    out = answer.value
    assert [s.site_id for s in out.sites] == IDS
    assert len({s.join_url for s in out.sites}) == SITES
    assert [s.host for s in out.sites] == [True] + [False] * (SITES - 1)
    read = await large.bookings.get(out.id, OFFICE)
    assert read.model_dump() == {
        k: v for k, v in out.model_dump().items() if k not in ("skipped", "policy_overridden")
    }
    chair = "chair:" + out.chair.email.lower()
    assert await _claims(large, out.id) == sorted([*(f"site:{i}" for i in IDS), chair])


async def test_a_large_booking_skips_the_sites_it_may_skip(large: Container) -> None:
    first = await large.bookings.book(
        _booking(sites=IDS[:50], chair={"name": "A", "email": "a@example.org"}), OFFICE
    )
    answer = await large.bookings.book(
        _booking(host_site=IDS[-1], conflict_policy="skip_conflicting"), OFFICE
    )
    out = answer.value
    assert [s.site_id for s in out.skipped] == IDS[:50]
    assert {c.session_id for s in out.skipped for c in s.conflicts} == {first.value.id}
    assert [s.site_id for s in out.sites] == [IDS[-1], *IDS[50:-1]]  # the host first
    read = await large.bookings.get(out.id, OFFICE)
    assert [(s.site_id, s.join_url) for s in read.sites] == [
        (s.site_id, s.join_url) for s in out.sites
    ]


async def test_claims_refused_by_the_database_leave_nothing(large: Container) -> None:
    """The database's refusal while the links are minted comes out as `ClaimOverlap`, once
    both are over, and the unit keeps nothing (the check before it is bypassed here)."""
    first = (await large.bookings.book(_booking(), OFFICE)).value
    steps = large.bookings._steps  # the booking's steps, past the conflict check
    second = _booking(chair={"name": "B", "email": "b@example.org"})
    async with large.store.read() as uow:
        prepared = await steps.prepare(uow, second, "second")
    with pytest.raises(ClaimOverlap):
        async with large.store.write() as uow:
            await steps._claim_while_linking(uow, prepared.session, prepared)
    async with large.store.read() as uow:
        assert await uow.sessions.get("second") is None
    # the store goes on as before
    later = await large.bookings.book(
        _booking(start=f"2026-12-11T08:00:00{HANOI}", end=f"2026-12-11T09:00:00{HANOI}"), OFFICE
    )
    assert len(later.value.sites) == SITES
    with pytest.raises(BookingConflict):
        await large.bookings.book(_booking(title="again"), OFFICE)
    assert first.id != later.value.id


async def test_too_many_speakers_are_refused_before_anything_is_written(
    settings: Settings, clock: ManualClock
) -> None:
    configured = settings.model_copy(
        update={
            "jitsi": JitsiSettings(
                domain="meet.example.org",
                app_id="moet",
                app_secret=SecretStr("a-jitsi-app-secret-of-at-least-32-bytes!"),
                max_participants=4,
            )
        }
    )
    c = await _with_many_sites(build(configured, clock=clock))
    try:
        with pytest.raises(InvalidRequest, match="speaking sites"):
            await c.bookings.book(_booking(provider="jitsi", speaking_sites=IDS[1:6]), OFFICE)
        out = (await c.bookings.book(_booking(provider="jitsi"), OFFICE)).value
        roles = [s.role for s in out.sites]
        assert roles == ["participant"] + ["visitor"] * (SITES - 1)
    finally:
        await c.close()


async def test_the_database_refuses_an_overlapping_claim_written_by_hand(
    large: Container,
) -> None:
    """Rule 1 is the database's: a claim inserted with plain SQL, beside the booking's, is
    refused (SQLite's trigger, PostgreSQL's exclusion constraint)."""
    out = (await large.bookings.book(_booking(), OFFICE)).value
    store = large.store
    assert isinstance(store, SqlStore)
    start = datetime(2026, 12, 10, 1, tzinfo=UTC)
    resource = f"site:{IDS[-1]}"
    # (outside a unit of work the engine says StoreFailure, inside one IntegrityError)
    with pytest.raises((IntegrityError, StoreFailure), match=r"claims?_(no_)?overlap"):
        async with store.engine.begin() as conn:
            await conn.execute(
                t.claims.insert().values(
                    session_id=out.id,
                    resource=resource,
                    resource_key=resource_key(resource),
                    starts_at=start,
                    ends_at=start + timedelta(minutes=5),
                    active=True,
                )
            )
    assert len(await _claims(large, out.id)) == SITES + 1


async def test_the_collector_is_held_off_while_a_large_booking_runs_only(
    large: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    steps = large.bookings._steps
    claim = steps.claim

    async def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return await claim(*args, **kwargs)

    monkeypatch.setattr(steps, "claim", watched)
    assert gc.isenabled()
    await large.bookings.book(_booking(sites=IDS[:3]), OFFICE)
    with pytest.raises(BookingConflict):  # the same time: refused as it claims
        await large.bookings.book(_booking(), OFFICE)
    assert seen == [True, False]
    assert gc.isenabled()
