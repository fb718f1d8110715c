"""`/openapi.json`: every endpoint but the pages, built from the route table, the pydantic models
that validate requests and answers, and what each handler is known to answer besides success.

A handler added to `ROUTES` without a line in `_KNOWN` stops the build: the document never
guesses what an endpoint answers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from orchestrator.attendance.sources import JaasEnvelope, SyncEvent
from orchestrator.web import api, attendance, invites, preparation
from orchestrator.web.api import ROUTES, Route
from orchestrator.web.attendance import XLSX
from orchestrator.web.http import PROBLEM, Handler

Schema = dict[str, Any]

JSON = "application/json"
_COMPONENT = "#/components/schemas/"
_LOCAL = "#/$defs/"

# Why a status may come (problem+json), unless an operation says more in `_Known.why`.
_WHY: dict[int, str] = {
    400: "The body is not JSON, or not a JSON object (`bad_request`)",
    401: "No `Authorization: Bearer`, or an unknown or revoked token (`unauthenticated`)",
    403: "The caller's role may not do this (`forbidden`)",
    404: "No such session, site or task, or one the caller may not see (`not_found`)",
    409: "Claims held by other sessions (`booking_conflict`, see `conflicts`), or the session's"
    " state forbids it (`invalid_state`)",
    413: "The body is over `[server] max_body_bytes` (`request_entity_too_large`)",
    415: "The body is not sent as `application/json` (`unsupported_media_type`)",
    422: "Invalid input: a field missing, malformed or unknown (`validation_error`, see `errors`),"
    " well-formed but meaningless (`invalid_request`, see `field`), a booking-policy breach"
    " (`policy_violation`, see `rule`), or text in the path or query that no database can store",
    503: "The database is busy (`busy`): retry after `Retry-After` seconds",
}
# Every request may answer these: the path and query are checked for text no database can store
# before any handler runs, and any call may find the database busy (if only to read a signed-in
# browser's cookie).
_EVERY = (422, 503)


@dataclass(frozen=True)
class _Known:
    """What a handler answers besides its success and what every operation of its kind answers:
    the errors its use case raises (`why` says more of them), its own query parameters, and the
    formats of its success when it has several (by the path's suffix or by `Accept`)."""

    errors: tuple[int, ...] = ()
    why: dict[int, str] = field(default_factory=dict)
    query: tuple[Schema, ...] = ()
    formats: dict[str, str] = field(default_factory=dict)


def _query(name: str, description: str, *, required: bool = False) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": {"type": "string"},
        "description": description,
    }


_HTML_ERRORS = {
    403: "A wrong signature (an HTML page)",
    404: "No such session, a site not in it, or an answer other than `accepted` and `declined`"
    " (an HTML page)",
    409: "The session was cancelled (an HTML page)",
}

_KNOWN: dict[Handler, _Known] = {
    api.healthz: _Known(why={503: "The database cannot be reached (`unhealthy`)"}),
    api.get_directory: _Known(),
    api.import_directory: _Known(
        (403, 422),
        why={422: "The file is not a valid directory (`invalid_directory`, see `errors`)"},
    ),
    api.book_session: _Known((403, 409, 422)),
    api.list_sessions: _Known((422,)),
    api.get_session: _Known((404,)),
    api.update_session: _Known((403, 404, 409, 422)),
    api.cancel_session: _Known((403, 404, 409, 422)),
    api.find_slots: _Known((403, 422)),
    api.plan_regional: _Known((403, 409, 422)),
    api.audit_log: _Known((403, 422)),
    invites.invite_status: _Known((404,)),
    invites.invite_ics: _Known(
        (403, 404, 422), why={422: "The site has no coordinator email (`invalid_request`)"}
    ),
    invites.rsvp: _Known((403, 404, 409, 422)),
    invites.create_feed: _Known((403, 404)),
    invites.feed: _Known(
        (401,), why={401: "The `token` is missing, unknown, replaced or another site's"}
    ),
    invites.rsvp_link: _Known(
        query=(_query("sig", "The link's signature, carried into the confirming form"),)
    ),
    invites.rsvp_link_confirm: _Known(
        (403, 404, 409),
        why=_HTML_ERRORS,
        query=(_query("sig", "The link's signature", required=True),),
    ),
    attendance.checkin: _Known((403, 404, 409, 422)),
    attendance.override: _Known((403, 404, 409, 422)),
    attendance.record: _Known(
        (403, 404),
        why={403: "A coordinator of one of the session's sites (`forbidden`)"},
        query=(_query("lang", "`en` for English column headers in CSV and XLSX, else Vietnamese"),),
        formats={".json": JSON, ".csv": "text/csv", ".xlsx": XLSX},
    ),
    attendance.stream: _Known(
        (403, 404), why={403: "A coordinator of one of the session's sites (`forbidden`)"}
    ),
    attendance.freeze: _Known((403, 404, 409)),
    preparation.board: _Known((404,)),
    preparation.submit: _Known(
        (400, 403, 404, 422),
        why={400: "The body is not well-formed multipart/form-data (`bad_request`)"},
        query=(_query("filename", "The document's file name, when the body is the raw document"),),
    ),
}


