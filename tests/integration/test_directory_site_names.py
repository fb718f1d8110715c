"""The directory's names and regions of many sites at once (what a board lists), on SQLite and
PostgreSQL: each site asked for that exists, once; the others left out."""

from __future__ import annotations

from orchestrator.bootstrap import Container
from orchestrator.directory.loader import Directory
from orchestrator.domain.models import Coordinator, Site
from tests.conftest import OFFICE


async def test_names_and_regions_of_many_sites(container: Container) -> None:
    extra = tuple(
        Site(
            id=f"truong-{i:04d}",
            name=f"Trường {i:04d}",
            timezone="Asia/Ho_Chi_Minh",
            coordinator=Coordinator(name="Đầu mối", email=f"t{i}@example.org"),
        )
        for i in range(1500)  # more than one statement's worth of ids
    )
    await container.directory.apply(
        Directory(regions=(), sites=extra, leader_groups=(), policies={}), OFFICE
    )
    wanted = ["ha-noi", "da-nang", "no-such-site", "ha-noi", *(s.id for s in extra)]
    async with container.store.read() as uow:
        found = await uow.directory.site_names(wanted)
    assert found["ha-noi"] == ("Bộ GD&ĐT (Hà Nội)", "dong-bang-song-hong")
    assert found["da-nang"] == ("Sở GD&ĐT Đà Nẵng", "bac-trung-bo-duyen-hai-mien-trung")
    assert found["truong-1499"] == ("Trường 1499", None)  # no region
    assert "no-such-site" not in found
    assert len(found) == 2 + len(extra)
