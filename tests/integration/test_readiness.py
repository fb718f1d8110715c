"""`/readyz`: 503 until the database is reachable and migrated to the latest revision, then 200,
the answer kept for a second; `/healthz` stays liveness. On both databases."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.bootstrap import build
from orchestrator.cli import app as cli
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import Settings
from orchestrator.store import migrate
from orchestrator.store.sql import create_engine
from orchestrator.web.openapi import build_spec
from tests.builders import FakeMailer, client


async def _one_revision_back(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.downgrade(engine, "-1")
    finally:
        await engine.dispose()


async def test_ready_only_once_the_database_is_migrated(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    await _one_revision_back(db_url)
    c = build(Settings(data_dir=tmp_path / "var", database_url=db_url), clock=clock,
              mailer=FakeMailer())  # fmt: skip
    try:
        async with client(c) as http:
            r = await http.get("/readyz")
            assert r.status_code == 503
            assert r.headers["Content-Type"].startswith("application/problem+json")
            body = r.json()
            assert body["code"] == "not_ready"
            assert "not migrated: at revision" in body["detail"]
            assert (await http.get("/healthz")).status_code == 200  # alive all the same

            # `orchestrator db upgrade` (its own event loop, so in a thread of its own)
            upgrade = ["--database-url", db_url, "db", "upgrade"]
            result = await asyncio.to_thread(CliRunner().invoke, cli, upgrade)
            assert result.exit_code == 0, result.stderr

            # the answer is kept for a second: polls within it cost the database nothing
            assert (await http.get("/readyz")).status_code == 503
            clock.advance(timedelta(seconds=1.5))
            r = await http.get("/readyz")
            assert r.status_code == 200
            assert r.json() == {"status": "ready", "database": "migrated"}
    finally:
        await c.close()


async def test_not_ready_while_the_database_cannot_be_reached(
    tmp_path: Path, clock: ManualClock
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+asyncpg://orch:secret@127.0.0.1:{port}/orch"
    c = build(Settings(data_dir=tmp_path, database_url=url), clock=clock, mailer=FakeMailer())
    try:
        async with client(c) as http:
            r = await http.get("/readyz")
            assert r.status_code == 503
            assert "database unreachable" in r.json()["detail"]
            assert (await http.get("/healthz")).status_code == 503
    finally:
        await c.close()


def test_the_document_describes_readiness() -> None:
    operation = build_spec()["paths"]["/readyz"]["get"]
    assert operation["operationId"] == "readyz"
    assert {"200", "503"} <= set(operation["responses"])