@dataclass(frozen=True)
class _Hook:
    """An endpoint a video platform calls: it answers in the platform's shape (`Message` when
    refusing), except what the middleware answers first (problem+json)."""

    method: str
    path: str
    operation_id: str
    summary: str
    security: str
    body: tuple[str, Schema] | None
    answer: str  # a component schema
    refusals: tuple[int, ...]
    problems: tuple[int, ...]


_REFUSED = {
    400: 'The body is not what the platform sends (`{"message"}`)',
    401: 'The platform\'s token or signature is missing or wrong (`{"message"}`)',
    403: 'The session was cancelled, has ended or does not open yet (`{"message"}`, shown to'
    " the person entering)",
    404: 'No session is booked for this room, or it was cancelled (`{"message"}`)',
    503: 'Not configured on this orchestrator (`{"message"}`); or, as problem+json, the database'
    " is busy",
}


def _event_sync(what: str, event: str) -> _Hook:
    return _Hook(
        "POST",
        f"/hooks/jitsi/events/{what}/{event}",
        f"event_sync_{what}_{event}",
        f"Prosody's event-sync webhook: {what} {event} (attendance)",
        "jitsiEvents",
        (JSON, _ref(SyncEvent.__name__)),
        "Accepted",
        (400, 401, 503),
        (413, 422, 503),
    )


def _hooks() -> list[_Hook]:
    conference = "/hooks/jitsi/reservations/conference"
    form = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "the room"},
            "start_time": {"type": "string", "description": "yyyy-MM-dd'T'HH:mm:ss.SSSX"},
            "mail_owner": {"type": "string", "description": "the first occupant's address"},
        },
        "required": ["name", "start_time", "mail_owner"],
    }
    fqn = {"type": "object", "properties": {"fqn": {"type": "string"}}, "required": ["fqn"]}
    return [
        _Hook(
            "POST",
            conference,
            "create_conference",
            "Jitsi's reservation API: may this room open now?",
            "jitsiReservations",
            ("application/x-www-form-urlencoded", form),
            "Reservation",
            (400, 401, 403, 404, 503),
            (413, 422, 503),
        ),
        _Hook(
            "GET",
            conference + "/{id}",
            "get_conference",
            "Jitsi's reservation API: the reservation of a session, as of now",
            "jitsiReservations",
            None,
            "Reservation",
            (401, 404, 503),
            (422, 503),
        ),
        _Hook(
            "DELETE",
            conference + "/{id}",
            "delete_conference",
            "Jitsi's reservation API: the room was destroyed (nothing changes)",
            "jitsiReservations",
            None,
            "Deleted",
            (401, 503),
            (422,),
        ),
        _Hook(
            "POST",
            "/hooks/jaas/settings",
            "jaas_settings",
            "JaaS settings provisioning: a meeting's settings from its booking",
            "jaasSignature",
            (JSON, fqn),
            "JaasSettings",
            (400, 401, 503),
            (413, 422, 503),
        ),
        *(
            _event_sync(what, event)
            for what, event in (
                ("room", "created"),
                ("room", "destroyed"),
                ("occupant", "joined"),
                ("occupant", "left"),
            )
        ),
        _Hook(
            "POST",
            "/hooks/jaas",
            "jaas_webhook",
            "JaaS webhooks (attendance): participants joining and leaving, rooms",
            "jaasSignature",
            (JSON, _ref(JaasEnvelope.__name__)),
            "Accepted",
            (400, 401, 503),
            (413, 422, 503),
        ),
    ]


