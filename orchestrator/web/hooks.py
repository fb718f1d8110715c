"""Endpoints the video platforms call: Jitsi's reservation API (DESIGN 6.5).

They answer in the platform's own shapes, not problem+json: Prosody shows a refusal's
`message` to the person trying to enter.
"""

from __future__ import annotations

import hmac
import json

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from connectors.jaas_webhooks import SignatureInvalid, verify_signature
from orchestrator.domain.text import as_sent, unstorable
from orchestrator.rooms.service import Reservation, RoomRefused
from orchestrator.web.http import bearer
from orchestrator.web.keys import CLOCK, JAAS, JITSI, ROOMS

# One encoder for every answer: `json.dumps` with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def answer(status: int, body: dict[str, object]) -> web.Response:
    """The platforms' own JSON shape (not problem+json)."""
    # bytes, not str: a str body goes through aiohttp's payload registry (half the cost here)
    return web.Response(
        status=status,
        body=_ENCODER.encode(body).encode(),
        content_type="application/json",
        charset="utf-8",
    )


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def accepted(count: int) -> web.Response:
    """`{"accepted": count}`, the answer to every webhook taken: made without the encoder or
    aiohttp's content-type setters (a tenth of a webhook's own work under a flood)."""
    return web.Response(body=b'{"accepted":%d}' % count, headers=_JSON)


def refuse(status: int, message: str) -> web.Response:
    return answer(status, {"message": message})


def _authorised(request: web.Request) -> web.Response | None:
    token = request.app[JITSI].reservations_token
    if token is None:
        return refuse(503, "reservations are not configured on this orchestrator")
    # Undecodable header bytes arrive as lone surrogates: compare the bytes as sent.
    given = as_sent(bearer(request) or "")
    if not hmac.compare_digest(given, token.get_secret_value().encode()):
        return refuse(401, "bad or missing reservations token")
    return None


async def create_conference(request: web.Request) -> web.Response:
    """Prosody's POST <prefix>/conference, form-encoded: name, start_time, mail_owner."""
    refused = _authorised(request)
    if refused is not None:
        return refused
    try:
        form = await request.post()
    except (ValueError, RuntimeError, HttpProcessingError):
        # aiohttp's form parsers raise these for a body they cannot read (undecodable bytes,
        # multipart without a boundary or with a part without headers): the request is at fault.
        return refuse(400, "the body is not a well-formed form")
    fields = {k: form.get(k) for k in ("name", "start_time", "mail_owner")}
    if not all(isinstance(v, str) and v for v in fields.values()):
        return refuse(400, "form fields name, start_time and mail_owner are required")
    for key, value in fields.items():
        if unstorable(str(value)):
            return refuse(400, f"form field {key} holds a character that cannot be stored")
    try:
        reservation: Reservation = await request.app[ROOMS].reserve(
            str(fields["name"]), str(fields["start_time"]), str(fields["mail_owner"])
        )
    except RoomRefused as exc:
        return refuse(exc.status, exc.message)
    return answer(200, reservation.as_json())


async def get_conference(request: web.Request) -> web.Response:
    refused = _authorised(request)
    if refused is not None:
        return refused
    try:
        reservation = await request.app[ROOMS].reservation(request.match_info["id"])
    except RoomRefused as exc:
        return refuse(exc.status, exc.message)
    return answer(200, reservation.as_json())


async def delete_conference(request: web.Request) -> web.Response:
    """The room was destroyed; the booking stays as it is (a room may be opened again)."""
    refused = _authorised(request)
    if refused is not None:
        return refused
    return answer(200, {"id": request.match_info["id"], "deleted": True})


async def signed_jaas_body(request: web.Request) -> bytes | web.Response:
    """The body of a JaaS webhook once its signature holds (DESIGN 6.4), else the refusal to
    answer: 503 when no webhook secret is configured, 401 when the signature does not verify."""
    jaas = request.app[JAAS]
    if jaas.webhook_secret is None:
        return refuse(503, "JaaS webhooks are not configured on this orchestrator")
    body = await request.read()
    try:
        verify_signature(
            request.headers.get("X-Jaas-Signature"),
            body,
            jaas.webhook_secret.get_secret_value(),
            now=int(request.app[CLOCK].now().timestamp()),
        )
    except SignatureInvalid as exc:
        return refuse(401, str(exc))
    return body


async def jaas_settings(request: web.Request) -> web.Response:
    """JaaS SETTINGS_PROVISIONING (DESIGN 6.4): signed like every JaaS webhook."""
    body = await signed_jaas_body(request)
    if isinstance(body, web.Response):
        return body
    jaas = request.app[JAAS]
    try:
        data = json.loads(body)
        fqn = data["fqn"] if isinstance(data, dict) else None
    except (ValueError, KeyError, RecursionError):  # bad JSON or UTF-8, no fqn, nested too deep
        fqn = None
    if not isinstance(fqn, str):
        return refuse(400, "the body must be JSON with the meeting's fqn")
    if unstorable(fqn):
        return refuse(400, "the fqn holds a character that cannot be stored")
    try:
        settings = await request.app[ROOMS].jaas_settings(fqn, jaas.app_id)
    except RoomRefused as exc:
        return refuse(exc.status, exc.message)
    return answer(200, settings)
