"""A `room/destroyed` webhook carrying 10,000 occupants, beside the same 10,000 leaves one by one.

Issue 10, item 6: big payloads stay cheap. When a room ends, Prosody's event-sync posts
`room/destroyed` with `all_occupants`: every occupant since the room was created, each with its
`joined_at` and `left_at` (DESIGN 6.3). For a 10,000-site session that is one request carrying
20,000 events (10,000 joins, 10,000 leaves) plus the room's end. Target: answering it costs at
most a tenth of answering the same 10,000 leaves posted one webhook at a time, in the same run.

One `orchestrator serve` process (SQLite in a temporary data dir; then PostgreSQL in a fresh
database when one is reachable), set up as an operator would, like `attendance`: `orchestrator
tokens create --role office`, `orchestrator directory import` of 2 x N generated sites, then
`POST /api/sessions` of two live `static` sessions of N sites each (started two hours ago, booked
with an `override_reason`), A and B, on different sites (a site is in one live session at a
time) and so in different rooms. The invite worker is off. Untimed, as set-up: every site of A
joins with two devices (0 and 1), every site of B with one (device 0), as `occupant/joined`
webhooks shaped exactly as `tests/data/wire/event-sync-*.json` (`occupant.id` the site id, Unix
seconds), over 8 connections; these also make the server look each room's session up (0.1-0.4 s
at 10,000 sites) before anything is timed.

Timed, each from the first request sent to the last answer read, by a client in its own process
(`python -m bench.destroyed post CONFIG RESULT`: keep-alive HTTP/1.1 over raw asyncio streams,
`bench.loadgen.Connection`; every body is encoded before the clock starts):

(a) reference: the N `occupant/left` webhooks of A's device 0, posted one by one, sequentially
    on one keep-alive connection (each sent once the previous one is answered): the cost of the
    leaves one webhook at a time;
(a') the N `occupant/left` of A's device 1, over 8 connections (modest concurrency, as Prosody
    posting while a room empties; the server's group commit batches them): a stricter reference;
(b) the figure: one `room/destroyed` for B whose `all_occupants` repeats all N occupants with
    `joined_at` and `left_at`.

Fairness: before (b), B is in the state A was in before (a): its N joins already logged, its
N leaves not. So (b) logs exactly the N new leaves that (a) logs (plus the room's end), and also
carries the N joins again, which must be recognised as repeats: the realistic shape of a room's
end, and no cheaper than (a) by deduplication. Figures: the time of (b) with target 0.1 x (a),
and again with target 0.1 x (a').

Checked (a failure makes the run fail): every answer 200; each leave `accepted` exactly 1; the
destroyed `accepted` exactly N + 1 (the N leaves and the room's end; the repeated joins counted
0); the same destroyed posted again (a Prosody retry; timed and reported, not judged) `accepted`
0; afterwards both records show every site `dropped` with exactly one interval, and no unmatched
occupant.

Tiny size (`BENCH_SIZE=tiny`): N = 20; the figures are printed, not judged.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.loadgen import (
    CLIENT_ERRORS,
    Connection,
    client_headers,
    latency_summary,
    occupant,
    occupant_webhook,
    room_jid,
)
from bench.loadgen import main as client_main
from bench.profiling import sampled

NAME = "destroyed"
TITLE = "a room/destroyed webhook with 10,000 occupants vs the same 10,000 leaves one by one"
RATIO_TARGET = 0.1
CONCURRENT = 8  # connections for the set-up joins and for the stricter reference (a')
LEFT_AFTER = 600  # seconds from a device's join to its leave
REQUEST_TIMEOUT_S = 600.0


def site_a(i: int) -> str:
    return f"site-{i:05d}"


def site_b(i: int) -> str:
    return f"site-b-{i:05d}"


# payloads (shared by the client process and the checks) -------------------------------------


def _occupant(site: str, device: int, t0: int, *, left: bool) -> dict[str, Any]:
    """The site's device `device`: joined at t0 + device, left `LEFT_AFTER` seconds later."""
    jid = f"{site}-{device}@meet.example.org/dev{device}"
    return occupant(site, jid, t0 + device, t0 + device + LEFT_AFTER if left else None)


