"""The webhook benchmarks' load generator: `Flood` (keep-alive connections driven by protocol
callbacks) against a real server on a real port that answers well, closes, drops, stalls or
answers without a length; the plan's requests (`Requests`) byte for byte as `payload` and
`json.dumps` make them; and the load generator's process against the bare handler."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bench.loadgen import Flood
from bench.serving import free_port
from bench.webhook_load import Requests, big_site, payload, posts

ROOT = Path(__file__).resolve().parents[2]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
OK_BODY = b'{"accepted": 1}'

# What the server does with its n-th request (counted from 0 over all connections).
Behaviour = Callable[[int], str]


@asynccontextmanager
async def server(behaviour: Behaviour) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A raw HTTP/1.1 server on 127.0.0.1: (its port, the bodies it read, in order)."""
    bodies: list[bytes] = []
    count = itertools.count()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                bodies.append(await reader.readexactly(length))
                what = behaviour(next(count))
                if what == "ok":
                    writer.write(OK + OK_BODY)
                elif what == "split":  # the head and the body in pieces, apart in time
                    for piece in (OK[:7], OK[7:40], OK[40:], OK_BODY[:4], OK_BODY[4:]):
                        writer.write(piece)
                        await writer.drain()
                        await asyncio.sleep(0.01)
                elif what == "close":
                    writer.write(OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
                    writer.write(OK_BODY)
                    await writer.drain()
                    break
                elif what == "drop":
                    break
                elif what in ("chunked", "chunked+length"):  # (the second: both headers)
                    length = b"Content-Length: 26\r\n" if what == "chunked+length" else b""
                    writer.write(
                        b"HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n\r\n" % length
                        + b"f\r\n"
                        + OK_BODY
                        + b"\r\n0\r\n\r\n"
                    )
                elif what == "stall":
                    await asyncio.sleep(3600)
                elif what == "500":
                    writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nbad!")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield srv.sockets[0].getsockname()[1], bodies
    finally:
        srv.close()


def numbered(total: int) -> tuple[Callable[[], bytes | None], list[int]]:
    """`make` for a flood of `total` requests, each body its number; and the numbers made."""
    made: list[int] = []

    def make() -> bytes | None:
        if len(made) >= total:
            return None
        made.append(len(made))
        body = b"%d" % made[-1]
        return b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    return make, made


async def flood(
    behaviour: Behaviour, total: int, concurrency: int = 4, timeout_s: float = 60.0
) -> tuple[Counter[int], list[bytes], list[int], list[bytes], list[float]]:
    """(statuses, answers' bodies, numbers sent, bodies the server read, latencies)."""
    statuses: Counter[int] = Counter()
    answers: list[bytes] = []
    latencies: list[float] = []

    def answered(status: int, body: bytes, started: float, ended: float) -> None:
        statuses[status] += 1
        answers.append(body)
        latencies.append(ended - started)

    make, made = numbered(total)
    async with server(behaviour) as (port, read):
        async with asyncio.timeout(20):
            await Flood("127.0.0.1", port, concurrency, make, answered, timeout_s=timeout_s).run()
    return statuses, answers, made, read, latencies


async def test_every_request_answered_once_over_keep_alive_connections() -> None:
    statuses, answers, made, read, latencies = await flood(lambda n: "ok", 500, concurrency=8)
    assert statuses == {200: 500}
    assert answers == [OK_BODY] * 500
    assert made == list(range(500))
    assert sorted(int(b) for b in read) == made  # each sent once, none lost
    assert all(0 < t < 5 for t in latencies)


async def test_an_answer_in_pieces_is_read_whole() -> None:
    statuses, answers, _made, _read, _lat = await flood(
        lambda n: "split" if n % 3 == 0 else "ok", 30, concurrency=2
    )
    assert statuses == {200: 30}
    assert answers == [OK_BODY] * 30


async def test_connection_close_opens_another_connection() -> None:
    statuses, _answers, made, read, _lat = await flood(
        lambda n: "close" if n % 4 == 1 else "ok", 60, concurrency=3
    )
    assert statuses == {200: 60}
    assert len(made) == len(read) == 60


async def test_a_dropped_connection_fails_its_request_and_the_flood_goes_on() -> None:
    statuses, answers, made, _read, _lat = await flood(
        lambda n: "drop" if n in (5, 17) else "ok", 40, concurrency=2
    )
    assert statuses == {200: 38, 0: 2}
    assert len(made) == 40
    failures = [a for a in answers if a != OK_BODY]
    assert len(failures) == 2
    assert all(b"closed" in f or b"Error" in f for f in failures), failures


async def test_an_answer_without_content_length_is_a_failure() -> None:
    statuses, answers, _made, _read, _lat = await flood(
        lambda n: {2: "chunked", 5: "chunked+length"}.get(n, "ok"), 10, concurrency=1
    )
    assert statuses == {200: 8, 0: 2}
    assert answers.count(b"an answer without Content-Length") == 2


async def test_an_error_status_is_passed_on_with_its_body() -> None:
    statuses, answers, _made, _read, _lat = await flood(
        lambda n: "500" if n % 2 else "ok", 10, concurrency=1
    )
    assert statuses == {200: 5, 500: 5}
    assert answers.count(b"bad!") == 5


async def test_a_request_left_unanswered_times_out_and_the_flood_ends() -> None:
    statuses, answers, made, _read, latencies = await flood(
        lambda n: "stall" if n == 3 else "ok", 8, concurrency=2, timeout_s=0.4
    )
    assert statuses == {200: 7, 0: 1}
    assert any(a.startswith(b"TimeoutError") for a in answers)
    assert max(latencies) >= 0.4
    assert len(made) == 8


async def test_a_refused_connection_is_a_failure_not_a_hang() -> None:
    statuses: Counter[int] = Counter()
    errors: list[bytes] = []

    def answered(status: int, body: bytes, started: float, ended: float) -> None:
        statuses[status] += 1
        errors.append(body)

    make, made = numbered(10)
    async with asyncio.timeout(10):
        await Flood("127.0.0.1", free_port(), 3, make, answered).run()
    assert statuses == {0: 3}
    assert made == []
    assert all(b"Error" in e for e in errors)


@pytest.mark.parametrize(("skip", "count"), [(0, 3000), (7, 500)])
def test_requests_are_the_plans_posts_byte_for_byte(skip: int, count: int) -> None:
    """`Requests` makes each body from kept parts: the same bytes as `json.dumps(payload)`,
    a Vietnamese room name included (escaped as `json.dumps` escapes it)."""
    cfg = {"base": "http://127.0.0.1:8080", "room": "họp-ĐN", "token": "tk", "sites": 120}
    cfg |= {"t0": 1_700_000_000, "skip": skip}
    requests = Requests(cfg)
    for _j, (s, r, join) in itertools.islice(posts(120), skip, skip + count):
        endpoint, body = payload(cfg["room"], big_site(s), r, join, cfg["t0"])
        data = json.dumps(body).encode()
        assert requests.next() == (
            b"POST /hooks/jitsi/events/%s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            b"Authorization: Bearer tk\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (endpoint.encode(), len(data), data)
        )


def test_the_load_generators_process_against_the_bare_handler(
    tmp_path: Path,
) -> None:
    """`python -m bench.webhook_load load` as the benchmarks run it, against the bare handler's
    process: it stops at `max_posts`, and every post is answered and counted."""
    port = free_port()
    bare = subprocess.Popen(
        [sys.executable, "-m", "bench.webhook_load", "bare", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cfg = {
            "base": f"http://127.0.0.1:{port}",
            "room": "r",
            "token": "t",
            "sites": 100,
            "t0": 1_700_000_000,
            "concurrency": 4,
            "warmup": 0.0,
            "duration": 30.0,
            "max_posts": 300,
        }
        config, result = tmp_path / "cfg.json", tmp_path / "result.json"
        config.write_text(json.dumps(cfg), encoding="utf-8")
        for _ in range(200):  # until the bare handler listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        done = subprocess.run(
            [sys.executable, "-m", "bench.webhook_load", "load", str(config), str(result)],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
            check=False,
        )
        got = json.loads(result.read_text(encoding="utf-8"))
        assert done.returncode == 0, done.stderr
        assert got["sent"] == got["accepted"] == got["measured"] == 300
        assert got["statuses"] == {"200": 300}
        assert got["errors"] == []
        assert 0 < got["p50"] <= got["p99"] <= got["max"]
    finally:
        bare.terminate()
        bare.wait(10)
