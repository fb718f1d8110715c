"""The store port: what the use cases ask of persistence, whatever database is behind it.

Everything happens inside a unit of work (`Store.write()` or `Store.read()`). A write unit
commits when its block ends without an error and rolls back otherwise. Writes that claim
resources are serialised by the store (DESIGN 8): the database, not the caller, keeps rule 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import (
    AuditEntry,
    BookingPolicy,
    LeaderGroup,
    Principal,
    Region,
    Session,
    SessionKind,
    SessionStatus,
    Site,
)


class StoreError(Exception):
    """Base of the store's own errors."""


class ClaimOverlap(StoreError):
    """The database refused a claim that overlaps an active one (rule 1's last line of defence).

    The unit of work is spoiled: roll back and ask `find_conflicts` in a new one for details.
    """


class DuplicateAnswer(StoreError):
    """An answer is already stored under this (actor, Idempotency-Key): a concurrent twin won."""


class RetryableStoreError(StoreError):
    """A transient failure (deadlock, serialisation, busy database): retrying may succeed."""


class StoreFailure(StoreError):
    """The database failed in a way retrying will not cure: it cannot be opened, its schema is
    missing (not migrated), or it refused a statement. The message is the database's own."""


@dataclass(frozen=True)
class SessionQuery:
    """Filters for listing sessions; every field narrows the result."""

    start_from: datetime | None = None  # sessions ending after this instant
    start_to: datetime | None = None  # sessions starting before this instant
    region: str | None = None
    site: str | None = None
    chair_email: str | None = None
    status: SessionStatus | None = None
    now: datetime | None = None  # needed with `status`: live and ended are decided by the clock
    limit: int = 200
    offset: int = 0


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int
    body: str


@dataclass(frozen=True)
class TokenRecord:
    id: str
    role: str
    site_id: str | None
    email: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class DirectoryCounts:
    regions: int
    sites: int
    leader_groups: int
    policies: int


@dataclass(frozen=True)
class OutboxItem:
    """One change waiting to be delivered (e.g. a session's invites at one version)."""

    id: int
    kind: str
    session_id: str
    version: int
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """The latest invite of one (session, site)."""

    session_id: str
    site_id: str
    sequence: int
    method: str
    state: str  # sent, failed (a site without a row is still queued)
    attempts: int
    last_error: str | None
    updated_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class Rsvp:
    site_id: str
    response: str
    comment: str
    at: datetime
    actor: str


@dataclass(frozen=True)
class StoredEvent:
    """One attendance event as logged: where it came from and what it says."""

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


@dataclass(frozen=True)
class Submission:
    """A document a site submitted for a preparation task (the latest one counts)."""

    session_id: str
    task_id: str
    site_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    location: str
    submitted_at: datetime
    actor: str