def occupant_event(room: str, site: str, device: int, t0: int, *, left: bool) -> tuple[str, bytes]:
    """One `occupant/joined` or `occupant/left` webhook: (endpoint, body)."""
    endpoint, body = occupant_webhook(room, _occupant(site, device, t0, left=left), active=2)
    return endpoint, json.dumps(body).encode()


def destroyed_event(room: str, sites: list[str], t0: int) -> tuple[str, bytes]:
    """The room's `room/destroyed`: `all_occupants` repeats every site's device 0, joined and
    left."""
    body = {
        "event_name": "muc-room-destroyed",
        "room_name": room,
        "room_jid": room_jid(room),
        "is_breakout": False,
        "created_at": t0 - 60,
        "destroyed_at": t0 + LEFT_AFTER + 60,
        "all_occupants": [_occupant(s, 0, t0, left=True) for s in sites],
    }
    return "room/destroyed", json.dumps(body).encode()


def _bodies(cfg: dict[str, Any]) -> list[tuple[str, bytes]]:
    room, t0 = cfg["room"], cfg["t0"]
    if cfg["what"] == "destroyed":
        return [destroyed_event(room, cfg["sites"], t0)]
    left = cfg["what"] == "leaves"
    return [
        occupant_event(room, site, device, t0, left=left)
        for device in cfg["devices"]
        for site in cfg["sites"]
    ]


# the client (its own process) ----------------------------------------------------------------


