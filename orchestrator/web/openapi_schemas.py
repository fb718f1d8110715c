"""The parts of `/openapi.json` every kind of endpoint shares: the problem+json schema, the API's
security schemes, why each error status may come, and small builders of references, problem
answers and path parameters."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.web.http import PROBLEM

Schema = dict[str, Any]

JSON = "application/json"
COMPONENT = "#/components/schemas/"
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait (with `busy`)", "schema": INTEGER}}
CHALLENGE = {"WWW-Authenticate": {"description": "`Bearer`", "schema": STRING}}

# Why a status may come (problem+json), unless an operation says more in `why`.
WHY: dict[int, str] = {
    302: "Found: `Location` says where to go",
    400: "The body is not JSON, or not a JSON object (`bad_request`)",
    401: "No `Authorization: Bearer`, or an unknown or revoked token (`unauthenticated`)",
    403: "The caller's role may not do this (`forbidden`)",
    404: "No such session, site or task, or one the caller may not see (`not_found`)",
    409: "Claims held by other sessions (`booking_conflict`, see `conflicts`), or the session's"
    " state forbids it (`invalid_state`)",
    413: "The body is over `[server] max_body_bytes` (`request_entity_too_large`)",
    410: "Gone: what the link named is over",
    415: "The body is not sent as `application/json` (`unsupported_media_type`)",
    422: "Invalid input: a field missing, malformed or unknown (`validation_error`, see `errors`),"
    " well-formed but meaningless (`invalid_request`, see `field`), a booking-policy breach"
    " (`policy_violation`, see `rule`), or text in the path or query that no database can store",
    503: "The database is busy (`busy`): retry after `Retry-After` seconds",
}
# Every request may answer these: the path and query are checked for text no database can store
# before any handler runs, and any call may find the database busy (if only to read a signed-in
# browser's cookie).
EVERY = (422, 503)

SHARED: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `type` is `urn:orchestrator:problem:<code>`",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": STRING,
            "title": STRING,
            "status": INTEGER,
            "detail": STRING,
            "code": STRING,
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
                        "message": STRING,
                        "type": STRING,
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
                        "rule": STRING,
                        "detail": STRING,
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
                        "resource": STRING,
                        "session_id": STRING,
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                    },
                    "required": ["resource", "session_id", "start", "end"],
                },
            },
        },
    },
}
SECURITY: dict[str, Schema] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`orch_…`)"},
    "feedToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The site's current calendar feed token (from `POST …/feed`)",
    },
}


def ref(name: str) -> Schema:
    return {"$ref": COMPONENT + name}


def problem_answer(description: str, status: int) -> Schema:
    """An answer in problem+json, with the headers its status carries."""
    answer: Schema = {"description": description, "content": {PROBLEM: {"schema": ref("Problem")}}}
    if status == 503:
        answer["headers"] = RETRY_AFTER
    if status == 401:
        answer["headers"] = CHALLENGE
    return answer


def path_parameters(path: str) -> list[Schema]:
    return [
        {"name": p, "in": "path", "required": True, "schema": STRING}
        for p in re.findall(r"{(\w+)}", path)
    ]
