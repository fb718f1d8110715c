"""Per-site links through the booking: Jitsi tokens naming each site, re-issued on reschedule,
visitors beyond the provider's participant limit (DESIGN 6.1, rule 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from pydantic import SecretStr

from connectors.base import PermanentConnectorError
from orchestrator.booking.schemas import BookingOut, UpdateSessionRequest
from orchestrator.bootstrap import Container, build, build_providers
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.errors import InvalidRequest
from orchestrator.settings import JitsiSettings, Settings
from tests import builders
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE

SECRET = "a-jitsi-app-secret-of-at-least-32-bytes!"


@pytest.fixture
async def jitsi(settings: Settings, clock: ManualClock) -> AsyncIterator[Container]:
    configured = settings.model_copy(
        update={
            "jitsi": JitsiSettings(
                domain="meet.moet.example.org",
                app_id="moet",
                app_secret=SecretStr(SECRET),
                audience="moet",
                max_participants=4,
            )
        }
    )
    c = build(configured, clock=clock)
    await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
    yield c
    await c.close()


async def book(c: Container, **over: Any) -> BookingOut:
    data = {"chair": {"name": "C", "email": "chair@example.org"}, "provider": "jitsi", **over}
    return await builders.book(c, **data)


def token_of(url: str) -> dict[str, Any]:
    token = parse_qs(urlparse(url).query)["jwt"][0]
    # nbf lies in the test clock's future; the window is asserted explicitly instead.
    claims: dict[str, Any] = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="moet", options={"verify_nbf": False}
    )
    return claims


async def test_each_site_gets_a_token_naming_it(jitsi: Container) -> None:
    out = await book(jitsi, sites=["ha-noi", "da-nang", "can-tho"])
    assert out.room
    for s in out.sites:
        assert s.join_url is not None
        assert s.join_url.startswith(f"https://meet.moet.example.org/{out.room}?jwt=")
        claims = token_of(s.join_url)
        assert claims["room"] == out.room
        assert claims["context"]["user"]["id"] == s.site_id
        assert claims["nbf"] == int(out.claimed.start.timestamp())  # from the connection test
        assert claims["exp"] > int(out.end.timestamp())
    host = token_of(out.sites[0].join_url or "")
    other = token_of(out.sites[1].join_url or "")
    assert host["context"]["user"]["affiliation"] == "owner"
    assert other["context"]["user"]["affiliation"] != "owner"


async def test_reschedule_reissues_tokens_for_the_new_window(jitsi: Container) -> None:
    out = await book(jitsi, sites=["ha-noi", "da-nang"])
    moved = await jitsi.bookings.update(
        out.id,
        UpdateSessionRequest.model_validate(
            {"start": "2026-12-11T08:00:00+07:00", "end": "2026-12-11T09:00:00+07:00"}
        ),
        OFFICE,
    )
    claims = token_of(moved.sites[1].join_url or "")
    assert claims["nbf"] == int(datetime(2026, 12, 11, 0, 30, tzinfo=UTC).timestamp())
    assert moved.sites[1].join_url != out.sites[1].join_url
    read = await jitsi.bookings.get(out.id, OFFICE)
    assert read.sites[1].join_url == moved.sites[1].join_url


async def test_sites_beyond_the_limit_join_as_visitors(jitsi: Container) -> None:
    out = await book(jitsi, speaking_sites=["can-tho"])  # 6 sites, limit 4
    roles = {s.site_id: s.role for s in out.sites}
    assert roles == {
        "ha-noi": "participant",
        "can-tho": "participant",
        "da-nang": "visitor",
        "tp-ho-chi-minh": "visitor",
        "thai-nguyen": "visitor",
        "nghe-an": "visitor",
    }
    for s in out.sites:
        user = token_of(s.join_url or "")["context"]["user"]
        assert (user.get("role") == "visitor") == (s.role == "visitor")
    read = await jitsi.bookings.get(out.id, OFFICE)
    assert {s.site_id: s.role for s in read.sites} == roles
    small = await book(
        jitsi,
        title="small",
        sites=["ha-noi", "da-nang"],
        start="2026-12-11T08:00:00+07:00",
        end="2026-12-11T09:00:00+07:00",
    )
    assert {s.role for s in small.sites} == {"participant"}


async def test_speaking_sites_are_checked(jitsi: Container) -> None:
    with pytest.raises(InvalidRequest, match="take part"):
        await book(jitsi, sites=["ha-noi", "da-nang"], speaking_sites=["can-tho"])
    with pytest.raises(InvalidRequest, match="exceed"):
        await book(jitsi, speaking_sites=["da-nang", "can-tho", "nghe-an", "thai-nguyen"])


def test_half_configured_providers_are_refused(settings: Settings) -> None:
    with pytest.raises(PermanentConnectorError, match="app_secret"):
        build_providers(settings.model_copy(update={"jitsi": JitsiSettings(domain="meet.x.org")}))
    assert set(build_providers(settings)) == {"static"}