async def _post_all(cfg: dict[str, Any]) -> dict[str, Any]:
    """Post the bodies over `concurrency` keep-alive connections, each connection one request
    at a time; the time from the first send to the last answer."""
    host, port, headers = client_headers(cfg["base"], cfg["token"])
    bodies = _bodies(cfg)  # encoded before the clock starts
    todo = iter(bodies)
    statuses: Counter[int] = Counter()
    accepted: Counter[int] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    # each body in two writes, not copied (a room/destroyed is megabytes)
    conns = [Connection(host, port, headers, split_body=True) for _ in range(cfg["concurrency"])]
    for conn in conns:  # opened before the clock starts
        await conn.open()

    async def worker(conn: Connection) -> None:
        for endpoint, body in todo:
            t = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    status, raw = await conn.post(f"/hooks/jitsi/events/{endpoint}", body)
            except CLIENT_ERRORS as exc:
                statuses[0] += 1
                errors.append(f"{type(exc).__name__}: {exc}")
                return  # this connection is done; the others go on
            latencies.append(time.perf_counter() - t)
            statuses[status] += 1
            if status == 200:
                accepted[int(json.loads(raw).get("accepted", -1))] += 1
            elif status and len(errors) < 5:
                errors.append(f"{status}: {raw[:300].decode(errors='replace')}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.close()
    return {
        "posts": len(bodies),
        "bytes": sum(len(b) for _, b in bodies),
        "elapsed": elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
        "accepted": {str(k): v for k, v in accepted.items()},
        "errors": errors,
        **latency_summary(latencies),
    }


def _main(argv: list[str]) -> int:
    usage = "usage: python -m bench.destroyed post CONFIG RESULT"
    return client_main(argv, {"post": _post_all}, usage)


# The client runs as `python -m bench.destroyed post ...`: it stops here.
if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

import aiohttp  # noqa: E402

from bench.common import Context, Figure, check, pg_database  # noqa: E402
from bench.serving import (  # noqa: E402
    EVENTS_TOKEN,
    attendance_record,
    book_live,
    directory_toml,
    run_client,
    wait_healthy,
    webhook_service,
)


@dataclass
class Posted:
    posts: int
    bytes: int
    elapsed: float
    statuses: dict[int, int]
    accepted: dict[int, int]
    errors: list[str]
    p50: float
    p99: float
    max: float

    @property
    def summary(self) -> str:
        return (
            f"{self.elapsed:.2f} s ({self.posts / self.elapsed:,.0f}/s, p50 "
            f"{self.p50 * 1000:.2f} ms, max {self.max * 1000:.0f} ms)"
        )


async def post(
    tmp: Path,
    label: str,
    base: str,
    what: str,
    room: str,
    sites: list[str],
    t0: int,
    *,
    devices: tuple[int, ...] = (0,),
    concurrency: int = 1,
) -> Posted:
    """Post in the client process; check every answer is 200. What it says it posted."""
    cfg = {
        "base": base,
        "token": EVENTS_TOKEN,
        "what": what,
        "room": room,
        "sites": sites,
        "devices": list(devices),
        "t0": t0,
        "concurrency": concurrency,
    }
    within_s = REQUEST_TIMEOUT_S + 120
    raw = await run_client(
        NAME, "post", cfg, tmp=tmp, label=label, within_s=within_s, name="the client"
    )
    raw["statuses"] = {int(k): v for k, v in raw["statuses"].items()}
    raw["accepted"] = {int(k): v for k, v in raw["accepted"].items()}
    done = Posted(**raw)
    bad = {k: v for k, v in done.statuses.items() if k != 200}
    check(not bad, f"{label}: non-200 answers {bad}: {done.errors}")
    return done


def _accepted_each(done: Posted, want: int, label: str) -> None:
    check(
        done.accepted == {want: done.posts},
        f"{label}: `accepted` of the {done.posts} answers was {done.accepted}, "
        f"expected {want} each",
    )


async def _check_record(
    http: aiohttp.ClientSession,
    base: str,
    office: str,
    session: dict[str, Any],
    first_join: int,
    last_leave: int,
    label: str,
) -> None:
    """Every site dropped (joined, then left), with one interval from its first join to its last
    leave (Unix seconds); no unmatched occupant."""
    lines = await attendance_record(http, base, office, session, label)
    want = [datetime.fromtimestamp(first_join, UTC), datetime.fromtimestamp(last_leave, UTC)]
    wrong = [
        (s, line["connection"], line["intervals"])
        for s, line in lines.items()
        if line["connection"] != "dropped"
        or [[datetime.fromisoformat(x) for x in i] for i in line["intervals"]] != [want]
    ]
    check(
        not wrong,
        f"{label}: {len(wrong)} sites not dropped with the one interval {want} (site, shown, "
        f"intervals): {wrong[:3]}",
    )


async def _backend(ctx: Context, tmp: Path, label: str, url: str | None, n: int) -> None:
    async with webhook_service(ctx, NAME, tmp, label, url, tmp / "dir.toml", 2 * n) as service:
        server, base, office = service.server, service.base, service.office
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await wait_healthy(http, server, base)
            sites_a = [site_a(i) for i in range(n)]
            sites_b = [site_b(i) for i in range(n)]
            t = time.perf_counter()
            a = await book_live(
                http, base, office, "Hội nghị A (bench)", sites_a, "chu-tri-a@example.org"
            )
            b = await book_live(
                http, base, office, "Hội nghị B (bench)", sites_b, "chu-tri-b@example.org"
            )
            ctx.say(
                NAME,
                f"{label}: booked 2 sessions of {n:,} sites over HTTP in "
                f"{time.perf_counter() - t:.1f} s (rooms {a['room']}, {b['room']})",
            )
            check(a["room"] != b["room"], f"{label}: both sessions have room {a['room']}")
            t0 = int(datetime.fromisoformat(a["start"]).timestamp()) + 60

            # set-up, untimed: A's sites join with devices 0 and 1, B's with device 0
            t = time.perf_counter()
            joins_a = await post(
                tmp,
                f"{label}-joins-a",
                base,
                "joins",
                a["room"],
                sites_a,
                t0,
                devices=(0, 1),
                concurrency=CONCURRENT,
            )
            _accepted_each(joins_a, 1, f"{label}: A's joins")
            joins_b = await post(
                tmp,
                f"{label}-joins-b",
                base,
                "joins",
                b["room"],
                sites_b,
                t0,
                concurrency=CONCURRENT,
            )
            _accepted_each(joins_b, 1, f"{label}: B's joins")
            ctx.say(
                NAME,
                f"{label}: set-up: {joins_a.posts + joins_b.posts:,} joins posted over "
                f"{CONCURRENT} connections in {time.perf_counter() - t:.1f} s",
            )

            # (a) the reference: A's device-0 leaves one by one, sequentially
            seq = await post(
                tmp, f"{label}-leaves-seq", base, "leaves", a["room"], sites_a, t0, devices=(0,)
            )
            _accepted_each(seq, 1, f"{label}: A's leaves, one connection")
            ctx.say(
                NAME,
                f"{label}: (a) {seq.posts:,} occupant/left one by one on one connection: "
                f"{seq.summary}",
            )
            # (a') the stricter reference: A's device-1 leaves over 8 connections
            conc = await post(
                tmp,
                f"{label}-leaves-conc",
                base,
                "leaves",
                a["room"],
                sites_a,
                t0,
                devices=(1,),
                concurrency=CONCURRENT,
            )
            _accepted_each(conc, 1, f"{label}: A's leaves, {CONCURRENT} connections")
            ctx.say(
                NAME,
                f"{label}: (a') {conc.posts:,} occupant/left over {CONCURRENT} connections: "
                f"{conc.summary}",
            )

            # (b) the figure: one room/destroyed for B repeating every occupant
            said = functools.partial(ctx.say, NAME)
            async with sampled(server.proc.pid, f"{NAME}-{label}", said):
                one = await post(
                    tmp, f"{label}-destroyed", base, "destroyed", b["room"], sites_b, t0
                )
            check(
                one.accepted == {n + 1: 1},
                f"{label}: the destroyed webhook accepted {one.accepted}, expected "
                f"{n + 1} (N new leaves and the room's end; the N repeated joins not counted)",
            )
            ctx.say(
                NAME,
                f"{label}: (b) one room/destroyed, {n:,} occupants, {one.bytes / 1e6:.2f} MB: "
                f"{one.elapsed:.2f} s, accepted {n + 1:,}",
            )
            again = await post(tmp, f"{label}-retry", base, "destroyed", b["room"], sites_b, t0)
            _accepted_each(again, 0, f"{label}: the destroyed posted again")
            ctx.say(
                NAME,
                f"{label}: the same room/destroyed posted again (a retry: every event a "
                f"repeat): {again.elapsed:.2f} s, accepted 0",
            )

            t = time.perf_counter()
            # A: devices 0 and 1 overlap (t0 to t0 + 1 + LEFT_AFTER); B: device 0 only
            await _check_record(
                http, base, office, a, t0, t0 + 1 + LEFT_AFTER, f"{label}: session A"
            )
            await _check_record(http, base, office, b, t0, t0 + LEFT_AFTER, f"{label}: session B")
            ctx.say(
                NAME,
                f"{label}: both records right (every site dropped, its one interval from its "
                f"first join to its last leave, nothing unmatched), read in "
                f"{time.perf_counter() - t:.1f} s",
            )
            check(server.alive(), f"{label}: the server died:\n{server.tail()}")

            what = (
                f"{label}: one room/destroyed with {n:,} occupants in all_occupants "
                f"({n:,} new leaves, {n:,} repeated joins)"
            )
            for ref, ref_what in (
                (seq, f"the same {n:,} leaves posted one by one, one connection"),
                (conc, f"the same {n:,} leaves over {CONCURRENT} connections"),
            ):
                ctx.report(
                    Figure(
                        bench=NAME,
                        what=what,
                        value=one.elapsed,
                        unit="s",
                        reference_what=ref_what,
                        reference=ref.elapsed,
                        ratio_target=RATIO_TARGET,
                        note=f"reference {ref.posts / ref.elapsed:,.0f} leaves/s",
                    )
                )


async def run(ctx: Context) -> None:
    n = ctx.size(10_000, 20)
    with tempfile.TemporaryDirectory(prefix="orch-bench-destroyed-") as name:
        tmp = Path(name)
        sites = [*(site_a(i) for i in range(n)), *(site_b(i) for i in range(n))]
        (tmp / "dir.toml").write_text(directory_toml(sites), encoding="utf-8")
        await _backend(ctx, tmp, "sqlite", None, n)
        admin = ctx.optional_pg(NAME, skipped="PostgreSQL not reachable: its part is skipped")
        if admin is None:
            return
        async with pg_database(admin, "destroyed") as url:
            await _backend(ctx, tmp, "postgresql", url, n)
