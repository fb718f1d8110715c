"""Alembic environment: runs on the connection handed in by `orchestrator.store.migrate`."""

from __future__ import annotations

from alembic import context

from orchestrator.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `orchestrator db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
context.run_migrations()
