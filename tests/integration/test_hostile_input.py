"""Hostile and odd input over HTTP, on SQLite and PostgreSQL: refused with a 4xx naming what is
wrong, never a 5xx. Bytes no client library would send are sent as raw bytes.

`served` (a six-site national session, a regional one with preparation tasks, an office token and
every webhook configured, on a real port) is shared with the schema-driven fuzzing test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from connectors.jaas_webhooks import sign
from orchestrator.booking.schemas import BookingOut, BookSessionRequest
from orchestrator.bootstrap import Container, build
from orchestrator.directory.loader import load_directory
from orchestrator.domain.clock import ManualClock
from orchestrator.domain.models import Role
from orchestrator.settings import JaasSettings, JitsiSettings, Settings
from orchestrator.web.app import init_app
from tests.conftest import EXAMPLE_DIRECTORY, OFFICE, SIX

EVENTS_TOKEN = "prosody-event-sync-token"
RESERVATIONS_TOKEN = "prosody-reservations-token"
JAAS_SECRET = "whsec_00112233445566778899aabbccddeeff"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # Thursday 08:00 in Hà Nội
REGIONAL_START = START + timedelta(days=33)  # Tuesday 12 January 2027


@dataclass
class Served:
    http: httpx.AsyncClient
    container: Container
    office: str
    national: BookingOut
    regional: BookingOut
    tasks: list[str]  # the regional session's preparation tasks

    @property
    def base_url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.office}"}


def configure(settings: Settings) -> Settings:
    """Every webhook configured, so their endpoints answer rather than refuse as unconfigured."""
    return settings.model_copy(
        update={
            "jitsi": JitsiSettings(
                events_token=SecretStr(EVENTS_TOKEN),
                reservations_token=SecretStr(RESERVATIONS_TOKEN),
            ),
            "jaas": JaasSettings(webhook_secret=SecretStr(JAAS_SECRET)),
        }
    )


def booking(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Hội nghị trực tuyến",
        "start": START.isoformat(),
        "end": (START + timedelta(hours=3)).isoformat(),
        "host_site": "ha-noi",
        "sites": SIX,
        "chair": {"name": "Chánh Văn phòng", "email": "chair@moet.example.org"},
        **fields,
    }


@asynccontextmanager
async def serve(settings: Settings, clock: ManualClock) -> AsyncIterator[Served]:
    """The service on a real port with the example directory and two booked sessions."""
    c = build(configure(settings), clock=clock)
    try:
        await c.directory.apply(load_directory(EXAMPLE_DIRECTORY), OFFICE)
        booked = []
        for body in (
            booking(),
            booking(
                title="Giao ban vùng",
                kind="regional",
                region="dong-bang-song-hong",
                sites=[],
                start=REGIONAL_START.isoformat(),
                end=(REGIONAL_START + timedelta(hours=2)).isoformat(),
                chair={"name": "Trưởng vùng", "email": "head@example.org"},
            ),
        ):
            answer = await c.bookings.book(BookSessionRequest.model_validate(body), OFFICE)
            booked.append(answer.value)
        national, regional = booked
        tasks = [t.id for t in (await c.preparation.board(regional.id, OFFICE)).tasks]
        office = (await c.access.create_token(Role.OFFICE, label="office")).token
        server = TestServer(init_app(c), host="127.0.0.1", port=0)
        await server.start_server()
        try:
            base = str(server.make_url("/")).rstrip("/")
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                yield Served(http, c, office, national, regional, tasks)
        finally:
            await server.close()
    finally:
        await c.close()


@pytest.fixture
async def served(settings: Settings, clock: ManualClock) -> AsyncIterator[Served]:
    async with serve(settings, clock) as s:
        yield s


def problem(r: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    for word in words:
        assert word in body["detail"], body
    return body


def refusal(r: httpx.Response, status: int, *words: str) -> None:
    """A platform endpoint's refusal: `{"message": ...}`, which Prosody shows."""
    assert r.status_code == status, r.text
    message = r.json()["message"]
    for word in words:
        assert word in message, message


# document uploads --------------------------------------------------------------------------


def submission(s: Served) -> str:
    return f"/api/sessions/{s.regional.id}/tasks/{s.tasks[0]}/submission"


def form(disposition: bytes, *headers: bytes, data: bytes = b"%PDF-1.7 minutes") -> bytes:
    lines = [b"--b", b"Content-Disposition: form-data; name=file; " + disposition, *headers]
    return b"\r\n".join([*lines, b"", data, b"--b--", b""])


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--b\r\n--b--\r\n"),  # no boundary
        ("multipart/form-data; boundary=b", b"--b\r\n--b--\r\n"),  # nothing but boundary lines
        ("multipart/form-data; boundary=b", b"--b\r\n\r\n--b\r\n--b--\r\n"),  # a part, no headers
        ("multipart/form-data; boundary=b", b"no boundary line at all"),
        ("multipart/form-data; boundary=" + "b" * 71, b"--b\r\n--b--\r\n"),  # boundary too long
        ("multipart/form-data; boundary=b", form(b'filename="a.pdf"')[:-12]),  # truncated
    ],
)
async def test_malformed_multipart_upload_is_400(
    served: Served, content_type: str, body: bytes
) -> None:
    r = await served.http.post(
        submission(served),
        content=body,
        headers={**served.auth(), "Content-Type": content_type},
    )
    assert problem(r, 400, "multipart/form-data")["code"] == "bad_request"


