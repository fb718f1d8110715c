"""The unit of work and the store that opens it: one repository per area, one transaction."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from orchestrator.store.base.actions import DoneActions
from orchestrator.store.base.answers import Answers
from orchestrator.store.base.attendance import AttendanceLog, EventAppender
from orchestrator.store.base.audit import AuditLog
from orchestrator.store.base.claims import Claims
from orchestrator.store.base.directory import Directory
from orchestrator.store.base.invites import Invites
from orchestrator.store.base.joins import JoinLinks
from orchestrator.store.base.outbox import Outbox
from orchestrator.store.base.preparation import Submissions
from orchestrator.store.base.reports import ReportData
from orchestrator.store.base.series import SeriesRepository
from orchestrator.store.base.sessions import Sessions
from orchestrator.store.base.tokens import Tokens


class UnitOfWork(Protocol):
    """One transaction's view of the store: every area's repository works inside it."""

    @property
    def directory(self) -> Directory:
        """Regions, sites, leader groups, policies."""
        ...

    @property
    def claims(self) -> Claims:
        """Who holds which resource when."""
        ...

    @property
    def sessions(self) -> Sessions:
        """Booked sessions and their sites."""
        ...

    @property
    def series(self) -> SeriesRepository:
        """Meetings on a rhythm; their occurrences are sessions."""
        ...

    @property
    def tokens(self) -> Tokens:
        """API tokens, feed tokens, the app's secrets."""
        ...

    @property
    def audit(self) -> AuditLog:
        """Who did what, and why."""
        ...

    @property
    def outbox(self) -> Outbox:
        """Changes waiting to be delivered."""
        ...

    @property
    def invites(self) -> Invites:
        """What each site was sent and answered."""
        ...

    @property
    def joins(self) -> JoinLinks:
        """The join gateway's link nonces and openings."""
        ...

    @property
    def attendance(self) -> AttendanceLog:
        """The attendance event log and frozen records."""
        ...

    @property
    def actions(self) -> DoneActions:
        """Actions that must happen once only."""
        ...

    @property
    def preparation(self) -> Submissions:
        """Documents submitted for preparation tasks."""
        ...

    @property
    def answers(self) -> Answers:
        """Answers kept for idempotent writes."""
        ...

    @property
    def reports(self) -> ReportData:
        """Per-site results of frozen records, summed for the year's reports."""
        ...


class Documents(Protocol):
    """Where submitted documents live (files under the data directory by default)."""

    async def save(self, folder: str, name: str, data: bytes) -> str:
        """Store `data`; the location to read it back. Raises OSError."""
        ...

    async def read(self, location: str) -> bytes:
        """The stored bytes. Raises FileNotFoundError."""
        ...


@dataclass(frozen=True)
class SchemaState:
    """Which schema revision the database is at, beside the latest this code knows."""

    current: str | None  # None: no migration applied yet
    latest: str

    @property
    def migrated(self) -> bool:
        return self.current == self.latest

    def describe(self) -> str:
        """In words, for people: what is wrong with the schema, or that nothing is."""
        if self.migrated:
            return f"migrated (revision {self.latest})"
        if self.current is None:
            return "not migrated: no schema yet"
        return f"not migrated: at revision {self.current}, the latest is {self.latest}"


class Store(Protocol):
    """The database behind the service."""

    def write(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work that may write. Commits when its block ends without an error, rolls
        back otherwise. Raises `RetryableStoreError` or `StoreFailure` for a database failure
        inside it (the areas' own errors, such as `ClaimOverlap`, escape as they are)."""
        ...

    def read(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A read-only unit of work; it never blocks writers. Raises as `write` does."""
        ...

    def peek(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Reads outside any transaction where the database allows it (PostgreSQL: no `BEGIN`,
        no `ROLLBACK`; SQLite: a `read` unit): each statement sees what is committed when it
        runs, as in a READ COMMITTED transaction. Only for a look whose answer a later unit
        checks again (refusing a booking whose claims are held before it queues for their locks):
        it never locks or writes. Raises as `read` does."""
        ...

    @property
    def events(self) -> EventAppender:
        """The attendance log's appends outside a unit of work, for webhooks' group commits
        (`uow.attendance` reads the log and writes check-ins and overrides)."""
        ...

    async def ping(self) -> None:
        """Return when the database answers. Raises `RetryableStoreError` or `StoreFailure`."""
        ...

    async def schema(self) -> SchemaState:
        """The database's schema revision beside the latest one (readiness: `migrated`). Raises
        `RetryableStoreError` or `StoreFailure` when the database cannot be reached."""
        ...

    async def close(self) -> None:
        """Close every connection; the store is not used again."""
        ...

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        ...
