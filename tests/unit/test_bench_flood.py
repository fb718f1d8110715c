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
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.loadgen import Flood
from bench.serving import free_port
from bench.webhook_load import Requests, big_site, load, payload, posts

ROOT = Path(__file__).resolve().parents[2]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
OK_BODY = b'{"accepted": 1}'

# What the server does with its n-th request (counted from 0 over all connections).
Behaviour = Callable[[int], str]


@asynccontextmanager
async def server(behaviour: Behaviour) -> AsyncIterator[tuple[int, list[bytes], list[int]]]:
    """A raw HTTP/1.1 server on 127.0.0.1: (its port, the bodies it read in order, the number
    of connections it accepted: one item)."""
    bodies: list[bytes] = []
    accepted = [0]
    count = itertools.count()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
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
                elif what in ("close", "close-tight"):  # (the second: no space after ':')
                    said = b"Connection: close" if what == "close" else b"Connection:close"
                    writer.write(OK.replace(b"\r\n\r\n", b"\r\n%s\r\n\r\n" % said))
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
        yield srv.sockets[0].getsockname()[1], bodies, accepted
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


@dataclass
class Flooded:
    statuses: Counter[int]
    answers: list[bytes]  # the answers' bodies (a failure's: what went wrong)
    made: list[int]  # the numbers sent
    read: list[bytes]  # the bodies the server read
    latencies: list[float]
    connections: int  # the connections the server accepted


async def flood(
    behaviour: Behaviour, total: int, concurrency: int = 4, timeout_s: float = 60.0
) -> Flooded:
    statuses: Counter[int] = Counter()
    answers: list[bytes] = []
    latencies: list[float] = []

    def answered(status: int, body: bytes, started: float, ended: float) -> None:
        statuses[status] += 1
        answers.append(body)
        latencies.append(ended - started)

    make, made = numbered(total)
    async with server(behaviour) as (port, read, accepted):
        async with asyncio.timeout(20):
            await Flood("127.0.0.1", port, concurrency, make, answered, timeout_s=timeout_s).run()
    return Flooded(statuses, answers, made, read, latencies, accepted[0])


async def test_every_request_answered_once_over_keep_alive_connections() -> None:
    got = await flood(lambda n: "ok", 500, concurrency=8)
    assert got.statuses == {200: 500}
    assert got.answers == [OK_BODY] * 500
    assert got.made == list(range(500))
    assert sorted(int(b) for b in got.read) == got.made  # each sent once, none lost
    assert all(0 < t < 5 for t in got.latencies)
    assert got.connections == 8  # kept alive: no connection a request


async def test_an_answer_in_pieces_is_read_whole() -> None:
    got = await flood(lambda n: "split" if n % 3 == 0 else "ok", 30, concurrency=2)
    assert got.statuses == {200: 30}
    assert got.answers == [OK_BODY] * 30
    assert got.connections == 2


async def test_connection_close_opens_another_connection() -> None:
    got = await flood(lambda n: {1: "close", 3: "close-tight"}.get(n % 4, "ok"), 60, concurrency=3)
    assert got.statuses == {200: 60}
    assert len(got.made) == len(got.read) == 60
    assert got.connections == 3 + 30  # one more for each answer that closed its own


async def test_a_dropped_connection_fails_its_request_and_the_flood_goes_on() -> None:
    got = await flood(lambda n: "drop" if n in (5, 17) else "ok", 40, concurrency=2)
    assert got.statuses == {200: 38, 0: 2}
    assert len(got.made) == 40
    failures = [a for a in got.answers if a != OK_BODY]
    assert len(failures) == 2
    assert all(b"closed" in f or b"Error" in f for f in failures), failures
    assert got.connections == 2 + 2


async def test_an_answer_without_content_length_is_a_failure() -> None:
    got = await flood(lambda n: {2: "chunked", 5: "chunked+length"}.get(n, "ok"), 10, concurrency=1)
    assert got.statuses == {200: 8, 0: 2}
    assert got.answers.count(b"an answer without Content-Length") == 2


