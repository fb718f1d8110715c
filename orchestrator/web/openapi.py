"""`/openapi.json`, built from the route table and the pydantic models that validate requests."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from orchestrator.web.api import ROUTES

_PARAM = re.compile(r"{(\w+)}")
_PROBLEM = {
    "description": "Problem details (RFC 9457)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_ERRORS = {
    "400": "Malformed request",
    "401": "Missing or unknown token",
    "403": "The caller's role may not do this",
    "404": "Not found (or not visible to the caller)",
    "409": "Conflicting claims or state (see `conflicts`)",
    "422": "Invalid input or booking-policy breach (see `rule`)",
    "503": "The database is busy: retry after `Retry-After` seconds",
}


def _query_parameters(model: type[BaseModel], schema: dict[str, Any]) -> list[dict[str, Any]]:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    params = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        params.append(
            {
                "name": alias,
                "in": "query",
                "required": alias in required,
                "schema": props.get(alias, {}),
                **({"description": field.description} if field.description else {}),
            }
        )
    return params


def build_spec(
    title: str = "Video-conference session orchestrator", version: str = "0.1.0"
) -> dict[str, Any]:
    models: list[type[BaseModel]] = []
    for r in ROUTES:
        for m in (r.body, r.answer):
            if m is not None and m not in models:
                models.append(m)
    keyed, defs = models_json_schema(
        [(m, "validation" if m is not None else "serialization") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "code": {"type": "string"},
            "rule": {"type": "string", "description": "the broken booking rule (422)"},
            "conflicts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "resource": {"type": "string"},
                        "session_id": {"type": "string"},
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    }
    paths: dict[str, Any] = {}
    for r in ROUTES:
        op: dict[str, Any] = {
            "summary": r.summary,
            "description": f"Who: {r.who}.",
            "operationId": r.handler.__name__,
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in _PARAM.findall(r.path)
            ],
            "responses": {},
        }
        if r.query is not None:
            op["parameters"] += _query_parameters(r.query, r.query.model_json_schema())
        if r.idempotent_create:
            op["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "A retry with the same key returns the first answer",
                }
            )
        if r.body is not None:
            op["requestBody"] = {
                "required": r.method != "POST" or not r.path.endswith("/cancel"),
                "content": {"application/json": {"schema": keyed[(r.body, "validation")]}},
            }
        elif r.body_type != "application/json":
            op["requestBody"] = {
                "required": True,
                "content": {r.body_type: {"schema": {"type": "string"}}},
            }
        ok: dict[str, Any] = {"description": "Success"}
        if r.answer_type != "application/json":
            ok["content"] = {r.answer_type: {"schema": {"type": "string"}}}
        elif r.answer is not None:
            ok["content"] = {"application/json": {"schema": keyed[(r.answer, "validation")]}}
        for status in (r.status, *r.also):
            op["responses"][str(status)] = ok
        if r.auth:
            op["security"] = [{"bearer": []}]
            for code, text in _ERRORS.items():
                op["responses"][code] = {**_PROBLEM, "description": text}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    for extra in ("/openapi.json", "/metrics"):
        paths[extra] = {
            "get": {"summary": f"GET {extra}", "responses": {"200": {"description": "OK"}}}
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
