"""Database URLs as people may see them: without the password, and the SQLite file one names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


@dataclass(frozen=True)
class DatabaseUrl:
    shown: str  # the URL with its password masked
    password: str | None
    sqlite_file: Path | None  # SQLite's database file; None for a database server


def read_url(url: str) -> DatabaseUrl | None:
    """What `url` names, or None when it is not a database URL at all."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    password = parsed.password
    is_sqlite = parsed.get_backend_name() == "sqlite"
    return DatabaseUrl(
        shown=parsed.render_as_string(hide_password=True),
        password=None if password is None else str(password),
        sqlite_file=Path(parsed.database or "") if is_sqlite else None,
    )
