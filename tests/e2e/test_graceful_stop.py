"""SIGTERM under load, as systemd stops `serve`: every webhook it acknowledged is in the log, the
open boards end cleanly, and the process is gone within a few seconds."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx

from tests.builders import SIX
from tests.e2e.serve_process import (
    Prepared,
    ServeProcess,
    hook_headers,
    joined,
    prepare,
    service_env,
    start_serve,
)

BOARDS = 4
POSTERS = 3
STOP_WITHIN = 5.0  # seconds from SIGTERM to the process's exit


class Board(threading.Thread):
    """The chair's board: the attendance stream, read until it ends."""

    def __init__(self, url: str, prepared: Prepared) -> None:
        super().__init__(daemon=True)
        self.url = f"{url}/api/sessions/{prepared.session_id}/attendance/stream"
        self.token = prepared.chair
        self.opened = threading.Event()
        self.events = 0
        self.outcome = ""
        self.ended_at = 0.0

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=30) as r:
                assert r.status_code == 200, r.status_code
                self.opened.set()
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        self.events += 1
            self.outcome = "ended"
        except Exception as exc:  # the test reports how a board ended, whatever it was
            self.outcome = f"{type(exc).__name__}: {exc}"
        finally:
            self.ended_at = time.monotonic()
            self.opened.set()


class Poster(threading.Thread):
    """Posts event-sync webhooks one after another until the service is gone."""

    def __init__(self, url: str, room: str, first: int) -> None:
        super().__init__(daemon=True)
        self.url, self.room, self.n = url, room, first
        self.acked: list[int] = []
        self.refused: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while True:
                self.n += 1
                endpoint, body = joined(self.room, self.n, SIX[self.n % len(SIX)])
                try:
                    r = http.post(
                        f"/hooks/jitsi/events/{endpoint}", content=body, headers=hook_headers()
                    )
                except httpx.TransportError:
                    if not self._up(http):
                        return
                    continue
                if r.status_code == 200:
                    self.acked.append(self.n)
                else:
                    self.refused.append(f"{r.status_code} {r.text}")

    @staticmethod
    def _up(http: httpx.Client) -> bool:
        try:
            http.get("/healthz", timeout=1)
        except httpx.TransportError:
            return False
        return True


def stalled_upload(url: str, room: str) -> socket.socket:
    """A client that sends a webhook's headers and half its body, then nothing more (a slow
    link, a stuck proxy): a stop must not wait for it."""
    host, port = url.removeprefix("http://").split(":")
    endpoint, body = joined(room, 999_999_999)
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST /hooks/jitsi/events/{endpoint} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {hook_headers()['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def test_sigterm_under_load_keeps_every_acknowledged_event_and_ends_boards(
    db_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "var"
    prepared = prepare(db_url, data)
    env = service_env(db_url, data)
    served = start_serve(env, tmp_path / "serve.log")
    boards = [Board(served.url, prepared) for _ in range(BOARDS)]
    posters = [Poster(served.url, prepared.room, i * 1_000_000) for i in range(POSTERS)]
    stalled: socket.socket | None = None
    try:
        for board in boards:
            board.start()
        for board in boards:
            assert board.opened.wait(20), "the board opened"
        for poster in posters:
            poster.start()
        deadline = time.monotonic() + 30
        while sum(len(p.acked) for p in posters) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        stalled = stalled_upload(served.url, prepared.room)
        time.sleep(0.3)
        code, took = served.terminate()
        stopped = time.monotonic()
        for thread in [*posters, *boards]:
            thread.join(timeout=15)
    finally:
        served.kill()
        if stalled is not None:
            stalled.close()
    log = served.log.read_text()
    assert code == 0, log
    assert took < STOP_WITHIN, f"serve took {took:.1f}s to stop:\n{log}"
    assert "Traceback" not in log, log
    assert "stopped serving" in log
    for board in boards:
        assert board.outcome == "ended", board.outcome
        assert board.events >= 1
        assert board.ended_at <= stopped + 0.5
    assert not [p.refused for p in posters if p.refused]
    acked = [n for p in posters for n in p.acked]
    assert len(acked) >= 150

    # Started again on the same database, the service knows every acknowledged event: sent
    # again, each is a repeat.
    again: ServeProcess = start_serve(env, tmp_path / "serve-again.log")
    try:
        with httpx.Client(base_url=again.url, timeout=10) as http:
            missing = []
            for n in acked:
                endpoint, body = joined(prepared.room, n, SIX[n % len(SIX)])
                r = http.post(
                    f"/hooks/jitsi/events/{endpoint}", content=body, headers=hook_headers()
                )
                assert r.status_code == 200, r.text
                if r.json()["accepted"] != 0:
                    missing.append(n)
            assert missing == [], f"{len(missing)} acknowledged events were not logged"
    finally:
        again.terminate()
