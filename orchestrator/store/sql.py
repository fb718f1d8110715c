"""The store on SQLAlchemy 2 (async): SQLite (aiosqlite) embedded, PostgreSQL (asyncpg) at scale.

Rule 1 is kept by the database. On PostgreSQL an exclusion constraint on (resource_key, a 64-bit
digest of the resource name; tstzrange) refuses overlapping active claims, and advisory locks on
hashed resource keys serialise competing bookings first (so racing inserts wait instead of
deadlocking). On SQLite every write unit begins with `BEGIN IMMEDIATE` (one writer at a time) and
triggers refuse overlaps.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import (
    MAX_CLAIM_SPAN,
    AuditEntry,
    BookingPolicy,
    Chair,
    Coordinator,
    LeaderGroup,
    Principal,
    Region,
    Role,
    Session,
    SessionKind,
    SessionSite,
    SessionStatus,
    Site,
)
from orchestrator.store import tables as t
from orchestrator.store.base import (
    ClaimOverlap,
    Delivery,
    DirectoryCounts,
    DuplicateAnswer,
    OutboxItem,
    RetryableStoreError,
    Rsvp,
    SessionQuery,
    StoredAnswer,
    StoredEvent,
    StoreError,
    StoreFailure,
    Submission,
    TokenRecord,
)

T = TypeVar("T")

# Advisory-lock namespace (first key of the two-int form) for resource claims.
CLAIM_LOCK_NAMESPACE = 0x4F52
CHUNK = 2000
COPY_THRESHOLD = 200  # rows from which PostgreSQL inserts go through COPY

_OVERLAP_MARK = "claim_overlap"
_PG_EXCLUSION = "23P01"
_PG_RETRYABLE = {"40P01", "40001", "55P03"}


def resource_key(resource: str) -> int:
    """A signed 64-bit digest of a resource name: PostgreSQL's exclusion constraint compares these
    (far cheaper than text). Two names sharing a key would only ever be refused as a conflict,
    never double-booked."""
    digest = hashlib.blake2b(resource.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(resources: Iterable[str], key_space: int) -> list[int]:
    """Resource names hashed into `key_space` keys, deduplicated, sorted (a deadlock-free order)."""
    return sorted({zlib.crc32(r.encode()) % key_space for r in resources})


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for attr in ("sqlstate", "pgcode"):
        code = getattr(orig, attr, None)
        if isinstance(code, str):
            return code
    cause = getattr(orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None)
    return code if isinstance(code, str) else None


def is_overlap_error(exc: DBAPIError) -> bool:
    return _sqlstate(exc) == _PG_EXCLUSION or _OVERLAP_MARK in str(exc.orig)


def is_retryable_error(exc: DBAPIError) -> bool:
    if _sqlstate(exc) in _PG_RETRYABLE:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def _as_store_error(exc: DBAPIError) -> StoreError:
    """The store's own error for a database error nobody closer knew what to do with."""
    if is_retryable_error(exc):
        return RetryableStoreError(str(exc.orig))
    return StoreFailure(str(exc.orig))


def _translate_outside_units(context: sa.engine.ExceptionContext) -> StoreError | None:
    # Errors while connecting, migrating or pinging leave the engine as the store's own; inside a
    # unit of work the statements may expect some (ClaimOverlap, DuplicateAnswer), so the unit
    # translates the rest when it ends.
    error = context.sqlalchemy_exception
    if not isinstance(error, DBAPIError):
        return None
    if context.connection is not None and context.connection.get_execution_options().get(
        "orch_unit"
    ):
        return None
    return _as_store_error(error)


def _site_row(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "region_id": site.region,
        "timezone": site.timezone,
        "coordinator_name": site.coordinator.name,
        "coordinator_email": site.coordinator.email,
        "coordinator_phone": site.coordinator.phone,
        "capacity": site.capacity,
        "room": site.room,
        "language": site.language,
    }


