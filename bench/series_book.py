"""Book a weekly series of 52 occurrences × 100 sites, then move it by an hour (DESIGN 9, 10).

Judged by the ratio to the reference: each at most 2 × booking one session of as many claims
(52 × 100 = 5,200 sites) in the same run; on a quiet run under 0.5 s, printed for information.

On SQLite (a temporary file) and on PostgreSQL (a fresh database). Timed: the use case's call
and the serialisation of its answer, as `book_10k` times a booking. The series is booked all or
nothing with an `override_reason` (a year of Mondays holds public holidays: every occurrence is
still judged by the policy, the breaches overridden); the move is a PATCH of its time of day,
08:00 to 09:00, of every occurrence. Each figure is the median of a few runs, each series on its
own sites and chair, each reference session on its own day.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.common import (
    OFFICE,
    BenchError,
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
from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.booking.series.schemas import BookSeriesRequest, UpdateSeriesRequest
from orchestrator.bootstrap import Container, build, upgrade_database
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import BookingConflict
from orchestrator.domain.wire import wire_json
from orchestrator.settings import Settings
from orchestrator.store import tables as t
from orchestrator.store.sql import SqlStore

NAME = "series_book"
TITLE = "book a weekly series of 52 occurrences x 100 sites, and move it by an hour"
RATIO_TARGET = 2.0  # x booking one session of as many site claims
QUIET_S = 0.5  # DESIGN 9, on a quiet run: information only
# Monday 1 March 2027, 09:00 in Hà Nội: the clock of this benchmark.
NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_MONDAY = date(2027, 3, 8)


def _series(index: int, sites: int, weeks: int) -> BookSeriesRequest:
    """Mondays 08:00-10:00 from 8 March 2027 on the `index`-th block of `sites` sites."""
    first = datetime.combine(FIRST_MONDAY, time(8, 0), tzinfo=HANOI)
    block = [site_id(index * sites + i) for i in range(sites)]
    return _weekly(index, first, block, weeks)


def _weekly(index: int, first: datetime, block: list[str], weeks: int) -> BookSeriesRequest:
    return BookSeriesRequest.model_validate(
        {
            "title": f"Giao ban tuần {index}",
            "start": first.isoformat(),
            "end": (first + timedelta(hours=2)).isoformat(),
            "timezone": "Asia/Ho_Chi_Minh",
            "recurrence": f"FREQ=WEEKLY;BYDAY=MO;COUNT={weeks}",
            "host_site": block[0],
            "sites": block,
            "chair": {"name": "Chánh Văn phòng", "email": f"series-{index}@example.org"},
            "provider": "static",
            "override_reason": "benchmark: a year of Mondays holds public holidays",
        }
    )


def _session(index: int, sites: int, day: date) -> BookSessionRequest:
    """One session on a Wednesday-or-so afternoon with `sites` sites (none of a series' days)."""
    return BookSessionRequest.model_validate(
        {
            "title": f"Hội nghị toàn quốc {index}",
            "start": local(day, 14, 0),
            "end": local(day, 16, 0),
            "timezone": "Asia/Ho_Chi_Minh",
            "host_site": site_id(0),
            "sites": [site_id(i) for i in range(sites)],
            "chair": {"name": "Bộ trưởng", "email": f"session-{index}@example.org"},
            "provider": "static",
        }
    )


async def _active_claims(container: Container, session_ids: list[str]) -> int:
    store = container.store
    assert isinstance(store, SqlStore)
    c = t.claims.c
    async with store.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count()).where(c.active.is_(True), c.session_id.in_(session_ids))
        )
    return int(count or 0)


