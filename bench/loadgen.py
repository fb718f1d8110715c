"""The client side of the webhook benchmarks, run in processes of their own.

Prosody's event-sync webhooks as the benchmarks send them, a keep-alive HTTP/1.1 connection
over raw asyncio streams to post them (`Connection`), a flood of them over many connections
driven by protocol callbacks (`Flood`: the webhook benchmarks' load), and the entry point of
a client process (`python -m bench.<name> VERB CONFIG RESULT`: a JSON file in, a JSON file
out). Only the standard library here: a client process starts in a fraction of a second,
without importing the orchestrator. The parent's side (starting such a process, reading its
result) is `bench.serving.run_client`.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

# What a failed request raises: the connection is then closed (see `Connection`).
CLIENT_ERRORS = (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError)

# A client's work: its config in, its result out (both plain JSON).
Job = Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]


# event-sync webhooks -------------------------------------------------------------------------


def occupant(site: str, jid: str, joined_at: int, left_at: int | None = None) -> dict[str, Any]:
    """An occupant as event-sync sends it: the token's user (the site, `id`) and its connection
    (`occupant_jid`), with Unix seconds."""
    out: dict[str, Any] = {
        "name": f"Điểm cầu {site}",
        "email": f"dau-moi@{site}.example.org",
        "id": site,
        "occupant_jid": jid,
        "joined_at": joined_at,
    }
    if left_at is not None:
        out["left_at"] = left_at
    return out


def room_jid(room: str) -> str:
    return f"{room}@conference.meet.example.org"


def occupant_webhook(room: str, who: dict[str, Any], active: int) -> tuple[str, dict[str, Any]]:
    """An `occupant/joined` webhook, or `occupant/left` when the occupant has `left_at`, shaped
    exactly as `tests/data/wire/event-sync-*.json`: (endpoint, body)."""
    left = "left_at" in who
    return f"occupant/{'left' if left else 'joined'}", {
        "event_name": "muc-occupant-left" if left else "muc-occupant-joined",
        "room_name": room,
        "room_jid": room_jid(room),
        "is_breakout": False,
        "active_occupants_count": active,
        "occupant": who,
    }


# the HTTP/1.1 client -------------------------------------------------------------------------


def client_headers(base: str, token: str) -> tuple[str, int, bytes]:
    """(host, port, the header lines every webhook to `base` carries)."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    headers = (
        f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    return host, port, headers


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its answer.

    Raw asyncio streams rather than aiohttp's client, which costs about 150 us of client CPU per
    request (that caps one client process near 2,000 requests/s on the project's machine); this
    costs about 55 us. Answers must carry a Content-Length (aiohttp's always do). Opened by
    `open`, or by the first `post`; after `close` (or an answer with `Connection: close`) the
    next `post` opens it again.

    `split_body`: the head and the body go in two writes, the body not copied (for bodies of
    megabytes); otherwise in one.
    """

    def __init__(self, host: str, port: int, headers: bytes, *, split_body: bool = False) -> None:
        self.host, self.port, self.headers, self.split_body = host, port, headers, split_body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST."""
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (
            path.encode(),
            self.headers,
            len(body),
        )
        if self.split_body:
            self.writer.write(head)
            self.writer.write(body)
        else:
            self.writer.write(head + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = None, False
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            key = key.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"connection" and value.strip().lower() == b"close":
                close = True
            elif key == b"transfer-encoding":
                raise ValueError(f"an answer with Transfer-Encoding {value!r}")
        if length is None:
            raise ValueError("an answer without Content-Length")
        data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Flood:
    """Requests over `concurrency` keep-alive HTTP/1.1 connections, each sent the moment the
    answer before it on its connection is read, driven by the event loop's protocol callbacks:
    no task, stream or `await` per request. With `webhook_load.Requests`, the client's CPU a
    webhook is 31-48 µs where `Connection` and a body through `json.dumps` took 50-70 µs: on a
    2-core machine, CPU the load generator takes is CPU the server under test and its database
    do not get (bench/README.md, "A lighter load generator").

    `make()` gives the next request's bytes, or None: that connection is then closed, and the
    flood ends once every connection is. `answered(status, body, started, ended)` hears of each
    request once: its status and body, or status 0 with what went wrong as the body (the
    connection lost, no answer within `timeout_s`, an answer without Content-Length); after such
    a failure the connection is opened again. A connection that cannot be made (refused, or not
    made within `timeout_s`) is a failure too, said once and not made again: the flood goes on
    with one connection fewer. Answers must carry a Content-Length (aiohttp's always do); one
    with `Connection: close` has its connection opened again. What `make` or `answered` raises
    ends `run` with it."""

    def __init__(
        self,
        host: str,
        port: int,
        concurrency: int,
        make: Callable[[], bytes | None],
        answered: Callable[[int, bytes, float, float], None],
        *,
        timeout_s: float = 60.0,
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.make, self.answered = make, answered
        self.concurrency = concurrency
        self.open: set[_Flowing] = set()  # connections made or being made, not yet closed
        self._connecting: set[asyncio.Task[None]] = set()
        self._done: asyncio.Future[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        for _ in range(self.concurrency):
            self.connect()
        watch = loop.create_task(self._watch())
        try:
            await self._done
        finally:
            watch.cancel()
            for task in list(self._connecting):
                task.cancel()
            for conn in list(self.open):
                conn.close()

    def connect(self) -> None:
        """Open one more connection; it sends its first request once made."""
        conn = _Flowing(self)
        self.open.add(conn)
        task = asyncio.get_running_loop().create_task(self._connect(conn))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: _Flowing) -> None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.get_running_loop().create_connection(
                    lambda: conn, self.host, self.port
                )
        except (OSError, TimeoutError) as exc:
            try:
                why = f"{type(exc).__name__}: {exc}".encode()
                self.answered(0, why, started, time.perf_counter())
            except Exception as raised:
                self.crash(raised)
            self.closed(conn)

    def crash(self, exc: BaseException) -> None:
        """End `run` with `exc` (raised by `make` or `answered`)."""
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)

    def closed(self, conn: _Flowing) -> None:
        self.open.discard(conn)
        if not self.open and self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def _watch(self) -> None:
        """Fail each request left unanswered for `timeout_s` (checked a few times a second)."""
        while True:
            await asyncio.sleep(min(0.25, self.timeout_s / 4))
            now = time.perf_counter()
            for conn in list(self.open):
                if conn.started and now - conn.started > self.timeout_s:
                    try:
                        conn.fail(f"TimeoutError: no answer within {self.timeout_s:g} s")
                    except Exception as exc:
                        self.crash(exc)


class _Flowing(asyncio.Protocol):
    """One connection of a `Flood`: a request, its answer, the next request."""

    def __init__(self, flood: Flood) -> None:
        self.flood = flood
        self.transport: asyncio.WriteTransport | None = None
        self.buf = b""
        self.started = 0.0  # when the request in flight was written (0: none in flight)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (cast: a transport of another event loop, uvloop's, may be no subclass of it)
        self.transport = cast(asyncio.WriteTransport, transport)
        try:
            self.send()
        except Exception as exc:
            self.flood.crash(exc)

    def send(self) -> None:
        request = self.flood.make() if self.transport is not None else None
        if request is None or self.transport is None:
            self.close()
            return
        self.started = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self._read(data)
        except Exception as exc:
            self.flood.crash(exc)

    def _read(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.buf = buf
            return
        head = buf[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0 or b"\r\ntransfer-encoding:" in head:
            self.fail("an answer without Content-Length")
            return
        stop = head.find(b"\r\n", at + 2)
        whole = end + 4 + int(head[at + 17 : stop if stop > 0 else None])
        if len(buf) < whole:
            self.buf = buf
            return
        self.buf = buf[whole:]
        started, self.started = self.started, 0.0
        self.flood.answered(int(head[9:12]), buf[end + 4 : whole], started, time.perf_counter())
        if _says_close(head):
            self.flood.connect()  # (before this one closes: the flood is never left empty)
            self.close()
        else:
            self.send()

    def fail(self, why: str) -> None:
        """The request in flight failed: say so, close, and open a connection in its place."""
        started, self.started = self.started, 0.0
        if started:
            self.flood.answered(0, why.encode(), started, time.perf_counter())
        self.flood.connect()  # (before this one closes: the flood is never left empty)
        self.close()

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()
        self.flood.closed(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:  # closed by the server, not by us
            self.transport = None
            if self.started:
                try:
                    self.fail(f"{type(exc).__name__}: {exc}" if exc else "the server closed it")
                except Exception as raised:
                    self.flood.crash(raised)
                return
        self.flood.closed(self)


def _says_close(head: bytes) -> bool:
    """Whether an answer's head (lower case) carries `Connection: close`."""
    at = head.find(b"\r\nconnection:")
    if at < 0:
        return False
    stop = head.find(b"\r\n", at + 2)
    return head[at + 13 : stop if stop > 0 else None].strip() == b"close"


def latency_summary(values: list[float]) -> dict[str, float]:
    """p50, p99 (nearest rank, as `bench.common.percentile`) and max; zeros when empty."""
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    p99 = ordered[max(1, math.ceil(0.99 * len(ordered))) - 1]
    return {"p50": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


# the client process --------------------------------------------------------------------------


def main(argv: list[str], jobs: Mapping[str, Job], usage: str) -> int:
    """`VERB CONFIG RESULT`: run `jobs[VERB]` on the JSON in CONFIG, write its answer to RESULT
    as JSON; exit status 0, or 2 (with `usage`) when the arguments are not that."""
    if len(argv) == 3 and argv[0] in jobs:
        cfg = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        result = asyncio.run(jobs[argv[0]](cfg))
        Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
        return 0
    print(usage, file=sys.stderr)
    return 2
