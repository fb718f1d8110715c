"""Copies of a live database: SQLite through its online backup API, while `serve` writes to it;
for PostgreSQL, the `pg_dump` command that does the same (this module copies no server)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

# Pages copied per step of the backup (4 MiB at SQLite's default page size): a step holds a
# read transaction only, so `serve` keeps writing to its WAL meanwhile.
PAGES_PER_STEP = 1024
# A write by another connection between two steps starts the copy again. After this many
# restarts the rest is copied in one step, which no write can interrupt.
MAX_RESTARTS = 3

Progress = Callable[[int, int], None]  # (pages copied, pages in all)


class BackupRefused(Exception):
    """The database cannot be copied by this command; `message` says why and what to use."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Restarted(Exception):
    pass


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for any other database or an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def pg_dump_command(url: str, file: Path) -> str:
    """The `pg_dump` command that backs up the PostgreSQL database of `url` into `file` (the
    password left out: give it in PGPASSWORD or ~/.pgpass)."""
    given = make_url(url)
    target = URL.create(
        "postgresql",
        username=given.username,
        host=given.host,
        port=given.port,
        database=given.database,
    ).render_as_string(hide_password=False)
    return f"pg_dump --format=custom --file {file} '{target}'"


def backup_sqlite(source: Path, target: Path, progress: Progress | None = None) -> int:
    """Copy the SQLite database `source` into `target` consistently, also while another process
    writes to it; the number of pages copied. `target` appears whole or not at all (the copy is
    written beside it, then renamed).

    Raises BackupRefused when `source` is not an SQLite database file, OSError/sqlite3.Error
    when the copy cannot be written."""
    if not source.is_file():
        raise BackupRefused(f"there is no database file at {source}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupRefused(f"{source} cannot be opened: {exc}") from exc
    try:
        try:
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupRefused(f"{source} is not an SQLite database: {exc}") from exc
        pages = _copy(src, partial, progress)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, target)
    return pages


def _copy(src: sqlite3.Connection, partial: Path, progress: Progress | None) -> int:
    restarts = 0
    left = -1
    copied = 0

    def step(_status: int, remaining: int, total: int) -> None:
        nonlocal restarts, left, copied
        if left >= 0 and remaining > left:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise _Restarted
        left, copied = remaining, total - remaining
        if progress is not None:
            progress(copied, total)

    dst = sqlite3.connect(partial)
    try:
        try:
            src.backup(dst, pages=PAGES_PER_STEP, progress=step)
        except _Restarted:
            # Writes keep landing between steps: copy the rest in one read transaction.
            src.backup(dst, pages=-1)
        total = int(dst.execute("PRAGMA page_count").fetchone()[0])
        # The copy stands alone: one file, no WAL beside it, whatever the source's mode.
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"the copy fails its integrity check: {check}")
    finally:
        dst.close()
    if progress is not None:
        progress(total, total)
    return total