def _site_from(row: Any) -> Site:
    return Site(
        id=row.id,
        name=row.name,
        region=row.region_id,
        timezone=row.timezone,
        coordinator=Coordinator(
            name=row.coordinator_name, email=row.coordinator_email, phone=row.coordinator_phone
        ),
        capacity=row.capacity,
        room=row.room,
        language=row.language,
    )


def _session_row(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "agenda": s.agenda,
        "kind": s.kind.value,
        "region_id": s.region,
        "starts_at": s.start,
        "ends_at": s.end,
        "timezone": s.timezone,
        "host_site_id": s.host_site,
        "chair_name": s.chair.name,
        "chair_email": s.chair.email,
        "leader_groups": list(s.leader_groups),
        "speaking_sites": list(s.speaking_sites),
        "provider": s.provider,
        "buffer_before_minutes": s.buffer_before_minutes,
        "buffer_after_minutes": s.buffer_after_minutes,
        "status": s.status.value,
        "room": s.room,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "version": s.version,
    }


class SqlUnitOfWork:
    """One transaction on one connection (see `UnitOfWork` for the contract)."""

    def __init__(self, conn: AsyncConnection, dialect: str, lock_key_space: int) -> None:
        self._c = conn
        self._pg = dialect == "postgresql"
        self._key_space = lock_key_space

    def _in(self, col: sa.ColumnElement[str], values: Sequence[str]) -> Iterable[Any]:
        """`col IN values` as few statements as the backend allows: one array on PostgreSQL,
        chunks of bound parameters on SQLite."""
        if not values:
            return
        if self._pg:
            yield col == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.String)))
            return
        for part in _chunks(values):
            yield col.in_(part)

    # directory ---------------------------------------------------------------------------
    async def _upsert(self, table: sa.Table, rows: list[dict[str, Any]], key: str) -> None:
        if not rows:
            return
        ids = [r[key] for r in rows]
        existing: set[Any] = set()
        col = table.c[key]
        for cond in self._in(col, ids):
            existing.update((await self._c.execute(sa.select(col).where(cond))).scalars())
        new = [r for r in rows if r[key] not in existing]
        old = [r for r in rows if r[key] in existing]
        if new:
            await self._c.execute(table.insert(), new)
        if old:
            stmt = (
                table.update()
                .where(col == sa.bindparam("_key"))
                .values({c: sa.bindparam(c) for c in old[0] if c != key})
            )
            await self._c.execute(stmt, [{**r, "_key": r[key]} for r in old])

    async def upsert_directory(
        self,
        regions: Sequence[Region],
        sites: Sequence[Site],
        groups: Sequence[LeaderGroup],
        policies: Mapping[SessionKind, BookingPolicy],
    ) -> DirectoryCounts:
        await self._upsert(
            t.regions,
            [
                {
                    "id": r.id,
                    "name": r.name,
                    "head_site_id": r.head_site,
                    "chair_name": r.chair_name,
                    "chair_email": r.chair_email,
                }
                for r in regions
            ],
            "id",
        )
        await self._upsert(t.sites, [_site_row(s) for s in sites], "id")
        await self._upsert(
            t.leader_groups,
            [{"id": g.id, "name": g.name, "members": list(g.members)} for g in groups],
            "id",
        )
        await self._upsert(
            t.policies,
            [{"kind": k.value, "policy": p.model_dump(mode="json")} for k, p in policies.items()],
            "kind",
        )
        return DirectoryCounts(len(regions), len(sites), len(groups), len(policies))

    async def get_sites(self, ids: Sequence[str]) -> dict[str, Site]:
        out: dict[str, Site] = {}
        unique = list(dict.fromkeys(ids))
        for cond in self._in(t.sites.c.id, unique):
            rows = await self._c.execute(sa.select(t.sites).where(cond))
            for row in rows:
                out[row.id] = _site_from(row)
        return out

    async def list_sites(self, region: str | None = None) -> list[Site]:
        stmt = sa.select(t.sites).order_by(t.sites.c.id)
        if region is not None:
            stmt = stmt.where(t.sites.c.region_id == region)
        return [_site_from(r) for r in await self._c.execute(stmt)]

    async def list_regions(self) -> list[Region]:
        rows = await self._c.execute(sa.select(t.regions).order_by(t.regions.c.id))
        return [
            Region(
                id=r.id,
                name=r.name,
                head_site=r.head_site_id,
                chair_name=r.chair_name,
                chair_email=r.chair_email,
            )
            for r in rows
        ]

    async def list_groups(self) -> list[LeaderGroup]:
        rows = await self._c.execute(sa.select(t.leader_groups).order_by(t.leader_groups.c.id))
        return [LeaderGroup(id=r.id, name=r.name, members=tuple(r.members)) for r in rows]

    async def get_policies(self) -> dict[SessionKind, BookingPolicy]:
        rows = await self._c.execute(sa.select(t.policies))
        return {SessionKind(r.kind): BookingPolicy.model_validate(r.policy) for r in rows}

    # claims ------------------------------------------------------------------------------
    async def lock_resources(self, resources: Sequence[str]) -> None:
        if not self._pg or not resources:
            return
        keys = lock_keys(resources, self._key_space)
        # unnest keeps the array's (sorted) order, so every locker takes keys in one order.
        await self._c.execute(
            sa.text(
                "SELECT count(pg_advisory_xact_lock(:ns, k)) "
                "FROM unnest(CAST(:keys AS integer[])) AS k"
            ),
            {"ns": CLAIM_LOCK_NAMESPACE, "keys": keys},
        )

    def _overlapping(self, start: datetime, end: datetime) -> sa.ColumnElement[bool]:
        c = t.claims.c
        # The lower bound on starts_at keeps the index scan to recent claims, not all history.
        return sa.and_(
            c.active.is_(True),
            c.starts_at < end,
            c.starts_at > start - MAX_CLAIM_SPAN,
            c.ends_at > start,
        )

    async def find_conflicts(
        self,
        resources: Sequence[str],
        start: datetime,
        end: datetime,
        exclude_session: str | None = None,
    ) -> list[Conflict]:
        c = t.claims.c
        out: list[Conflict] = []
        for cond in self._in(c.resource, list(dict.fromkeys(resources))):
            stmt = sa.select(c.resource, c.session_id, c.starts_at, c.ends_at).where(
                cond, self._overlapping(start, end)
            )
            if exclude_session is not None:
                stmt = stmt.where(c.session_id != exclude_session)
            out.extend(
                Conflict(r.resource, r.session_id, r.starts_at, r.ends_at)
                for r in await self._c.execute(stmt)
            )
        return out

    async def _guard(self, coro: Any) -> Any:
        try:
            return await coro
        except IntegrityError as exc:
            if is_overlap_error(exc):
                raise ClaimOverlap(str(exc.orig)) from exc
            raise

    async def add_claims(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        if not resources:
            return
        if self._pg and len(resources) >= COPY_THRESHOLD:
            await self._copy(
                "claims",
                ("session_id", "resource", "resource_key", "starts_at", "ends_at", "active"),
                [(session_id, r, resource_key(r), start, end, True) for r in resources],
            )
            return
        rows = [
            {
                "session_id": session_id,
                "resource": r,
                "resource_key": resource_key(r),
                "starts_at": start,
                "ends_at": end,
                "active": True,
            }
            for r in resources
        ]
        await self._guard(self._c.execute(t.claims.insert(), rows))

    async def _copy(
        self, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]
    ) -> None:
        """PostgreSQL's COPY on this unit's own connection (so inside its transaction)."""
        raw = await self._c.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        try:
            await driver.copy_records_to_table(table, records=records, columns=list(columns))
        except Exception as exc:
            state = getattr(exc, "sqlstate", None)
            if state == _PG_EXCLUSION:
                raise ClaimOverlap(str(exc)) from exc
            if state in _PG_RETRYABLE:
                raise RetryableStoreError(str(exc)) from exc
            raise

    async def replace_claims(
        self, session_id: str, resources: Sequence[str], start: datetime, end: datetime
    ) -> None:
        c = t.claims.c
        await self._c.execute(
            t.claims.delete().where(c.session_id == session_id, c.active.is_(True))
        )
        await self.add_claims(session_id, resources, start, end)

    async def release_claims(self, session_id: str) -> None:
        c = t.claims.c
        await self._c.execute(
            t.claims.update()
            .where(c.session_id == session_id, c.active.is_(True))
            .values(active=False)
        )

    async def busy_ranges(
        self, resources: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        c = t.claims.c
        out: list[tuple[datetime, datetime]] = []
        for cond in self._in(c.resource, list(dict.fromkeys(resources))):
            stmt = sa.select(c.starts_at, c.ends_at).where(cond, self._overlapping(start, end))
            out.extend((r.starts_at, r.ends_at) for r in await self._c.execute(stmt))
        return out

    # sessions ----------------------------------------------------------------------------
    async def _insert_sites(
        self, session_id: str, sites: Sequence[SessionSite], first: int
    ) -> None:
        if not sites:
            return
        if self._pg and len(sites) >= COPY_THRESHOLD:
            await self._copy(
                "session_sites",
                ("session_id", "site_id", "position", "join_url"),
                [(session_id, s.site_id, first + i, s.join_url) for i, s in enumerate(sites)],
            )
            return
        await self._c.execute(
            t.session_sites.insert(),
            [
                {
                    "session_id": session_id,
                    "site_id": s.site_id,
                    "position": first + i,
                    "join_url": s.join_url,
                }
                for i, s in enumerate(sites)
            ],
        )

    async def insert_session(self, session: Session) -> None:
        await self._c.execute(t.sessions.insert().values(_session_row(session)))
        await self._insert_sites(session.id, session.sites, 0)

    async def update_session(
        self,
        session: Session,
        *,
        added_sites: Sequence[str] = (),
        removed_sites: Sequence[str] = (),
    ) -> None:
        row = _session_row(session)
        row.pop("id")
        row.pop("created_at")
        await self._c.execute(t.sessions.update().where(t.sessions.c.id == session.id).values(row))
        ss = t.session_sites.c
        for cond in self._in(ss.site_id, list(removed_sites)):
            await self._c.execute(t.session_sites.delete().where(ss.session_id == session.id, cond))
        if added_sites:
            wanted = set(added_sites)
            top = await self._c.scalar(
                sa.select(sa.func.coalesce(sa.func.max(ss.position), -1)).where(
                    ss.session_id == session.id
                )
            )
            new = [s for s in session.sites if s.site_id in wanted]
            await self._insert_sites(session.id, new, int(top or 0) + 1)
        # Join links may change with any update (issue-time tokens), so refresh them all.
        urls = [
            {"_s": session.id, "_site": s.site_id, "join_url": s.join_url} for s in session.sites
        ]
        if urls:
            await self._c.execute(
                t.session_sites.update()
                .where(ss.session_id == sa.bindparam("_s"), ss.site_id == sa.bindparam("_site"))
                .values(join_url=sa.bindparam("join_url")),
                urls,
            )

    async def _load(self, rows: Sequence[Any]) -> list[Session]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        ss = t.session_sites.c
        by_session: dict[str, list[SessionSite]] = {i: [] for i in ids}
        for cond in self._in(ss.session_id, ids):
            res = await self._c.execute(
                sa.select(ss.session_id, ss.site_id, ss.join_url)
                .where(cond)
                .order_by(ss.session_id, ss.position)
            )
            for r in res:
                by_session[r.session_id].append(SessionSite(site_id=r.site_id, join_url=r.join_url))
        return [
            Session(
                id=r.id,
                title=r.title,
                agenda=r.agenda,
                kind=r.kind,
                region=r.region_id,
                start=r.starts_at,
                end=r.ends_at,
                timezone=r.timezone,
                host_site=r.host_site_id,
                chair=Chair(name=r.chair_name, email=r.chair_email),
                sites=tuple(by_session[r.id]),
                leader_groups=tuple(r.leader_groups),
                speaking_sites=tuple(r.speaking_sites or ()),
                provider=r.provider,
                buffer_before_minutes=r.buffer_before_minutes,
                buffer_after_minutes=r.buffer_after_minutes,
                status=r.status,
                room=r.room,
                created_at=r.created_at,
                updated_at=r.updated_at,
                version=r.version,
            )
            for r in rows
        ]

    @staticmethod
    def _status_is(status: SessionStatus, now: datetime | None) -> sa.ColumnElement[bool]:
        """The SQL form of `Session.status_at(now)`."""
        s = t.sessions.c
        cancelled = s.status == SessionStatus.CANCELLED.value
        if status is SessionStatus.CANCELLED:
            return cancelled
        if now is None:
            raise ValueError("filtering by scheduled, live or ended needs `now`")
        if status is SessionStatus.SCHEDULED:
            return sa.and_(~cancelled, s.starts_at > now)
        if status is SessionStatus.LIVE:
            return sa.and_(~cancelled, s.starts_at <= now, s.ends_at > now)
        return sa.and_(~cancelled, s.ends_at <= now)

    async def get_session(self, session_id: str) -> Session | None:
        rows = (
            await self._c.execute(sa.select(t.sessions).where(t.sessions.c.id == session_id))
        ).all()
        found = await self._load(rows)
        return found[0] if found else None

    async def set_status(self, session_id: str, status: SessionStatus, at: datetime) -> None:
        await self._c.execute(
            t.sessions.update()
            .where(t.sessions.c.id == session_id)
            .values(status=status.value, updated_at=at)
        )

    async def get_session_by_room(self, room: str) -> Session | None:
        rows = (
            await self._c.execute(
                sa.select(t.sessions).where(t.sessions.c.room == room).order_by(t.sessions.c.id)
            )
        ).all()
        found = await self._load(rows[:1])
        return found[0] if found else None

    async def list_sessions(self, query: SessionQuery) -> list[Session]:
        s = t.sessions.c
        stmt = sa.select(t.sessions)
        if query.start_from is not None:
            stmt = stmt.where(s.ends_at > query.start_from)
        if query.start_to is not None:
            stmt = stmt.where(s.starts_at < query.start_to)
        if query.region is not None:
            stmt = stmt.where(s.region_id == query.region)
        if query.chair_email is not None:
            stmt = stmt.where(sa.func.lower(s.chair_email) == query.chair_email.lower())
        if query.status is not None:
            stmt = stmt.where(self._status_is(query.status, query.now))
        if query.site is not None:
            ss = t.session_sites.c
            stmt = stmt.where(sa.exists().where(ss.session_id == s.id, ss.site_id == query.site))
        stmt = stmt.order_by(s.starts_at, s.id).limit(query.limit).offset(query.offset)
        return await self._load((await self._c.execute(stmt)).all())

    # tokens ------------------------------------------------------------------------------
    async def add_token(self, record: TokenRecord, token_hash: str) -> None:
        await self._c.execute(
            t.api_tokens.insert().values(
                id=record.id,
                token_hash=token_hash,
                role=record.role,
                site_id=record.site_id,
                email=record.email,
                label=record.label,
                created_at=record.created_at,
                revoked_at=None,
            )
        )

    async def principal_for(self, token_hash: str) -> Principal | None:
        k = t.api_tokens.c
        row = (
            await self._c.execute(
                sa.select(t.api_tokens).where(k.token_hash == token_hash, k.revoked_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        return Principal(
            role=Role(row.role),
            token_id=row.id,
            site_id=row.site_id,
            email=row.email,
            label=row.label,
        )

    async def revoke_token(self, token_id: str, at: datetime) -> bool:
        k = t.api_tokens.c
        res = await self._c.execute(
            t.api_tokens.update()
            .where(k.id == token_id, k.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(res.rowcount)

    async def list_tokens(self) -> list[TokenRecord]:
        rows = await self._c.execute(sa.select(t.api_tokens).order_by(t.api_tokens.c.created_at))
        return [
            TokenRecord(r.id, r.role, r.site_id, r.email, r.label, r.created_at, r.revoked_at)
            for r in rows
        ]

    # invites -----------------------------------------------------------------------------
    def _insert(self, table: sa.Table) -> Any:
        return (pg_insert if self._pg else sqlite_insert)(table)

    async def _upsert_row(self, table: sa.Table, values: dict[str, Any], keys: list[str]) -> None:
        """Insert `values`, or update the row with the same `keys` (one statement, any backend)."""
        stmt = self._insert(table).values(values)
        await self._c.execute(
            stmt.on_conflict_do_update(
                index_elements=keys,
                set_={k: v for k, v in values.items() if k not in keys},
            )
        )

    async def add_outbox(
        self, kind: str, session_id: str, version: int, payload: dict[str, Any], at: datetime
    ) -> None:
        await self._c.execute(
            t.outbox.insert().values(
                kind=kind,
                session_id=session_id,
                version=version,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=at,
                created_at=at,
            )
        )

    async def claim_outbox(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        o = t.outbox.c
        stmt = (
            sa.select(t.outbox)
            .where(o.status == "pending", o.next_attempt_at <= now)
            .order_by(o.id)
            .limit(limit)
        )
        if self._pg:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = (await self._c.execute(stmt)).all()
        if not rows:
            return []
        await self._c.execute(
            t.outbox.update()
            .where(o.id.in_([r.id for r in rows]))
            .values(attempts=o.attempts + 1, next_attempt_at=now + lease)
        )
        return [
            OutboxItem(r.id, r.kind, r.session_id, r.version, dict(r.payload), r.attempts + 1)
            for r in rows
        ]

    async def settle_outbox(
        self,
        item_id: int,
        *,
        status: str,
        at: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "pending":
            values["next_attempt_at"] = retry_at or at
        else:
            values["done_at"] = at
        await self._c.execute(t.outbox.update().where(t.outbox.c.id == item_id).values(values))

    async def pending_outbox(self, session_id: str) -> int:
        o = t.outbox.c
        count = await self._c.scalar(
            sa.select(sa.func.count()).where(o.session_id == session_id, o.status == "pending")
        )
        return int(count or 0)

    async def get_deliveries(self, session_id: str) -> dict[str, Delivery]:
        d = t.invite_deliveries.c
        rows = await self._c.execute(
            sa.select(t.invite_deliveries).where(d.session_id == session_id)
        )
        return {
            r.site_id: Delivery(
                r.session_id,
                r.site_id,
                r.sequence,
                r.method,
                r.state,
                r.attempts,
                r.last_error,
                r.updated_at,
                r.sent_at,
            )
            for r in rows
        }

    async def record_delivery(self, delivery: Delivery, *, ok: bool, error: str | None) -> None:
        values = {
            "session_id": delivery.session_id,
            "site_id": delivery.site_id,
            "sequence": delivery.sequence,
            "method": delivery.method,
            "state": delivery.state,
            "attempts": delivery.attempts,
            "last_error": delivery.last_error,
            "updated_at": delivery.updated_at,
            "sent_at": delivery.sent_at,
        }
        await self._upsert_row(t.invite_deliveries, values, ["session_id", "site_id"])
        await self._c.execute(
            t.delivery_attempts.insert().values(
                session_id=delivery.session_id,
                site_id=delivery.site_id,
                sequence=delivery.sequence,
                at=delivery.updated_at,
                ok=ok,
                error=error,
            )
        )

    async def put_rsvp(self, session_id: str, rsvp: Rsvp) -> None:
        values = {
            "session_id": session_id,
            "site_id": rsvp.site_id,
            "response": rsvp.response,
            "comment": rsvp.comment,
            "at": rsvp.at,
            "actor": rsvp.actor,
        }
        await self._upsert_row(t.rsvps, values, ["session_id", "site_id"])

    async def get_rsvps(self, session_id: str) -> dict[str, Rsvp]:
        rows = await self._c.execute(sa.select(t.rsvps).where(t.rsvps.c.session_id == session_id))
        return {r.site_id: Rsvp(r.site_id, r.response, r.comment, r.at, r.actor) for r in rows}

    async def set_feed_token(self, site_id: str, token_hash: str, at: datetime) -> None:
        await self._c.execute(t.feed_tokens.delete().where(t.feed_tokens.c.site_id == site_id))
        await self._c.execute(
            t.feed_tokens.insert().values(site_id=site_id, token_hash=token_hash, created_at=at)
        )

    async def site_for_feed_token(self, token_hash: str) -> str | None:
        f = t.feed_tokens.c
        found = await self._c.scalar(sa.select(f.site_id).where(f.token_hash == token_hash))
        return str(found) if found is not None else None

    async def secret(self, name: str, candidate: str) -> str:
        stmt = self._insert(t.app_secrets).values(name=name, value=candidate)
        await self._c.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        value = await self._c.scalar(
            sa.select(t.app_secrets.c.value).where(t.app_secrets.c.name == name)
        )
        return str(value)

    # attendance --------------------------------------------------------------------------
    async def add_events(self, events: Sequence[StoredEvent]) -> set[tuple[str, str]]:
        if not events:
            return set()
        rows = [
            {
                "session_id": e.session_id,
                "room": e.room,
                "source": e.source,
                "kind": e.kind,
                "site_id": e.site_id,
                "occupant": e.occupant,
                "at": e.at,
                "dedupe_key": e.dedupe_key,
                "data": e.data,
                "received_at": e.received_at,
                "after_freeze": e.after_freeze,
            }
            for e in events
        ]
        a = t.attendance_events.c
        log_insert = _PgLogInsert if self._pg else _SqliteLogInsert
        stmt = log_insert(t.attendance_events).returning(a.source, a.dedupe_key)
        # one round trip for the whole batch; RETURNING tells the new rows from duplicates
        result = await self._c.execute(stmt, rows)
        return {(r.source, r.dedupe_key) for r in result}

    async def list_events(
        self, session_id: str, *, after_id: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        a = t.attendance_events.c
        stmt = sa.select(t.attendance_events).where(a.session_id == session_id).order_by(a.id)
        if after_id:
            stmt = stmt.where(a.id > after_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = await self._c.execute(stmt)
        return [
            StoredEvent(
                source=r.source,
                kind=r.kind,
                at=r.at,
                dedupe_key=r.dedupe_key,
                received_at=r.received_at,
                session_id=r.session_id,
                room=r.room,
                site_id=r.site_id,
                occupant=r.occupant,
                data=dict(r.data),
                after_freeze=r.after_freeze,
                id=r.id,
            )
            for r in rows
        ]

    async def save_record(self, session_id: str, frozen_at: datetime, record: str) -> None:
        values = {"session_id": session_id, "frozen_at": frozen_at, "record": record}
        await self._upsert_row(t.attendance_records, values, ["session_id"])

    async def get_record(self, session_id: str) -> tuple[datetime, str] | None:
        r = t.attendance_records.c
        row = (
            await self._c.execute(
                sa.select(r.frozen_at, r.record).where(r.session_id == session_id)
            )
        ).first()
        return None if row is None else (row.frozen_at, row.record)

    # lifecycle ---------------------------------------------------------------------------
    async def mark_done(self, key: str, session_id: str, kind: str, at: datetime) -> bool:
        stmt = self._insert(t.done_actions).values(key=key, session_id=session_id, kind=kind, at=at)
        result = await self._c.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        return bool(result.rowcount)

    async def done_keys(self, session_ids: Sequence[str]) -> set[str]:
        d = t.done_actions.c
        out: set[str] = set()
        for cond in self._in(d.session_id, list(session_ids)):
            out.update((await self._c.execute(sa.select(d.key).where(cond))).scalars())
        return out

    # preparation -------------------------------------------------------------------------
    async def put_submission(self, submission: Submission) -> None:
        values = dict(submission.__dict__)
        await self._upsert_row(t.task_submissions, values, ["session_id", "task_id"])

    async def get_submissions(self, session_id: str) -> dict[str, Submission]:
        s = t.task_submissions.c
        rows = await self._c.execute(
            sa.select(t.task_submissions).where(s.session_id == session_id)
        )
        return {
            r.task_id: Submission(
                r.session_id,
                r.task_id,
                r.site_id,
                r.filename,
                r.content_type,
                r.size,
                r.sha256,
                r.location,
                r.submitted_at,
                r.actor,
            )
            for r in rows
        }

    # audit and idempotency ---------------------------------------------------------------
    async def audit(self, entry: AuditEntry) -> None:
        await self._c.execute(
            t.audit_log.insert().values(
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                reason=entry.reason,
                detail=entry.detail,
            )
        )

    async def list_audit(self, *, target: str | None = None, limit: int = 100) -> list[AuditEntry]:
        a = t.audit_log.c
        stmt = sa.select(t.audit_log).order_by(a.id.desc()).limit(limit)
        if target is not None:
            stmt = stmt.where(a.target == target)
        return [
            AuditEntry(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                reason=r.reason,
                detail=r.detail,
            )
            for r in await self._c.execute(stmt)
        ]

    async def get_answer(self, actor: str, key: str) -> StoredAnswer | None:
        k = t.idempotency_keys.c
        row = (
            await self._c.execute(
                sa.select(t.idempotency_keys).where(k.actor == actor, k.key == key)
            )
        ).first()
        return None if row is None else StoredAnswer(row.fingerprint, row.status, row.body)

    async def put_answer(self, actor: str, key: str, answer: StoredAnswer, at: datetime) -> None:
        try:
            await self._c.execute(
                t.idempotency_keys.insert().values(
                    actor=actor,
                    key=key,
                    fingerprint=answer.fingerprint,
                    status=answer.status,
                    body=answer.body,
                    created_at=at,
                )
            )
        except IntegrityError as exc:
            raise DuplicateAnswer(f"{actor}/{key}") from exc


# SQLAlchemy compiles an INSERT with ON CONFLICT again on every execution: its ON CONFLICT clause
# has no cache key, so the statement is never cached. The event log's INSERT runs for every group
# commit of webhooks, always with the same clause: these classes, used for that statement only,
# give the clause a key (its class) so the statement is compiled once per backend.
class _PgSkipRepeats(postgresql.dml.OnConflictDoNothing):
    _traverse_internals = []  # noqa: RUF012 (its key is its class: always the same clause)


class _SqliteSkipRepeats(sqlite.dml.OnConflictDoNothing):
    _traverse_internals = []  # noqa: RUF012


class _PgLogInsert(postgresql.Insert):
    """`INSERT INTO attendance_events … ON CONFLICT (source, dedupe_key) DO NOTHING`."""

    inherit_cache = True

    def __init__(self, table: sa.Table) -> None:
        super().__init__(table)
        self._post_values_clause = _PgSkipRepeats(index_elements=["source", "dedupe_key"])


class _SqliteLogInsert(sqlite.Insert):
    """`INSERT INTO attendance_events … ON CONFLICT (source, dedupe_key) DO NOTHING`."""

    inherit_cache = True

    def __init__(self, table: sa.Table) -> None:
        super().__init__(table)
        self._post_values_clause = _SqliteSkipRepeats(index_elements=["source", "dedupe_key"])


class SqlStore:
    """The store on an SQLAlchemy async engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine, *, lock_key_space: int = 2048) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self._key_space = lock_key_space

    @property
    def backend(self) -> str:
        return self._dialect

    @asynccontextmanager
    async def _unit(self, readonly: bool) -> AsyncIterator[SqlUnitOfWork]:
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(orch_unit=True, orch_readonly=readonly)
                async with conn.begin():
                    yield SqlUnitOfWork(conn, self._dialect, self._key_space)
        except DBAPIError as exc:
            raise _as_store_error(exc) from exc

    def write(self) -> Any:
        return self._unit(readonly=False)

    def read(self) -> Any:
        return self._unit(readonly=True)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execution_options(orch_readonly=True)
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A deferred BEGIN lets two check-then-insert units interleave and double-book; IMMEDIATE
    # takes the write lock up front. Read-only units keep a deferred BEGIN so they never block.
    if conn.get_execution_options().get("orch_readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """An async engine set up for the product's transaction rules on either backend."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        engine = create_async_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2
        )
    event.listen(engine.sync_engine, "handle_error", _translate_outside_units)
    return engine
