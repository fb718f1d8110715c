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
as `attendance`'s load generator; every body is encoded before the clock starts):

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
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

NAME = "destroyed"
TITLE = "a room/destroyed webhook with 10,000 occupants vs the same 10,000 leaves one by one"
RATIO_TARGET = 0.1
EVENTS_TOKEN = "bench-event-sync-token-5f1c2d9e0a43"
CONCURRENT = 8  # connections for the set-up joins and for the stricter reference (a')
LEFT_AFTER = 600  # seconds from a device's join to its leave
REQUEST_TIMEOUT_S = 600.0
ROOT = Path(__file__).resolve().parent.parent  # where `python -m bench.destroyed` works


def site_a(i: int) -> str:
    return f"site-{i:05d}"


def site_b(i: int) -> str:
    return f"site-b-{i:05d}"


# payloads (shared by the client process and the checks) -------------------------------------


def _occupant(site: str, device: int, t0: int, *, left: bool) -> dict[str, Any]:
    """An occupant as event-sync sends it: the token's user (the site) and its connection."""
    occupant: dict[str, Any] = {
        "name": f"Điểm cầu {site}",
        "email": f"dau-moi@{site}.example.org",
        "id": site,
        "occupant_jid": f"{site}-{device}@meet.example.org/dev{device}",
        "joined_at": t0 + device,
    }
    if left:
        occupant["left_at"] = t0 + device + LEFT_AFTER
    return occupant


def occupant_event(room: str, site: str, device: int, t0: int, *, left: bool) -> tuple[str, bytes]:
    """One `occupant/joined` or `occupant/left` webhook: (endpoint, body)."""
    body = {
        "event_name": "muc-occupant-left" if left else "muc-occupant-joined",
        "room_name": room,
        "room_jid": f"{room}@conference.meet.example.org",
        "is_breakout": False,
        "active_occupants_count": 2,
        "occupant": _occupant(site, device, t0, left=left),
    }
    return f"occupant/{'left' if left else 'joined'}", json.dumps(body).encode()