async def test_an_error_status_is_passed_on_with_its_body() -> None:
    got = await flood(lambda n: "500" if n % 2 else "ok", 10, concurrency=1)
    assert got.statuses == {200: 5, 500: 5}
    assert got.answers.count(b"bad!") == 5


async def test_a_request_left_unanswered_times_out_and_the_flood_ends() -> None:
    got = await flood(lambda n: "stall" if n == 3 else "ok", 8, concurrency=2, timeout_s=1.0)
    assert got.statuses == {200: 7, 0: 1}
    assert any(a.startswith(b"TimeoutError") for a in got.answers)
    assert max(got.latencies) >= 1.0
    assert len(got.made) == 8


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


@pytest.mark.parametrize("where", ["make", "answered"])
async def test_an_error_of_the_callers_ends_the_flood_with_it(where: str) -> None:
    """What `make` or `answered` raises is `run`'s to raise: not a hang, not a log line."""
    make, _made = numbered(50)

    def failing_make() -> bytes | None:
        if len(_made) == 20:
            raise RuntimeError("make failed")
        return make()

    def answered(status: int, body: bytes, started: float, ended: float) -> None:
        if where == "answered" and len(_made) > 20:
            raise RuntimeError("answered failed")

    async with server(lambda n: "ok") as (port, _read, _accepted):
        with pytest.raises(RuntimeError, match=f"{where} failed"):
            async with asyncio.timeout(10):
                await Flood(
                    "127.0.0.1", port, 2, failing_make if where == "make" else make, answered
                ).run()


@pytest.mark.parametrize(("skip", "count"), [(0, 3000), (7, 500)])
def test_requests_are_the_plans_posts_byte_for_byte(skip: int, count: int) -> None:
    """`Requests` makes each body from kept parts: the same bytes as `json.dumps(payload)`,
    a Vietnamese room name included (escaped as `json.dumps` escapes it)."""
    cfg = {"base": "http://127.0.0.1:8080", "room": "họp-ĐN", "token": "t%dk", "sites": 120}
    cfg |= {"t0": 1_700_000_000, "skip": skip}
    requests = Requests(cfg)
    for _j, (s, r, join) in itertools.islice(posts(120), skip, skip + count):
        endpoint, body = payload(cfg["room"], big_site(s), r, join, cfg["t0"])
        data = json.dumps(body).encode()
        assert requests.next() == (
            b"POST /hooks/jitsi/events/%s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            b"Authorization: Bearer t%%dk\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (endpoint.encode(), len(data), data)
        )


async def test_the_load_sends_the_plan_from_skip_and_times_after_its_warm_up() -> None:
    """`load` against a real server: the bodies it read are the plan's from `skip` on, in the
    order sent on one connection; posts before the warm-up's end are sent but not timed, and the
    rate counts the answers within the timed window."""
    async with server(lambda n: "ok") as (port, read, accepted):
        cfg = {"base": f"http://127.0.0.1:{port}", "room": "r", "token": "t", "sites": 60}
        cfg |= {"t0": 1_700_000_000, "skip": 11, "concurrency": 1}
        cfg |= {"warmup": 0.3, "duration": 0.3}
        got = await load(cfg)
    assert got["sent"] == got["accepted"] == len(read) > 0
    assert got["statuses"] == {"200": got["sent"]}
    assert 0 < got["measured"] < got["sent"]  # the warm-up's posts are not timed
    assert got["rate"] == pytest.approx(got["measured"] / 0.3, abs=1 / 0.3)
    plan = itertools.islice(posts(60), 11, 11 + len(read))
    assert read == [
        json.dumps(payload("r", big_site(s), r, join, cfg["t0"])[1]).encode()
        for _j, (s, r, join) in plan
    ]
    assert accepted[0] == 1


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
        assert done.returncode == 0, done.stderr
        got = json.loads(result.read_text(encoding="utf-8"))
        assert got["sent"] == got["accepted"] == got["measured"] == 300
        assert got["statuses"] == {"200": 300}
        assert got["errors"] == []
        assert 0 < got["p50"] <= got["p99"] <= got["max"]
    finally:
        bare.terminate()
        bare.wait(10)
