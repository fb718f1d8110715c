"""Invite endpoints over HTTP on a real port: state, .ics downloads, RSVP, feeds, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from icalendar import Calendar  # type: ignore[import-untyped]

from orchestrator.bootstrap import Container
from tests.builders import bearer, booking_data, client, issue_tokens
from tests.conftest import SIX

BOOKING: dict[str, Any] = booking_data(
    start="2026-12-10T08:00:00+07:00", end="2026-12-10T11:30:00+07:00"
)


@dataclass
class Api:
    http: httpx.AsyncClient
    tokens: dict[str, str]
    session_id: str

    def auth(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])


@pytest.fixture
async def api(container: Container) -> AsyncIterator[Api]:
    issued = await issue_tokens(container, "da-nang", "can-tho")
    tokens = {"office": issued.office, "chair": issued.chair, **issued.coordinators}
    async with client(container) as http:
        r = await http.post("/api/sessions", json=BOOKING, headers=bearer(tokens["office"]))
        assert r.status_code == 201, r.text
        yield Api(http, tokens, r.json()["id"])


async def test_invite_state_is_queued_until_delivered(api: Api) -> None:
    r = await api.http.get(f"/api/sessions/{api.session_id}/invites", headers=api.auth("office"))
    assert r.status_code == 200
    body = r.json()
    assert [s["site_id"] for s in body["sites"]] == SIX
    assert {s["state"] for s in body["sites"]} == {"queued"}
    assert {s["rsvp"] for s in body["sites"]} == {"needs-action"}
    assert body["pending_changes"] == 1
    mine = await api.http.get(
        f"/api/sessions/{api.session_id}/invites", headers=api.auth("da-nang")
    )
    assert [s["site_id"] for s in mine.json()["sites"]] == ["da-nang"]


async def test_invite_download_by_role(api: Api) -> None:
    path = f"/api/sessions/{api.session_id}/sites/da-nang/invite.ics"
    r = await api.http.get(path, headers=api.auth("da-nang"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(cal.walk("VEVENT")[0]["UID"]).startswith(f"{api.session_id}.da-nang@")
    assert (await api.http.get(path, headers=api.auth("office"))).status_code == 200
    other = await api.http.get(path, headers=api.auth("can-tho"))
    assert other.status_code in (403, 404)
    assert (await api.http.get(path)).status_code == 401


async def test_rsvp_only_by_the_sites_coordinator(api: Api) -> None:
    path = f"/api/sessions/{api.session_id}/sites/da-nang/rsvp"
    ok = await api.http.post(
        path, json={"response": "declined", "comment": "trùng lịch"}, headers=api.auth("da-nang")
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["sites"][0]["rsvp"] == "declined"
    assert (
        await api.http.post(path, json={"response": "accepted"}, headers=api.auth("can-tho"))
    ).status_code == 403
    assert (
        await api.http.post(path, json={"response": "maybe"}, headers=api.auth("da-nang"))
    ).status_code == 422
    seen = await api.http.get(f"/api/sessions/{api.session_id}/invites", headers=api.auth("chair"))
    by_site = {s["site_id"]: s for s in seen.json()["sites"]}
    assert by_site["da-nang"]["rsvp"] == "declined"
    assert by_site["da-nang"]["rsvp_comment"] == "trùng lịch"


async def test_feed_needs_its_current_token(api: Api) -> None:
    made = await api.http.post("/api/sites/da-nang/feed", headers=api.auth("da-nang"))
    assert made.status_code == 201
    url = made.json()["url"]
    path = url[url.index("/api/sites/") :]
    feed = await api.http.get(path)  # calendar apps send no headers
    assert feed.status_code == 200
    assert len(Calendar.from_ical(feed.content).walk("VEVENT")) == 1
    assert (await api.http.get("/api/sites/da-nang/calendar.ics")).status_code == 401
    assert (await api.http.get(path.replace("da-nang", "can-tho"))).status_code == 401
    assert (
        await api.http.post("/api/sites/can-tho/feed", headers=api.auth("da-nang"))
    ).status_code == 403
    again = await api.http.post("/api/sites/da-nang/feed", headers=api.auth("office"))
    assert again.status_code == 201
    assert (await api.http.get(path)).status_code == 401  # the old URL is revoked
