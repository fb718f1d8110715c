"""Initial schema: directory, sessions, claims with the overlap rule, tokens, audit, idempotency.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# Rule 1 on SQLite: refuse an active claim overlapping another active claim on the same
# resource. Instants are integer microseconds there, so comparisons are exact.
# Longest claim (orchestrator.domain.models.MAX_CLAIM_SPAN, 3 days), frozen here as this
# revision created it; on SQLite instants are integer microseconds.
_MAX_SPAN = {"postgresql": "interval '3 days'", "sqlite": "259200000000"}

_SQLITE_OVERLAP = """
CREATE TRIGGER claims_no_overlap_{op} BEFORE {OP} ON claims
WHEN NEW.active AND EXISTS (
    SELECT 1 FROM claims c
    WHERE c.resource = NEW.resource AND c.active AND c.id IS NOT NEW.id
      AND c.starts_at < NEW.ends_at AND NEW.starts_at < c.ends_at
      AND c.starts_at > NEW.starts_at - 259200000000
)
BEGIN
    SELECT RAISE(ABORT, 'claim_overlap');
END
"""


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("head_site_id", sa.String(64), nullable=True),
        sa.Column("chair_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("chair_email", sa.String(320), nullable=True),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("coordinator_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("coordinator_email", sa.String(320), nullable=True),
        sa.Column("coordinator_phone", sa.String(64), nullable=False, server_default=""),
        sa.Column("capacity", sa.Integer, nullable=False, server_default="0"),
        sa.Column("room", sa.String(300), nullable=False, server_default=""),
        sa.Column("language", sa.String(8), nullable=False, server_default="vi"),
    )
    op.create_index("ix_sites_region_id", "sites", ["region_id"])
    op.create_table(
        "leader_groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
    )
    op.create_table(
        "policies",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("policy", sa.JSON, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("agenda", sa.Text, nullable=False, server_default=""),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=True),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("host_site_id", sa.String(64), nullable=False),
        sa.Column("chair_name", sa.String(200), nullable=False),
        sa.Column("chair_email", sa.String(320), nullable=False),
        sa.Column("leader_groups", sa.JSON, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer, nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("room", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_sessions_region_id", "sessions", ["region_id"])
    op.create_index("ix_sessions_starts_at", "sessions", ["starts_at"])
    op.create_index("ix_sessions_chair_email", "sessions", ["chair_email"])
    op.create_table(
        "session_sites",
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("join_url", sa.Text, nullable=True),
    )
    op.create_index("ix_session_sites_site", "session_sites", ["site_id"])
    dialect = op.get_bind().dialect.name
    op.create_table(
        "claims",
        sa.Column("id", BIGID, primary_key=True),
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
        sa.CheckConstraint("starts_at < ends_at", name="ck_claims_range"),
        sa.CheckConstraint(
            f"ends_at - starts_at <= {_MAX_SPAN[dialect]}", name="ck_claims_max_span"
        ),
    )
    op.create_index("ix_claims_resource_start", "claims", ["resource", "starts_at"])
    op.create_index("ix_claims_session", "claims", ["session_id"])
    if dialect == "postgresql":
        # resource_key is a 64-bit digest of resource: comparing integers makes the constraint
        # check several times cheaper than text, and a shared digest can only over-refuse.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE claims ADD CONSTRAINT claims_no_overlap EXCLUDE USING gist "
            "(resource_key WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE (active)"
        )
    elif dialect == "sqlite":
        op.execute(_SQLITE_OVERLAP.format(op="insert", OP="INSERT"))
        op.execute(_SQLITE_OVERLAP.format(op="update", OP="UPDATE"))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(400), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(400), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "audit_log",
        "api_tokens",
        "claims",
        "session_sites",
        "sessions",
        "policies",
        "leader_groups",
        "sites",
        "regions",
    ):
        op.drop_table(table)