# shared schemas ----------------------------------------------------------------------------

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_SHARED: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `type` is `urn:orchestrator:problem:<code>`",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": _INTEGER,
            "detail": _STRING,
            "code": _STRING,
            "instance": {"type": "string", "description": "the request's path"},
            "field": {"type": "string", "description": "the input at fault (`invalid_request`)"},
            "errors": {
                "type": "array",
                "description": "each invalid field (`validation_error`) or line of a directory"
                " file (`invalid_directory`)",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": ["string", "null"]},
                        "message": _STRING,
                        "type": _STRING,
                        "line": {"type": ["integer", "null"]},
                    },
                    "required": ["message"],
                },
            },
            "rule": {"type": "string", "description": "the first broken booking rule"},
            "violations": {
                "type": "array",
                "description": "every broken booking rule (`policy_violation`)",
                "items": {
                    "type": "object",
                    "properties": {
                        "rule": _STRING,
                        "detail": _STRING,
                        "site_id": {"type": ["string", "null"]},
                    },
                    "required": ["rule", "detail", "site_id"],
                },
            },
            "conflicts": {
                "type": "array",
                "description": "each claim another session holds, over its buffered range",
                "items": {
                    "type": "object",
                    "properties": {
                        "resource": _STRING,
                        "session_id": _STRING,
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                    },
                    "required": ["resource", "session_id", "start", "end"],
                },
            },
        },
    },
    "Message": {
        "type": "object",
        "description": "A video platform's refusal; Prosody shows `message` to the person",
        "properties": {"message": _STRING},
        "required": ["message"],
    },
    "Reservation": {
        "type": "object",
        "description": "What Prosody's reservation API expects: `duration` in seconds",
        "properties": {
            "id": _STRING,
            "name": _STRING,
            "mail_owner": _STRING,
            "start_time": _STRING,
            "duration": _INTEGER,
            "max_occupants": _INTEGER,
        },
        "required": ["id", "name", "mail_owner", "start_time", "duration", "max_occupants"],
    },
    "Deleted": {
        "type": "object",
        "properties": {"id": _STRING, "deleted": {"type": "boolean"}},
        "required": ["id", "deleted"],
    },
    "JaasSettings": {
        "type": "object",
        "properties": {
            "lobbyEnabled": {"type": "boolean"},
            "maxOccupants": _INTEGER,
            "visitorsEnabled": {"type": "boolean"},
            "participantsSoftLimit": _INTEGER,
        },
        "required": ["lobbyEnabled", "maxOccupants", "visitorsEnabled"],
    },
    "Accepted": {
        "type": "object",
        "properties": {"accepted": {"type": "integer", "description": "events new to the log"}},
        "required": ["accepted"],
    },
}
_SECURITY: dict[str, Schema] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`orch_…`)"},
    "feedToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The site's current calendar feed token (from `POST …/feed`)",
    },
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
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait (with `busy`)", "schema": _INTEGER}}
_CHALLENGE = {"WWW-Authenticate": {"description": "`Bearer`", "schema": _STRING}}


def _ref(name: str) -> Schema:
    return {"$ref": _COMPONENT + name}


