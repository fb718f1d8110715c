"""The attendance benchmark's load: the plan of event-sync webhooks (joins, leaves, repeats) for
a 10,000-site session, what the record must show after any prefix of it, and the load generator
and bare reference handler that run as processes of their own
(`python -m bench.webhook_load load CONFIG RESULT`, `... bare PORT`). Nothing here imports the
orchestrator, so each process starts in well under a second."""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.loadgen import (
    Flood,
    client_headers,
    latency_summary,
    occupant,
    occupant_webhook,
)
from bench.loadgen import main as client_main

NAME = "webhook_load"
DUP_EVERY = 10  # every tenth post repeats one of the last few events
MAX_ROUNDS = 3600  # one second apart: the plan never runs out, and stays in the past
BLOCK = 50  # sites per block of the plan


def big_site(i: int) -> str:
    return f"site-{i:05d}"


def board_site(i: int) -> str:
    return f"board-{i:03d}"


# the load plan (shared by the load generator and the checks) --------------------------------


def plan(sites: int) -> Iterator[tuple[int, int, bool]]:
    """(site index, round, join?) in order. Round r is at t0 + r seconds: even rounds every
    site joins with a new device, odd rounds the device of the round before leaves, except at
    every fourth site (it keeps it, and so holds two, three... devices). The sites go in blocks
    of 50, four rounds per block at a time, so that any prefix holds joins, leaves and sites
    with several devices, however fast the server is."""
    for sweep in range(MAX_ROUNDS // 4):
        for first in range(0, sites, BLOCK):
            for r in range(4 * sweep, 4 * sweep + 4):
                for s in range(first, min(first + BLOCK, sites)):
                    if r % 2 == 0:
                        yield s, r, True
                    elif s % 4 != 3:
                        yield s, r, False


def posts(sites: int) -> Iterator[tuple[int, tuple[int, int, bool]]]:
    """(plan index, event) of every post: the plan, with every tenth post a repeat."""
    recent: deque[tuple[int, tuple[int, int, bool]]] = deque(maxlen=5)
    for j, ev in enumerate(plan(sites)):
        recent.append((j, ev))
        yield j, ev
        if j % DUP_EVERY == DUP_EVERY - 2:
            yield recent[0]


def payload(room: str, site: str, r: int, join: bool, t0: int) -> tuple[str, dict[str, Any]]:
    """An event-sync occupant webhook as Prosody sends it: (endpoint, body)."""
    device = r // 2
    jid = f"{site}-{device}@meet.example.org/bench{device}"
    who = occupant(site, jid, t0 + 2 * device, None if join else t0 + r)
    return occupant_webhook(room, who, active=2)


@dataclass
class Expected:
    """What the record must show after the first `count` posts of `posts(sites)`."""

    distinct: int
    connection: dict[int, str]
    intervals: dict[int, int]


def expected(sites: int, count: int) -> Expected:
    seen: set[int] = set()
    joined: dict[int, set[int]] = {}
    left: dict[int, set[int]] = {}
    for n, (j, (s, r, join)) in enumerate(posts(sites)):
        if n >= count:
            break
        seen.add(j)
        (joined if join else left).setdefault(s, set()).add(r // 2)
    connection: dict[int, str] = {}
    intervals: dict[int, int] = {}
    for s in range(sites):
        devices = joined.get(s, set())
        open_ = devices - left.get(s, set())
        connection[s] = "connected" if open_ else ("dropped" if devices else "waiting")
        # touching intervals merge; a left device leaves a one-second gap before the next join
        intervals[s] = 0 if not devices else (1 if s % 4 == 3 else len(devices))
    return Expected(len(seen), connection, intervals)


# the load generator and the bare reference (in processes of their own) ----------------------


class Requests:
    """The plan's posts as the bytes of their requests, from `skip` on: each body is exactly
    `json.dumps` of its `payload` (a test checks), made from each site's part of it kept ready:
    3.1 µs a request with the plan's own steps, where the dict and `json.dumps` took 6.3 µs for
    the body alone (the load generator's CPU is CPU the server under test does not get)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        room, self.t0 = cfg["room"], cfg["t0"]
        self.items = itertools.islice(posts(cfg["sites"]), cfg.get("skip", 0), None)
        _host, _port, headers = client_headers(cfg["base"], cfg["token"])
        self.head = headers + b"Content-Length: "  # (the token as it is, even with a %)
        self.sites: dict[int, str] = {}
        self.starts: dict[bool, str] = {}
        for join in (True, False):
            _endpoint, body = payload(room, "@", 0, join, 0)
            text = json.dumps(body)
            self.starts[join] = text[: text.index('"name": ')]
        self.paths = {
            join: b"POST /hooks/jitsi/events/%s HTTP/1.1\r\n"
            % payload(room, "@", 0, join, 0)[0].encode()
            for join in (True, False)
        }

    def _site(self, s: int) -> str:
        """The site's part of every occupant: its name, email and id."""
        text = json.dumps(occupant(big_site(s), "", 0))
        part = self.sites[s] = text[1 : text.index('"occupant_jid": ')]
        return part

    def body(self, s: int, r: int, join: bool) -> str:
        device = r // 2
        jid = json.dumps(f"{big_site(s)}-{device}@meet.example.org/bench{device}")
        left = "" if join else f', "left_at": {self.t0 + r}'
        return (
            f"{self.starts[join]}{self.sites.get(s) or self._site(s)}"
            f'"occupant_jid": {jid}, "joined_at": {self.t0 + 2 * device}{left}}}}}'
        )

    def next(self) -> bytes | None:
        """The next post's request; None when the plan ran out."""
        try:
            _j, (s, r, join) = next(self.items)
        except StopIteration:
            return None
        data = self.body(s, r, join).encode()
        return b"%s%s%d\r\n\r\n%s" % (self.paths[join], self.head, len(data), data)


async def load(cfg: dict[str, Any]) -> dict[str, Any]:
    """Post the plan for `warmup` then `duration` seconds over `concurrency` connections (or
    until `max_posts` were sent, when the config sets it), as a `Flood`."""
    host, port, _headers = client_headers(cfg["base"], cfg["token"])
    requests = Requests(cfg)
    started = time.perf_counter()
    measure_from = started + cfg["warmup"]
    deadline = measure_from + cfg["duration"]
    most = cfg.get("max_posts")  # stop after this many posts (the memory benchmark's count)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    sent = accepted = in_window = 0

    def make() -> bytes | None:
        nonlocal sent
        if time.perf_counter() >= deadline or (most is not None and sent >= most):
            return None
        request = requests.next()
        if request is not None:
            sent += 1
        return request

    def answered(status: int, raw: bytes, t_start: float, t_end: float) -> None:
        nonlocal accepted, in_window
        statuses[status] += 1
        if status == 200:
            if raw in ONE:
                accepted += 1
            else:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    accepted += int(json.loads(raw).get("accepted", 0))
        elif len(errors) < 5:
            errors.append(
                raw.decode(errors="replace")
                if not status
                else f"{status}: {raw[:300].decode(errors='replace')}"
            )
        if t_start >= measure_from:
            latencies.append(t_end - t_start)
        if measure_from <= t_end < deadline:
            in_window += 1

    await Flood(host, port, cfg["concurrency"], make, answered).run()
    return {
        "sent": sent,
        "accepted": accepted,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors,
        "rate": in_window / cfg["duration"],
        "measured": len(latencies),
        **latency_summary(latencies),
    }


ONE = (b'{"accepted":1}', b'{"accepted": 1}')  # the service's usual answer, the bare handler's


def bare_app() -> Any:
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        json.loads(await request.read())
        return web.json_response({"accepted": 1})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/hooks/jitsi/events/{what}/{event}", hook)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str]) -> int:
    if argv[:1] == ["bare"] and len(argv) == 2:
        from aiohttp import web

        web.run_app(bare_app(), host="127.0.0.1", port=int(argv[1]), access_log=None)
        return 0
    usage = "usage: python -m bench.webhook_load load CONFIG RESULT | bare PORT"
    return client_main(argv, {"load": load}, usage)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