class UnitOfWork(Protocol):
    """One transaction's view of the store."""

    # directory ---------------------------------------------------------------------------
    async def upsert_directory(
        self,
        regions: Sequence[Region],
        sites: Sequence[Site],
        groups: Sequence[LeaderGroup],
        policies: Mapping[SessionKind, BookingPolicy],
    ) -> DirectoryCounts:
        """Insert or update every row given (by id); rows not given are left alone."""
        ...

    async def get_sites(self, ids: Sequence[str]) -> dict[str, Site]:
        """The sites among `ids` that exist, by id."""
        ...

    async def list_sites(self, region: str | None = None) -> list[Site]:
        """All sites (of one region), ordered by id."""
        ...

    async def list_regions(self) -> list[Region]: ...

    async def list_groups(self) -> list[LeaderGroup]: ...

    async def get_policies(self) -> dict[SessionKind, BookingPolicy]:
        """The policies stored by directory imports; kinds never imported are absent."""
        ...

    # claims ------------------------------------------------------------------------------
    async def lock_resources(self, resources: Sequence[str]) -> None:
        """Serialise with every other unit of work claiming any of `resources` until commit."""
        ...

    async def find_conflicts(
        self,
        resources: Sequence[str],
        start: datetime,
        end: datetime,
        exclude_session: str | None = None,
    ) -> list[Conflict]:
        """Active claims on `resources` overlapping `[start, end)`, bar the excluded session."""
        ...

    async def add_claims(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        """Claim `resources` over `[start, end)`. Raises `ClaimOverlap`."""
        ...

    async def replace_claims(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        """Drop the session's active claims and claim `resources` over `[start, end)` instead.

        Raises `ClaimOverlap`.
        """
        ...

    async def release_claims(self, session_id: str) -> None:
        """Deactivate all of the session's claims (it was cancelled)."""
        ...

    async def busy_ranges(
        self, resources: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The ranges of active claims on any of `resources` that overlap `[start, end)`."""
        ...

    # sessions ----------------------------------------------------------------------------
    async def insert_session(self, session: Session) -> None: ...

    async def update_session(
        self,
        session: Session,
        *,
        added_sites: Sequence[str] = (),
        removed_sites: Sequence[str] = (),
    ) -> None:
        """Store the session's new fields and site changes (it must exist)."""
        ...

    async def get_session(self, session_id: str) -> Session | None: ...

    async def set_status(self, session_id: str, status: SessionStatus, at: datetime) -> None:
        """Move a session to `status` (the lifecycle's transitions); nothing else changes."""
        ...

    async def get_session_by_room(self, room: str) -> Session | None:
        """The session whose video room is `room` (room names are lowercase)."""
        ...

    async def list_sessions(self, query: SessionQuery) -> list[Session]:
        """Sessions matching `query`, earliest start first."""
        ...

    # tokens ------------------------------------------------------------------------------
    async def add_token(self, record: TokenRecord, token_hash: str) -> None: ...

    async def principal_for(self, token_hash: str) -> Principal | None:
        """The principal of an unrevoked token, or None."""
        ...

    async def revoke_token(self, token_id: str, at: datetime) -> bool: ...

    async def list_tokens(self) -> list[TokenRecord]: ...

    # invites -----------------------------------------------------------------------------
    async def add_outbox(
        self, kind: str, session_id: str, version: int, payload: dict[str, Any], at: datetime
    ) -> None:
        """Queue a change for delivery, in the change's own unit of work (rule 8)."""
        ...

    async def claim_outbox(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        """Take up to `limit` due items, oldest first, and hide them from other workers for
        `lease` (an item whose worker dies comes back when the lease ends)."""
        ...

    async def settle_outbox(
        self,
        item_id: int,
        *,
        status: str,
        at: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Mark an item `done` or `failed`, or (status `pending`) due again at `retry_at`."""
        ...

    async def pending_outbox(self, session_id: str) -> int:
        """How many of the session's changes are still to be delivered."""
        ...

    async def get_deliveries(self, session_id: str) -> dict[str, Delivery]: ...

    async def record_delivery(self, delivery: Delivery, *, ok: bool, error: str | None) -> None:
        """Store a site's latest invite state and log the attempt."""
        ...

    async def put_rsvp(self, session_id: str, rsvp: Rsvp) -> None: ...

    async def get_rsvps(self, session_id: str) -> dict[str, Rsvp]: ...

    async def set_feed_token(self, site_id: str, token_hash: str, at: datetime) -> None:
        """Replace the site's feed token (the old one stops working)."""
        ...

    async def site_for_feed_token(self, token_hash: str) -> str | None: ...

    async def secret(self, name: str, candidate: str) -> str:
        """The stored secret `name`; stores `candidate` first if there is none."""
        ...

    # attendance --------------------------------------------------------------------------
    async def add_events(self, events: Sequence[StoredEvent]) -> set[tuple[str, str]]:
        """Append events, skipping any whose (source, dedupe_key) is logged already (or repeats
        within `events`); the (source, dedupe_key) of those actually added."""
        ...

    async def list_events(
        self, session_id: str, *, after_id: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """The session's events in the order they were logged (by `id`): those after `after_id`,
        at most `limit` of them (for reading a long log a page at a time)."""
        ...

    async def save_record(self, session_id: str, frozen_at: datetime, record: str) -> None: ...

    async def get_record(self, session_id: str) -> tuple[datetime, str] | None: ...

    # lifecycle ---------------------------------------------------------------------------
    async def mark_done(self, key: str, session_id: str, kind: str, at: datetime) -> bool:
        """Record an action as done; False when it was done already (do not do it again)."""
        ...

    async def done_keys(self, session_ids: Sequence[str]) -> set[str]:
        """The keys of the actions done for these sessions."""
        ...

    # preparation -------------------------------------------------------------------------
    async def put_submission(self, submission: Submission) -> None:
        """Store (or replace) the task's submission."""
        ...

    async def get_submissions(self, session_id: str) -> dict[str, Submission]:
        """The session's submissions by task id."""
        ...

    # audit and idempotency ---------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> None: ...

    async def list_audit(self, *, target: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        ...

    async def get_answer(self, actor: str, key: str) -> StoredAnswer | None: ...

    async def put_answer(
        self, actor: str, key: str, answer: StoredAnswer, at: datetime
    ) -> None: ...


class Documents(Protocol):
    """Where submitted documents live (files under the data directory by default)."""

    async def save(self, folder: str, name: str, data: bytes) -> str:
        """Store `data`; the location to read it back. Raises OSError."""
        ...

    async def read(self, location: str) -> bytes:
        """The stored bytes. Raises FileNotFoundError."""
        ...


class Store(Protocol):
    """The database behind the service."""

    def write(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work that may write. Commits on success. Raises `RetryableStoreError` or
        `StoreFailure`."""
        ...

    def read(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A read-only unit of work; it never blocks writers."""
        ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        ...

    async def close(self) -> None: ...

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        ...
