"""`orchestrator db backup`: a consistent copy of a live SQLite database while `serve` writes to
it, restored in its place; PostgreSQL is pointed at pg_dump."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.conftest import ROOT
from tests.e2e.serve_process import hook_headers, joined, service_env, start_serve

ROOM = "hop-giao-ban-sao-luu"


class Poster(threading.Thread):
    """Posts a new occupant's event-sync webhook after another, remembering which were
    acknowledged (answered 200) and when."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acked: list[tuple[int, float]] = []
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self.halt.is_set():
                n += 1
                endpoint, body = joined(ROOM, n)
                r = http.post(
                    f"/hooks/jitsi/events/{endpoint}", content=body, headers=hook_headers()
                )
                if r.status_code == 200:
                    self.acked.append((n, time.monotonic()))
                else:
                    self.failures.append(f"{r.status_code} {r.text}")


def test_backup_of_live_sqlite_restores_every_event_acknowledged_before_it(
    tmp_path: Path, sqlite_template: Path
) -> None:
    data = tmp_path / "var"
    data.mkdir()
    db = data / "orchestrator.sqlite3"
    shutil.copy(sqlite_template, db)
    env = service_env(f"sqlite+aiosqlite:///{db}", data)
    copy = tmp_path / "backups" / "orchestrator-backup.sqlite3"
    copy.parent.mkdir()
    served = start_serve(env, tmp_path / "serve.log")
    poster = Poster(served.url)
    try:
        poster.start()
        while len(poster.acked) < 200:  # the log is being written to
            time.sleep(0.05)
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator", "db", "backup", str(copy)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        ended = time.monotonic()
        time.sleep(0.5)  # and still is, after the copy
        poster.halt.set()
        poster.join(timeout=30)
        code, _ = served.terminate()
    finally:
        poster.halt.set()
        served.kill()
    assert done.returncode == 0, done.stderr
    assert "database copied to" in done.stderr
    assert code == 0, served.log.read_text()
    assert not poster.failures, poster.failures[:3]
    before = [n for n, at in poster.acked if at < began]
    after = [n for n, at in poster.acked if at > ended]
    assert len(before) >= 200, "webhooks streamed in before the copy"
    assert after, "and after it"

    # The copy replaces the database (its WAL goes with it) and the service starts on it.
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copy(copy, db)
    served = start_serve(env, tmp_path / "serve-restored.log")
    try:
        with httpx.Client(base_url=served.url, timeout=10) as http:

            def accepted(n: int) -> int:
                endpoint, body = joined(ROOM, n)
                r = http.post(
                    f"/hooks/jitsi/events/{endpoint}", content=body, headers=hook_headers()
                )
                assert r.status_code == 200, r.text
                return int(r.json()["accepted"])

            # Every event acknowledged before the copy began is in the restored log: sent
            # again, it is a repeat. Those acknowledged after the copy ended are new to it.
            assert [n for n in before if accepted(n) != 0] == []
            assert [n for n in after if accepted(n) != 1] == []
    finally:
        served.terminate()


def test_backup_refuses_postgresql_and_names_pg_dump(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://orchestrator:s3cret@db.example.org:5432/orchestrator"
    result = CliRunner().invoke(
        app, ["--database-url", url, "db", "backup", str(tmp_path / "copy.dump")]
    )
    assert result.exit_code == 1
    assert "pg_dump --format=custom --file" in result.stderr
    assert "postgresql://orchestrator@db.example.org:5432/orchestrator" in result.stderr
    assert "s3cret" not in result.stderr
    assert not (tmp_path / "copy.dump").exists()


def test_backup_refuses_a_missing_database_and_itself(
    tmp_path: Path, sqlite_template: Path
) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        app, ["--data-dir", str(tmp_path / "nowhere"), "db", "backup", str(tmp_path / "c.db")]
    )
    assert missing.exit_code == 1
    assert "there is no database file" in missing.stderr
    assert not (tmp_path / "nowhere").exists()
    db = tmp_path / "orchestrator.sqlite3"
    shutil.copy(sqlite_template, db)
    itself = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "backup", str(db)])
    assert itself.exit_code == 1
    assert "cannot replace the database itself" in itself.stderr


def test_backup_copies_in_pages_with_progress(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.store import backup

    monkeypatch.setattr(backup, "PAGES_PER_STEP", 1)
    seen: list[tuple[int, int]] = []
    total = backup.backup_sqlite(
        sqlite_template, tmp_path / "copy.sqlite3", lambda *p: seen.append(p)
    )
    assert total > 10
    assert len(seen) >= total
    assert seen[-1] == (total, total)
    assert (tmp_path / "copy.sqlite3").read_bytes()[:16] == b"SQLite format 3\x00"
    assert not list(tmp_path.glob(".*partial"))
