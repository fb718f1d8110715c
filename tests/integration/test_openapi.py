"""`/openapi.json` tells the truth: it validates, its references resolve, it names every route of
the real app (pages aside) by a concrete path, and what the app answers is what it documents."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request
from aiohttp.web_urldispatcher import AbstractRoute, StaticResource
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from orchestrator.booking.schemas import BookSessionRequest
from orchestrator.bootstrap import Container
from orchestrator.domain.models import Role
from orchestrator.settings import ServerSettings, Settings
from orchestrator.web.app import SPEC, init_app
from orchestrator.web.openapi import build_spec
from orchestrator.web.pages import NOT_PAGES
from tests.conftest import OFFICE, SIX

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
LIMIT = 64 * 1024  # a small body limit, so a 413 costs little to provoke
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 08:00 in Hà Nội


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_spec()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


# the document alone ------------------------------------------------------------------------


def test_the_document_validates_as_openapi_3_1(spec: dict[str, Any]) -> None:
    errors = [str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []


def _refs(node: object, where: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{where}/{i}")


def _pointer(doc: dict[str, Any], ref: str) -> object:
    node: object = doc
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert part in node, ref
        node = node[part]
    return node


def test_every_reference_resolves_within_the_document(spec: dict[str, Any]) -> None:
    refs = list(_refs(spec))
    assert refs, "the document uses references"
    broken = []
    for where, ref in refs:
        try:
            assert ref.startswith("#/components/"), ref
            _pointer(spec, ref)
        except AssertionError:
            broken.append(f"{where}: {ref}")
    assert broken == []
    assert "$defs" not in json.dumps(spec)


def test_paths_are_concrete_and_declare_their_parameters(spec: dict[str, Any]) -> None:
    for path, method, op in operations(spec):
        assert ":" not in "".join(re.findall(r"{[^}]*}", path)), f"a route pattern: {path}"
        templated = set(re.findall(r"{(\w+)}", path))
        declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        assert sorted(declared) == sorted(templated), f"{method.upper()} {path}"
        for p in op.get("parameters", []):
            if p["in"] == "path":
                assert p["required"] is True


def _media(op: dict[str, Any], status: int) -> set[str]:
    return set(op["responses"][str(status)].get("content", {}))


def test_the_statuses_each_operation_answers_are_documented(spec: dict[str, Any]) -> None:
    p = spec["paths"]
    session, site = "/api/sessions/{id}", "/api/sessions/{id}/sites/{site}"
    json_bodies = [
        (session, "patch"),
        (f"{site}/checkin", "post"),
        (f"{site}/override", "post"),
        (f"{site}/rsvp", "post"),
        ("/api/sessions", "post"),
        (f"{session}/cancel", "post"),
        ("/api/plans/regional", "post"),
    ]
    for path, method in json_bodies:
        op = p[path][method]
        for status in (400, 401, 413, 415, 422, 503):
            assert _media(op, status) == {"application/problem+json"}, (path, method, status)
    assert "404" in p[f"{site}/rsvp"]["post"]["responses"]
    assert {"401", "503"} <= set(p["/api/sites/{site}/calendar.ics"]["get"]["responses"])
    assert {"403", "404", "409"} <= set(p[f"{site}/checkin"]["post"]["responses"])
    assert "409" in p["/api/sessions"]["post"]["responses"]
    # a read with no body answers no 415, a use case that refuses nobody no 403
    assert "415" not in p[session]["get"]["responses"]
    assert "403" not in p["/api/directory"]["get"]["responses"]
    problem = p[session]["patch"]["responses"]["415"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_answers_other_than_json_carry_their_media_types(spec: dict[str, Any]) -> None:
    p = spec["paths"]
    record = "/api/sessions/{id}/attendance"
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert _media(p[f"{record}/stream"]["get"], 200) == {"text/event-stream"}
    assert _media(p[record]["get"], 200) == {"application/json", "text/csv", xlsx}
    assert _media(p[f"{record}.json"]["get"], 200) == {"application/json"}
    assert _media(p[f"{record}.csv"]["get"], 200) == {"text/csv"}
    assert _media(p[f"{record}.xlsx"]["get"], 200) == {xlsx}
    assert _media(p["/api/sites/{site}/calendar.ics"]["get"], 200) == {"text/calendar"}
    invite = p["/api/sessions/{id}/sites/{site}/invite.ics"]["get"]
    assert _media(invite, 200) == {"text/calendar"}


# the document against the real app ---------------------------------------------------------


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        server=ServerSettings(max_body_bytes=LIMIT),
    )


def _sample(path: str, op: dict[str, Any]) -> str:
    """The path with a value for each parameter (its first allowed value, if it has some)."""
    params = {p["name"]: p.get("schema", {}) for p in op.get("parameters", []) if p["in"] == "path"}
    return re.sub(r"{(\w+)}", lambda m: str(params[m[1]].get("enum", ["x"])[0]), path)


def _is_page(route: AbstractRoute) -> bool:
    """Pages (and their static files) answer HTML to browsers and are outside the document."""
    resource = route.resource
    assert resource is not None
    return isinstance(resource, StaticResource) or not resource.canonical.startswith(NOT_PAGES)


async def test_the_document_names_every_route_of_the_app_and_no_other(
    container: Container, spec: dict[str, Any]
) -> None:
    app = init_app(container)
    reached: set[AbstractRoute] = set()
    for path, method, op in operations(spec):
        request = make_mocked_request(method.upper(), _sample(path, op), app=app)
        match = await app.router.resolve(request)
        assert match.http_exception is None, f"{method.upper()} {path}: no such route"
        assert not _is_page(match.route)
        reached.add(match.route)
    # HEAD is answered for every GET the app adds with add_get; HTTP defines it as GET's headers
    routes = {r for r in app.router.routes() if r.method != "HEAD" and not _is_page(r)}
    missing = sorted(f"{r.method} {r.resource.canonical}" for r in routes - reached if r.resource)
    assert missing == []


@dataclass
class Live:
    http: httpx.AsyncClient
    spec: dict[str, Any]
    office: str
    coordinator: str  # da-nang
    session: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def operation(self, method: str, url: str) -> tuple[str, dict[str, Any]]:
        """The documented operation a request path falls to (literal paths before templated)."""
        path = httpx.URL(url).path
        found = [
            template
            for template in self.spec["paths"]
            if re.fullmatch(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)), path)
            and method in self.spec["paths"][template]
        ]
        assert found, f"{method.upper()} {path} is not in the document"
        template = min(found, key=lambda t: t.count("{"))
        return template, self.spec["paths"][template][method]

    def conforms(self, r: httpx.Response) -> None:
        """The answer's status and media type are documented, and a JSON body fits its schema."""
        template, op = self.operation(r.request.method.lower(), str(r.request.url))
        where = f"{r.request.method} {template} -> {r.status_code}"
        assert str(r.status_code) in op["responses"], f"{where}: status not documented"
        media = r.headers.get("content-type", "").split(";")[0].strip()
        content = op["responses"][str(r.status_code)].get("content", {})
        assert media in content, f"{where}: {media} not documented ({sorted(content)})"
        schema = content[media].get("schema")
        if schema is not None and media.endswith("json"):
            validator = Draft202012Validator({**schema, "components": self.spec["components"]})
            errors = [e.message for e in validator.iter_errors(r.json())]
            assert errors == [], f"{where}: {errors}"


