"""Endpoints the video platforms call: Jitsi's reservation API (DESIGN 6.5).

They answer in the platform's own shapes, not problem+json: Prosody shows a refusal's
`message` to the person trying to enter.
"""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from orchestrator.rooms.service import Reservation, RoomRefused, Rooms
from orchestrator.settings import JitsiSettings
from orchestrator.web.http import bearer

ROOMS = web.AppKey("rooms", Rooms)
JITSI = web.AppKey("jitsi", JitsiSettings)


def _answer(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
    )


def _refuse(status: int, message: str) -> web.Response:
    return _answer(status, {"message": message})


def _authorised(request: web.Request) -> web.Response | None:
    token = request.app[JITSI].reservations_token
    if token is None:
        return _refuse(503, "reservations are not configured on this orchestrator")
    given = (bearer(request) or "").encode()
    if not hmac.compare_digest(given, token.get_secret_value().encode()):
        return _refuse(401, "bad or missing reservations token")
    return None


async def create_conference(request: web.Request) -> web.Response:
    """Prosody's POST <prefix>/conference, form-encoded: name, start_time, mail_owner."""
    refused = _authorised(request)
    if refused is not None:
        return refused
    form = await request.post()
    fields = {k: form.get(k) for k in ("name", "start_time", "mail_owner")}
    if not all(isinstance(v, str) and v for v in fields.values()):
        return _refuse(400, "form fields name, start_time and mail_owner are required")
    try:
        reservation: Reservation = await request.app[ROOMS].reserve(
            str(fields["name"]), str(fields["start_time"]), str(fields["mail_owner"])
        )
    except RoomRefused as exc:
        return _refuse(exc.status, exc.message)
    return _answer(200, reservation.as_json())


async def get_conference(request: web.Request) -> web.Response:
    refused = _authorised(request)
    if refused is not None:
        return refused
    try:
        reservation = await request.app[ROOMS].reservation(request.match_info["id"])
    except RoomRefused as exc:
        return _refuse(exc.status, exc.message)
    return _answer(200, reservation.as_json())


async def delete_conference(request: web.Request) -> web.Response:
    """The room was destroyed; the booking stays as it is (a room may be opened again)."""
    refused = _authorised(request)
    if refused is not None:
        return refused
    return _answer(200, {"id": request.match_info["id"], "deleted": True})


def add_routes(app: web.Application) -> None:
    prefix = "/hooks/jitsi/reservations/conference"
    app.router.add_post(prefix, create_conference)
    app.router.add_get(prefix + "/{id}", get_conference)
    app.router.add_delete(prefix + "/{id}", delete_conference)