def _hoist(node: Any, into: dict[str, Schema]) -> Any:
    """`node` with every nested `$defs` moved into `into` (the document's components) and the
    references to them rewritten, so that each `$ref` resolves within the document."""
    if isinstance(node, list):
        return [_hoist(value, into) for value in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "$defs":
            for name, schema in value.items():
                hoisted = _hoist(schema, into)
                if into.setdefault(name, hoisted) != hoisted:
                    raise ValueError(f"two different schemas are named {name}")
        elif key == "$ref" and isinstance(value, str) and value.startswith(_LOCAL):
            out[key] = _COMPONENT + value.removeprefix(_LOCAL)
        else:
            out[key] = _hoist(value, into)
    return out


def _present(schema: Schema) -> Schema:
    """A query parameter's schema without pydantic's `null`: a parameter is absent or a value."""
    schema = {k: v for k, v in schema.items() if not (k == "default" and v is None)}
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            return {**kept[0], **schema}
        schema["anyOf"] = kept
    return schema


def _query_parameters(model: type[BaseModel], schemas: dict[str, Schema]) -> list[Schema]:
    schema = _hoist(model.model_json_schema(ref_template=_COMPONENT + "{model}"), schemas)
    props, required = schema.get("properties", {}), set(schema.get("required", []))
    params = []
    for name, info in model.model_fields.items():
        alias = info.alias or name
        param: Schema = {
            "name": alias,
            "in": "query",
            "required": alias in required,
            "schema": _present(props.get(alias, {})),
        }
        if info.description:
            param["description"] = info.description
        params.append(param)
    return params


# aiohttp patterns --------------------------------------------------------------------------

_PATTERN = re.compile(r"{(\w+):((?:[^{}]|{[^{}]*})+)}")
_GROUP = re.compile(r"(.*?)\(\?:([^()]*)\)(.*)")
_META = re.compile(r"[.^$*+?{}\[\]()|]")


def _literal(text: str) -> str:
    if _META.search(re.sub(r"\\.", "", text)):
        raise ValueError(f"not a literal: {text!r}")
    return re.sub(r"\\(.)", r"\1", text)


def _spellings(regex: str) -> list[str]:
    """Every string an aiohttp route's regex matches, for a regex of literal alternatives
    (`room|occupant`, `\\.(?:json|csv)`); any other regex raises ValueError, so that no route
    pattern ends up in the document as a path."""
    grouped = _GROUP.fullmatch(regex)
    before, options, after = grouped.groups() if grouped else ("", regex, "")
    words = [_literal(before) + _literal(o) + _literal(after) for o in options.split("|")]
    if not all(re.fullmatch(regex, w) for w in words):
        raise ValueError(f"cannot spell out {regex!r}")
    return words


def _concrete(path: str) -> list[tuple[str, str]]:
    """(path, spelling) for each concrete path an aiohttp route stands for: `{name}` stays a path
    parameter, a `{name:regex}` is spelled out (one per route at most)."""
    patterns = list(_PATTERN.finditer(path))
    if not patterns:
        return [(path, "")]
    if len(patterns) > 1:
        raise ValueError(f"{path}: one pattern per route at most")
    m = patterns[0]
    return [(path[: m.start()] + w + path[m.end() :], w) for w in _spellings(m[2])]


# operations --------------------------------------------------------------------------------


def _problem(description: str, status: int) -> Schema:
    answer: Schema = {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}
    if status == 503:
        answer["headers"] = _RETRY_AFTER
    if status == 401:
        answer["headers"] = _CHALLENGE
    return answer


def _path_parameters(path: str) -> list[Schema]:
    return [
        {"name": p, "in": "path", "required": True, "schema": _STRING}
        for p in re.findall(r"{(\w+)}", path)
    ]


def _media_schema(media: str, model: Schema | None) -> Schema:
    if media == JSON and model is not None:
        return model
    if media == XLSX:
        return {"type": "string", "format": "binary"}
    if media == "text/event-stream":
        return {
            "type": "string",
            "description": "`event: attendance` with the whole record first, then"
            " `event: changes` (the rows that changed) or `attendance` again; a comment line"
            " after 15 quiet seconds",
        }
    return _STRING


def _request_body(r: Route, keyed: dict[Any, Schema]) -> Schema | None:
    if r.body is not None:
        schema = keyed[(r.body, "validation")]
        content = {JSON: {"schema": schema}}
        if r.method == "PATCH":
            content["application/merge-patch+json"] = {"schema": schema}
        # a cancel may come without a body; every other JSON body is required
        return {"required": not r.path.endswith("/cancel"), "content": content}
    if r.body_type == "multipart/form-data":
        document = {"type": "string", "format": "binary"}
        return {
            "required": True,
            "description": "The document in a form field `file`, or the raw document (in its"
            " own media type) with `?filename=`",
            "content": {
                r.body_type: {
                    "schema": {
                        "type": "object",
                        "properties": {"file": document},
                        "required": ["file"],
                    }
                },
                "application/octet-stream": {"schema": document},
            },
        }
    if r.body_type != JSON:
        # the handler reads the body as text whatever its declared type
        text = {"schema": _STRING}
        return {"required": True, "content": {r.body_type: text, "text/plain": text}}
    return None


def _json_model(r: Route) -> type[BaseModel] | None:
    """The model of the handler's JSON answer (a route serving other formats may not name it)."""
    if r.answer is not None:
        return r.answer
    return next((o.answer for o in ROUTES if o.handler is r.handler and o.answer), None)


def _route_operations(
    r: Route, keyed: dict[Any, Schema], schemas: dict[str, Schema]
) -> Iterator[tuple[str, Schema]]:
    known = _KNOWN.get(r.handler)
    if known is None:
        raise LookupError(f"{r.method} {r.path}: say what {r.handler.__name__} answers (_KNOWN)")
    model = _json_model(r)
    model_schema = keyed[(model, "serialization")] if model is not None else None
    statuses = {*_EVERY, *known.errors}
    if r.auth:
        statuses.add(401)
    if r.body is not None:
        statuses |= {400, 413, 415}
    elif r.body_type != JSON:
        statuses.add(413)
    html = r.answer_type == "text/html"
    for path, spelling in _concrete(r.path):
        if known.formats:
            wanted = [known.formats[spelling]] if spelling else list(known.formats.values())
        else:
            wanted = [r.answer_type] if r.answer_type != JSON or model is not None else []
        ok: Schema = {"description": "Success"}
        if wanted:
            ok["content"] = {m: {"schema": _media_schema(m, model_schema)} for m in wanted}
        if r.idempotent_create:
            ok["headers"] = {
                "Idempotent-Replayed": {
                    "description": "`true` when this is the stored answer of an earlier request",
                    "schema": _STRING,
                }
            }
        responses: Schema = {str(s): ok for s in (r.status, *r.also)}
        for status in sorted(statuses):
            why = known.why.get(status, _WHY[status])
            if html and status in known.errors:
                page = {r.answer_type: {"schema": _STRING}}
                responses[str(status)] = {"description": why, "content": page}
            else:
                responses[str(status)] = _problem(why, status)
        parameters = _path_parameters(path) + list(known.query)
        if r.query is not None:
            parameters += _query_parameters(r.query, schemas)
        if r.idempotent_create:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": "A retry with the same key returns the first answer",
                }
            )
        op: Schema = {
            "summary": r.summary,
            "description": f"Who: {r.who}.",
            "operationId": r.handler.__name__ + re.sub(r"\W+", "_", spelling),
            "parameters": parameters,
        }
        body = _request_body(r, keyed)
        if body is not None:
            op["requestBody"] = body
        op["responses"] = responses
        if r.auth:
            op["security"] = [{"bearer": []}]
        elif r.handler is invites.feed:
            op["security"] = [{"feedToken": []}]
        yield path, op