def destroyed_event(room: str, sites: list[str], t0: int) -> tuple[str, bytes]:
    """The room's `room/destroyed`: `all_occupants` repeats every site's device 0, joined and
    left."""
    body = {
        "event_name": "muc-room-destroyed",
        "room_name": room,
        "room_jid": f"{room}@conference.meet.example.org",
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


class _Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its answer (as `attendance`'s load
    generator, over raw asyncio streams; answers must carry a Content-Length, as aiohttp's do).
    Only the standard library here: the client starts in a fraction of a second."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, path: str, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (path.encode(), head, len(body))
        )
        self.writer.write(body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        length = None
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ValueError("an answer without Content-Length")
        return int(lines[0].split(b" ", 2)[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def _post_all(cfg: dict[str, Any]) -> dict[str, Any]:
    """Post the bodies over `concurrency` keep-alive connections, each connection one request
    at a time; the time from the first send to the last answer."""
    url = urlsplit(cfg["base"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    headers = (
        f"Host: {host}:{port}\r\nAuthorization: Bearer {cfg['token']}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    bodies = _bodies(cfg)  # encoded before the clock starts
    todo = iter(bodies)
    statuses: Counter[int] = Counter()
    accepted: Counter[int] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    conns = [  # opened before the clock starts
        _Connection(*await asyncio.open_connection(host, port)) for _ in range(cfg["concurrency"])
    ]

    async def worker(conn: _Connection) -> None:
        for endpoint, body in todo:
            t = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    status, raw = await conn.post(f"/hooks/jitsi/events/{endpoint}", headers, body)
            except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
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
        "p50": statistics.median(latencies) if latencies else 0.0,
        "max": max(latencies, default=0.0),
    }


def _main(argv: list[str]) -> int:
    if argv[:1] == ["post"] and len(argv) == 3:
        cfg = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        result = asyncio.run(_post_all(cfg))
        Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
        return 0
    print("usage: python -m bench.destroyed post CONFIG RESULT", file=sys.stderr)
    return 2


# The client runs as `python -m bench.destroyed post ...`: it stops here.
if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

import aiohttp  # noqa: E402

from bench.attendance import (  # noqa: E402
    DIRECTORY_HEAD,
    SITE,
    Process,
    _book,
    _db_args,
    _run_cli,
    _wait_healthy,
)
from bench.common import BenchError, Context, Figure, check, pg_database  # noqa: E402
from bench.race import _cli, _free_port  # noqa: E402


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env["ORCH_DATA_DIR"] = str(work / "var")
    env["ORCH_JITSI__EVENTS_TOKEN"] = EVENTS_TOKEN
    env["ORCH_INVITES__WORKER"] = "false"
    return env


@dataclass
class Posted:
    posts: int
    bytes: int
    elapsed: float
    statuses: dict[int, int]
    accepted: dict[int, int]
    errors: list[str]
    p50: float
    max: float


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
    config, result = tmp / f"post-{label}.json", tmp / f"post-{label}-result.json"
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
    config.write_text(json.dumps(cfg), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    client = Process(
        [sys.executable, "-m", "bench.destroyed", "post", str(config), str(result)],
        ROOT,
        env,
        tmp / f"post-{label}.log",
    )
    try:
        code = await client.wait(REQUEST_TIMEOUT_S + 120)
    finally:
        await asyncio.to_thread(client.stop)
    if code != 0 or not result.exists():
        raise BenchError(f"the client ({label}) failed ({code}):\n{client.tail()}")
    raw = json.loads(result.read_text(encoding="utf-8"))
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


def _directory(n: int) -> str:
    parts = [DIRECTORY_HEAD]
    parts.extend(SITE.format(id=site_a(i)) for i in range(n))
    parts.extend(SITE.format(id=site_b(i)) for i in range(n))
    return "".join(parts)


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
    async with http.get(
        f"{base}/api/sessions/{session['id']}/attendance",
        headers={"Authorization": f"Bearer {office}"},
    ) as r:
        check(r.status == 200, f"{label}: GET attendance answered {r.status}")
        record = await r.json()
    lines = {line["site_id"]: line for line in record["sites"]}
    check(len(lines) == len(session["sites"]), f"{label}: the record has {len(lines)} sites")
    check(not record["unmatched"], f"{label}: unmatched occupants: {record['unmatched'][:3]}")
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


def _ratio_note(value: float, reference: float, extra: str) -> str:
    ratio = value / reference if reference > 0 else float("inf")
    return f"ratio {ratio:.3f}, target <= {RATIO_TARGET:g}; {extra}"


async def _backend(ctx: Context, tmp: Path, label: str, url: str | None, n: int) -> None:
    work = tmp / label
    work.mkdir()
    office = (
        await asyncio.to_thread(
            _run_cli, url, work, "tokens", "create", "--role", "office", "--label", "bench"
        )
    ).strip()
    check(bool(office) and "\n" not in office, f"odd token output: {office!r}")
    t = time.perf_counter()
    await asyncio.to_thread(_run_cli, url, work, "directory", "import", str(tmp / "dir.toml"))
    ctx.say(
        NAME, f"{label}: directory of {2 * n} sites imported in {time.perf_counter() - t:.1f} s"
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = Process(
        [*_cli(), *_db_args(url), "serve", "--host", "127.0.0.1", "--port", str(port)],
        work,
        _env(work),
        work / "server.log",
    )
    try:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await _wait_healthy(http, server, base)
            sites_a = [site_a(i) for i in range(n)]
            sites_b = [site_b(i) for i in range(n)]
            t = time.perf_counter()
            a = await _book(
                http, base, office, "Hội nghị A (bench)", sites_a, "chu-tri-a@example.org"
            )
            b = await _book(
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
                f"{seq.elapsed:.2f} s ({seq.posts / seq.elapsed:,.0f}/s, p50 "
                f"{seq.p50 * 1000:.2f} ms, max {seq.max * 1000:.0f} ms)",
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
                f"{conc.elapsed:.2f} s ({conc.posts / conc.elapsed:,.0f}/s, p50 "
                f"{conc.p50 * 1000:.2f} ms, max {conc.max * 1000:.0f} ms)",
            )

            # (b) the figure: one room/destroyed for B repeating every occupant
            one = await post(tmp, f"{label}-destroyed", base, "destroyed", b["room"], sites_b, t0)
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
                        target=RATIO_TARGET * ref.elapsed,
                        reference_what=ref_what,
                        reference=ref.elapsed,
                        note=_ratio_note(
                            one.elapsed, ref.elapsed, f"{ref.posts / ref.elapsed:,.0f} leaves/s"
                        ),
                    )
                )
    except BenchError as exc:
        raise BenchError(f"{exc}\n{server.tail()}") from exc
    finally:
        await asyncio.to_thread(server.stop)


async def run(ctx: Context) -> None:
    n = ctx.size(10_000, 20)
    with tempfile.TemporaryDirectory(prefix="orch-bench-destroyed-") as name:
        tmp = Path(name)
        (tmp / "dir.toml").write_text(_directory(n), encoding="utf-8")
        await _backend(ctx, tmp, "sqlite", None, n)
        if ctx.pg_admin_url is None:
            if ctx.ci:
                raise BenchError("PostgreSQL not reachable; CI=true needs it")
            ctx.say(NAME, "PostgreSQL not reachable: its part is skipped")
            return
        async with pg_database(ctx.pg_admin_url, "destroyed") as url:
            await _backend(ctx, tmp, "postgresql", url, n)
