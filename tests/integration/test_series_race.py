"""Series racing single bookings and each other over HTTP, against two service instances sharing
one database (rule 2 for every occurrence): each claim has exactly one winner."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from orchestrator.bootstrap import Container, build
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Role
from orchestrator.settings import Settings
from orchestrator.store import tables as t
from orchestrator.store.sql import SqlStore
from orchestrator.web.app import init_app

SINGLES = 10
ROUNDS = 2


@pytest.fixture
async def instances(
    container: Container, settings: Settings, clock: ManualClock
) -> AsyncIterator[tuple[list[str], dict[str, str]]]:
    """Two service instances (own engine and pool each) on the same database."""
    second = build(settings, clock=clock)
    servers = [TestServer(init_app(c), host="127.0.0.1", port=0) for c in (container, second)]
    for s in servers:
        await s.start_server()
    token = (await container.access.create_token(Role.OFFICE, label="race")).token
    try:
        yield (
            [str(s.make_url("/")).rstrip("/") for s in servers],
            {"Authorization": f"Bearer {token}"},
        )
    finally:
        for s in servers:
            await s.close()
        await second.close()


def booking(n: int, start: str, end: str) -> dict[str, Any]:
    """Đà Nẵng alone (the one resource every contender shares), each with its own chair."""
    return {
        "title": f"Race {n}",
        "start": start,
        "end": end,
        "host_site": "da-nang",
        "sites": ["da-nang"],
        "chair": {"name": f"Chair {n}", "email": f"chair{n}@example.org"},
    }


def series(n: int, first: str, hours: str, **over: Any) -> dict[str, Any]:
    """Thursdays from `first` (a day of December 2026), `hours` as "08-10", four times."""
    start, end = hours.split("-")
    return booking(
        n, f"2026-12-{first}T{start}:00:00+07:00", f"2026-12-{first}T{end}:00:00+07:00"
    ) | {"recurrence": "FREQ=WEEKLY;BYDAY=TH;COUNT=4", **over}


async def overlapping_claims(c: Container) -> list[tuple[str, int, int]]:
    """Every pair of active claims on one resource whose ranges overlap: none may exist."""
    assert isinstance(c.store, SqlStore)
    k = t.claims.c
    async with c.store.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(k.id, k.resource, k.starts_at, k.ends_at).where(k.active.is_(True))
            )
        ).all()
    out = []
    for a, b in itertools.combinations(rows, 2):
        if a.resource == b.resource and a.starts_at < b.ends_at and b.starts_at < a.ends_at:
            out.append((a.resource, a.id, b.id))
    return out


async def claims_of(c: Container, session_ids: list[str]) -> int:
    assert isinstance(c.store, SqlStore)
    k = t.claims.c
    async with c.store.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).where(k.active.is_(True), k.session_id.in_(session_ids))
        )
    return int(count or 0)


async def test_two_series_and_single_bookings_race_and_one_wins(
    instances: tuple[list[str], dict[str, str]], container: Container
) -> None:
    urls, headers = instances
    async with httpx.AsyncClient(timeout=120) as http:
        for rnd in range(ROUNDS):
            week = 7 * rnd  # each round on its own Thursdays: 3, 10, 17, 24 then 10, 17, ...
            first_a, first_b = 3 + week, 10 + week
            # every contender wants Đà Nẵng on Thursday `first_b`: the singles at 08:30, series
            # A at 08:00 from a week earlier, series B at 09:00 (and on later Thursdays)
            contenders = [
                ("/api/series", series(900 + rnd, f"{first_a:02d}", "08-10")),
                ("/api/series", series(950 + rnd, f"{first_b:02d}", "09-11")),
                *(
                    (
                        "/api/sessions",
                        booking(
                            n,
                            f"2026-12-{first_b:02d}T08:30:00+07:00",
                            f"2026-12-{first_b:02d}T09:30:00+07:00",
                        ),
                    )
                    for n in range(rnd * 100, rnd * 100 + SINGLES)
                ),
            ]
            answers = await asyncio.gather(
                *(
                    http.post(f"{urls[i % 2]}{path}", json=body, headers=headers)
                    for i, (path, body) in enumerate(contenders)
                )
            )
            codes = [r.status_code for r in answers]
            assert sorted(codes).count(201) == 1, codes
            assert sorted(codes).count(409) == len(contenders) - 1, codes
            for r in answers:
                if r.status_code == 409:
                    conflicts = r.json()["conflicts"]
                    assert conflicts, r.text
                    assert {c["resource"] for c in conflicts} == {"site:da-nang"}, r.text
                    if "/api/series" in str(r.request.url):
                        assert all(c["occurrence"] for c in conflicts), r.text
            # the winner holds every one of its claims, the losers none
            [won] = [r.json() for r in answers if r.status_code == 201]
            ids = (
                [o["session_id"] for o in won["occurrences"]]
                if "occurrences" in won
                else [won["id"]]
            )
            assert await claims_of(container, ids) == 2 * len(ids)  # Đà Nẵng and the chair
            if "occurrences" in won:
                # the singles' Thursday is taken: clear it for the next round's contenders
                await http.post(f"{urls[0]}/api/series/{won['id']}/cancel", headers=headers)
            else:
                await http.post(f"{urls[0]}/api/sessions/{won['id']}/cancel", headers=headers)
    assert await overlapping_claims(container) == []


async def test_a_skipping_series_takes_only_the_dates_the_race_left_free(
    instances: tuple[list[str], dict[str, str]], container: Container
) -> None:
    urls, headers = instances
    async with httpx.AsyncClient(timeout=120) as http:
        # Thursdays 3, 10, 17 and 24 December: singles race for the 10th and the 17th at 08:30,
        # a skipping series for all four at 08:00, an all-or-nothing one at 09:00 from the 10th
        contenders = [
            (
                "/api/series",
                series(1, "03", "08-10", conflict_policy="skip_conflicting_occurrences"),
            ),
            ("/api/series", series(2, "10", "09-11")),
            *(
                (
                    "/api/sessions",
                    booking(
                        10 + n, f"2026-12-{day}T08:30:00+07:00", f"2026-12-{day}T09:30:00+07:00"
                    ),
                )
                for n, day in enumerate(["10", "17"] * (SINGLES // 2))
            ),
        ]
        answers = await asyncio.gather(
            *(
                http.post(f"{urls[i % 2]}{path}", json=body, headers=headers)
                for i, (path, body) in enumerate(contenders)
            )
        )
    codes = [r.status_code for r in answers]
    assert all(code in (201, 409) for code in codes), codes
    assert await overlapping_claims(container) == []
    skipping = answers[0]
    if skipping.status_code == 201:
        got = skipping.json()
        booked = {o["occurrence"][:10] for o in got["occurrences"]}
        skipped = {k["occurrence"][:10] for k in got["skipped"]}
        assert booked | skipped == {"2026-12-03", "2026-12-10", "2026-12-17", "2026-12-24"}
        assert not booked & skipped
        assert all(k["conflicts"] for k in got["skipped"])
        ids = [o["session_id"] for o in got["occurrences"]]
        assert await claims_of(container, ids) == 2 * len(ids)
    # at most one winner for the 10th and one for the 17th among all who wanted them
    winners = [r.json() for r in answers if r.status_code == 201]
    for day in ("2026-12-10", "2026-12-17"):
        holders = [
            w
            for w in winners
            if any(o["occurrence"].startswith(day) for o in w.get("occurrences", []))
            or w.get("start", "").startswith(day)
        ]
        assert len(holders) == 1, (day, codes)


async def test_two_series_moved_into_one_time_at_once_one_wins(
    instances: tuple[list[str], dict[str, str]], container: Container
) -> None:
    """Two series on Đà Nẵng's Thursdays (08:00 and 14:00) are both moved to 09:30 at the same
    moment, through the two instances, several rounds: one PATCH wins, the other is 409 naming
    its occurrences, and the loser's occurrences keep their time."""
    urls, headers = instances
    async with httpx.AsyncClient(timeout=120) as http:
        for rnd in range(ROUNDS):
            first = f"{3 + 7 * rnd:02d}"  # each round on Thursdays of its own
            booked = []
            for n, hours in ((700 + rnd, "08-10"), (750 + rnd, "14-16")):
                r = await http.post(
                    f"{urls[0]}/api/series",
                    json=series(n, first, hours, recurrence="FREQ=WEEKLY;BYDAY=TH;COUNT=2"),
                    headers=headers,
                )
                assert r.status_code == 201, r.text
                booked.append(r.json())
            answers = await asyncio.gather(
                *(
                    http.patch(
                        f"{urls[i]}/api/series/{s['id']}",
                        json={"start_time": "09:30"},
                        headers=headers,
                    )
                    for i, s in enumerate(booked)
                )
            )
            codes = sorted(r.status_code for r in answers)
            assert codes == [200, 409], [r.text for r in answers]
            [lost] = [r for r in answers if r.status_code == 409]
            conflicts = lost.json()["conflicts"]
            assert conflicts, lost.text
            assert all(c["occurrence"] for c in conflicts), lost.text
            assert {c["resource"] for c in conflicts} <= {"site:da-nang"}, lost.text
            for s, r in zip(booked, answers, strict=True):
                now = (await http.get(f"{urls[1]}/api/series/{s['id']}", headers=headers)).json()
                hours = {o["start"][11:16] for o in now["occurrences"]}
                if r.status_code == 200:
                    assert hours == {"09:30"}, now
                else:  # the loser kept its own time
                    assert hours == {o["start"][11:16] for o in s["occurrences"]}, now
            for s in booked:  # clear Đà Nẵng's Thursdays for the next round
                await http.post(f"{urls[0]}/api/series/{s['id']}/cancel", headers=headers)
    assert await overlapping_claims(container) == []
