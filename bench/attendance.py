"""Attendance webhooks over HTTP for a 10,000-site session, and webhook to live board.

One `orchestrator serve` process (SQLite in a temporary data dir; then PostgreSQL in a fresh
database when one is reachable), set up as an operator would: `orchestrator tokens create --role
office`, `orchestrator directory import` of a generated TOML directory, then `POST
/api/sessions` of a live `static` session of 10,000 sites (started two hours ago, so an
`override_reason` books it despite the policy) and of a second, 100-site session for the live
board. The invite worker is off (`ORCH_INVITES__WORKER=false`): nothing else runs in the server.
One webhook (the plan's first) goes before anything is timed: the server's first look at a room
loads its session with every site.

1. Throughput. A load generator in a separate process (`python -m bench.webhook_load load`: 32
   keep-alive connections driven by asyncio's protocol callbacks, `bench.loadgen.Flood`, closed
   loop: each sends its next webhook as it reads the answer) posts Prosody's event-sync
   webhooks, shaped exactly as `tests/data/wire/event-sync-*.json`, to
   `/hooks/jitsi/events/occupant/joined|left` for 9,980 of the session's sites, for 10 s after a
   1 s warm-up. The plan (`plan`): round r at t0 + r seconds; even rounds every site joins with
   a new device, odd rounds three sites in four leave again; blocks of 50 sites, four rounds at a
   time, so any prefix mixes joins, leaves and sites with several devices. Every tenth post
   repeats one of the last few (a Prosody retry). Figures: posts per second (duplicates
   included) completed in the timed window and their p99 latency. Then the plan goes on for 5 s
   more with the chair's live board (one SSE client) open on the same session: same figures,
   same targets; right after it, the server's resident memory with the board still open
   (absolute target < 200 MB, memory not being noisy; the bare handler's after its load is
   printed beside it). Reference, same run: a bare aiohttp handler (read the body,
   `json.loads`, answer 200 with a small JSON) in another process, under the same load
   generator for 5 s (after the same warm-up) just before and just after each timed load: the
   mean of those two slices is that figure's reference (the machine is shared, and what runs
   beside the benchmark changes within a minute). Judged by the ratio (DESIGN 9): the rate at
   least 0.4 x the bare
   handler's, the p99 at most 4 x its p99 (on a quiet run >= 5,000 events/s and p99 < 25 ms,
   printed for information). Beside each rate, not judged: the server's CPU time a post over
   the whole load (its threads together, from `/proc`; with SQLite that includes the database
   engine, with PostgreSQL not its server processes) and the share of a core that makes at the
   timed rate (`busy`), the bare handler's beside its reference. The CPU a post moves far less
   from run to run than the rate; a server process below 100 % busy spent the rest waiting
   (for its database, or for the CPU it shares with the load generator and the database).
2. Webhook to live board. An SSE client reads `GET /api/sessions/{id}/attendance/stream` (office
   token); one webhook at a time (a join, later the leave of the same device, 50 ms apart) and
   the time from sending it until the stream delivers the event (`attendance`, the whole record,
   or `changes`, the rows of the sites that changed) in which that site's connection changed
   (taken when the event's last byte arrives, before parsing). On the 100-site session (200
   times) and on the 10,000-site session after the loads (20 times, on the
   20 sites the loads left alone; its record then holds every event of the loads). Reference:
   the p99 of the plain requests of the same webhooks; judged by the ratio (DESIGN 9): p99 at
   most 2 x the reference (on a quiet run < 100 ms, printed for information).
3. Checked (a failure makes the run fail): no 5xx, nor any other non-200, anywhere; the
   `accepted` counts of all answers add up to exactly the number of distinct events sent
   (repeats, even concurrent ones, counted once); the record afterwards shows every site as the
   events sent make it (connected when a device joined without leaving, else dropped, else
   waiting), with the expected number of intervals, and no unmatched occupant.

Tiny size (`BENCH_SIZE=tiny`): 100 sites, 2 s (1 s with the board open, 0.5 s for each slice of
the bare handler) after a 0.3 s warm-up, a 20-site board session measured 20 times and the big
one 5 times.

The processes this benchmark starts (servers, load generators, the bare handler) are stopped
by their own pids and get SIGTERM if the benchmark dies.
"""

from __future__ import annotations

import asyncio
import functools
import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.board_stream import Stream, connection_of
from bench.common import (
    Context,
    Figure,
    check,
    median,
    percentile,
    pg_database,
)
from bench.loadgen import (
    occupant,
    occupant_webhook,
)
from bench.profiling import sampled
from bench.serving import (
    EVENTS_TOKEN,
    Process,
    attendance_record,
    book_live,
    directory_toml,
    wait_healthy,
    webhook_service,
)
from bench.webhook_load import Expected, big_site, board_site, expected, payload
from bench.webhook_runs import (
    CONCURRENCY,
    Bare,
    LoadResult,
    Reference,
    duration,
    load_cfg,
    run_load,
)