@pytest.fixture
async def live(container: Container) -> AsyncIterator[Live]:
    booking = BookSessionRequest.model_validate(
        {
            "title": "Hội nghị trực tuyến",
            "start": START.isoformat(),
            "end": (START + timedelta(hours=3)).isoformat(),
            "host_site": "ha-noi",
            "sites": SIX,
            "chair": {"name": "Chánh Văn phòng", "email": "chair@moet.example.org"},
        }
    )
    answer = await container.bookings.book(booking, OFFICE)
    session = answer.value.id
    office = (await container.access.create_token(Role.OFFICE, label="office")).token
    coordinator = (await container.access.create_token(Role.COORDINATOR, site_id="da-nang")).token
    app: web.Application = init_app(container)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    base = str(server.make_url("/")).rstrip("/")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        yield Live(http, json.loads(app[SPEC]), office, coordinator, session)
    await server.close()


async def test_the_app_serves_the_document_it_builds(live: Live) -> None:
    r = await live.http.get("/openapi.json")
    assert r.status_code == 200
    assert r.json() == build_spec() == live.spec


async def test_what_the_app_answers_is_documented(live: Live) -> None:
    office, coordinator = live.auth(live.office), live.auth(live.coordinator)
    s = f"/api/sessions/{live.session}"
    as_text, as_json = {"Content-Type": "text/plain"}, {"Content-Type": "application/json"}
    site = f"{s}/sites/da-nang"
    answers = [
        await live.http.get("/healthz"),
        await live.http.get("/api/sessions", headers=office),
        await live.http.get(s, headers=office),
        await live.http.get(f"{s}/invites", headers=office),
        await live.http.get("/api/directory"),
        # 415: a body not sent as JSON
        await live.http.patch(s, content=b"title=x", headers={**office, **as_text}),
        await live.http.post(f"{site}/checkin", content=b"x", headers={**coordinator, **as_text}),
        await live.http.post(f"{site}/override", content=b"x", headers={**office, **as_text}),
        await live.http.post(f"{site}/rsvp", content=b"x", headers={**coordinator, **as_text}),
        # 400, 413, 422, 403, 409 and 404 from the booking and invite endpoints
        await live.http.post("/api/sessions", content=b"{", headers={**office, **as_json}),
        await live.http.post("/api/sessions", json={"title": "x" * LIMIT}, headers=office),
        await live.http.post("/api/sessions", json={}, headers=office),
        await live.http.post("/api/sessions", json={}, headers=coordinator),
        await live.http.post(f"{s}/attendance/freeze", headers=office),
        await live.http.post(
            "/api/sessions/no-such-session/sites/da-nang/rsvp",
            json={"response": "accepted"},
            headers=coordinator,
        ),
        # 401: no token, and a calendar feed without its own
        await live.http.get(f"{s}/attendance"),
        await live.http.get("/api/sites/da-nang/calendar.ics"),
        await live.http.get("/api/sites/da-nang/calendar.ics?token=wrong"),
        # the record in each format, the invite, the feed URL
        await live.http.get(f"{s}/attendance", headers=office),
        await live.http.get(f"{s}/attendance", headers={**office, "Accept": "text/csv"}),
        await live.http.get(f"{s}/attendance.json", headers=office),
        await live.http.get(f"{s}/attendance.csv", headers=office),
        await live.http.get(f"{s}/attendance.xlsx", headers=office),
        await live.http.get(f"{s}/attendance", headers=coordinator),
        await live.http.get(f"{site}/invite.ics", headers=office),
        await live.http.post("/api/sites/da-nang/feed", headers=coordinator),
        await live.http.get(f"{s}/tasks", headers=office),
        # the signed answer links, HTML
        await live.http.get(f"/rsvp/{live.session}/da-nang/accepted?sig=x"),
        await live.http.post(f"/rsvp/{live.session}/da-nang/accepted?sig=x"),
        # text no database can store, in the query
        await live.http.get("/api/sessions?site=%00", headers=office),
        # the platforms' endpoints, not configured here, answer in their own shape
        await live.http.post("/hooks/jaas", json={}),
        await live.http.post("/hooks/jitsi/events/room/created", json={}),
        await live.http.get("/hooks/jitsi/reservations/conference/x"),
        await live.http.get("/metrics"),
    ]  # fmt: skip
    statuses = {r.status_code for r in answers}
    assert {200, 201, 400, 401, 403, 404, 409, 413, 415, 422, 503} <= statuses
    for r in answers:
        live.conforms(r)


async def test_the_live_stream_is_documented_as_server_sent_events(live: Live) -> None:
    url = f"/api/sessions/{live.session}/attendance/stream"
    async with live.http.stream("GET", url, headers=live.auth(live.office)) as r:
        assert r.status_code == 200
        live.conforms(r)
