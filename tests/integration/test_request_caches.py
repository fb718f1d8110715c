"""What an instance keeps in memory between requests, and how soon it sees a change made elsewhere:
the directory (checked against the database's version in every unit that reads it) and the
principals of authenticated API tokens (`[server] token_cache_seconds`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import AuthenticationRequired, BookingConflict, InvalidRequest
from orchestrator.domain.models import BookingPolicy, LeaderGroup, Role, SessionKind, Site
from orchestrator.settings import ServerSettings, Settings
from orchestrator.store.base import DIRECTORY_AUDIT_TARGET
from orchestrator.store.sql import SqlStore
from orchestrator.store.sql.directory_cache import DirectoryCache
from tests.builders import book, booking
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE


@pytest.fixture
async def second(settings: Settings, clock: ManualClock) -> AsyncIterator[Container]:
    """Another instance on the same database: its own engine, pool and memory."""
    other = build(settings, clock=clock)
    try:
        yield other
    finally:
        await other.close()


def memory(c: Container) -> DirectoryCache:
    assert isinstance(c.store, SqlStore)
    assert c.store.directory_cache is not None
    return c.store.directory_cache


def statements(c: Container) -> list[str]:
    """Every SQL statement `c`'s engine runs from now on."""
    assert isinstance(c.store, SqlStore)
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(c.store.engine.sync_engine, "before_cursor_execute", note)
    return seen


async def test_a_booking_reads_the_directory_from_memory_once_read(container: Container) -> None:
    await book(container)  # reads the sites, the groups and the policies: kept
    loads = memory(container).loads
    seen = statements(container)
    with pytest.raises(BookingConflict):  # as each loser of a race: refused, nothing read
        await container.bookings.book(booking(title="again"), OFFICE)
    assert memory(container).loads == loads
    directory_reads = [
        s
        for s in seen
        if any(f"FROM {t}" in s for t in ("sites", "leader_groups", "policies", "regions"))
    ]
    assert directory_reads == []
    assert sum("FROM audit_log" in s for s in seen) == 1  # the version, once per unit


async def test_a_change_on_another_instance_is_seen_by_the_next_unit(
    container: Container, second: Container
) -> None:
    async with second.store.read() as uow:  # the second instance keeps what it read
        assert (await uow.directory.get_sites(["ha-noi"]))["ha-noi"].name == "Bộ GD&ĐT (Hà Nội)"
        assert "lanh-dao-bo" in {g.id for g in await uow.directory.list_groups()}
        assert SessionKind.NATIONAL in await uow.directory.get_policies()
    base = load_directory(EXAMPLE_DIRECTORY)
    renamed = Site.model_validate({**base.sites[0].model_dump(), "name": "Hà Nội (mới)"})
    added = Site.model_validate({**base.sites[1].model_dump(), "id": "quang-ninh"})
    strict = BookingPolicy(min_notice_minutes=60)
    changed = dataclasses.replace(
        base,
        sites=(renamed, added),
        leader_groups=(LeaderGroup(id="ban-moi", name="Ban mới"),),
        policies={SessionKind.NATIONAL: strict},
    )
    await container.directory.apply(changed, OFFICE)  # through the first instance
    async with second.store.read() as uow:
        sites = await uow.directory.get_sites(["ha-noi", "quang-ninh"])
        assert sites["ha-noi"].name == "Hà Nội (mới)"
        assert "quang-ninh" in sites
        assert "ban-moi" in {g.id for g in await uow.directory.list_groups()}
        assert (await uow.directory.get_policies())[SessionKind.NATIONAL] == strict
    # and a booking on the second instance names the new site at once
    out = await book(second, sites=["ha-noi", "quang-ninh"])
    assert [s.site_id for s in out.sites] == ["ha-noi", "quang-ninh"]


