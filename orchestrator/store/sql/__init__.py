"""The store on SQLAlchemy 2 (async): SQLite (aiosqlite) embedded, PostgreSQL (asyncpg) at scale.

`store` opens units of work; each area's repository has its own module (`sessions`, `claims`,
`directory`, ...); `engine` holds what they share (transactions, dialect differences, error
translation) and `rows` maps rows to records.
"""

from orchestrator.store.sql.actions import SqlDoneActions
from orchestrator.store.sql.answers import SqlAnswers
from orchestrator.store.sql.attendance import SqlAttendanceLog
from orchestrator.store.sql.audit import SqlAuditLog
from orchestrator.store.sql.claims import SqlClaims
from orchestrator.store.sql.directory import SqlDirectory
from orchestrator.store.sql.engine import (
    CHUNK,
    CLAIM_LOCK_NAMESPACE,
    COPY_THRESHOLD,
    create_engine,
    is_overlap_error,
    is_retryable_error,
    lock_keys,
    resource_key,
)
from orchestrator.store.sql.invites import SqlInvites
from orchestrator.store.sql.joins import SqlJoinLinks
from orchestrator.store.sql.outbox import SqlOutbox
from orchestrator.store.sql.preparation import SqlSubmissions
from orchestrator.store.sql.series import SqlSeries
from orchestrator.store.sql.sessions import SqlSessions
from orchestrator.store.sql.store import SqlStore, SqlUnitOfWork
from orchestrator.store.sql.tokens import SqlTokens

__all__ = [
    "CHUNK",
    "CLAIM_LOCK_NAMESPACE",
    "COPY_THRESHOLD",
    "SqlAnswers",
    "SqlAttendanceLog",
    "SqlAuditLog",
    "SqlClaims",
    "SqlDirectory",
    "SqlDoneActions",
    "SqlInvites",
    "SqlJoinLinks",
    "SqlOutbox",
    "SqlSeries",
    "SqlSessions",
    "SqlStore",
    "SqlSubmissions",
    "SqlTokens",
    "SqlUnitOfWork",
    "create_engine",
    "is_overlap_error",
    "is_retryable_error",
    "lock_keys",
    "resource_key",
]
