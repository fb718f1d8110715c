"""What `/openapi.json` says of the endpoints that do not answer like the JSON API: the video
platforms' hooks (in the platform's own shapes: `Message` when refusing) and the service's own
`/openapi.json`, `/metrics` and `/readyz`; with the schemas and security schemes only they use.

Each is keyed by its handler in the route table (`routes.py`); a hook or service route without an
entry here stops the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from orchestrator.attendance.sources import JaasEnvelope, SyncEvent
from orchestrator.web import attendance, hooks, ops
from orchestrator.web.http import PROBLEM, Handler
from orchestrator.web.openapi_schemas import (
    INTEGER,
    JSON,
    STRING,
    WHY,
    Schema,
    path_parameters,
    problem_answer,
    ref,
)


@dataclass(frozen=True)
class Hook:
    """One operation of a platform's endpoint. `path` is a concrete spelling of its route's
    pattern when the route stands for several (the event-sync webhooks), else the route's own."""

    operation_id: str
    summary: str
    security: str
    body: tuple[str, Schema | type[BaseModel]] | None
    answer: str  # a component schema
    refusals: tuple[int, ...]
    problems: tuple[int, ...]
    path: str | None = None


REFUSED = {
    400: 'The body is not what the platform sends (`{"message", "field"}`: `field` names the'
    " missing or bad field, e.g. `occupant.occupant_jid`, when there is one)",
    401: 'The platform\'s token or signature is missing or wrong (`{"message"}`)',
    403: 'The session was cancelled, has ended or does not open yet (`{"message"}`, shown to'
    " the person entering)",
    404: 'No session is booked for this room, or it was cancelled (`{"message"}`)',
    503: 'Not configured on this orchestrator (`{"message"}`); or, as problem+json, the database'
    " is busy",
}

_FORM = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "the room"},
        "start_time": {"type": "string", "description": "yyyy-MM-dd'T'HH:mm:ss.SSSX"},
        "mail_owner": {"type": "string", "description": "the first occupant's address"},
    },
    "required": ["name", "start_time", "mail_owner"],
}
_FQN = {"type": "object", "properties": {"fqn": {"type": "string"}}, "required": ["fqn"]}


def _event_sync(what: str, event: str) -> Hook:
    return Hook(
        f"event_sync_{what}_{event}",
        f"Prosody's event-sync webhook: {what} {event} (attendance)",
        "jitsiEvents",
        (JSON, SyncEvent),
        "Accepted",
        (400, 401, 503),
        (413, 422, 503),
        path=f"/hooks/jitsi/events/{what}/{event}",
    )


HOOKS: dict[Handler, tuple[Hook, ...]] = {
    hooks.create_conference: (
        Hook(
            "create_conference",
            "Jitsi's reservation API: may this room open now?",
            "jitsiReservations",
            ("application/x-www-form-urlencoded", _FORM),
            "Reservation",
            (400, 401, 403, 404, 503),
            (413, 422, 503),
        ),
    ),
    hooks.get_conference: (
        Hook(
            "get_conference",
            "Jitsi's reservation API: the reservation of a session, as of now",
            "jitsiReservations",
            None,
            "Reservation",
            (401, 404, 503),
            (422, 503),
        ),
    ),
    hooks.delete_conference: (
        Hook(
            "delete_conference",
            "Jitsi's reservation API: the room was destroyed (nothing changes)",
            "jitsiReservations",
            None,
            "Deleted",
            (401, 503),
            (422,),
        ),
    ),
    hooks.jaas_settings: (
        Hook(
            "jaas_settings",
            "JaaS settings provisioning: a meeting's settings from its booking",
            "jaasSignature",
            (JSON, _FQN),
            "JaasSettings",
            (400, 401, 503),
            (413, 422, 503),
        ),
    ),
    attendance.event_sync: tuple(
        _event_sync(what, event)
        for what, event in (
            ("room", "created"),
            ("room", "destroyed"),
            ("occupant", "joined"),
            ("occupant", "left"),
        )
    ),
    attendance.jaas_webhook: (
        Hook(
            "jaas_webhook",
            "JaaS webhooks (attendance): participants joining and leaving, rooms",
            "jaasSignature",
            (JSON, JaasEnvelope),
            "Accepted",
            (400, 401, 503),
            (413, 422, 503),
        ),
    ),
}


def hook_models() -> list[type[BaseModel]]:
    """The models the hooks' bodies are validated as (their schemas join the components)."""
    return [
        h.body[1]
        for docs in HOOKS.values()
        for h in docs
        if h.body is not None and isinstance(h.body[1], type)
    ]


_PLACEHOLDER = re.compile(r"{(\w+)(?::((?:[^{}]|{[^{}]*})+))?}")


def _matches(pattern: str, path: str) -> bool:
    """Whether the aiohttp route `pattern` (`{name}`, `{name:regex}`) matches `path`."""
    regex, last = "", 0
    for m in _PLACEHOLDER.finditer(pattern):
        regex += re.escape(pattern[last : m.start()]) + (f"(?:{m[2]})" if m[2] else "[^/]+")
        last = m.end()
    return re.fullmatch(regex + re.escape(pattern[last:]), path) is not None


def hook_operations(method: str, pattern: str, handler: Handler) -> Iterator[tuple[str, Schema]]:
    """(path, operation) for each documented spelling of a hook's route."""
    docs = HOOKS.get(handler)
    if docs is None:
        raise LookupError(f"{method} {pattern}: say what {handler.__name__} answers (HOOKS)")
    for h in docs:
        path = h.path or pattern
        if h.path is not None and not _matches(pattern, h.path):
            raise ValueError(f"{h.path} is not a spelling of {pattern}")
        yield path, _hook_operation(h, path)