@pytest.mark.parametrize(
    "disposition",
    [
        b'filename="\xff\xfe.pdf"',  # undecodable: arrives as lone surrogates
        b"filename*=utf-8''minutes%00.pdf",  # NUL, which PostgreSQL cannot store
    ],
)
async def test_a_form_file_name_no_database_can_store_is_422(
    served: Served, disposition: bytes
) -> None:
    r = await served.http.post(
        submission(served),
        content=form(disposition),
        headers={**served.auth(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert problem(r, 422, "file name")["field"] == "filename"


async def stored_type(s: Served) -> str:
    async with s.container.store.read() as uow:
        return (await uow.preparation.get_submissions(s.regional.id))[s.tasks[0]].content_type


@pytest.mark.parametrize(
    "part_type",
    [
        b"Content-Type: application/\xff",  # undecodable
        b"Content-Type: application/" + b"x" * 4000,  # longer than the column
        b"Content-Type: not a media type",
    ],
)
async def test_a_strange_media_type_is_recorded_as_octet_stream(
    served: Served, part_type: bytes
) -> None:
    r = await served.http.post(
        submission(served),
        content=form(b'filename="minutes.pdf"', part_type),
        headers={**served.auth(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 201, r.text
    assert await stored_type(served) == "application/octet-stream"


async def test_a_plain_media_type_is_kept_without_its_parameters(served: Served) -> None:
    r = await served.http.post(
        submission(served),
        content=form(b'filename="minutes.pdf"', b"Content-Type: Application/PDF; x=1"),
        headers={**served.auth(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 201, r.text
    assert await stored_type(served) == "application/pdf"


# the booking API ---------------------------------------------------------------------------


@pytest.mark.parametrize("offset", ["99999999999999999999", "9223372036854775808", "2147483648"])
async def test_an_offset_past_any_listing_is_422(served: Served, offset: str) -> None:
    r = await served.http.get(f"/api/sessions?offset={offset}", headers=served.auth())
    assert problem(r, 422, "offset")["code"] == "validation_error"


async def test_the_largest_offset_lists_nothing(served: Served) -> None:
    r = await served.http.get("/api/sessions?offset=2147483647", headers=served.auth())
    assert r.status_code == 200, r.text
    assert r.json()["sessions"] == []


@pytest.mark.parametrize(
    "times",
    [
        # a buffer would carry the claim past the last instant datetime holds
        {"start": "9999-12-31T20:00:00Z", "end": "9999-12-31T22:00:00Z"},
        # and before the first one
        {"start": "0001-01-01T01:00:00Z", "end": "0001-01-01T02:00:00Z"},
    ],
)
async def test_a_booking_at_the_ends_of_the_calendar_is_422(
    served: Served, times: dict[str, str]
) -> None:
    body = booking(**times, buffer_before_minutes=720, buffer_after_minutes=720)
    r = await served.http.post("/api/sessions", json=body, headers=served.auth())
    assert problem(r, 422, "start", "between 1970 and 8999")["code"] == "validation_error"


async def test_moving_a_session_to_the_end_of_the_calendar_is_422(served: Served) -> None:
    r = await served.http.patch(
        f"/api/sessions/{served.national.id}",
        json={"start": "9999-12-31T20:00:00Z", "end": "9999-12-31T23:00:00Z"},
        headers=served.auth(),
    )
    problem(r, 422, "between 1970 and 8999")


@pytest.mark.parametrize(
    "window",
    [
        "from=0001-01-01T00:00:00Z&to=0001-02-01T00:00:00Z",
        "from=9999-12-01T00:00:00Z&to=9999-12-31T23:00:00Z",
    ],
)
async def test_a_slot_search_at_the_ends_of_the_calendar_is_422(
    served: Served, window: str
) -> None:
    r = await served.http.get(
        f"/api/slots?sites=ha-noi&duration_minutes=60&{window}", headers=served.auth()
    )
    problem(r, 422, "between 1970 and 8999")


# invites -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["%C3%A9t%C3%A9", "%FF%FE", "\u0301"])
async def test_an_answer_link_signed_with_other_than_ascii_is_refused(
    served: Served, sig: str
) -> None:
    r = await served.http.post(f"/rsvp/{served.national.id}/da-nang/accepted?sig={sig}")
    assert r.status_code == 403, r.text
    assert "Invalid link" in r.text


# the platforms' endpoints ------------------------------------------------------------------

CONFERENCE = "/hooks/jitsi/reservations/conference"
JAAS_SETTINGS = "/hooks/jaas/settings"


def reservations(content_type: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {RESERVATIONS_TOKEN}", "Content-Type": content_type}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--b\r\n--b--\r\n"),
        ("multipart/form-data; boundary=b", b"--b\r\n--b--\r\n"),
        ("application/x-www-form-urlencoded", b"name=\xff&start_time=x&mail_owner=x"),
    ],
)
async def test_a_reservation_form_that_cannot_be_read_is_400(
    served: Served, content_type: str, body: bytes
) -> None:
    r = await served.http.post(CONFERENCE, content=body, headers=reservations(content_type))
    refusal(r, 400, "not a well-formed form")


@pytest.mark.parametrize("field", ["name", "mail_owner"])
async def test_a_reservation_field_no_database_can_store_is_400(served: Served, field: str) -> None:
    fields = {
        "name": served.national.room or "",
        "start_time": "2026-12-10T01:00:00.000Z",
        "mail_owner": "chair@moet.example.org",
    }
    fields[field] += "\x00"
    r = await served.http.post(
        CONFERENCE, data=fields, headers={"Authorization": f"Bearer {RESERVATIONS_TOKEN}"}
    )
    refusal(r, 400, field, "cannot be stored")


async def test_a_reservations_token_of_undecodable_bytes_is_401(served: Served) -> None:
    headers: dict[str, str | bytes] = {"Authorization": b"Bearer \xff\xfe"}
    r = await served.http.get(f"{CONFERENCE}/{served.national.id}", headers=headers)
    refusal(r, 401, "reservations token")


def signed(body: bytes, now: datetime) -> dict[str, str]:
    t = int(now.timestamp())
    return {
        "X-Jaas-Signature": f"t={t},v1={sign(body, JAAS_SECRET, t)}",
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize(
    "fqn",
    [
        "vpaas-magic-cookie/room\x00",  # NUL, which PostgreSQL cannot store or compare
        "vpaas-magic-cookie/room\ud800",  # a lone surrogate, which no database can encode
    ],
)
async def test_jaas_settings_for_an_fqn_no_database_can_store_is_400(
    served: Served, clock: ManualClock, fqn: str
) -> None:
    body = json.dumps({"fqn": fqn}).encode()
    r = await served.http.post(
        "/hooks/jaas/settings", content=body, headers=signed(body, clock.now())
    )
    refusal(r, 400, "fqn", "cannot be stored")


async def test_jaas_settings_nested_past_any_parser_is_400(
    served: Served, clock: ManualClock
) -> None:
    body = b"[" * 100_000
    r = await served.http.post(
        "/hooks/jaas/settings", content=body, headers=signed(body, clock.now())
    )
    refusal(r, 400, "fqn")


@pytest.mark.parametrize("path", ["/hooks/jaas/settings", "/hooks/jaas"])
async def test_a_jaas_signature_of_undecodable_bytes_is_401(
    served: Served, clock: ManualClock, path: str
) -> None:
    t = int(clock.now().timestamp())
    headers: dict[str, str | bytes] = {
        "X-Jaas-Signature": f"t={t},v1=".encode() + b"\xff\xfe",
        "Content-Type": "application/json",
    }
    r = await served.http.post(path, content=b'{"fqn": "app/room"}', headers=headers)
    refusal(r, 401, "ASCII")


# credentials, times and nesting that every endpoint meets ------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/sessions", "/api/directory", "/hooks/jitsi/events/occupant/joined"]
)
async def test_a_bearer_token_of_undecodable_bytes_is_401(served: Served, path: str) -> None:
    headers: dict[str, str | bytes] = {"Authorization": b"Bearer \xff\xfe"}
    method = "POST" if path.startswith("/hooks") else "GET"
    r = await served.http.request(method, path, headers=headers, content=b"{}")
    assert r.status_code == 401, r.text


@pytest.mark.parametrize(
    "query",
    ["from=0001-01-01T00:00:00%2B07:00", "to=9999-12-31T23:59:59-07:00"],
)
async def test_a_listing_window_outside_the_calendar_is_422(served: Served, query: str) -> None:
    r = await served.http.get(f"/api/sessions?{query}", headers=served.auth())
    problem(r, 422, "outside the calendar")


async def test_json_nested_past_any_parser_is_400(served: Served) -> None:
    r = await served.http.post(
        "/api/sessions",
        content=b"[" * 100_000,
        headers={**served.auth(), "Content-Type": "application/json"},
    )
    problem(r, 400, "nested too deeply")


@pytest.mark.parametrize(
    "start_time", ["0001-01-01T00:00:00.000+01:00", "9999-12-31T23:59:59.000-01:00"]
)
async def test_a_reservation_outside_the_calendar_is_400(served: Served, start_time: str) -> None:
    fields = {
        "name": served.national.room or "",
        "start_time": start_time,
        "mail_owner": "focus@auth.meet.example.org",
    }
    r = await served.http.post(
        CONFERENCE, data=fields, headers={"Authorization": f"Bearer {RESERVATIONS_TOKEN}"}
    )
    refusal(r, 400, "outside the calendar")


async def test_a_session_cookie_of_undecodable_bytes_is_a_signed_out_visitor(
    served: Served,
) -> None:
    headers: dict[str, str | bytes] = {"Cookie": b"orch_session=ab\xff.cd\xfe"}
    r = await served.http.get("/office", headers=headers)
    assert r.status_code in (302, 303), r.text
    assert "/signin" in r.headers["location"]