NAME = "attendance"
TITLE = "attendance webhooks on loopback for a 10,000-site session, webhook to live board"
RATE_RATIO = 0.4  # x the bare handler's rate, at least (DESIGN 9)
P99_RATIO = 4.0  # x the bare handler's p99, at most
BOARD_RATIO = 2.0  # x the p99 of the plain webhook requests, at most
QUIET_RATE = 5000.0  # on a quiet run (DESIGN 9): information only
QUIET_P99_S = 0.025
QUIET_BOARD_S = 0.100
MEMORY_TARGET_MB = 200.0  # absolute: memory is not noisy
RESERVED = 20  # sites of the big session the load leaves alone, for the live-board part
REQUEST_TIMEOUT_S = 300.0
BOARD_GAP_S = 0.05


# the live board ------------------------------------------------------------------------------


async def _post(
    http: aiohttp.ClientSession, base: str, endpoint: str, body: dict[str, Any]
) -> tuple[int, bytes]:
    """One event-sync webhook: (status, body)."""
    async with http.post(
        f"{base}/hooks/jitsi/events/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {EVENTS_TOKEN}", "Content-Type": "application/json"},
    ) as r:
        return r.status, await r.read()


@dataclass
class BoardResult:
    board: list[float]
    request: list[float]


async def _board(
    http: aiohttp.ClientSession,
    base: str,
    office: str,
    session: dict[str, Any],
    pool: list[str],
    times: int,
    label: str,
) -> BoardResult:
    """`times` webhooks one at a time, each timed until the stream shows its change."""
    room, sid = session["room"], session["id"]
    stream = Stream()
    await stream.open(http, f"{base}/api/sessions/{sid}/attendance/stream", office)
    heavy = len(session["sites"]) > 1000
    wait_s = REQUEST_TIMEOUT_S if heavy else 30.0
    board: list[float] = []
    request: list[float] = []
    last: dict[str, int] = {}
    joined_at: dict[str, int] = {}
    last_post: tuple[str, dict[str, Any]] | None = None
    try:
        _, first = await stream.next(wait_s)  # the record as it stands
        for site in pool:
            now_state = connection_of(first, site)
            check(now_state == "waiting", f"{label}: {site} is {now_state} before the board test")
        for k in range(times):
            site, cycle = pool[k % len(pool)], k // len(pool)
            join = cycle % 2 == 0
            # Prosody's times are whole seconds: a leave needs a later second than its join
            if (wait := last.get(site, 0) + 1 - time.time()) > 0:
                await asyncio.sleep(wait + 0.01)
            ts = int(time.time())
            last[site] = ts
            if join:
                joined_at[site] = ts
            device = cycle // 2
            jid = f"{site}-board{device}@meet.example.org/b{device}"
            who = occupant(site, jid, joined_at[site], None if join else ts)
            endpoint, body = occupant_webhook(room, who, active=1)
            want = "connected" if join else "dropped"
            stream.drain()
            t0 = time.perf_counter()
            status, raw = await _post(http, base, endpoint, body)
            request.append(time.perf_counter() - t0)
            check(status == 200, f"{label}: webhook answered {status}: {raw[:300]!r}")
            check(json.loads(raw).get("accepted") == 1, f"{label}: webhook not accepted: {raw!r}")
            while True:
                arrived, data = await stream.next(wait_s)
                if connection_of(data, site) == want:
                    board.append(arrived - t0)
                    break
            last_post = (endpoint, body)
            await asyncio.sleep(BOARD_GAP_S)
    finally:
        await stream.close()
    if last_post is not None:
        # The server's stream handler notices a gone client only when it next writes (a change,
        # or its heartbeat 15 s later), and a graceful stop waits for it: a repeat of the last
        # webhook (a duplicate, so nothing changes) wakes it now.
        await asyncio.sleep(0.2)
        status, raw = await _post(http, base, *last_post)
        check(status == 200, f"{label}: webhook answered {status}: {raw[:300]!r}")
    return BoardResult(board, request)


# one backend ---------------------------------------------------------------------------------


async def _warm_up(http: aiohttp.ClientSession, base: str, room: str, site: str, t0: int) -> int:
    """Post `site`'s first join (the plan's first event for the big session), so the server
    looks the room up (the session with all its sites) before anything is timed; `accepted`."""
    status, raw = await _post(http, base, *payload(room, site, 0, True, t0))
    check(status == 200, f"the warm-up webhook answered {status}: {raw[:300]!r}")
    return int(json.loads(raw)["accepted"])


