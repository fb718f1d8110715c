"""Text no database can store (NUL, an unpaired surrogate) is refused by name, alike on SQLite
and PostgreSQL, wherever people type it: bodies, query parameters, paths and page forms."""

from __future__ import annotations

import json

import pytest

from tests.integration.attendance_kit import Board

BOOKING = {
    "title": "Họp giao ban",
    "start": "2026-12-14T08:00:00+07:00",
    "end": "2026-12-14T09:00:00+07:00",
    "host_site": "ha-noi",
    "sites": ["ha-noi", "da-nang"],
    "chair": {"name": "Chánh Văn phòng", "email": "chair@moet.example.org"},
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "Họp\u0000 giao ban"}, "title"),
        ({"chair": {"name": "Chánh\u0000", "email": "chair@moet.example.org"}}, "chair.name"),
        ({"sites": ["ha-noi", "da-nang\u0000"]}, "sites.1"),
        ({"title": "Họp \ud800"}, "title"),
    ],
)
async def test_a_booking_with_unstorable_text_is_refused_by_field(
    board: Board, change: dict[str, object], field: str
) -> None:
    r = await board.http.post(
        "/api/sessions",
        content=json.dumps({**BOOKING, **change}),
        headers={**board.auth(board.office), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


async def test_an_override_reason_with_nul_is_refused(board: Board) -> None:
    r = await board.http.post(
        f"/api/sessions/{board.session.id}/sites/da-nang/override",
        json={"verdict": "present", "reason": "đã\u0000 có mặt"},
        headers=board.auth(board.office),
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "reason"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/audit?target=x%00", "query.target"),
        ("/api/sessions?site=da%00nang", "query.site"),
        ("/api/sessions/abc%00def", "path"),
        ("/api/sessions/abc%00def/attendance", "path"),
    ],
)
async def test_unstorable_paths_and_query_parameters_are_refused(
    board: Board, path: str, field: str
) -> None:
    r = await board.http.get(path, headers=board.auth(board.office))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
