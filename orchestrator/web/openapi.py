"""`/openapi.json`: every endpoint but the pages, built from the one route table (`routes.py`), the
pydantic models that validate requests and answers, and what each handler is known to answer
besides success.

A JSON API handler in `ROUTES` without a line in `_KNOWN` stops the build (as a hook or service
route without its entry in `openapi_hooks.py` does): the document never guesses what an endpoint
answers. The parts every kind shares are in `openapi_schemas.py`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from orchestrator.web import api, attendance, invites, joins, ops, preparation, reports
from orchestrator.web.attendance import XLSX
from orchestrator.web.http import Handler
from orchestrator.web.openapi_hooks import (
    HOOK_SCHEMAS,
    HOOK_SECURITY,
    hook_models,
    hook_operations,
    service_operation,
)
from orchestrator.web.openapi_schemas import (
    COMPONENT,
    EVERY,
    JSON,
    SECURITY,
    SHARED,
    STRING,
    WHY,
    Schema,
    path_parameters,
    problem_answer,
)
from orchestrator.web.routes import ROUTES, Kind, Route

_LOCAL = "#/$defs/"
_API = tuple(r for r in ROUTES if r.kind is Kind.API)


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
    ops.healthz: _Known(why={503: "The database cannot be reached (`unhealthy`)"}),
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
    api.book_series: _Known(
        (403, 409, 422),
        why={
            409: "Occurrences in conflict (`booking_conflict`; each of `conflicts` names its"
            " `occurrence`)",
            422: "An invalid rule or request (`invalid_request` with its `reason`), or"
            " occurrences breaking the booking policy (`policy_violation`; each of `violations`"
            " names its `occurrence`)",
        },
    ),
    api.list_series: _Known((422,)),
    api.get_series: _Known((404,)),
    api.update_series: _Known((403, 404, 409, 422)),
    api.cancel_series: _Known((403, 404, 409, 422)),
    api.find_slots: _Known((403, 422)),
    api.plan_regional: _Known((403, 409, 422)),
    api.audit_log: _Known((403, 422)),
    invites.invite_status: _Known((404,)),
    invites.invite_ics: _Known(
        (403, 404, 422), why={422: "The site has no coordinator email (`invalid_request`)"}
    ),
    invites.rsvp: _Known((403, 404, 409, 422)),
    invites.series_invite_status: _Known((404,)),
    invites.series_invite_ics: _Known(
        (403, 404, 422), why={422: "The site has no coordinator email (`invalid_request`)"}
    ),
    invites.series_rsvp: _Known((403, 404, 409, 422)),
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
    joins.open_link: _Known(
        (302, 404, 410),
        why={
            302: "Inside an occurrence's window: `Location` is the site's own link to it (with"
            " a short page holding the same link)",
            404: "The key was not made here, or the site's link was rotated since (an HTML page)",
            410: "After the last occurrence, or every one was cancelled (an HTML page)",
        },
    ),
    joins.rotate_series_link: _Known((403, 404)),
    joins.rotate_session_link: _Known(
        (403, 404), why={404: "No such session or site, or `[invites] join_gateway` is off"}
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
        (403, 404, 422), why={403: "A coordinator of one of the session's sites (`forbidden`)"}
    ),
    attendance.freeze: _Known((403, 404, 409)),
    preparation.board: _Known((404,)),
    preparation.submit: _Known(
        (400, 403, 404, 422),
        why={400: "The body is not well-formed multipart/form-data (`bad_request`)"},
        query=(_query("filename", "The document's file name, when the body is the raw document"),),
    ),
    reports.attendance: _Known(
        (403, 422),
        why={403: "A coordinator (`forbidden`)"},
        query=(_query("lang", "`en` for English column headers in CSV and XLSX, else Vietnamese"),),
        formats={".json": JSON, ".csv": "text/csv", ".xlsx": XLSX},
    ),
    reports.preparation: _Known(
        (403, 422),
        why={403: "A coordinator (`forbidden`)"},
        query=(_query("lang", "`en` for English column headers in CSV and XLSX, else Vietnamese"),),
        formats={".json": JSON, ".csv": "text/csv", ".xlsx": XLSX},
    ),
}


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
            out[key] = COMPONENT + value.removeprefix(_LOCAL)
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
    schema = _hoist(model.model_json_schema(ref_template=COMPONENT + "{model}"), schemas)
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
# operations --------------------------------------------------------------------------------


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
    return STRING


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
        text = {"schema": STRING}
        return {"required": True, "content": {r.body_type: text, "text/plain": text}}
    return None


def _json_model(r: Route) -> type[BaseModel] | None:
    """The model of the handler's JSON answer (a route serving other formats may not name it)."""
    if r.answer is not None:
        return r.answer
    return next((o.answer for o in _API if o.handler is r.handler and o.answer), None)


def _route_operations(
    r: Route, keyed: dict[Any, Schema], schemas: dict[str, Schema]
) -> Iterator[tuple[str, Schema]]:
    known = _KNOWN.get(r.handler)
    if known is None:
        raise LookupError(f"{r.method} {r.path}: say what {r.handler.__name__} answers (_KNOWN)")
    model = _json_model(r)
    model_schema = keyed[(model, "serialization")] if model is not None else None
    statuses = {*EVERY, *known.errors}
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
                    "schema": STRING,
                }
            }
        responses: Schema = {str(s): ok for s in (r.status, *r.also)}
        for status in sorted(statuses):
            why = known.why.get(status, WHY[status])
            if html and status in known.errors:
                page = {r.answer_type: {"schema": STRING}}
                responses[str(status)] = {"description": why, "content": page}
            else:
                responses[str(status)] = problem_answer(why, status)
        parameters = path_parameters(path) + list(known.query)
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


def build_spec(
    title: str = "Video-conference session orchestrator", version: str = "0.1.0"
) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for r in _API:
        uses: tuple[tuple[type[BaseModel] | None, JsonSchemaMode], ...] = (
            (r.body, "validation"),
            (_json_model(r), "serialization"),
        )
        for m, mode in uses:
            if m is not None and (m, mode) not in wanted:
                wanted.append((m, mode))
    wanted += [(m, "validation") for m in hook_models()]
    keyed, defs = models_json_schema(wanted, ref_template=COMPONENT + "{model}")
    schemas: dict[str, Schema] = {}
    _hoist(defs, schemas)
    for name, schema in {**SHARED, **HOOK_SCHEMAS}.items():
        if schemas.setdefault(name, schema) is not schema:
            raise ValueError(f"a model is named {name}, as a shared schema is")

    paths: dict[str, Any] = {}
    for r in ROUTES:
        method = r.method.lower()
        if r.kind is Kind.API:
            for path, op in _route_operations(r, dict(keyed), schemas):
                paths.setdefault(path, {})[method] = op
        elif r.kind is Kind.HOOK:
            for path, op in hook_operations(r.method, r.path, r.handler):
                paths.setdefault(path, {})[method] = op
        elif r.kind is Kind.SERVICE:
            paths.setdefault(r.path, {})[method] = service_operation(r.method, r.path, r.handler)
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
            "components": {
                "schemas": dict(sorted(schemas.items())),
                "securitySchemes": {**SECURITY, **HOOK_SECURITY},
            },
        }
    )
