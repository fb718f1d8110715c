"""The attendance area of the store: the event log and the frozen records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol


@dataclass(slots=True)
class StoredEvent:
    """One attendance event as logged: where it came from and what it says. Nothing changes
    one once made (`dataclasses.replace` makes another); not frozen only because a frozen
    dataclass costs three times as much to make, once for each event a webhook logs."""

    source: str  # jitsi, jaas, poll, checkin, override
    kind: str
    at: datetime
    dedupe_key: str
    received_at: datetime
    session_id: str | None = None
    room: str | None = None
    site_id: str | None = None
    occupant: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    after_freeze: bool = False
    id: int | None = None  # its place in the log, once logged


class LoggedEvent(NamedTuple):
    """A logged event as the merge reads it back (`AttendanceLog.read_log`): its place in the
    log and what the merge needs of it, the row's `data` opened (what it does not hold is None);
    as it was written, after the service checked it."""

    id: int
    source: str
    kind: str
    at: datetime
    dedupe_key: str
    site_id: str | None
    occupant: str | None
    after_freeze: bool
    name: str | None
    email: str | None
    headcount: int | None
    names: list[str] | None
    verdict: str | None
    reason: str | None


class Appended(NamedTuple):
    """An event `EventAppender.append` logged: whether it came after its session's record was
    frozen, and its place in the log."""

    after_freeze: bool
    id: int


class EventAppender(Protocol):
    """The event log's hot path (`Store.events`): webhooks' events appended outside any unit of
    work, each batch in one transaction of its own (one statement where the backend allows), so
    a group commit of webhooks costs one round trip to the database."""

    @property
    def parallel(self) -> int:
        """How many batches it writes at once (`append` waits for a turn beyond that). Batches
        written at once may repeat each other's events: each must take their keys in one order
        (none may wait for another that waits for it)."""
        ...

    @property
    def batch_rows(self) -> int | None:
        """The most events a batch should hold to be written the quick way (None: any number);
        a larger one is written all the same, the slow way."""
        ...

    async def append(
        self, events: Sequence[StoredEvent], origin: str
    ) -> dict[tuple[str, str], Appended]:
        """Log `events` in one transaction: repeats (of an event already logged, or within
        `events`) are skipped; each new event is flagged `after_freeze` when its session's
        record is frozen by then (the database looks, in the same transaction); the new ones
        are announced to the other instances as `AttendanceLog.announce` does, heard on commit.
        Returns the (source, dedupe_key) of each event added, with its `after_freeze` flag and
        its id (`Appended`).
        Raises `RetryableStoreError` (the database is busy, or the connection was lost: nothing
        of `events` may be assumed logged) or `StoreFailure`."""
        ...


class AttendanceLog(Protocol):
    """The attendance event log and frozen records (`uow.attendance`). Database failures
    surface when the unit of work ends."""

    async def add_events(self, events: Sequence[StoredEvent]) -> dict[tuple[str, str], int]:
        """Append events, skipping any whose (source, dedupe_key) is logged already (or repeats
        within `events`). Returns the (source, dedupe_key) of those actually added, each with
        its id in the log."""
        ...

    async def announce(self, origin: str) -> None:
        """Tell the other instances sharing the database what this unit of work has logged so
        far (`add_events`), one announcement per session naming the range of its new ids and
        `origin` (the instance that logged them; see `domain.ports.ChangeFeed`). Heard when the
        unit commits, never if it rolls back. PostgreSQL: a NOTIFY per session on
        `attendance_events`' channel; SQLite (one instance by design): nothing."""
        ...

    async def list_events(
        self,
        session_id: str,
        *,
        after_id: int = 0,
        limit: int | None = None,
        upto_id: int | None = None,
    ) -> list[StoredEvent]:
        """The session's events in the order they were logged (by `id`): those after
        `after_id` (and with `upto_id`, not after it), at most `limit` of them (for reading a
        long log a page at a time)."""
        ...

    async def read_log(
        self,
        session_id: str,
        *,
        after_id: int = 0,
        limit: int | None = None,
        upto_id: int | None = None,
    ) -> list[LoggedEvent]:
        """`list_events` as the merge reads it (`LoggedEvent`): the same events in the same
        order, without what only the log keeps (the room, when it was received)."""
        ...

    async def sites_of(self, session_id: str) -> tuple[str, ...]:
        """The ids of the session's sites in their order (a live board's sites: who they are
        is the directory's, their join links are not the board's), empty for an unknown id."""
        ...

    async def room_sites(self, room: str) -> tuple[str, tuple[str, ...]] | None:
        """The id of the session whose video room is `room` (the one `Sessions.by_room`
        gives) and the ids of its sites in their order, without the rest of them (the event
        log only tells its sites from others); None when no session has that room."""
        ...

    async def take_poll_lease(
        self, room: str, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take or renew the lease on polling `room` for `holder` until `expires_at`, in one
        atomic statement: True when `holder` has it now (it was free, had expired by `now`, or
        was already `holder`'s), False when another holder's lease still runs."""
        ...

    async def release_poll_leases(self, holder: str) -> None:
        """Give up every lease `holder` holds (it stops polling): others take them at once."""
        ...

    async def save_record(self, session_id: str, frozen_at: datetime, record: str) -> None:
        """Store the session's frozen record (JSON), replacing any earlier one."""
        ...

    async def get_record(self, session_id: str) -> tuple[datetime, str] | None:
        """The session's frozen record and when it was frozen, or None (not frozen yet)."""
        ...