def _hook_operation(h: _Hook) -> Schema:
    responses: Schema = {
        "200": {"description": "Success", "content": {JSON: {"schema": _ref(h.answer)}}}
    }
    for status in sorted({*h.refusals, *h.problems}):
        content: Schema = {}
        if status in h.refusals:
            content[JSON] = {"schema": _ref("Message")}
        if status in h.problems:
            content[PROBLEM] = {"schema": _ref("Problem")}
        why = _REFUSED[status] if status in h.refusals else _WHY[status]
        responses[str(status)] = {"description": why, "content": content}
    op: Schema = {
        "summary": h.summary,
        "description": "Called by the video platform; answers in its shape, not problem+json"
        " (except 413, 422 and a busy database).",
        "operationId": h.operation_id,
        "parameters": _path_parameters(h.path),
        "security": [{h.security: []}],
        "responses": responses,
    }
    if h.body is not None:
        media, schema = h.body
        op["requestBody"] = {"required": True, "content": {media: {"schema": schema}}}
    return op


def _service_operations() -> dict[str, Schema]:
    busy = _problem(_WHY[503], 503)
    text = _problem(_WHY[422], 422)
    return {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "description": "Who: anyone.",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    },
                    "422": text,
                    "503": busy,
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "description": "Who: anyone, or only the bearer of `[server] metrics_token` when"
                " it is set.",
                "operationId": "metrics",
                "security": [{}, {"metricsToken": []}],
                "responses": {
                    "200": {
                        "description": "The Prometheus text format",
                        "content": {"text/plain": {"schema": _STRING}},
                    },
                    "401": _problem("`[server] metrics_token` is set and was not sent", 401),
                    "422": text,
                    "503": busy,
                },
            }
        },
    }


def build_spec(
    title: str = "Video-conference session orchestrator", version: str = "0.1.0"
) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for r in ROUTES:
        uses: tuple[tuple[type[BaseModel] | None, JsonSchemaMode], ...] = (
            (r.body, "validation"),
            (_json_model(r), "serialization"),
        )
        for m, mode in uses:
            if m is not None and (m, mode) not in wanted:
                wanted.append((m, mode))
    wanted += [(SyncEvent, "validation"), (JaasEnvelope, "validation")]
    keyed, defs = models_json_schema(wanted, ref_template=_COMPONENT + "{model}")
    schemas: dict[str, Schema] = {}
    _hoist(defs, schemas)
    for name, schema in _SHARED.items():
        if schemas.setdefault(name, schema) is not schema:
            raise ValueError(f"a model is named {name}, as a shared schema is")

    paths: dict[str, Any] = {}
    for r in ROUTES:
        for path, op in _route_operations(r, dict(keyed), schemas):
            paths.setdefault(path, {})[r.method.lower()] = op
    for h in _hooks():
        paths.setdefault(h.path, {})[h.method.lower()] = _hook_operation(h)
    paths.update(_service_operations())
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": title,
                "version": version,
                "description": "Every endpoint but the pages (HTML for browsers). Errors are"
                " `application/problem+json`, except on the `/hooks/` endpoints, which answer the"
                " video platforms in their own shapes.",
            },
            "paths": paths,
            "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": _SECURITY},
        }
    )