async def test_a_unit_that_writes_the_directory_reads_its_own_writes(
    container: Container,
) -> None:
    base = load_directory(EXAMPLE_DIRECTORY)
    async with container.store.write() as uow:
        assert (await uow.directory.get_sites(["ha-noi"]))["ha-noi"].capacity == 80
        moved = base.sites[0].model_copy(update={"capacity": 12})
        await uow.directory.upsert((), (moved,), (), {})
        assert (await uow.directory.get_sites(["ha-noi"]))["ha-noi"].capacity == 12
        await uow.audit.record(
            at=container.clock.now(),
            actor="test",
            action="directory.import",
            target=DIRECTORY_AUDIT_TARGET,
        )
    async with container.store.read() as uow:
        assert (await uow.directory.get_sites(["ha-noi"]))["ha-noi"].capacity == 12


async def test_unknown_sites_are_refused_and_large_reads_are_not_kept(
    container: Container,
) -> None:
    with pytest.raises(InvalidRequest):
        await book(container, sites=["ha-noi", "khong-co"])
    cache = memory(container)
    cache.max_sites = 3
    cache.clear()
    async with container.store.read() as uow:
        six = await uow.directory.get_sites(
            ["nghe-an", "ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen", "ha-noi"]
        )
    assert list(six) == ["nghe-an", "ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen"]
    assert cache.sites == {}  # six do not fit in three
    async with container.store.read() as uow:
        two = await uow.directory.get_sites(["ha-noi", "da-nang"])
        assert set(cache.sites) == {"ha-noi", "da-nang"}
        assert await uow.directory.get_sites(["da-nang", "ha-noi", "can-tho"]) == {
            "da-nang": two["da-nang"],
            "ha-noi": two["ha-noi"],
            "can-tho": six["can-tho"],
        }


# tokens ----------------------------------------------------------------------------------------


async def test_a_token_is_looked_up_once_for_concurrent_requests(container: Container) -> None:
    issued = await container.access.create_token(Role.OFFICE)
    seen = statements(container)
    found = await asyncio.gather(*(container.access.authenticate(issued.token) for _ in range(20)))
    assert {p.token_id for p in found} == {issued.record.id}
    await container.access.authenticate(issued.token)
    assert sum("FROM api_tokens" in s for s in seen) == 1
    with pytest.raises(AuthenticationRequired):  # unknown tokens are never kept
        await container.access.authenticate("orch_nope")
    with pytest.raises(AuthenticationRequired):
        await container.access.authenticate("orch_nope")
    assert sum("FROM api_tokens" in s for s in seen) == 3


async def test_a_token_revoked_elsewhere_is_refused_within_the_cache_time(
    settings: Settings, clock: ManualClock, container: Container
) -> None:
    quick = settings.model_copy(update={"server": ServerSettings(token_cache_seconds=0.3)})
    serving = build(quick, clock=clock)
    try:
        issued = await container.access.create_token(Role.OFFICE)
        assert (await serving.access.authenticate(issued.token)).token_id == issued.record.id
        assert await container.access.revoke_token(issued.record.id)  # the other instance
        await serving.access.authenticate(issued.token)  # still trusted for a moment
        await asyncio.sleep(0.35)
        with pytest.raises(AuthenticationRequired):
            await serving.access.authenticate(issued.token)
    finally:
        await serving.close()


async def test_without_the_cache_a_revoked_token_is_refused_at_once(
    settings: Settings, clock: ManualClock, container: Container
) -> None:
    uncached = settings.model_copy(update={"server": ServerSettings(token_cache_seconds=0)})
    serving = build(uncached, clock=clock)
    try:
        issued = await container.access.create_token(Role.OFFICE)
        await serving.access.authenticate(issued.token)
        assert await container.access.revoke_token(issued.record.id)
        with pytest.raises(AuthenticationRequired):
            await serving.access.authenticate(issued.token)
    finally:
        await serving.close()


async def test_a_revocation_during_a_look_up_is_not_undone_by_it(container: Container) -> None:
    issued = await container.access.create_token(Role.OFFICE)
    looking = asyncio.ensure_future(container.access.authenticate(issued.token))
    await asyncio.sleep(0)  # the look-up has begun
    assert await container.access.revoke_token(issued.record.id)
    with contextlib.suppress(AuthenticationRequired):
        await looking  # it read the token before the revocation committed, or after
    with pytest.raises(AuthenticationRequired):
        await container.access.authenticate(issued.token)