def _hook_operation(h: Hook, path: str) -> Schema:
    responses: Schema = {
        "200": {"description": "Success", "content": {JSON: {"schema": ref(h.answer)}}}
    }
    for status in sorted({*h.refusals, *h.problems}):
        content: Schema = {}
        if status in h.refusals:
            content[JSON] = {"schema": ref("Message")}
        if status in h.problems:
            content[PROBLEM] = {"schema": ref("Problem")}
        why = REFUSED[status] if status in h.refusals else WHY[status]
        responses[str(status)] = {"description": why, "content": content}
    op: Schema = {
        "summary": h.summary,
        "description": "Called by the video platform; answers in its shape, not problem+json"
        " (except 413, 422 and a busy database).",
        "operationId": h.operation_id,
        "parameters": path_parameters(path),
        "security": [{h.security: []}],
        "responses": responses,
    }
    if h.body is not None:
        media, schema = h.body
        body = ref(schema.__name__) if isinstance(schema, type) else schema
        op["requestBody"] = {"required": True, "content": {media: {"schema": body}}}
    return op


def _document() -> Schema:
    return {
        "summary": "This document",
        "description": "Who: anyone.",
        "operationId": "openapi",
        "responses": {
            "200": {
                "description": "The OpenAPI 3.1 document",
                "content": {JSON: {"schema": {"type": "object"}}},
            },
            "422": problem_answer(WHY[422], 422),
            "503": problem_answer(WHY[503], 503),
        },
    }


def _metrics() -> Schema:
    return {
        "summary": "Prometheus metrics",
        "description": "Who: anyone, or only the bearer of `[server] metrics_token` when"
        " it is set.",
        "operationId": "metrics",
        "security": [{}, {"metricsToken": []}],
        "responses": {
            "200": {
                "description": "The Prometheus text format",
                "content": {"text/plain": {"schema": STRING}},
            },
            "401": problem_answer("`[server] metrics_token` is set and was not sent", 401),
            "422": problem_answer(WHY[422], 422),
            "503": problem_answer(WHY[503], 503),
        },
    }


def _readiness() -> Schema:
    return {
        "summary": "Readiness: the database is reachable and migrated to the latest revision",
        "description": "Who: anyone. For load balancers: 503 until this instance may take"
        " traffic (`/healthz` is liveness). The answer is kept for a second, so frequent polls"
        " cost the database little.",
        "operationId": "readyz",
        "responses": {
            "200": {
                "description": "Ready",
                "content": {JSON: {"schema": ref("Ready")}},
            },
            "422": problem_answer(WHY[422], 422),
            "503": problem_answer(
                "Not ready: the database cannot be reached, or its schema is not at the latest"
                " revision (`orchestrator db upgrade`); `detail` says which",
                503,
            ),
        },
    }


_SERVICE: dict[Handler, Callable[[], Schema]] = {
    ops.openapi: _document,
    ops.metrics: _metrics,
    ops.readyz: _readiness,
}


def service_operation(method: str, path: str, handler: Handler) -> Schema:
    """The operation of one of the service's own endpoints."""
    build = _SERVICE.get(handler)
    if build is None:
        raise LookupError(f"{method} {path}: say what {handler.__name__} answers (_SERVICE)")
    return build()


HOOK_SCHEMAS: dict[str, Schema] = {
    "Ready": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "const": "ready"},
            "database": {"type": "string", "const": "migrated"},
        },
        "required": ["status", "database"],
    },
    "Message": {
        "type": "object",
        "description": "A video platform's refusal; Prosody shows `message` to the person."
        " A refused body also names the missing or bad `field` (a dotted path)",
        "properties": {"message": STRING, "field": STRING},
        "required": ["message"],
    },
    "Reservation": {
        "type": "object",
        "description": "What Prosody's reservation API expects: `duration` in seconds",
        "properties": {
            "id": STRING,
            "name": STRING,
            "mail_owner": STRING,
            "start_time": STRING,
            "duration": INTEGER,
            "max_occupants": INTEGER,
        },
        "required": ["id", "name", "mail_owner", "start_time", "duration", "max_occupants"],
    },
    "Deleted": {
        "type": "object",
        "properties": {"id": STRING, "deleted": {"type": "boolean"}},
        "required": ["id", "deleted"],
    },
    "JaasSettings": {
        "type": "object",
        "properties": {
            "lobbyEnabled": {"type": "boolean"},
            "maxOccupants": INTEGER,
            "visitorsEnabled": {"type": "boolean"},
            "participantsSoftLimit": INTEGER,
        },
        "required": ["lobbyEnabled", "maxOccupants", "visitorsEnabled"],
    },
    "Accepted": {
        "type": "object",
        "properties": {"accepted": {"type": "integer", "description": "events new to the log"}},
        "required": ["accepted"],
    },
}

HOOK_SECURITY: dict[str, Schema] = {
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "`[server] metrics_token`, needed only when it is set",
    },
    "jitsiReservations": {
        "type": "http",
        "scheme": "bearer",
        "description": "`[jitsi] reservations_token`",
    },
    "jitsiEvents": {
        "type": "http",
        "scheme": "bearer",
        "description": "`[jitsi] events_token` (the bare token is accepted too)",
    },
    "jaasSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Jaas-Signature",
        "description": "`t=<unix seconds>,v1=<signature>` with `[jaas] webhook_secret`, at most"
        " 300 s from now",
    },
}
