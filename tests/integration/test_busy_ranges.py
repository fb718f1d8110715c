"""`uow.claims.busy_ranges` on real SQLite and PostgreSQL: the time the active claims of the
resources hold within a window, merged (overlapping or touching claims as one range), exactly
as a brute-force union of the same claims gives it."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.store import tables as t
from orchestrator.store.sql import SqlStore, create_engine, resource_key

T0 = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
SESSION = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    s = SqlStore(create_engine(db_url))
    async with s.engine.begin() as conn:
        await conn.execute(
            t.sessions.insert(),
            {
                "id": SESSION,
                "title": "Họp",
                "agenda": "",
                "kind": "national",
                "region_id": None,
                "starts_at": T0,
                "ends_at": T0 + H,
                "timezone": "Asia/Ho_Chi_Minh",
                "host_site_id": "ha-noi",
                "chair_name": "Chủ trì",
                "chair_email": "chair@example.org",
                "leader_groups": [],
                "provider": "static",
                "buffer_before_minutes": 0,
                "buffer_after_minutes": 0,
                "status": "scheduled",
                "room": "hop",
                "created_at": T0,
                "updated_at": T0,
                "version": 1,
            },
        )
    try:
        yield s
    finally:
        await s.close()


async def _claim(store: SqlStore, *claims: tuple[str, datetime, datetime, bool]) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            t.claims.insert(),
            [
                {
                    "session_id": SESSION,
                    "resource": r,
                    "resource_key": resource_key(r),
                    "starts_at": b,
                    "ends_at": e,
                    "active": active,
                }
                for r, b, e, active in claims
            ],
        )


async def _busy(
    store: SqlStore, resources: list[str], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    async with store.read() as uow:
        return await uow.claims.busy_ranges(resources, start, end)


async def test_overlapping_and_touching_claims_are_one_range(store: SqlStore) -> None:
    await _claim(
        store,
        ("site:a", T0 + 9 * H, T0 + 10 * H, True),
        ("site:b", T0 + 9 * H + 30 * M, T0 + 11 * H, True),  # overlaps a's
        ("site:c", T0 + 11 * H, T0 + 12 * H, True),  # touches b's
        ("site:a", T0 + 13 * H, T0 + 14 * H, True),
        ("site:b", T0 + 13 * H + 15 * M, T0 + 13 * H + 45 * M, True),  # within a's
        ("site:c", T0 + 15 * H, T0 + 16 * H, False),  # cancelled
        ("site:z", T0 + 16 * H, T0 + 17 * H, True),  # not asked for
        ("site:a", T0 - 2 * H, T0 + 8 * H, True),  # began before the window
        ("site:b", T0 + 20 * H, T0 + 21 * H, True),  # after the window
        ("site:c", T0 - 5 * H, T0 - H, True),  # ended before it
    )
    busy = await _busy(store, ["site:a", "site:b", "site:c", "site:a"], T0, T0 + 18 * H)
    assert busy == [
        (T0 - 2 * H, T0 + 8 * H),
        (T0 + 9 * H, T0 + 12 * H),
        (T0 + 13 * H, T0 + 14 * H),
    ]
    assert all(b.tzinfo is not None and b.utcoffset() == timedelta(0) for b, _ in busy)
    assert await _busy(store, ["site:nobody"], T0, T0 + 18 * H) == []


async def test_busy_ranges_equal_the_union_of_the_claims(store: SqlStore) -> None:
    rng = random.Random(20270301)
    resources = [f"site:{i}" for i in range(6)]
    claims: list[tuple[str, datetime, datetime, bool]] = []
    for r in resources:
        at = T0 - 2 * 24 * H
        while at < T0 + 6 * 24 * H:
            at += rng.randrange(0, 6 * 60, 15) * M
            length = rng.choice([30, 45, 60, 90, 120, 24 * 60]) * M
            claims.append((r, at, at + length, rng.random() < 0.9))
            at += length  # no two claims of one resource overlap (rule 1); touching is allowed
    await _claim(store, *claims)
    for start, end in [(T0, T0 + 24 * H), (T0 - 24 * H, T0 + 5 * 24 * H), (T0 + 7 * H, T0 + 8 * H)]:
        asked = resources[:4]
        held = sorted(
            (b, e) for r, b, e, active in claims if active and r in asked and b < end and e > start
        )
        union: list[tuple[datetime, datetime]] = []
        for b, e in held:
            if union and b <= union[-1][1]:
                union[-1] = (union[-1][0], max(union[-1][1], e))
            else:
                union.append((b, e))
        assert await _busy(store, asked, start, end) == union