async def _measure(ctx: Context, backend: str, url: str, data_dir: Path) -> None:
    weeks = ctx.size(52, 4)
    sites = ctx.size(100, 10)
    repeats = ctx.size(3, 1)
    reference_sites = weeks * sites
    container = build(Settings(data_dir=data_dir, database_url=url), clock=ManualClock(NOW))
    try:
        await upgrade_database(container)
        directory = make_directory(max(reference_sites, sites * (repeats + 1)), regions=10)
        await container.directory.apply(directory, OFFICE, source="bench")
        # days for the reference sessions: working days that are not Mondays
        days = [d for d in working_days(date(2027, 3, 2), 4 * repeats + 8) if d.weekday() != 0]
        # warm-up, untimed: one small series (on Tuesdays) and one small session
        tuesday = datetime.combine(FIRST_MONDAY + timedelta(days=1), time(8, 0), tzinfo=HANOI)
        warm = _weekly(-1, tuesday, [site_id(0), site_id(1)], 2)
        await container.bookings.series.book(
            warm.model_copy(update={"recurrence": "FREQ=WEEKLY;BYDAY=TU;COUNT=2"}), OFFICE
        )
        await container.bookings.book(_session(-1, 2, days[-1]), OFFICE)
        book_times: list[float] = []
        move_times: list[float] = []
        refs: list[float] = []
        for r in range(repeats):
            with Timer() as timer:
                answer = await container.bookings.book(
                    _session(r, reference_sites, days[r]), OFFICE
                )
                wire_json(answer.value)
            refs.append(timer.seconds)
            check(answer.status == 201, f"{backend}: the reference answered {answer.status}")

            with Timer() as timer:
                booked = await container.bookings.series.book(_series(r, sites, weeks), OFFICE)
                sent = wire_json(booked.value)
            book_times.append(timer.seconds)
            body = json.loads(sent)
            check(booked.status == 201, f"{backend}: the series answered {booked.status}")
            ids = [o["session_id"] for o in body["occurrences"]]
            check(len(ids) == weeks, f"{backend}: {len(ids)} occurrences booked, not {weeks}")
            claims = await _active_claims(container, ids)
            # each occurrence: every site and the chair
            check(
                claims == weeks * (sites + 1),
                f"{backend}: {claims} claims written, not {weeks * (sites + 1)}",
            )

            move = UpdateSeriesRequest(start_time=time(9, 0), override_reason="benchmark")
            with Timer() as timer:
                moved = await container.bookings.series.update(body["id"], move, OFFICE)
                wire_json(moved)
            move_times.append(timer.seconds)
            starts = {o.start.astimezone(HANOI).time() for o in moved.occurrences}
            check(starts == {time(9, 0)}, f"{backend}: the moved series starts at {starts}")
            check(moved.version == 2, f"{backend}: the moved series is at version {moved.version}")
            claims = await _active_claims(container, ids)
            check(
                claims == weeks * (sites + 1),
                f"{backend}: {claims} claims after the move, not {weeks * (sites + 1)}",
            )
        # The first series' first Monday at 10:30: free before the move (its claims ended at
        # 10:15), held since (09:00 to 11:00, and the buffer after).
        monday = datetime.combine(FIRST_MONDAY, time(10, 30), tzinfo=HANOI)
        clash = BookSessionRequest.model_validate(
            {
                "title": "clash",
                "start": monday.isoformat(),
                "end": (monday + timedelta(minutes=30)).isoformat(),
                "host_site": site_id(0),
                "sites": [site_id(0)],
                "chair": {"name": "x", "email": "clash@example.org"},
                "buffer_before_minutes": 0,
                "buffer_after_minutes": 0,
            }
        )
        try:
            await container.bookings.book(clash, OFFICE)
        except BookingConflict:
            pass
        else:
            raise BenchError(f"{backend}: a booking on a moved occurrence was accepted")
    finally:
        await container.close()
    for what, times in (("book", book_times), ("move by an hour", move_times)):
        ctx.report(
            Figure(
                bench=NAME,
                what=f"{backend}: {what} a weekly series, {weeks} occurrences x {sites} sites "
                f"(median of {repeats})",
                value=median(times),
                unit="s",
                reference_what=f"book 1 session x {reference_sites} sites",
                reference=median(refs),
                ratio_target=RATIO_TARGET,
                absolute=QUIET_S,
                note="runs " + ", ".join(f"{x * 1000:.0f}" for x in times) + " ms",
            )
        )


async def run(ctx: Context) -> None:
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        await _measure(ctx, "sqlite", f"sqlite+aiosqlite:///{path}", Path(tmp))
        admin = ctx.optional_pg(NAME)
        if admin is None:
            return
        async with pg_database(admin, "series") as url:
            await _measure(ctx, "postgresql", url, Path(tmp))
