"""The store port: what the use cases ask of persistence, whatever database is behind it.

Everything happens inside a unit of work (`Store.write()` or `Store.read()`), which hangs one
repository per area on itself (`uow.sessions`, `uow.claims`, `uow.outbox`, ...; see `unit`). A
write unit commits when its block ends without an error and rolls back otherwise. Writes that
claim resources are serialised by the store (DESIGN 8): the database, not the caller, keeps
rule 1. The errors are drawn in `errors`.
"""

from orchestrator.store.base.actions import DoneActions
from orchestrator.store.base.answers import Answers, StoredAnswer
from orchestrator.store.base.attendance import AttendanceLog, EventAppender, StoredEvent
from orchestrator.store.base.audit import AuditLog
from orchestrator.store.base.claims import Claims
from orchestrator.store.base.directory import DIRECTORY_AUDIT_TARGET, Directory, DirectoryCounts
from orchestrator.store.base.errors import (
    ClaimOverlap,
    DuplicateAnswer,
    RetryableStoreError,
    StoreError,
    StoreFailure,
)
from orchestrator.store.base.invites import Delivery, Invites, Rsvp
from orchestrator.store.base.joins import JoinLinks, LinkOpening
from orchestrator.store.base.outbox import Outbox, OutboxItem
from orchestrator.store.base.preparation import Submission, Submissions
from orchestrator.store.base.reports import (
    ReportData,
    ReportScope,
    ScopedSession,
    SiteResult,
    SiteTotals,
)
from orchestrator.store.base.series import SeriesQuery, SeriesRepository
from orchestrator.store.base.sessions import SessionQuery, Sessions
from orchestrator.store.base.tokens import TokenRecord, Tokens
from orchestrator.store.base.unit import Documents, SchemaState, Store, UnitOfWork

__all__ = [
    "DIRECTORY_AUDIT_TARGET",
    "Answers",
    "AttendanceLog",
    "AuditLog",
    "ClaimOverlap",
    "Claims",
    "Delivery",
    "Directory",
    "DirectoryCounts",
    "Documents",
    "DoneActions",
    "DuplicateAnswer",
    "EventAppender",
    "Invites",
    "JoinLinks",
    "LinkOpening",
    "Outbox",
    "OutboxItem",
    "ReportData",
    "ReportScope",
    "RetryableStoreError",
    "Rsvp",
    "SchemaState",
    "ScopedSession",
    "SeriesQuery",
    "SeriesRepository",
    "SessionQuery",
    "Sessions",
    "SiteResult",
    "SiteTotals",
    "Store",
    "StoreError",
    "StoreFailure",
    "StoredAnswer",
    "StoredEvent",
    "Submission",
    "Submissions",
    "TokenRecord",
    "Tokens",
    "UnitOfWork",
]
