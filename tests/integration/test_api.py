"""The HTTP API on a real port, over real SQLite and PostgreSQL: shapes, roles, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer

from orchestrator.bootstrap import Container
from orchestrator.domain.models import Role
from orchestrator.web.app import init_app
from tests.builders import bearer, client, issue_tokens, national_data
from tests.conftest import SIX

# Every field of the request named, the defaults too.
BOOKING: dict[str, Any] = national_data(
    region=None, provider="static", conflict_policy="all_or_nothing", override_reason=None
)


@dataclass
class Api:
    http: httpx.AsyncClient
    office: str
    chair: str
    coordinator: str  # da-nang
    container: Container

    def auth(self, token: str) -> dict[str, str]:
        return bearer(token)

    async def book(self, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return await self.http.post(
            "/api/sessions", json=body or BOOKING, headers={**self.auth(self.office), **headers}
        )


@pytest.fixture
async def api(container: Container) -> AsyncIterator[Api]:
    tokens = await issue_tokens(container, "da-nang", office_label="office")
    async with client(container, timeout=30) as http:
        yield Api(http, tokens.office, tokens.chair, tokens.coordinators["da-nang"], container)


def is_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


async def test_book_read_and_the_answer_shape(api: Api) -> None:
    r = await api.book()
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["status"] == "scheduled"
    assert s["start"] == "2026-12-10T08:00:00+07:00"
    assert s["room"]
    assert [x["site_id"] for x in s["sites"]] == SIX
    assert all(x["join_url"] for x in s["sites"])
    assert s["skipped"] == []
    got = await api.http.get(f"/api/sessions/{s['id']}", headers=api.auth(api.office))
    assert got.status_code == 200
    assert got.json()["id"] == s["id"]


async def test_conflict_is_409_problem_naming_claims(api: Api) -> None:
    first = (await api.book()).json()
    r = await api.book({**BOOKING, "title": "again", "sites": ["da-nang"], "host_site": "da-nang"})
    body = is_problem(r, 409)
    assert body["code"] == "booking_conflict"
    resources = {c["resource"] for c in body["conflicts"]}
    assert {"site:da-nang", "group:lanh-dao-bo", "chair:chair@moet.example.org"} == resources
    assert {c["session_id"] for c in body["conflicts"]} == {first["id"]}
    assert body["conflicts"][0]["start"].startswith("2026-12-10T00:30:00")


async def test_policy_breach_is_422_with_rule_and_override(api: Api) -> None:
    weekend = {**BOOKING, "start": "2026-12-12T08:00:00+07:00", "end": "2026-12-12T10:00:00+07:00"}
    body = is_problem(await api.book(weekend), 422)
    assert body["rule"] == "weekend"
    r = await api.book({**weekend, "override_reason": "Hội nghị đặc biệt"})
    assert r.status_code == 201
    assert r.json()["policy_overridden"] == ["weekend"]
    audit = await api.http.get("/api/audit", headers=api.auth(api.office))
    entry = audit.json()["entries"][0]
    assert entry["action"] == "session.book"
    assert entry["reason"] == "Hội nghị đặc biệt"
    assert entry["actor"].startswith("office:")


async def test_skip_conflicting_lists_skipped(api: Api) -> None:
    await api.book(
        {
            **BOOKING,
            "title": "b",
            "sites": ["can-tho"],
            "host_site": "can-tho",
            "leader_groups": [],
            "chair": {"name": "x", "email": "x@example.org"},
        }
    )
    r = await api.book({**BOOKING, "conflict_policy": "skip_conflicting"})
    assert r.status_code == 201
    body = r.json()
    assert [x["site_id"] for x in body["skipped"]] == ["can-tho"]
    assert body["skipped"][0]["conflicts"][0]["resource"] == "site:can-tho"


async def test_idempotency_key_header(api: Api) -> None:
    first = await api.book(**{"Idempotency-Key": "abc"})
    second = await api.book(**{"Idempotency-Key": "abc"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    listed = await api.http.get("/api/sessions", headers=api.auth(api.office))
    assert listed.json()["count"] == 1
    other = await api.book({**BOOKING, "title": "changed"}, **{"Idempotency-Key": "abc"})
    assert is_problem(other, 422)["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("method", "path", "token_role", "status"),
    [
        ("GET", "/api/sessions", None, 401),
        ("GET", "/api/directory", None, 401),
        ("POST", "/api/sessions", "chair", 403),
        ("POST", "/api/sessions", "coordinator", 403),
        (
            "GET",
            "/api/slots?sites=ha-noi&duration_minutes=60&from=2026-12-01T00:00:00Z"
            "&to=2026-12-05T00:00:00Z",
            "coordinator",
            403,
        ),
        ("POST", "/api/plans/regional", "chair", 403),
        ("GET", "/api/audit", "chair", 403),
        ("POST", "/api/directory", "coordinator", 403),
    ],
)
async def test_roles(api: Api, method: str, path: str, token_role: str | None, status: int) -> None:
    headers = api.auth(getattr(api, token_role)) if token_role else {}
    r = await api.http.request(
        method, path, headers=headers, json=BOOKING if method == "POST" else None
    )
    is_problem(r, status)


async def test_bad_token_is_401(api: Api) -> None:
    r = await api.http.get("/api/sessions", headers=api.auth("orch_nope"))
    assert is_problem(r, 401)["code"] == "unauthenticated"
    assert "Bearer" in r.headers["WWW-Authenticate"]


async def test_revoked_token_is_refused(api: Api) -> None:
    issued = await api.container.access.create_token(Role.OFFICE, label="temp")
    ok = await api.http.get("/api/sessions", headers=api.auth(issued.token))
    assert ok.status_code == 200
    assert await api.container.access.revoke_token(issued.record.id)
    r = await api.http.get("/api/sessions", headers=api.auth(issued.token))
    is_problem(r, 401)


async def test_chair_and_coordinator_see_their_own(api: Api) -> None:
    mine = (await api.book()).json()
    other = (
        await api.book(
            {
                **BOOKING,
                "title": "other",
                "sites": ["can-tho"],
                "host_site": "can-tho",
                "leader_groups": [],
                "chair": {"name": "o", "email": "o@example.org"},
                "start": "2026-12-11T08:00:00+07:00",
                "end": "2026-12-11T09:00:00+07:00",
            }
        )
    ).json()
    for token, own in ((api.chair, "ha-noi"), (api.coordinator, "da-nang")):
        listed = await api.http.get("/api/sessions", headers=api.auth(token))
        assert [s["id"] for s in listed.json()["sessions"]] == [mine["id"]]
        links = {s["site_id"]: s["join_url"] for s in listed.json()["sessions"][0]["sites"]}
        assert [k for k, v in links.items() if v] == [own]  # each link is a site's identity
        hidden = await api.http.get(f"/api/sessions/{other['id']}", headers=api.auth(token))
        is_problem(hidden, 404)
    d = await api.http.get("/api/directory", headers=api.auth(api.coordinator))
    assert [s["id"] for s in d.json()["sites"]] == ["da-nang"]
    full = await api.http.get("/api/directory", headers=api.auth(api.office))
    assert len(full.json()["sites"]) == 6
    assert {g["id"] for g in full.json()["leader_groups"]} == {"lanh-dao-bo"}
    head = {r["id"]: r["head_site"] for r in full.json()["regions"]}
    assert head["dong-bang-song-hong"] == "ha-noi"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"title=x", "application/x-www-form-urlencoded", 415),
        (b'{"title": "x"}', "application/json", 422),
        (b'{"unknown": 1}', "application/json", 422),
        (b"\xff\xfe", "application/json", 400),
    ],
)
async def test_malformed_bodies_are_4xx(
    api: Api, body: bytes, content_type: str, status: int
) -> None:
    r = await api.http.post(
        "/api/sessions",
        content=body,
        headers={**api.auth(api.office), "Content-Type": content_type},
    )
    is_problem(r, status)


@pytest.mark.parametrize(
    "change",
    [
        {"start": "2026-12-10"},  # no time zone
        {"start": "2026-12-10T08:00:00"},  # no offset
        {"end": "2026-12-10T07:00:00+07:00"},  # end before start
        {"timezone": "Mars/Olympus"},
        {"sites": ["Hà Nội"]},
        {"kind": "galactic"},
        {"chair": {"name": "x", "email": "not-an-email"}},
        {"buffer_before_minutes": -5},
        {"kind": "regional", "region": None},
        {"override_reason": "   "},
        {"title": ""},
    ],
)
async def test_invalid_fields_are_422_naming_the_field(api: Api, change: dict[str, Any]) -> None:
    body = is_problem(await api.book({**BOOKING, **change}), 422)
    assert body["code"] in ("validation_error", "invalid_request")
    assert body["errors"] or body["detail"]


async def test_unknown_site_is_422(api: Api) -> None:
    body = is_problem(await api.book({**BOOKING, "sites": ["ha-noi", "atlantis"]}), 422)
    assert "atlantis" in body["detail"]
    assert body["field"] == "sites"


async def test_patch_and_cancel(api: Api) -> None:
    s = (await api.book()).json()
    path = f"/api/sessions/{s['id']}"
    r = await api.http.patch(
        path,
        json={
            "start": "2026-12-10T13:30:00+07:00",
            "end": "2026-12-10T16:00:00+07:00",
            "remove_sites": ["nghe-an"],
        },
        headers=api.auth(api.office),
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    same = await api.http.patch(path, json={}, headers=api.auth(api.office))
    assert same.json()["version"] == 2  # an empty change changes nothing
    assert "nghe-an" not in [x["site_id"] for x in r.json()["sites"]]
    bad = await api.http.patch(
        path, json={"remove_sites": ["atlantis"]}, headers=api.auth(api.office)
    )
    is_problem(bad, 422)
    forbidden = await api.http.patch(path, json={"title": "x"}, headers=api.auth(api.chair))
    is_problem(forbidden, 403)
    c = await api.http.post(f"{path}/cancel", json={"reason": "hoãn"}, headers=api.auth(api.office))
    assert c.json()["status"] == "cancelled"
    c2 = await api.http.post(f"{path}/cancel", headers=api.auth(api.office))
    assert c2.status_code == 200
    assert c2.json()["status"] == "cancelled"
    gone = await api.http.patch(path, json={"title": "x"}, headers=api.auth(api.office))
    assert is_problem(gone, 409)["code"] == "invalid_state"
    missing = await api.http.get("/api/sessions/nope", headers=api.auth(api.office))
    is_problem(missing, 404)


async def test_slots_endpoint(api: Api) -> None:
    await api.book()
    r = await api.http.get(
        "/api/slots",
        params={
            "sites": "ha-noi,da-nang",
            "groups": "lanh-dao-bo",
            "duration_minutes": "90",
            "from": "2026-12-10T00:00:00+07:00",
            "to": "2026-12-11T00:00:00+07:00",
            "limit": "2",
        },
        headers=api.auth(api.office),
    )
    assert r.status_code == 200, r.text
    slots = r.json()["slots"]
    assert [s["start"] for s in slots] == ["2026-12-10T13:30:00+07:00", "2026-12-10T14:00:00+07:00"]
    bad = await api.http.get(
        "/api/slots",
        params={"sites": "ha-noi", "duration_minutes": "x"},
        headers=api.auth(api.office),
    )
    is_problem(bad, 422)


async def test_regional_plan_endpoint(api: Api) -> None:
    body = {
        "regions": ["dong-bang-song-hong", "dong-bang-song-cuu-long"],
        "from": "2026-12-14T00:00:00+07:00",
        "to": "2027-01-08T00:00:00+07:00",
        "duration_minutes": 180,
        "leader_groups": ["lanh-dao-bo"],
        "commit": True,
    }
    r = await api.http.post("/api/plans/regional", json=body, headers=api.auth(api.office))
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["committed"]
    assert [p["host_site"] for p in plan["proposals"]] == ["ha-noi", "can-tho"]
    assert len(plan["sessions"]) == 2


async def test_directory_import_over_http(api: Api) -> None:
    bad = await api.http.post(
        "/api/directory",
        content='[[sites]]\nid = "x"\nname = "X"\ntimezone = "Nowhere/Else"\n',
        headers={**api.auth(api.office), "Content-Type": "application/toml"},
    )
    body = is_problem(bad, 422)
    assert body["errors"][0]["line"] == 4
    assert body["errors"][0]["field"] == "sites[0].timezone"
    ok = await api.http.post(
        "/api/directory",
        content='[[sites]]\nid = "hue"\nname = "Sở GD&ĐT Huế"\n',
        headers={**api.auth(api.office), "Content-Type": "application/toml"},
    )
    assert ok.status_code == 200
    assert ok.json()["sites"] == 1


async def test_health_metrics_openapi(api: Api) -> None:
    h = await api.http.get("/healthz")
    assert h.json() == {"status": "ok", "database": "reachable"}
    await api.book()
    m = await api.http.get("/metrics")
    assert m.status_code == 200
    assert 'orchestrator_bookings_total{outcome="booked"} 1.0' in m.text
    assert "orchestrator_http_requests_total" in m.text
    spec = (await api.http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    post = spec["paths"]["/api/sessions"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    props = spec["components"]["schemas"][name]["properties"]
    assert set(BOOKING) <= set(props)
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "409" in post["responses"]
    slots = spec["paths"]["/api/slots"]["get"]
    assert {"sites", "from", "to", "duration_minutes"} <= {p["name"] for p in slots["parameters"]}


async def test_metrics_token(container: Container) -> None:
    from pydantic import SecretStr

    settings = container.settings.model_copy(
        update={
            "server": container.settings.server.model_copy(update={"metrics_token": SecretStr("m")})
        }
    )
    container.settings = settings
    server = TestServer(init_app(container), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with httpx.AsyncClient(base_url=str(server.make_url("/"))) as http:
            assert (await http.get("metrics")).status_code == 401
            ok = await http.get("metrics", headers={"Authorization": "Bearer m"})
            assert ok.status_code == 200
    finally:
        await server.close()


async def test_busy_database_is_503_not_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.store.base import RetryableStoreError

    async def busy(*args: object, **kwargs: object) -> None:
        raise RetryableStoreError("deadlock detected")

    monkeypatch.setattr(api.container.bookings, "list_sessions", busy)
    r = await api.http.get("/api/sessions", headers=api.auth(api.office))
    assert is_problem(r, 503)["code"] == "busy"
    assert r.headers["Retry-After"] == "1"
