"""A live board's server-sent events as the benchmarks read them: each whole record or set of
changes with the time its last byte came, and a cheap look for one site's connection in it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

import aiohttp

from bench.common import BenchError, check


@dataclass
class Stream:
    """A server-sent events reader: each `attendance` (the whole record) or `changes` (the
    sites that changed) event with the time its last byte came."""

    keep: bool = True  # False: only count them (a 10,000-site record is about 4 MB)
    events: asyncio.Queue[tuple[float, bytes]] = field(default_factory=asyncio.Queue)
    count: int = 0
    lines: int = 0  # the site lines those events carried
    longest_gap: float = 0.0  # seconds: the longest time between two of them
    task: asyncio.Task[None] | None = None
    error: BaseException | None = None

    async def open(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        resp = await http.get(
            url,
            headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        )
        if resp.status != 200:
            body = await resp.text()
            resp.release()
            raise BenchError(f"GET {url} answered {resp.status}: {body[:300]}")
        ctype = resp.headers.get("Content-Type", "")
        check(ctype.startswith("text/event-stream"), f"the stream came as {ctype!r}")
        self.task = asyncio.create_task(self._read(resp))

    async def _read(self, resp: aiohttp.ClientResponse) -> None:
        buf = bytearray()
        last = 0.0
        try:
            async for chunk in resp.content.iter_any():
                arrived = time.perf_counter()
                start = max(0, len(buf) - 1)
                buf += chunk
                while (end := buf.find(b"\n\n", start)) >= 0:
                    block = bytes(buf[:end])
                    del buf[: end + 2]
                    start = 0
                    kind, data = "message", b""
                    for line in block.split(b"\n"):
                        if line.startswith(b"event:"):
                            kind = line[6:].strip().decode()
                        elif line.startswith(b"data:"):
                            data = line[5:].lstrip()
                    if kind in ("attendance", "changes"):
                        if self.count:
                            self.longest_gap = max(self.longest_gap, arrived - last)
                        last = arrived
                        self.count += 1
                        self.lines += data.count(b'"site_id"')
                        if self.keep:
                            self.events.put_nowait((arrived, data))
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            resp.release()

    async def next(self, within_s: float) -> tuple[float, bytes]:
        if self.task is not None and self.task.done() and self.events.empty():
            raise BenchError(f"the stream ended: {self.error!r}")
        try:
            return await asyncio.wait_for(self.events.get(), within_s)
        except TimeoutError:
            raise BenchError(f"no stream event within {within_s:.0f} s") from None

    async def seen(self, count: int, within_s: float) -> None:
        """Wait until `count` events came (also when they are not kept)."""
        deadline = time.monotonic() + within_s
        while self.count < count:
            if self.task is not None and self.task.done():
                raise BenchError(f"the stream ended: {self.error!r}")
            if time.monotonic() > deadline:
                raise BenchError(f"no stream event within {within_s:.0f} s")
            await asyncio.sleep(0.01)

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


def connection_of(data: bytes, site: str) -> str | None:
    """The site's `connection` in a record or changes sent on the stream (a cheap look first);
    None when the site is not in it."""
    needle = b'"site_id":"' + site.encode() + b'","connection":"'
    at = data.find(needle)
    if at >= 0:
        start = at + len(needle)
        return data[start : data.index(b'"', start)].decode()
    record = json.loads(data)
    for line in record["sites"]:
        if line["site_id"] == site:
            return str(line["connection"])
    return None
