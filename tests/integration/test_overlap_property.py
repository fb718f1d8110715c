"""Property tests of rule 1 through the real store: random bookings, reschedules and cancels
against a plain in-memory model of half-open buffered claims."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.booking.schemas import BookSessionRequest, UpdateSessionRequest
from orchestrator.bootstrap import build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import BookingConflict
from orchestrator.settings import Settings
from orchestrator.store import tables as t
from orchestrator.store.sql import SqlStore
from tests.conftest import EXAMPLE_DIRECTORY, NOW, OFFICE

SITES = ["ha-noi", "da-nang", "can-tho"]
GROUPS = ["lanh-dao-bo"]
CHAIRS = ["a@example.org", "b@example.org"]
# Thursday 10 December 2026, 07:30 in Hà Nội; slots on a 15-minute grid inside the morning.
DAY = datetime(2026, 12, 10, 0, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Op:
    kind: str  # "book", "move", "cancel"
    start: int  # quarter hours after 07:30
    length: int  # quarter hours
    before: int
    after: int
    sites: tuple[str, ...]
    groups: tuple[str, ...]
    chair: str
    target: int  # which earlier booking a move or cancel acts on


ops = st.builds(
    Op,
    kind=st.sampled_from(["book", "book", "book", "move", "cancel"]),
    start=st.integers(0, 12),
    length=st.integers(1, 4),
    before=st.sampled_from([0, 15, 30]),
    after=st.sampled_from([0, 15]),
    sites=st.lists(st.sampled_from(SITES), min_size=1, max_size=3, unique=True).map(tuple),
    groups=st.lists(st.sampled_from(GROUPS), max_size=1).map(tuple),
    chair=st.sampled_from(CHAIRS),
    target=st.integers(0, 20),
)


@dataclass
class Model:
    """What rule 1 says should happen: claims as (resource, start, end) per live session."""

    live: dict[str, tuple[set[str], datetime, datetime]] = field(default_factory=dict)

    def free(self, resources: set[str], start: datetime, end: datetime, skip: str = "") -> bool:
        return not any(
            resources & held and start < e and s < end
            for sid, (held, s, e) in self.live.items()
            if sid != skip
        )


def claims(op: Op) -> tuple[set[str], datetime, datetime, datetime, datetime]:
    start = DAY + timedelta(minutes=15 * op.start)
    end = start + timedelta(minutes=15 * op.length)
    resources = {f"site:{s}" for s in op.sites} | {f"group:{g}" for g in op.groups}
    resources.add(f"chair:{op.chair}")
    return (
        resources,
        start,
        end,
        start - timedelta(minutes=op.before),
        end + timedelta(minutes=op.after),
    )


async def run(url: str, sequence: list[Op]) -> None:
    c = build(Settings(database_url=url), clock=ManualClock(NOW))
    try:
        store = c.store
        assert isinstance(store, SqlStore)
        async with store.engine.begin() as conn:  # a clean slate per example
            for table in (t.claims, t.session_sites, t.sessions):
                await conn.execute(table.delete())
        await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
        model = Model()
        booked: list[str] = []
        for n, op in enumerate(sequence):
            resources, start, end, cs, ce = claims(op)
            if op.kind == "book" or not booked:
                req = BookSessionRequest(
                    title=f"s{n}",
                    start=start,
                    end=end,
                    host_site=op.sites[0],
                    sites=list(op.sites),
                    chair={"name": "c", "email": op.chair},
                    leader_groups=list(op.groups),
                    buffer_before_minutes=op.before,
                    buffer_after_minutes=op.after,
                    override_reason="property test",
                )
                expected = model.free(resources, cs, ce)
                refusal: BookingConflict | None = None
                try:
                    answer = await c.bookings.book(req, OFFICE)
                except BookingConflict as exc:
                    refusal = exc
                if refusal is not None:
                    assert not expected, f"refused a free booking: {refusal}"
                    assert refusal.conflicts
                    continue
                assert expected, "booked over an existing claim"
                sid = answer.value.id
                booked.append(sid)
                model.live[sid] = (resources, cs, ce)
            elif op.kind == "move":
                sid = booked[op.target % len(booked)]
                if sid not in model.live:
                    continue
                held, _, _ = model.live[sid]
                before, after = op.before, op.after
                change = UpdateSessionRequest(
                    start=start,
                    end=end,
                    buffer_before_minutes=before,
                    buffer_after_minutes=after,
                    override_reason="property test",
                )
                expected = model.free(held, cs, ce, skip=sid)
                try:
                    await c.bookings.update(sid, change, OFFICE)
                except BookingConflict:
                    assert not expected, "refused a free move"
                    continue
                assert expected, "moved over an existing claim"
                model.live[sid] = (held, cs, ce)
            else:
                sid = booked[op.target % len(booked)]
                await c.bookings.cancel(sid, OFFICE)
                model.live.pop(sid, None)
        # the database agrees with the model, claim by claim
        async with c.store.read() as uow:
            for sid, (held, s, e) in model.live.items():
                found = await uow.claims.conflicts(sorted(held), s, e)
                assert {x.session_id for x in found} == {sid}
    finally:
        await c.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(ops, min_size=1, max_size=12))
def test_rule_1_matches_the_model(db_url: str, sequence: list[Op]) -> None:
    asyncio.run(run(db_url, sequence))