async def _check_record(
    http: aiohttp.ClientSession,
    base: str,
    office: str,
    session: dict[str, Any],
    loaded: int,
    want: Expected,
    label: str,
) -> dict[str, int]:
    lines = await attendance_record(http, base, office, session, label)
    wrong = [
        (big_site(s), lines[big_site(s)]["connection"], state)
        for s, state in want.connection.items()
        if lines[big_site(s)]["connection"] != state
    ]
    check(not wrong, f"{label}: {len(wrong)} sites wrong (site, shown, expected): {wrong[:5]}")
    reserved = [big_site(i) for i in range(loaded, len(session["sites"]))]
    busy = [s for s in reserved if lines[s]["connection"] != "waiting"]
    check(not busy, f"{label}: sites the load never touched are not waiting: {busy[:5]}")
    gaps = [
        (big_site(s), len(lines[big_site(s)]["intervals"]), n)
        for s, n in want.intervals.items()
        if len(lines[big_site(s)]["intervals"]) != n
    ]
    check(not gaps, f"{label}: {len(gaps)} sites with wrong interval counts: {gaps[:5]}")
    counts = Counter(line["connection"] for line in lines.values())
    return dict(counts)


def _memory(server: Process) -> tuple[float, float]:
    check(server.alive(), f"the server died:\n{server.tail()}")
    return server.memory()


def _check_load(server: Process, load: LoadResult, label: str) -> None:
    check(server.alive(), f"{label}: the server died:\n{server.tail()}")
    bad = {k: v for k, v in load.statuses.items() if k != 200}
    check(not bad, f"{label}: non-200 answers {bad}: {load.errors}")


