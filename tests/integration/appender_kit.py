"""The events and expectations the event log's tests share (`Store.events` on SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.store.base import StoredEvent
from orchestrator.store.sql import SqlStore
from orchestrator.store.sql.appender import _lock_order

AT = datetime(2026, 11, 23, 2, 0, 0, 123456, tzinfo=UTC)


def event(key: str, session: str | None = "s-1", **changes: Any) -> StoredEvent:
    values: dict[str, Any] = {
        "source": "jitsi",
        "kind": "join",
        "at": AT + timedelta(seconds=len(key)),
        "dedupe_key": key,
        "received_at": AT + timedelta(minutes=1),
        "session_id": session,
        "room": "phong-hop",
        "site_id": "ha-noi",
        "occupant": f"{key}@meet.example.org/x",
        "data": {"name": "Điểm cầu Hà Nội", "email": "hn@example.org", "breakout": None},
    }
    values.update(changes)
    return StoredEvent(**values)


def written(store: SqlStore, *batches: list[StoredEvent]) -> list[StoredEvent]:
    """The events of `batches` (appended one after another, each event new) in the log's order:
    as they came on SQLite, each batch's in the order of their keys on PostgreSQL (every batch
    inserts its rows in that order: see `SqlEventAppender`)."""
    if store.backend != "postgresql":
        return [e for batch in batches for e in batch]
    return [e for batch in batches for e in sorted(batch, key=_lock_order)]
