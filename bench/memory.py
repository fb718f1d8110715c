"""The service's memory with a live 10,000-site session (DESIGN 9): idle, then per 100,000
logged events, the chair's live board open all along.

One `orchestrator serve` on SQLite, set up as an operator would (`orchestrator tokens create
--role office`, `orchestrator directory import` of 10,000 generated sites), books a live
`static` session of the 10,000 sites over HTTP (`POST /api/sessions`, started two hours ago,
with an `override_reason`), and is stopped: the service measured is a fresh `orchestrator serve`
on that database, as after any restart (what booking 10,000 sites costs at its peak is the
booking's, not the idle service's; the first server's resident memory before and after the
booking is printed for information). Its invite worker is off (`ORCH_INVITES__WORKER=false`).

1. Idle: the chair's live board (one SSE client on `GET /api/sessions/{id}/attendance/stream`)
   opens on the session, which the service then reads with its sites and whole record; no
   webhook yet. Once the board has its first record and the scheduler its first round, the
   server's resident memory (`VmRSS`) after `SETTLE_S`: DESIGN 9 wants it under 100 MB
   (absolute, memory is not noisy).
2. Growth: the load generator of `attendance` (`python -m bench.webhook_load load`, 32
   connections) posts the same plan of event-sync joins and leaves (every tenth post a
   repeat) until 100,000 distinct events are logged, or `LOAD_LIMIT_S` has passed (the run is
   bounded in time; the figure is then scaled to 100,000 events), the board open and reading
   all along. `SETTLE_S` later, with the board still open, the resident memory again: the
   growth over the idle figure per 100,000 logged events, under 40 MB (absolute).

Checked (a failure fails the run): every answer 200; the `accepted` counts add up to exactly
the distinct events sent; the record afterwards shows every site as the events sent make it
(the checks of `attendance`), the board got its updates, and the server is alive.

Tiny size (`BENCH_SIZE=tiny`): 100 sites and 2,000 events; nothing judged.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.attendance import RESERVED, _check_record, _warm_up
from bench.board_stream import Stream
from bench.common import Context, Figure, check
from bench.serving import (
    EVENTS_TOKEN,
    Process,
    book_live,
    directory_toml,
    operator_setup,
    service_env,
    start_server,
    wait_healthy,
)
from bench.webhook_load import big_site, expected
from bench.webhook_runs import CONCURRENCY, run_load

NAME = "memory"
TITLE = "service memory with a live 10,000-site session: idle, and per 100,000 logged events"
IDLE_MB = 100.0  # DESIGN 9, absolute
GROWTH_MB = 40.0  # per 100,000 logged events, absolute
PER_EVENTS = 100_000
SETTLE_S = 3.0  # after the board's first record (or the load), before reading the memory
LOAD_LIMIT_S, LOAD_LIMIT_TINY_S = 150.0, 30.0
BOARD_WAIT_S = 300.0  # for the board's first record of 10,000 sites


def _rss(server: Process) -> float:
    check(server.alive(), f"the server died:\n{server.tail()}")
    return server.memory()[0]


async def _restart(server: Process, work: Path, env: dict[str, str]) -> tuple[Process, str]:
    await asyncio.to_thread(server.stop)
    fresh, base = start_server(None, work, env, work / "server-measured.log")
    async with aiohttp.ClientSession() as http:
        await wait_healthy(http, fresh, base)
    return fresh, base


async def _measure(ctx: Context, tmp: Path) -> None:
    sites = ctx.size(10_000, 100)
    wanted = ctx.size(PER_EVENTS, 2_000)
    site_ids = [big_site(i) for i in range(sites)]
    (tmp / "directory.toml").write_text(directory_toml(site_ids), encoding="utf-8")
    work = tmp / "sqlite"
    work.mkdir()
    env = service_env(work, ORCH_JITSI__EVENTS_TOKEN=EVENTS_TOKEN, ORCH_INVITES__WORKER="false")
    office, seconds = await operator_setup(None, work, env, tmp / "directory.toml")
    ctx.say(NAME, f"directory of {sites:,} sites imported in {seconds:.1f} s")
    server, base = start_server(None, work, env, work / "server-booking.log")
    try:
        timeout = aiohttp.ClientTimeout(total=BOARD_WAIT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await wait_healthy(http, server, base)
            await asyncio.sleep(SETTLE_S)
            empty = _rss(server)
            session = await book_live(
                http, base, office, "Hội nghị toàn quốc (bench)", site_ids, "chu-tri@example.org"
            )
            booked = _rss(server)
        ctx.say(
            NAME,
            f"the booking server: {empty:.1f} MB idle without a session, {booked:.1f} MB right "
            f"after booking {sites:,} sites (information)",
        )
        server, base = await _restart(server, work, env)
        await _load_and_measure(ctx, tmp, server, base, office, session, wanted, empty)
    finally:
        await asyncio.to_thread(server.stop)


async def _load_and_measure(
    ctx: Context,
    tmp: Path,
    server: Process,
    base: str,
    office: str,
    session: dict[str, Any],
    wanted: int,
    empty: float,
) -> None:
    sites = len(session["sites"])
    loaded = sites - RESERVED
    timeout = aiohttp.ClientTimeout(total=BOARD_WAIT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        started = _rss(server)
        board = Stream(keep=False)
        await board.open(http, f"{base}/api/sessions/{session['id']}/attendance/stream", office)
        try:
            await board.seen(1, BOARD_WAIT_S)  # the whole record: the session is loaded
            await asyncio.sleep(SETTLE_S)
            idle, idle_peak = _rss(server), server.memory()[1]
            t0 = int(datetime.fromisoformat(session["start"]).timestamp()) + 60
            posts = wanted + wanted // 9 + 1  # every tenth post repeats an event
            cfg = {
                "base": base,
                "room": session["room"],
                "token": EVENTS_TOKEN,
                "sites": loaded,
                "t0": t0,
                "concurrency": CONCURRENCY,
                "warmup": 0.0,
                "duration": ctx.size(LOAD_LIMIT_S, LOAD_LIMIT_TINY_S),  # the bound in time
                "skip": 0,
                "max_posts": posts,
            }
            t = time.perf_counter()
            load = await run_load(tmp, "memory", cfg)
            load_s = time.perf_counter() - t
            bad = {k: v for k, v in load.statuses.items() if k != 200}
            check(not bad, f"non-200 answers {bad}: {load.errors}")
            await asyncio.sleep(SETTLE_S)
            after, peak = _rss(server), server.memory()[1]
            updates = board.count - 1
        finally:
            await board.close()
        # wake the server's stream handler so it notices the client left (see `attendance`)
        await asyncio.sleep(0.2)
        want = expected(loaded, load.sent)
        first_site = big_site(0)
        repeat = await _warm_up(http, base, session["room"], first_site, t0)  # the plan's first
        check(repeat == 0, f"the plan's first event was accepted again ({repeat})")
        check(
            load.accepted == want.distinct,
            f"{load.sent} posts of {want.distinct} distinct events were accepted "
            f"{load.accepted} times (duplicates counted, or events lost)",
        )
        counts = await _check_record(http, base, office, session, loaded, want, "sqlite")
    check(updates > 0, "the open board got no update during the load")
    logged = want.distinct
    growth = (after - idle) * PER_EVENTS / max(1, logged)
    ctx.say(
        NAME,
        f"{load.sent:,} posts ({load.sent - logged:,} repeats) of {logged:,} distinct events in "
        f"{load_s:.0f} s, all 200, accepted exactly once; record: {counts}; the open board got "
        f"{updates} updates; resident memory {started:.1f} MB at start, {idle:.1f} MB idle with "
        f"the board (peak {idle_peak:.1f}), {after:.1f} MB after the events (peak {peak:.1f})",
    )
    ctx.report(
        Figure(
            bench=NAME,
            what=(
                f"sqlite: service memory (RSS) idle, a live {sites:,}-site session loaded and "
                f"its board open, no event"
            ),
            value=round(idle, 1),
            unit="MB",
            reference_what="the booking server before booking, no session",
            reference=round(empty, 1),
            ratio_target=None,
            absolute=IDLE_MB,
            note=f"peak {idle_peak:.0f} MB",
        )
    )
    ctx.report(
        Figure(
            bench=NAME,
            what=(
                f"sqlite: memory growth per {PER_EVENTS:,} logged events, the board open "
                f"({logged:,} logged: {after - idle:+.1f} MB)"
            ),
            value=round(growth, 1),
            unit="MB",
            reference_what="idle",
            reference=round(idle, 1),
            ratio_target=None,
            absolute=GROWTH_MB,
            note=f"{after:.1f} MB after them, peak {peak:.0f} MB",
        )
    )


async def run(ctx: Context) -> None:
    with tempfile.TemporaryDirectory(prefix="orch-bench-memory-") as name:
        await _measure(ctx, Path(name))
