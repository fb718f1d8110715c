"""A school-year attendance report (DESIGN 9, 11): 50,000 ended sessions between September and
May, one of them with 10,000 sites, every record frozen but a few (counted live, provisional),
summed per site, region and in total; beside reading that 10,000-site session's frozen record
in the same run.

The year is laid down as rows (sessions, their sites, frozen records and per-site results), as
the freeze writes them; the answer is checked against the counts the rows were made with.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    OFFICE,
    Context,
    Figure,
    Timer,
    check,
    local,
    make_directory,
    median,
    pg_database,
    site_id,
    working_days,
)
from orchestrator.attendance.exports import AttendanceOut, SiteRecordOut
from orchestrator.bootstrap import Container, build, upgrade_database
from orchestrator.domain.clock import ManualClock
from orchestrator.reports.service import ReportQuery
from orchestrator.settings import Settings
from orchestrator.store import tables as t
from orchestrator.store.sql import SqlStore

NAME = "report_year"
TITLE = "a school-year report (50,000 sessions, one of 10,000 sites)"
RATIO_TARGET = 10.0  # x reading the 10,000-site session's frozen record
QUIET_S = 1.0  # DESIGN 9, on a quiet run: information only
SMALL_SITES = 3  # sites of each other session
UNFROZEN = 5  # sessions ended but not frozen yet: counted live, `provisional`
NOW = local(date(2027, 6, 15), 9, 0)
STATUSES = ("present", "present", "present", "partial", "absent", "unknown")


def _year(sessions: int, big_sites: int, sites: int, seed: int = 20260905) -> dict[str, Any]:
    """The rows of a school year and the totals they must add up to."""
    rng = random.Random(seed)
    days = working_days(date(2026, 9, 7), 180)
    created = NOW - timedelta(days=300)
    rows: dict[str, Any] = {"sessions": [], "sites": [], "records": [], "results": []}
    expect: Counter[str] = Counter()
    big = ""
    for n in range(sessions):
        sid = str(uuid.UUID(int=rng.getrandbits(128)))
        day = days[n % len(days)]
        start = local(day, 8) + timedelta(minutes=5 * (n // len(days) % 100))
        end = start + timedelta(hours=2)
        member_ids = (
            [site_id(i) for i in range(big_sites)]
            if n == 0
            else [site_id(i) for i in rng.sample(range(sites), SMALL_SITES)]
        )
        if n == 0:
            big = sid
        rows["sessions"].append(
            {
                "id": sid,
                "title": f"Phiên {n}",
                "agenda": "",
                "kind": "national" if n % 4 else "regional",
                "region_id": None,
                "starts_at": start,
                "ends_at": end,
                "timezone": "Asia/Ho_Chi_Minh",
                "host_site_id": member_ids[0],
                "chair_name": "Chủ trì",
                "chair_email": f"chair-{n % 50}@example.org",
                "leader_groups": [],
                "provider": "static",
                "buffer_before_minutes": 0,
                "buffer_after_minutes": 0,
                "status": "ended",
                "room": f"year-{sid[:8]}",
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
        rows["sites"].extend(
            {"session_id": sid, "site_id": s, "position": i, "join_url": None}
            for i, s in enumerate(member_ids)
        )
        expect["sessions"] += len(member_ids)
        if n >= sessions - UNFROZEN:  # no record, no events: every site absent, provisional
            expect["absent"] += len(member_ids)
            expect["provisional"] += len(member_ids)
            continue
        lines: list[SiteRecordOut] = []
        for s in member_ids:
            status = rng.choice(STATUSES)
            late = status in ("present", "partial") and rng.random() < 0.2
            left = status in ("present", "partial") and rng.random() < 0.1
            minutes = {"present": 110.0, "partial": 30.0}.get(status, 0.0)
            expect[status] += 1
            expect["late"] += late
            expect["left_early"] += left
            rows["results"].append(
                {
                    "session_id": sid,
                    "site_id": s,
                    "status": status,
                    "late": late,
                    "left_early": left,
                    "connected_minutes": minutes,
                }
            )
            if n == 0:  # the record read as the reference: whole, as the freeze saves it
                joined = start + timedelta(minutes=15 if late else 0)
                lines.append(
                    SiteRecordOut(
                        site_id=s,
                        connection="dropped" if minutes else "waiting",
                        status=status,
                        measured_status=status,
                        late=late,
                        left_early=left,
                        first_join=joined if minutes else None,
                        last_leave=joined + timedelta(minutes=minutes) if minutes else None,
                        connected_minutes=minutes,
                        reconnects=0,
                        headcount=None,
                        names=[],
                        intervals=[(joined, joined + timedelta(minutes=minutes))]
                        if minutes
                        else [],
                    )
                )
        record = AttendanceOut(
            session_id=sid,
            title=f"Phiên {n}",
            start=start,
            end=end,
            summary="",
            summary_en="",
            frozen_at=end,
            sites=lines,
            unmatched=[],
        )
        rows["records"].append(
            {"session_id": sid, "frozen_at": end, "record": record.model_dump_json()}
        )
    rows["big"] = big
    rows["expect"] = expect
    return rows


async def _load(container: Container, rows: dict[str, Any]) -> float:
    store = container.store
    assert isinstance(store, SqlStore)
    with Timer() as timer:
        async with store.engine.begin() as conn:
            for table, key in (
                (t.sessions, "sessions"),
                (t.session_sites, "sites"),
                (t.attendance_records, "records"),
                (t.attendance_results, "results"),
            ):
                part = rows[key]
                for i in range(0, len(part), 10_000):
                    await conn.execute(table.insert(), part[i : i + 10_000])
    return timer.seconds


async def _measure(
    ctx: Context, backend: str, url: str, data_dir: Path, rows: dict[str, Any]
) -> None:
    sites = ctx.size(10_000, 500)
    container = build(Settings(data_dir=data_dir, database_url=url), clock=ManualClock(NOW))
    try:
        await upgrade_database(container)
        await container.directory.apply(make_directory(sites, regions=63), OFFICE, source="bench")
        seconds = await _load(container, rows)
        ctx.say(NAME, f"{backend}: laid down {len(rows['sessions'])} sessions in {seconds:.1f} s")
        query = ReportQuery.model_validate({"from": "2026-09-01", "to": "2027-08-31"})
        runs = ctx.size(7, 3)
        await container.attendance.record(rows["big"], OFFICE)  # warm-up
        record_times: list[float] = []
        report_times: list[float] = []
        out = None
        for _ in range(runs):
            with Timer() as timer:
                big = await container.attendance.record(rows["big"], OFFICE)
            record_times.append(timer.seconds)
            with Timer() as timer:
                out = await container.reports.attendance(query, OFFICE)
            report_times.append(timer.seconds)
        check(len(big.sites) == sites, f"{backend}: the big record has {len(big.sites)} sites")
        assert out is not None
        expect = rows["expect"]
        got = out.totals
        for name in ("sessions", "present", "partial", "absent", "unknown", "late"):
            check(
                getattr(got, name) == expect[name],
                f"{backend}: totals {name} {getattr(got, name)}, the year holds {expect[name]}",
            )
        check(got.provisional == expect["provisional"], f"{backend}: provisional {got.provisional}")
        check(len(out.sites) == sites, f"{backend}: {len(out.sites)} sites in the report")
    finally:
        await container.close()
    ctx.report(
        Figure(
            bench=NAME,
            what=f"{backend}: attendance report, {len(rows['sessions'])} sessions "
            f"({len(rows['results'])} site results), median of {runs}",
            value=median(report_times),
            unit="s",
            reference_what=f"reading the {sites}-site session's frozen record",
            reference=median(record_times),
            ratio_target=RATIO_TARGET,
            absolute=QUIET_S,
        )
    )


async def run(ctx: Context) -> None:
    rows = _year(ctx.size(50_000, 2_000), ctx.size(10_000, 500), ctx.size(10_000, 500))
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        base = Path(tmp)
        await _measure(ctx, "sqlite", f"sqlite+aiosqlite:///{base / 'year.sqlite3'}", base, rows)
        admin = ctx.optional_pg(NAME)
        if admin is None:
            return
        async with pg_database(admin, "report_year") as url:
            await _measure(ctx, "postgresql", url, base, rows)