async def _backend(
    ctx: Context, tmp: Path, label: str, url: str | None, bare: Bare, sizes: dict[str, int]
) -> None:
    directory, sites = tmp / "directory.toml", sizes["big"] + sizes["small"]
    async with webhook_service(ctx, NAME, tmp, label, url, directory, sites) as service:
        server, base, office = service.server, service.base, service.office
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            await wait_healthy(http, server, base)
            big_sites = [big_site(i) for i in range(sizes["big"])]
            small_sites = [board_site(i) for i in range(sizes["small"])]
            t = time.perf_counter()
            big = await book_live(
                http, base, office, "Hội nghị toàn quốc (bench)", big_sites, "chu-tri@example.org"
            )
            ctx.say(
                NAME,
                f"{label}: booked {len(big_sites):,} sites over HTTP in "
                f"{time.perf_counter() - t:.1f} s (room {big['room']})",
            )
            small = await book_live(
                http, base, office, "Bảng theo dõi (bench)", small_sites, "chu-tri-2@example.org"
            )
            loaded = sizes["big"] - RESERVED
            t0 = int(datetime.fromisoformat(big["start"]).timestamp()) + 60
            t = time.perf_counter()
            first = await _warm_up(http, base, big["room"], big_sites[0], t0)
            ctx.say(
                NAME,
                f"{label}: first webhook for the room (the server looks the session up): "
                f"{(time.perf_counter() - t) * 1000:.0f} ms",
            )
            await _warm_up(http, base, small["room"], small_sites[0], t0)
            before = await bare.slice(f"before {label}")
            said = functools.partial(ctx.say, NAME)
            async with sampled(server.proc.pid, f"{NAME}-{label}", said):
                load = await run_load(
                    tmp, label, load_cfg(ctx, base, big["room"], loaded, t0), server
                )
            _check_load(server, load, label)
            between = await bare.slice(f"after {label}, before {label} with the board")
            # the same again, continuing the plan, with the chair's live board open on the session
            board = Stream(keep=False)
            await board.open(http, f"{base}/api/sessions/{big['id']}/attendance/stream", office)
            await board.seen(1, REQUEST_TIMEOUT_S)  # the record as it stands
            cfg = load_cfg(ctx, base, big["room"], loaded, t0, skip=load.sent, board=True)
            try:
                async with sampled(server.proc.pid, f"{NAME}-{label}-board", said):
                    watched = await run_load(tmp, f"{label}-board", cfg, server)
                rss, peak = _memory(server)  # the session's record is in memory while watched
            finally:
                await board.close()
            updates, lines, gap = board.count - 1, board.lines, board.longest_gap
            # wake the server's stream handler so it notices the client left (see `_board`)
            await asyncio.sleep(0.2)
            await _warm_up(http, base, big["room"], big_sites[0], t0)
            _check_load(server, watched, label)
            after = await bare.slice(f"after {label} with the board")
            sent = load.sent + watched.sent
            want = expected(loaded, sent)
            accepted = first + load.accepted + watched.accepted
            check(
                accepted == want.distinct,
                f"{label}: {sent} posts (and the warm-up) of {want.distinct} distinct events were "
                f"accepted {accepted} times (duplicates counted, or events lost)",
            )
            counts = await _check_record(http, base, office, big, loaded, want, label)
            ctx.say(
                NAME,
                f"{label}: {sent:,} posts ({sent - want.distinct:,} repeats) of "
                f"{want.distinct:,} distinct events, all 200, accepted exactly {accepted:,} "
                f"(with the warm-up); record: {counts}; the open board got {updates} updates "
                f"in {duration(ctx, True) + cfg['warmup']:g} s, {lines:,} site lines in all "
                f"(its first whole record included), at most {gap:.2f} s apart",
            )
            for result, reference, what, seconds in (
                (load, Reference(before, between), "", duration(ctx)),
                (
                    watched,
                    Reference(between, after),
                    ", with the live board open on it",
                    duration(ctx, True),
                ),
            ):
                ctx.report(
                    Figure(
                        bench=NAME,
                        what=(
                            f"{label}: webhooks on a {sizes['big']:,}-site session{what}, "
                            f"{CONCURRENCY} connections, {seconds:g} s"
                        ),
                        value=round(result.rate),
                        unit="events/s",
                        reference_what="bare aiohttp JSON handler, same load, before and after",
                        reference=round(reference.rate),
                        ratio_target=RATE_RATIO,
                        absolute=QUIET_RATE,
                        lower_is_better=False,
                        note=f"{reference.note}; {result.cpu_note} ({reference.cpu_note})",
                    )
                )
                ctx.report(
                    Figure(
                        bench=NAME,
                        what=f"{label}: same, p99 latency",
                        value=result.p99,
                        unit="s",
                        reference_what="bare handler p99, before and after",
                        reference=reference.p99,
                        ratio_target=P99_RATIO,
                        absolute=QUIET_P99_S,
                        note=f"p50 {result.p50 * 1000:.1f} ms, max {result.max * 1000:.0f} ms",
                    )
                )
            ctx.report(
                Figure(
                    bench=NAME,
                    what=(
                        f"{label}: service memory (RSS) after the loads, the live board open on "
                        f"the {sizes['big']:,}-site session ({want.distinct:,} events logged)"
                    ),
                    value=round(rss, 1),
                    unit="MB",
                    reference_what="bare aiohttp handler after its load",
                    reference=round(bare.rss, 1),
                    ratio_target=None,
                    absolute=MEMORY_TARGET_MB,
                    note=f"peak {peak:.0f} MB",
                )
            )
            for session, pool, times, what in (
                (small, small_sites[1:], sizes["board_small"], f"{len(small_sites)}-site session"),
                (
                    big,
                    big_sites[loaded:],
                    sizes["board_big"],
                    f"{len(big_sites):,}-site session after the loads "
                    f"({want.distinct:,} events logged)",
                ),
            ):
                res = await _board(http, base, office, session, pool, times, label)
                check(server.alive(), f"{label}: the server died:\n{server.tail()}")
                ctx.report(
                    Figure(
                        bench=NAME,
                        what=f"{label}: webhook to live board, {what}, p99 of {times}",
                        value=percentile(res.board, 99),
                        unit="s",
                        reference_what="p99 of the same webhook requests",
                        reference=percentile(res.request, 99),
                        ratio_target=BOARD_RATIO,
                        absolute=QUIET_BOARD_S,
                        note=(
                            f"p50 {median(res.board) * 1000:.1f} ms; "
                            f"requests p50 {median(res.request) * 1000:.1f} ms"
                        ),
                    )
                )
    if service.stopped_s > 5:
        ctx.say(NAME, f"{label}: the server took {service.stopped_s:.1f} s to stop after SIGTERM")


async def run(ctx: Context) -> None:
    sizes = {
        "big": ctx.size(10_000, 100),
        "small": ctx.size(100, 20),
        "board_small": ctx.size(200, 20),
        "board_big": ctx.size(20, 5),
    }
    with tempfile.TemporaryDirectory(prefix="orch-bench-attendance-") as name:
        tmp = Path(name)
        sites = [
            *(big_site(i) for i in range(sizes["big"])),
            *(board_site(i) for i in range(sizes["small"])),
        ]
        (tmp / "directory.toml").write_text(directory_toml(sites), encoding="utf-8")
        bare = Bare(ctx, NAME, tmp, sizes["big"] - RESERVED)
        await bare.start()
        try:
            await _backend(ctx, tmp, "sqlite", None, bare, sizes)
            admin = ctx.optional_pg(NAME, skipped="PostgreSQL not reachable: its part is skipped")
            if admin is None:
                return
            async with pg_database(admin, "attendance") as url:
                await _backend(ctx, tmp, "postgresql", url, bare, sizes)
        finally:
            await bare.stop()
