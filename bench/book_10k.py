"""Book one session with 10,000 sites (every claim checked and written).

Judged by the ratio to the reference (DESIGN 9): at most 5 x a plain Core executemany of as many
rows; on a quiet run that is under 0.5 s, printed for information.

On SQLite (a temporary file) and on PostgreSQL (a fresh database). Only the `book` call is
timed; the directory is imported beforehand. Reference: a plain SQLAlchemy Core executemany
insert of as many rows into a scratch table of the same database, the bare cost of writing that
many rows. Each figure is the median of a few bookings (each on its own day).
"""

from __future__ import annotations

import gc
import json
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

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
from orchestrator.bootstrap import Container, build, upgrade_database
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import BookingConflict
from orchestrator.domain.wire import wire_json
from orchestrator.settings import Settings
from orchestrator.store import tables as t
from orchestrator.store.sql import SqlStore

NAME = "book_10k"
TITLE = "book one session with 10,000 sites"
RATIO_TARGET = 5.0  # x the Core executemany reference
QUIET_S = 0.5  # DESIGN 9, on a quiet run: information only
# Monday 1 March 2027, 09:00 in Hà Nội: the clock of this benchmark.
NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
GROUP = "lanh-dao-bo"


def _request(sites: int, day: date, index: int) -> BookSessionRequest:
    return BookSessionRequest.model_validate(
        {
            "title": f"Hội nghị toàn quốc {index}",
            "kind": "national",
            "start": local(day, 8, 0),
            "end": local(day, 11, 0),
            "timezone": "Asia/Ho_Chi_Minh",
            "host_site": site_id(0),
            "sites": [site_id(i) for i in range(sites)],
            "chair": {"name": "Bộ trưởng", "email": f"chair-{index}@example.org"},
            "leader_groups": [GROUP],
            "provider": "static",
        }
    )


async def _reference(container: Container, rows: int, when: datetime) -> float:
    """Seconds to executemany-insert `rows` claim-shaped rows into a scratch table."""
    store = container.store
    assert isinstance(store, SqlStore)
    scratch = sa.Table(
        "bench_scratch_claims",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("resource", sa.String(400), nullable=False),
        sa.Column("starts_at", t.UTCDateTime, nullable=False),
        sa.Column("ends_at", t.UTCDateTime, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    async with store.engine.begin() as conn:
        await conn.run_sync(scratch.drop, checkfirst=True)
        await conn.run_sync(scratch.create)
    data = [
        {
            "session_id": "00000000-0000-0000-0000-000000000000",
            "resource": f"site:{site_id(i)}",
            "starts_at": when,
            "ends_at": when,
            "active": True,
        }
        for i in range(rows)
    ]
    with Timer() as timer:
        async with store.engine.begin() as conn:
            await conn.execute(scratch.insert(), data)
    async with store.engine.begin() as conn:
        await conn.run_sync(scratch.drop)
    return timer.seconds


async def _claims_of(container: Container, session_id: str) -> int:
    store = container.store
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(t.claims)
            .where(t.claims.c.session_id == session_id, t.claims.c.active.is_(True))
        )
    return int(count or 0)


async def _measure(ctx: Context, backend: str, url: str, data_dir: Path) -> None:
    sites = ctx.size(10_000, 200)
    repeats = ctx.size(5, 2)
    container = build(Settings(data_dir=data_dir, database_url=url), clock=ManualClock(NOW))
    try:
        await upgrade_database(container)
        await container.directory.apply(
            make_directory(sites, groups=[GROUP], regions=10), OFFICE, source="bench"
        )
        days = working_days(NOW.date().replace(day=8), repeats + 1)
        # As `orchestrator serve` does once started (web/server.py): what start-up built is kept
        # out of the collector's sweeps, so a booking's collections walk what was made since
        # (in the service, its requests; here, the bookings), not this process's start-up.
        gc.collect()
        gc.freeze()
        times: list[float] = []
        for r in range(repeats):
            req = _request(sites, days[r], r)
            with Timer() as timer:
                answer = await container.bookings.book(req, OFFICE)
                sent = wire_json(answer.value)  # what the HTTP edge would send, timed as before
            times.append(timer.seconds)
            body = json.loads(sent)
            check(answer.status == 201, f"{backend}: book answered {answer.status}")
            check(
                len(body["sites"]) == sites,
                f"{backend}: the answer has {len(body['sites'])} sites, not {sites}",
            )
            claims = await _claims_of(container, body["id"])
            # every site, the leader group and the chair
            check(claims == sites + 2, f"{backend}: {claims} claims written, not {sites + 2}")
            # The service lets an answer go once sent: the next booking is not timed beside it.
            del answer, sent, body
        # The same sites again at an overlapping time must be refused, naming the conflicts.
        clash = _request(sites, days[0], repeats)
        try:
            await container.bookings.book(clash, OFFICE)
        except BookingConflict as exc:
            check(len(exc.conflicts) >= sites, f"{backend}: only {len(exc.conflicts)} conflicts")
        else:
            raise BenchError(f"{backend}: an overlapping 10,000-site booking was accepted")
        refs = [await _reference(container, sites, NOW) for _ in range(repeats)]
    finally:
        gc.unfreeze()  # the benchmarks after this one start as they would have
        await container.close()
    ctx.report(
        Figure(
            bench=NAME,
            what=f"{backend}: book 1 session x {sites} sites (median of {repeats})",
            value=median(times),
            unit="s",
            reference_what=f"Core executemany of {sites} rows",
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
        async with pg_database(admin, "book") as url:
            await _measure(ctx, "postgresql", url, Path(tmp))
