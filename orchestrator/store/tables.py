"""The relational schema, as SQLAlchemy Core tables (queries use these; migrations create them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)  # SQLite's instants: microseconds since `EPOCH`


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant: `timestamptz` on PostgreSQL, integer microseconds on SQLite.

    SQLite has no time type; integers sort and compare exactly, so overlap triggers and range
    queries stay correct whatever offset the caller used.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to an instant column")
        if dialect.name == "sqlite":
            return (value - EPOCH) // MICROSECOND
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return EPOCH + timedelta(microseconds=int(value))
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


metadata = sa.MetaData()

regions = sa.Table(
    "regions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("head_site_id", sa.String(64), nullable=True),
    sa.Column("chair_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("chair_email", sa.String(320), nullable=True),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("region_id", sa.String(64), nullable=True, index=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("coordinator_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("coordinator_email", sa.String(320), nullable=True),
    sa.Column("coordinator_phone", sa.String(64), nullable=False, server_default=""),
    sa.Column("capacity", sa.Integer, nullable=False, server_default="0"),
    sa.Column("room", sa.String(300), nullable=False, server_default=""),
    sa.Column("language", sa.String(8), nullable=False, server_default="vi"),
)

leader_groups = sa.Table(
    "leader_groups",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("members", sa.JSON, nullable=False),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("policy", sa.JSON, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("agenda", sa.Text, nullable=False, server_default=""),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("region_id", sa.String(64), nullable=True, index=True),
    sa.Column("starts_at", UTCDateTime, nullable=False, index=True),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("host_site_id", sa.String(64), nullable=False),
    sa.Column("chair_name", sa.String(200), nullable=False),
    sa.Column("chair_email", sa.String(320), nullable=False, index=True),
    sa.Column("leader_groups", sa.JSON, nullable=False),
    sa.Column("speaking_sites", sa.JSON, nullable=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("buffer_before_minutes", sa.Integer, nullable=False),
    sa.Column("buffer_after_minutes", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("room", sa.String(100), nullable=True, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # An occurrence of a series (DESIGN 10): the series, the occurrence's original start (its
    # RECURRENCE-ID forever), and the fields changed on this occurrence alone.
    sa.Column("series_id", sa.String(36), nullable=True),
    sa.Column("occurrence", UTCDateTime, nullable=True),
    sa.Column("exception_fields", sa.JSON, nullable=True),
    sa.Index("ix_sessions_series_occurrence", "series_id", "occurrence", unique=True),
)

session_sites = sa.Table(
    "session_sites",
    metadata,
    sa.Column(
        "session_id",
        sa.String(36),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("join_url", sa.Text, nullable=True),
    sa.Index("ix_session_sites_site", "site_id"),
)

# One row per (session, resource). `active` is false once the session is cancelled or the
# resource released; only active rows take part in the overlap rule (DESIGN rule 1).
claims = sa.Table(
    "claims",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "session_id",
        sa.String(36),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("resource", sa.String(400), nullable=False),
    sa.Column("resource_key", sa.BigInteger, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    # covering: the slot search and SQLite's overlap trigger read no claim's row (0013)
    sa.Index("ix_claims_resource_span", "resource", "starts_at", "ends_at", "active"),
    sa.Index("ix_claims_session", "session_id"),
    sa.CheckConstraint("starts_at < ends_at", name="ck_claims_range"),
)

# Series ------------------------------------------------------------------------------------
# The same meeting on a rhythm (DESIGN 10): the rule, its zone and the first occurrence never
# change; the occurrences are sessions naming the series. `skipped` lists the occurrences the
# rule names that were never booked, each with why.
series = sa.Table(
    "series",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("agenda", sa.Text, nullable=False, server_default=""),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("region_id", sa.String(64), nullable=True),
    sa.Column("recurrence", sa.Text, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("first_start", UTCDateTime, nullable=False, index=True),
    sa.Column("first_end", UTCDateTime, nullable=False),
    sa.Column("host_site_id", sa.String(64), nullable=False),
    sa.Column("chair_name", sa.String(200), nullable=False),
    sa.Column("chair_email", sa.String(320), nullable=False, index=True),
    sa.Column("leader_groups", sa.JSON, nullable=False),
    sa.Column("speaking_sites", sa.JSON, nullable=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("buffer_before_minutes", sa.Integer, nullable=False),
    sa.Column("buffer_after_minutes", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("skipped", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

series_sites = sa.Table(
    "series_sites",
    metadata,
    sa.Column(
        "series_id",
        sa.String(36),
        sa.ForeignKey("series.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index("ix_series_sites_site", "site_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("site_id", sa.String(64), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("label", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(400), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("actor", sa.String(400), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Invites ----------------------------------------------------------------------------------
# One outbox row per booking change, written in the change's own transaction (rule 8); the
# delivery worker fans it out into one invite per site.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime, nullable=True),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

# The latest invite of each (session, site): what was sent, at which SEQUENCE, and how it went.
invite_deliveries = sa.Table(
    "invite_deliveries",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("session_id", sa.String(36), nullable=False, index=True),
    sa.Column("site_id", sa.String(64), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)

rsvps = sa.Table(
    "rsvps",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("response", sa.String(16), nullable=False),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(400), nullable=False),
)

feed_tokens = sa.Table(
    "feed_tokens",
    metadata,
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

app_secrets = sa.Table(
    "app_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

# Attendance -------------------------------------------------------------------------------
# Every attendance event as it arrived, append-only, deduplicated on (source, dedupe_key).
# Events for rooms no session owns are kept too (session_id NULL), apart.
attendance_events = sa.Table(
    "attendance_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("session_id", sa.String(36), nullable=True, index=True),
    sa.Column("room", sa.String(100), nullable=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("site_id", sa.String(64), nullable=True),
    sa.Column("occupant", sa.String(300), nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("dedupe_key", sa.String(400), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("after_freeze", sa.Boolean, nullable=False),
    sa.UniqueConstraint("source", "dedupe_key", name="uq_attendance_events_dedupe"),
)

# The record frozen when a session ends: what the chair received, kept readable afterwards.
attendance_records = sa.Table(
    "attendance_records",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("frozen_at", UTCDateTime, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)

# Each site's result in each frozen record (DESIGN 11), written in the freeze's transaction: a
# table made for aggregating, so a year's report is one GROUP BY over it and `sessions`.
attendance_results = sa.Table(
    "attendance_results",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("left_early", sa.Boolean, nullable=False),
    sa.Column("connected_minutes", sa.Float, nullable=False),
)

# Which instance polls each live room (mod_muc_size): one at a time, while its lease runs; when
# the holder stops renewing it (the instance died), another takes the room once it expires.
poll_leases = sa.Table(
    "poll_leases",
    metadata,
    sa.Column("room", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(100), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# Lifecycle --------------------------------------------------------------------------------
# One row per notice or transition done, keyed so that the same one is never done twice
# (a reminder of one session at one start time, a session going live, ...).
done_actions = sa.Table(
    "done_actions",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("session_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

# Preparation ------------------------------------------------------------------------------
# The latest document a site submitted for one of a session's preparation tasks.
task_submissions = sa.Table(
    "task_submissions",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("task_id", sa.String(200), primary_key=True),
    sa.Column("site_id", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(400), nullable=False),
)

# Join gateway -----------------------------------------------------------------------------
# The nonce of each (series or session, site) gateway link (DESIGN 10): a site without a row has
# nonce 0; rotating the link raises it, and the key signed with the old nonce stops working.
join_nonces = sa.Table(
    "join_nonces",
    metadata,
    sa.Column("subject_id", sa.String(36), primary_key=True),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.Integer, nullable=False),
    sa.Column("rotated_at", UTCDateTime, nullable=False),
)

# Every opening of a gateway link: the occurrence it opened (or named as the next; none after
# the last) and what it answered, so the chair's board can say when a site opened its link.
link_openings = sa.Table(
    "link_openings",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("subject_id", sa.String(36), nullable=False),
    sa.Column("site_id", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Index("ix_link_openings_session", "session_id", "at"),
)
