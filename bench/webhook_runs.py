"""The webhook benchmarks' loads, seen from the benchmark's side: the load generator run as a
process of its own (`run_load`, its plan `load_cfg`: `python -m bench.webhook_load load`) and
what it measured (`LoadResult`: the rate, the latency and the server's CPU a post), and the bare
aiohttp handler loaded in slices around each timed load of the service (`Bare`, `Reference`).
Used by `attendance` and `memory`."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import Context, check
from bench.serving import (
    EVENTS_TOKEN,
    ROOT,
    Process,
    clean_env,
    free_port,
    run_client,
    wait_healthy,
)

CONCURRENCY = 32  # the load generator's keep-alive connections
WARMUP_S, WARMUP_TINY_S = 1.0, 0.3
BARE_S, BARE_TINY_S = 5.0, 0.5  # each slice of the bare reference, after its warm-up


@dataclass
class LoadResult:
    """One load as the load generator measured it (its JSON answer), and the server's CPU."""

    sent: int
    accepted: int
    statuses: dict[int, int]
    errors: list[str]
    rate: float
    measured: int
    p50: float
    p99: float
    max: float
    cpu_s: float | None = None  # the server's CPU time over the whole load, warm-up included

    @property
    def cpu_per_post(self) -> float:
        """The server's CPU seconds a post (0 when not measured)."""
        return self.cpu_s / self.sent if self.cpu_s is not None and self.sent else 0.0

    @property
    def busy(self) -> float:
        """The share of one core the server used at the timed rate (about: its CPU a post
        times the rate)."""
        return self.cpu_per_post * self.rate

    @property
    def cpu_note(self) -> str:
        if self.cpu_s is None:  # (`run_load` without the server: `memory`'s load)
            return "server CPU not measured"
        return f"server CPU {self.cpu_per_post * 1e6:.0f} µs a post, busy {self.busy:.0%}"

    @property
    def note(self) -> str:
        return (
            f"{self.measured} posts timed, p50 {self.p50 * 1000:.1f} ms, "
            f"p99 {self.p99 * 1000:.1f} ms, max {self.max * 1000:.0f} ms, {self.cpu_note}"
        )


async def run_load(
    tmp: Path, label: str, cfg: dict[str, Any], server: Process | None = None
) -> LoadResult:
    """The load generator as its own process; its answer comes back as a JSON file. With
    `server`, the CPU time that process used meanwhile is kept (`cpu_s`): where the rate says
    how fast, the CPU a post says how much work (steadier from run to run on a shared
    machine), and the two together how much of the time the server waited."""
    within_s = cfg["warmup"] + cfg["duration"] + 120
    if server is not None:
        check(server.alive(), f"{label}: the server died:\n{server.tail()}")
    before = server.cpu_seconds() if server is not None else 0.0
    raw = await run_client(
        "webhook_load", "load", cfg, tmp=tmp, label=label, within_s=within_s, name="load generator"
    )
    raw["statuses"] = {int(k): v for k, v in raw["statuses"].items()}
    if server is not None and server.alive():
        raw["cpu_s"] = server.cpu_seconds() - before
    return LoadResult(**raw)


def load_cfg(
    ctx: Context, base: str, room: str, sites: int, t0: int, skip: int = 0, board: bool = False
) -> dict[str, Any]:
    return {
        "base": base,
        "room": room,
        "token": EVENTS_TOKEN,
        "sites": sites,
        "t0": t0,
        "concurrency": CONCURRENCY,
        "warmup": WARMUP_S if not ctx.tiny else WARMUP_TINY_S,
        "duration": duration(ctx, board),
        "skip": skip,
    }


def duration(ctx: Context, board: bool = False) -> float:
    """Seconds each load is timed (after its warm-up); shorter with the live board open."""
    return ctx.size(5, 1) if board else ctx.size(10, 2)


class Bare:
    """The bare aiohttp handler, one process for the whole run, loaded in slices just before and
    just after each timed load of the service: what else runs on this shared machine changes
    from one minute to the next, so each figure's reference is measured beside it (the mean of
    the two slices around it), not once at the start of the run. Its lines are said under the
    benchmark's `name`."""

    def __init__(self, ctx: Context, name: str, tmp: Path, sites: int) -> None:
        self._ctx, self._name, self._tmp, self._sites = ctx, name, tmp, sites
        self._port = free_port()
        self.base = f"http://127.0.0.1:{self._port}"
        self._slices = 0
        self.rss = 0.0  # MB, after its first load
        self._process: Process | None = None

    async def start(self) -> None:
        self._process = Process(
            [sys.executable, "-m", "bench.webhook_load", "bare", str(self._port)],
            ROOT,
            clean_env(),
            self._tmp / "bare.log",
        )
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, self._process, self.base)

    async def stop(self) -> None:
        if self._process is not None:
            await asyncio.to_thread(self._process.stop)

    async def slice(self, what: str) -> LoadResult:
        """One load of the bare handler (`BARE_S` after the same warm-up as the service's)."""
        assert self._process is not None
        self._slices += 1
        cfg = load_cfg(self._ctx, self.base, "bare-room", self._sites, int(time.time()) - 3600)
        cfg["duration"] = self._ctx.size(BARE_S, BARE_TINY_S)
        result = await run_load(self._tmp, f"bare{self._slices}", cfg, self._process)
        if not self.rss:
            self.rss = self._process.memory()[0]
        check(
            set(result.statuses) == {200},
            f"the bare handler answered {result.statuses}: {result.errors}",
        )
        self._ctx.say(
            self._name,
            f"reference ({what}): bare aiohttp JSON handler, {CONCURRENCY} connections: "
            f"{result.rate:,.0f} posts/s, {result.note}",
        )
        return result


@dataclass
class Reference:
    """The bare handler's figures around one timed load: the mean of the slice before it and
    the slice after it."""

    before: LoadResult
    after: LoadResult

    @property
    def rate(self) -> float:
        return (self.before.rate + self.after.rate) / 2

    @property
    def p99(self) -> float:
        return (self.before.p99 + self.after.p99) / 2

    @property
    def note(self) -> str:
        return (
            f"bare before {self.before.rate:,.0f}/s p99 {self.before.p99 * 1000:.1f} ms, "
            f"after {self.after.rate:,.0f}/s p99 {self.after.p99 * 1000:.1f} ms"
        )

    @property
    def cpu_note(self) -> str:
        """The bare handler's CPU a post and busy share, the mean of the two slices."""
        per_post = (self.before.cpu_per_post + self.after.cpu_per_post) / 2
        busy = (self.before.busy + self.after.busy) / 2
        return f"bare {per_post * 1e6:.0f} µs a post, busy {busy:.0%}"
