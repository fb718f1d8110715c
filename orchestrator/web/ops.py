"""The service's own endpoints: liveness (`/healthz`), metrics (`/metrics`) and this API's
document (`/openapi.json`)."""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from orchestrator.domain.text import as_sent
from orchestrator.web.http import bearer, json_response, problem
from orchestrator.web.keys import METRICS, SERVER, SPEC, STORE


class Health(BaseModel):
    status: str
    database: str


async def healthz(request: web.Request) -> web.Response:
    try:
        await request.app[STORE].ping()
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        return problem(503, "Unavailable", f"database unreachable: {exc}", code="unhealthy")
    return json_response(Health(status="ok", database="reachable"))


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[SPEC], content_type="application/json", charset="utf-8")


async def metrics(request: web.Request) -> web.Response:
    token = request.app[SERVER].metrics_token
    if token is not None:
        given = bearer(request) or ""
        if not hmac.compare_digest(as_sent(given), token.get_secret_value().encode()):
            return problem(
                401,
                "Authentication required",
                "metrics need the metrics token",
                code="unauthenticated",
            )
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
