"""200 clients racing for one slot on two service instances over PostgreSQL: exactly 1 winner.

Two `orchestrator serve` processes share a fresh PostgreSQL database. Each round fires 200
concurrent `POST /api/sessions` (half to each instance) for pairwise-overlapping times on the
same six sites: exactly one must answer 201, every other one 409 with problem+json naming the
conflicting claims and the winner, none 5xx. A last round books 200 sessions at distinct times
and then fires 200 concurrent `PATCH /api/sessions/{id}` moving each into one and the same slot:
exactly one may move. Afterwards `GET /api/sessions` must show no two live sessions overlapping
on any claim. Figure: the p99 latency of each round's racing requests; reference: the p99 of
200 concurrent `GET /healthz` against the same servers, just before. Judged by the ratio (DESIGN
9): at most 3 x the reference (DESIGN 9 gives no absolute target here).

The servers use the system clock, so the sessions go on working days 20+ days from today.
The client is this process (aiohttp); the servers are separate processes.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    HCM,
    BenchError,
    Context,
    Figure,
    check,
    local,
    median,
    percentile,
    pg_database,
    working_days,
)
from bench.serving import (
    STARTUP_S,
    Process,
    operator_setup,
    service_env,
    start_server,
    stop_all,
)

NAME = "race"
TITLE = "200 clients racing for one slot, two instances, PostgreSQL"
RATIO_TARGET = 3.0  # x the p99 of as many concurrent GET /healthz
POOL_SIZE = 8  # per instance: up to 3x that with overflow; two instances stay well under 100
SITES = ["ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen", "nghe-an"]
GROUP = "lanh-dao-bo"
CHAIR = {"name": "Chánh Văn phòng Bộ", "email": "chanh.vanphong@moet.example.org"}
CLI_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 60.0

DIRECTORY = """
[[regions]]
id = "ca-nuoc"
name = "Cả nước"
head_site = "ha-noi"
{sites}
[[leader_groups]]
id = "lanh-dao-bo"
name = "Lãnh đạo Bộ GD&ĐT"
members = ["Bộ trưởng"]
"""
SITE = """
[[sites]]
id = "{id}"
name = "Sở GD&ĐT {id}"
region = "ca-nuoc"
timezone = "Asia/Ho_Chi_Minh"
coordinator = {{ name = "Đầu mối", email = "dau-moi@{id}.example.org" }}
"""


@dataclass
class Reply:
    status: int
    body: Any
    content_type: str
    seconds: float
    instance: int


# A request waiting for the gate to open: called with the gate, it gives the coroutine to run.
Starter = Callable[[asyncio.Event], Coroutine[Any, Any, Reply]]


# processes -----------------------------------------------------------------------------------


def _env(tmp: Path) -> dict[str, str]:
    return service_env(tmp, ORCH_DATABASE__POOL_SIZE=str(POOL_SIZE))


class Servers:
    """Two `orchestrator serve` processes on free loopback ports; stopped by their own pids."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url, self.tmp = url, tmp
        self.procs: list[Process] = []
        self.bases: list[str] = []

    def start(self, count: int = 2) -> None:
        for n in range(count):
            proc, base = start_server(
                self.url, self.tmp, _env(self.tmp), self.tmp / f"server-{n}.log"
            )
            self.procs.append(proc)
            self.bases.append(base)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(proc.tail(lines) for proc in self.procs)

    async def wait_healthy(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + STARTUP_S
        pending = set(range(len(self.bases)))
        while pending and time.monotonic() < deadline:
            for n in list(pending):
                if not self.procs[n].alive():
                    raise BenchError(f"server {n} exited early:\n{self.tail()}")
                try:
                    async with http.get(f"{self.bases[n]}/healthz") as r:
                        if r.status == 200:
                            pending.discard(n)
                except aiohttp.ClientError:
                    pass
            await asyncio.sleep(0.1)
        if pending:
            raise BenchError(f"servers {sorted(pending)} not healthy in {STARTUP_S} s")

    def stop(self) -> None:
        stop_all(self.procs)

    def check_alive(self) -> None:
        for n, proc in enumerate(self.procs):
            if not proc.alive():
                raise BenchError(f"server {n} died (exit {proc.proc.returncode}):\n{self.tail()}")


# requests ------------------------------------------------------------------------------------


async def _send(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    instance: int,
    gate: asyncio.Event,
    token: str | None,
    payload: dict[str, Any] | None = None,
) -> Reply:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    await gate.wait()
    started = time.perf_counter()
    async with http.request(method, url, json=payload, headers=headers) as r:
        raw = await r.read()
        seconds = time.perf_counter() - started
        ctype = r.headers.get("Content-Type", "")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return Reply(r.status, body, ctype, seconds, instance)


async def _burst(make: list[Starter]) -> list[Reply]:
    """Start every request at once (behind a gate) and wait for all of them."""
    gate = asyncio.Event()
    tasks = [asyncio.create_task(m(gate)) for m in make]
    await asyncio.sleep(0.05)  # every task is waiting at the gate
    gate.set()
    return list(await asyncio.wait_for(asyncio.gather(*tasks), REQUEST_TIMEOUT_S))


async def _healthz_p99(http: aiohttp.ClientSession, bases: list[str], n: int) -> float:
    def make(i: int) -> Starter:
        base = bases[i % len(bases)]
        return lambda gate: _send(http, "GET", f"{base}/healthz", i % len(bases), gate, None)

    replies = await _burst([make(i) for i in range(n)])
    bad = [r.status for r in replies if r.status != 200]
    check(not bad, f"GET /healthz answered {Counter(bad)}")
    return percentile([r.seconds for r in replies], 99)


def _booking(title: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "kind": "national",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "timezone": "Asia/Ho_Chi_Minh",
        "host_site": SITES[0],
        "sites": SITES,
        "chair": CHAIR,
        "leader_groups": [GROUP],
        "provider": "static",
        **extra,
    }


def _check_race(replies: list[Reply], ok: int, what: str) -> str:
    """Exactly one `ok`, the rest 409 problem+json naming the winner; returns the winner's id."""
    counts = Counter(r.status for r in replies)
    server_errors = sum(v for k, v in counts.items() if k >= 500)
    check(server_errors == 0, f"{what}: {server_errors} server errors: {dict(counts)}")
    check(
        counts[ok] == 1 and counts[409] == len(replies) - 1,
        f"{what}: expected 1 x {ok} and {len(replies) - 1} x 409, got {dict(counts)}",
    )
    winner = next(r for r in replies if r.status == ok).body["id"]
    for r in replies:
        if r.status != 409:
            continue
        check(
            r.content_type.startswith("application/problem+json"),
            f"{what}: a 409 came as {r.content_type!r}",
        )
        conflicts = r.body.get("conflicts") if isinstance(r.body, dict) else None
        check(bool(conflicts), f"{what}: a 409 names no conflicts: {r.body}")
        assert isinstance(conflicts, list)
        holders = {c.get("session_id") for c in conflicts}
        check(winner in holders, f"{what}: a 409 does not name the winner {winner}: {holders}")
        check(
            all(
                str(c.get("resource", "")).split(":")[0] in {"site", "group", "chair"}
                for c in conflicts
            ),
            f"{what}: a 409 names odd resources: {conflicts}",
        )
    return str(winner)


def _claims(session: dict[str, Any]) -> set[str]:
    out = {f"site:{s['site_id']}" for s in session["sites"]}
    out.update(f"group:{g}" for g in session["leader_groups"])
    out.add(f"chair:{session['chair']['email'].strip().lower()}")
    if session.get("region") and session.get("kind") == "regional":
        out.add(f"region:{session['region']}")
    return out


def _check_no_overlap(sessions: list[dict[str, Any]]) -> None:
    live = [s for s in sessions if s["status"] != "cancelled"]
    spans = [
        (
            s["id"],
            _claims(s),
            datetime.fromisoformat(s["claimed"]["start"]),
            datetime.fromisoformat(s["claimed"]["end"]),
        )
        for s in live
    ]
    for (a, ca, sa_, ea), (b, cb, sb, eb) in combinations(spans, 2):
        shared = ca & cb
        if shared and sa_ < eb and sb < ea:
            raise BenchError(f"double booking: sessions {a} and {b} overlap on {sorted(shared)}")


async def _list_sessions(
    http: aiohttp.ClientSession, base: str, token: str, start: date, end: date
) -> list[dict[str, Any]]:
    params = {
        "from": local(start, 0).isoformat(),
        "to": local(end, 23).isoformat(),
        "limit": "1000",
    }
    async with http.get(
        f"{base}/api/sessions", params=params, headers={"Authorization": f"Bearer {token}"}
    ) as r:
        check(r.status == 200, f"GET /api/sessions answered {r.status}")
        body = await r.json()
    return list(body["sessions"])


# the benchmark -------------------------------------------------------------------------------


def _p99(what: str, times: list[float], healthz_p99: float) -> Figure:
    """The figure of a racing round: its requests' p99 beside `GET /healthz`'s, as many at once."""
    return Figure(
        bench=NAME,
        what=what,
        value=percentile(times, 99),
        unit="s",
        reference_what=f"p99 of {len(times)} concurrent GET /healthz",
        reference=healthz_p99,
        ratio_target=RATIO_TARGET,
        note=f"p50 {median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms",
    )


async def _rounds(ctx: Context, servers: Servers, token: str) -> None:
    clients = ctx.size(200, 20)
    rounds = ctx.size(3, 1)
    bases = servers.bases
    today = datetime.now(HCM).date()
    # rounds' days, then enough days for the reschedule round's sessions, then its target day
    resched_days = -(-clients // 30)
    warm_day, *days = working_days(today + timedelta(days=20), 1 + rounds + resched_days + 1)
    connector = aiohttp.TCPConnector(limit=0, force_close=False, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await servers.wait_healthy(http)
        await _healthz_p99(http, bases, clients)  # warm-up: opens the connections
        await _warm_up(http, bases, token, warm_day)
        for n in range(rounds):
            day = days[n]
            ref = await _healthz_p99(http, bases, clients)

            def make(i: int, day: date = day, n: int = n) -> Starter:
                start = local(day, 8, 0) + timedelta(minutes=5 * (i % 7))
                payload = _booking(f"Race {n} client {i}", start, start + timedelta(minutes=90))
                base = bases[i % 2]
                return lambda gate: _send(
                    http, "POST", f"{base}/api/sessions", i % 2, gate, token, payload
                )

            replies = await _burst([make(i) for i in range(clients)])
            servers.check_alive()
            winner = _check_race(replies, 201, f"round {n + 1}")
            by_instance = Counter(r.instance for r in replies if r.status == 201)
            times = [r.seconds for r in replies]
            ctx.say(
                NAME,
                f"round {n + 1} ({day}): {clients} POST -> 1 x 201 (instance "
                f"{next(iter(by_instance))}, session {winner[:8]}), {clients - 1} x 409, 0 x 5xx",
            )
            ctx.report(
                _p99(f"round {n + 1}: p99 of {clients} racing POST /api/sessions", times, ref)
            )
        await _reschedule_round(ctx, http, servers, token, clients, days[rounds:])
        sessions = await _list_sessions(http, bases[0], token, warm_day, days[-1])
        expected = len(bases) + rounds + clients
        live = [s for s in sessions if s["status"] != "cancelled"]
        check(len(live) == expected, f"{len(live)} live sessions listed, expected {expected}")
        _check_no_overlap(sessions)
        ctx.say(NAME, f"GET /api/sessions: {len(live)} live sessions, no two overlap on a claim")


async def _warm_up(http: aiohttp.ClientSession, bases: list[str], token: str, day: date) -> None:
    """Each instance books, refuses and moves once, so no racing request pays a first call."""
    gate = asyncio.Event()
    gate.set()
    for n, base in enumerate(bases):
        start = local(day, (8, 14)[n % 2], 0)  # moved by 30 minutes below: no overlap
        payload = _booking(f"Warm-up {n}", start, start + timedelta(minutes=60))
        r = await _send(http, "POST", f"{base}/api/sessions", n, gate, token, payload)
        check(r.status == 201, f"warm-up booking on instance {n} answered {r.status}: {r.body}")
        sid = r.body["id"]
        r = await _send(http, "POST", f"{base}/api/sessions", n, gate, token, payload)
        check(r.status == 409, f"warm-up clash on instance {n} answered {r.status}: {r.body}")
        moved = {
            "start": (start + timedelta(minutes=30)).isoformat(),
            "end": (start + timedelta(minutes=90)).isoformat(),
        }
        r = await _send(http, "PATCH", f"{base}/api/sessions/{sid}", n, gate, token, moved)
        check(r.status == 200, f"warm-up move on instance {n} answered {r.status}: {r.body}")


async def _reschedule_round(
    ctx: Context,
    http: aiohttp.ClientSession,
    servers: Servers,
    token: str,
    clients: int,
    days: list[date],
) -> None:
    bases = servers.bases
    # 30 non-overlapping 15-minute sessions a day (buffers 0) inside working hours
    starts = [
        local(day, 7, 30) + timedelta(minutes=15 * k)
        if k < 16
        else local(day, 13, 30) + timedelta(minutes=15 * (k - 16))
        for day in days[:-1]
        for k in range(30)
    ][:clients]
    extra = {"buffer_before_minutes": 0, "buffer_after_minutes": 0}
    sem = asyncio.Semaphore(8)
    ids: list[str] = [""] * clients
    originals: dict[str, str] = {}

    async def book(i: int) -> None:
        payload = _booking(f"Move {i}", starts[i], starts[i] + timedelta(minutes=15), **extra)
        async with sem:
            gate = asyncio.Event()
            gate.set()
            r = await _send(
                http, "POST", f"{bases[i % 2]}/api/sessions", i % 2, gate, token, payload
            )
        check(r.status == 201, f"booking session {i} to move answered {r.status}: {r.body}")
        ids[i] = r.body["id"]
        originals[r.body["id"]] = r.body["start"]

    await asyncio.wait_for(asyncio.gather(*(book(i) for i in range(clients))), 300)
    target_start = local(days[-1], 9, 0)
    target = {
        "start": target_start.isoformat(),
        "end": (target_start + timedelta(minutes=15)).isoformat(),
    }
    ref = await _healthz_p99(http, bases, clients)

    def make(i: int) -> Starter:
        url = f"{bases[i % 2]}/api/sessions/{ids[i]}"
        return lambda gate: _send(http, "PATCH", url, i % 2, gate, token, target)

    replies = await _burst([make(i) for i in range(clients)])
    servers.check_alive()
    winner = _check_race(replies, 200, "reschedule round")
    moved = [
        s
        for s in await _list_sessions(http, bases[1], token, days[-1], days[-1])
        if s["status"] != "cancelled"
    ]
    check(
        [s["id"] for s in moved] == [winner],
        f"reschedule round: sessions in the target slot {[s['id'] for s in moved]}, "
        f"expected only the winner {winner}",
    )
    for sid in ids:
        if sid == winner:
            continue
        async with http.get(
            f"{bases[0]}/api/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            body = await r.json()
        check(body["start"] == originals[sid], f"a losing session {sid} moved anyway: {body}")
    times = [r.seconds for r in replies]
    ctx.say(
        NAME,
        f"reschedule round ({days[-1]}): {clients} PATCH into one slot -> 1 x 200 "
        f"(session {winner[:8]}), {clients - 1} x 409, 0 x 5xx; losers unchanged",
    )
    ctx.report(_p99(f"reschedule: p99 of {clients} racing PATCH /api/sessions/{{id}}", times, ref))


async def run(ctx: Context) -> None:
    admin = ctx.require_pg(NAME)
    async with pg_database(admin, "race") as url:
        with tempfile.TemporaryDirectory(prefix="orch-bench-race-") as name:
            tmp = Path(name)
            sites = "".join(SITE.format(id=s) for s in SITES)
            directory = tmp / "directory.toml"
            directory.write_text(DIRECTORY.format(sites=sites), encoding="utf-8")
            token, _ = await operator_setup(
                url, tmp, _env(tmp), directory, cli_timeout_s=CLI_TIMEOUT_S
            )
            servers = Servers(url, tmp)
            try:
                servers.start(2)
                await _rounds(ctx, servers, token)
            except BenchError as exc:
                raise BenchError(f"{exc}\n{servers.tail()}") from exc
            finally:
                await asyncio.to_thread(servers.stop)
