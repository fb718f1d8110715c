"""`orchestrator serve` as a real process, as systemd runs it: settings from the environment, the
log in a file, stopped by SIGTERM; and Prosody's event-sync webhooks to post at it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from orchestrator.bootstrap import build
from orchestrator.directory.loader import load_directory
from orchestrator.settings import Settings
from tests.builders import OFFICE, book, issue_tokens
from tests.conftest import EXAMPLE_DIRECTORY, ROOT

EVENTS_TOKEN = "prosody-event-sync-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `serve` unit: this machine's, minus any ORCH_ setting of the
    caller, plus the database, the event-sync token and `extra` (ORCH_ names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.update(
        ORCH_DATABASE_URL=database_url,
        ORCH_DATA_DIR=str(data_dir),
        ORCH_JITSI__EVENTS_TOKEN=EVENTS_TOKEN,
        ORCH_INVITES__WORKER="false",
        **extra,
    )
    return env


@dataclass(frozen=True)
class Prepared:
    """A six-site session booked on the database the processes will serve, and who may read
    its board."""

    session_id: str
    room: str
    office: str
    chair: str


def prepare(database_url: str, data_dir: Path, *, soon: bool = False) -> Prepared:
    """Load the example directory and book the six-site session on a working day two days or
    more from now (the service's own clock, not the tests' moved one), before `serve` starts.
    With `soon`, the session starts in 20 minutes instead: its connection test is under way
    (booked with a reason, whatever the day and hour)."""

    async def work() -> Prepared:
        c = build(Settings(database_url=database_url, data_dir=data_dir))
        try:
            await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
            day = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
            start = day + timedelta(days=2)
            while start.weekday() >= 5:  # a working day
                start += timedelta(days=1)
            over: dict[str, Any] = {}
            if soon:
                start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=20)
                over["override_reason"] = "Kiểm thử triển khai"
            session = await book(c, start=start, end=start + timedelta(hours=3), **over)
            tokens = await issue_tokens(c)
        finally:
            await c.close()
        assert session.room
        return Prepared(session.id, session.room, tokens.office, tokens.chair)

    return asyncio.run(work())


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not become healthy in time:\n{self.log.read_text()}")

    def terminate(self, seconds: float = 30) -> tuple[int, float]:
        """SIGTERM, then wait: the exit code and the seconds it took."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"serve did not stop within {seconds}s of SIGTERM:\n{self.log.read_text()}"
            ) from None
        return code, time.monotonic() - began

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_serve(env: dict[str, str], log: Path, port: int | None = None) -> ServeProcess:
    port = port or free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = ServeProcess(proc, f"http://127.0.0.1:{port}", log)
    try:
        served.wait_healthy()
    except BaseException:
        served.kill()
        raise
    return served


def joined(room: str, n: int, site: str | None = None) -> tuple[str, bytes]:
    """Prosody's `occupant/joined` event-sync call for the n-th occupant of `room`."""
    body: dict[str, Any] = {
        "event_name": "muc-occupant-joined",
        "room_name": room,
        "room_jid": f"{room}@conference.meet.example.org",
        "is_breakout": False,
        "active_occupants_count": 1,
        "occupant": {
            "name": f"Điểm cầu {site or n}",
            "email": f"{site or n}@example.org",
            "id": site,
            "occupant_jid": f"{room}@conference.meet.example.org/occupant-{n}",
            "joined_at": 1_796_000_000 + n,
        },
    }
    return "occupant/joined", json.dumps(body).encode()


def hook_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {EVENTS_TOKEN}", "Content-Type": "application/json"}
