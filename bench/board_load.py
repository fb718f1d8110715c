"""The board benchmark's steady load, run as a process of its own (`python -m bench.board_load
steady CONFIG RESULT`): Prosody's event-sync webhooks at a fixed rate (each made at its time,
whatever the answers take, and sent on its site's own connection: one site's posts in order, so
a slow answer delays the sites of its connection only), each turning one site over: a connected
site's device leaves, any other site joins with a new device. Every site's state is known after
each webhook (its intervals and whether one is open), so a page can be checked against it. Only
the standard library here (and `bench.loadgen`): the process starts in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

from bench.loadgen import (
    CLIENT_ERRORS,
    Connection,
    client_headers,
    latency_summary,
    occupant,
    occupant_webhook,
)
from bench.loadgen import main as client_main

CONNECTIONS = 16


def seq(intervals: int, connected: bool) -> int:
    """A site's place in its own history: 2 per interval, one less while the last is open
    (waiting 0, connected once 1, dropped 2, connected again 3...). It only grows."""
    return 2 * intervals - (1 if connected else 0)


async def steady(cfg: dict[str, Any]) -> dict[str, Any]:
    """Post `rate` webhooks a second for `duration` seconds from `start_at` (Unix time) over
    the sites of `sites` in a shuffled round, given each site's `open` device (`[jid, joined]`)
    and `intervals` so far; webhook times from `t1` on (whole seconds, two per site and turn).
    Answers: the posts' statuses and latency, one `[site, seq, sent_at]` per post of a
    `watched` site, and the final `[intervals, connected]` of each watched site."""
    host, port, headers = client_headers(cfg["base"], cfg["token"])
    room, rate, t1 = cfg["room"], float(cfg["rate"]), int(cfg["t1"])
    sites: list[str] = list(cfg["sites"])
    random.Random(cfg.get("seed", 7)).shuffle(sites)
    watched = set(cfg["watched"])
    open_: dict[str, tuple[str, int] | None] = dict.fromkeys(sites)
    for site, (jid, joined) in cfg["open"].items():
        open_[site] = (jid, int(joined))
    intervals: dict[str, int] = {s: int(cfg["intervals"].get(s, 0)) for s in sites}
    turns: dict[str, int] = dict.fromkeys(sites, 0)
    total = int(rate * float(cfg["duration"]))
    # (post, endpoint, body, its time, the probe it is: [site, seq] of a watched site)
    # one queue per connection and each site on one of them, so that a site's posts arrive in
    # the order they were made even when the server falls behind (on one shared queue a join
    # could overtake the leave before it, and the tile would never show the leave)
    queues: list[asyncio.Queue[tuple[int, str, bytes, float, list[Any] | None] | None]] = [
        asyncio.Queue() for _ in range(CONNECTIONS)
    ]
    lane = {site: i % CONNECTIONS for i, site in enumerate(sites)}
    probes: list[list[Any]] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    latencies: list[float] = []
    late: list[float] = []  # how far behind its time each post went out

    def next_post(i: int) -> tuple[str, str, bytes]:
        site = sites[i % len(sites)]
        turns[site] += 1
        at = t1 + 2 * turns[site]
        held = open_[site]
        if held is not None:
            jid, joined = held
            who = occupant(site, jid, joined, at)
            open_[site] = None
        else:
            jid = f"{site}-load{turns[site]}@meet.example.org/load"
            who = occupant(site, jid, at)
            open_[site] = (jid, at)
            intervals[site] += 1
        endpoint, body = occupant_webhook(room, who, active=1)
        return site, endpoint, json.dumps(body).encode()

    async def worker(queue: asyncio.Queue[Any]) -> None:
        conn = Connection(host, port, headers)
        while (item := await queue.get()) is not None:
            i, endpoint, body, due, probe = item
            began = time.perf_counter()
            now = time.time()
            late.append(max(0.0, now - due))
            if probe is not None:
                probes.append([*probe, now])
            try:
                status, _ = await conn.post(f"/hooks/jitsi/events/{endpoint}", body)
            except CLIENT_ERRORS as exc:
                conn.close()
                errors.append(f"post {i}: {exc!r}")
                status = 0
            latencies.append(time.perf_counter() - began)
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    workers = [asyncio.create_task(worker(queue)) for queue in queues]
    start_at = float(cfg["start_at"])
    await asyncio.sleep(max(0.0, start_at - time.time()))
    for i in range(total):
        due = start_at + i / rate
        if (wait := due - time.time()) > 0:
            await asyncio.sleep(wait)
        site, endpoint, body = next_post(i)
        probe = [site, seq(intervals[site], open_[site] is not None)] if site in watched else None
        queues[lane[site]].put_nowait((i, endpoint, body, due, probe))
    for queue in queues:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return {
        "sent": total,
        "statuses": statuses,
        "errors": errors[:20],
        "latency": latency_summary(latencies),
        "behind": latency_summary(late),
        "probes": probes,
        "final": {s: [intervals[s], open_[s] is not None] for s in sorted(watched)},
    }


USAGE = "usage: python -m bench.board_load steady CONFIG RESULT"

if __name__ == "__main__":
    sys.exit(client_main(sys.argv[1:], {"steady": steady}, USAGE))
