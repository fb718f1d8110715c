"""Shared fixtures: real databases (SQLite and PostgreSQL), a built service, a moved clock.

Every test that takes `db_url` runs once per backend. PostgreSQL comes from
`ORCH_TEST_DATABASE_URL` (scripts/test sets it up); each test gets its own database, copied from
a migrated template. Without that variable the PostgreSQL half is skipped, except on CI
(`CI=true`), where it fails: a missing database must never pass silently.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.settings import Settings
from orchestrator.store import migrate
from orchestrator.store.sql import create_engine
from tests.builders import OFFICE as OFFICE  # re-exported: the tests' office
from tests.builders import SIX as SIX  # re-exported: the example directory's six sites
from tests.builders import FakeMailer

# A real SMTP server on 127.0.0.1 (the `smtp_server` fixture), shared by every test that sends mail.
# and a fake of Prosody's mod_muc_size (the `fake_jitsi` fixture) for presence polls.
pytest_plugins = ["tests.smtp_server", "tests.fake_jitsi"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIRECTORY = ROOT / "config" / "directory.example.toml"
# Monday 23 November 2026, 09:00 in Hà Nội: the tests' "now".
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _pg_admin_url() -> str | None:
    url = os.environ.get("ORCH_TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("ORCH_TEST_DATABASE_URL is not set: PostgreSQL tests must run on CI")
    return None


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    admin = _pg_admin_url()
    if admin is None:
        yield None
        return
    name = f"orch_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(_migrate(make_url(admin).set(database=name).render_as_string(False)))
        yield name
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_template: str | None,
) -> Iterator[str]:
    """A fresh, migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "orchestrator.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    admin = _pg_admin_url()
    if admin is None or pg_template is None:
        pytest.skip("PostgreSQL tests need ORCH_TEST_DATABASE_URL (scripts/test sets it)")
    name = f"orch_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(False)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=db_url)


@pytest.fixture
def mailer() -> FakeMailer:
    """The mailer of `container`: records what the service sends; nothing leaves the machine.
    (Tests of real delivery build their own service on the `smtp_server` fixture.)"""
    return FakeMailer()


@pytest.fixture
async def container(
    settings: Settings, clock: ManualClock, mailer: FakeMailer
) -> AsyncIterator[Container]:
    """The service wired on a real database, with the example directory loaded."""
    c = build(settings, clock=clock, mailer=mailer)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    try:
        yield c
    finally:
        await c.close()
