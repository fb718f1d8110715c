"""The store's own errors: what escapes a unit of work, whatever database is behind it.

StoreError
 ├── ClaimOverlap          a claim overlaps an active one (rule 1's last line of defence)
 ├── DuplicateAnswer       a concurrent twin stored its answer first
 ├── RetryableStoreError   deadlock, serialisation failure, busy database: retry may succeed
 └── StoreFailure          unreachable, not migrated, or a refused statement: retry will not
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's own errors."""


class ClaimOverlap(StoreError):
    """The database refused a claim that overlaps an active one (rule 1's last line of defence).

    The unit of work is spoiled: roll back and ask `claims.conflicts` in a new one for details.
    """


class DuplicateAnswer(StoreError):
    """An answer is already stored under this (actor, Idempotency-Key): a concurrent twin won."""


class RetryableStoreError(StoreError):
    """A transient failure (deadlock, serialisation, busy database): retrying may succeed."""


class StoreFailure(StoreError):
    """The database failed in a way retrying will not cure: it cannot be opened, its schema is
    missing (not migrated), or it refused a statement. The message is the database's own."""
