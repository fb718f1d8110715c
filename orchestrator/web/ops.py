"""The service's own endpoints: liveness (`/healthz`), readiness (`/readyz`), metrics
(`/metrics`) and this API's document (`/openapi.json`)."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from orchestrator.domain.clock import Clock
from orchestrator.domain.text import as_sent
from orchestrator.store.base import SchemaState, Store
from orchestrator.web.http import bearer, json_response, problem
from orchestrator.web.keys import METRICS, READINESS, SERVER, SPEC, STORE


class Health(BaseModel):
    status: str
    database: str


async def healthz(request: web.Request) -> web.Response:
    try:
        await request.app[STORE].ping()
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        return problem(503, "Unavailable", f"database unreachable: {exc}", code="unhealthy")
    return json_response(Health(status="ok", database="reachable"))


class Ready(BaseModel):
    status: str
    database: str


@dataclass(frozen=True)
class _Seen:
    at: datetime
    not_ready: str | None  # what is not ready, in words; None when ready


class Readiness:
    """Whether this instance may take traffic: its database answers and is migrated to the latest
    revision (the store's `schema`). An answer is kept for `ttl`, so a load balancer polling every
    instance often costs the database one query per instance and second; concurrent polls share
    one look."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(seconds=1),
        timeout: float = 5.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._timeout = timeout
        self._seen: _Seen | None = None
        self._lock = asyncio.Lock()

    async def not_ready(self) -> str | None:
        """What keeps the instance from being ready, in words; None when it is ready."""
        async with self._lock:
            now = self._clock.now()
            if self._seen is None or not now - self._ttl < self._seen.at <= now:
                self._seen = _Seen(now, await self._look())
            return self._seen.not_ready

    async def _look(self) -> str | None:
        try:
            state: SchemaState = await asyncio.wait_for(self._store.schema(), self._timeout)
        except TimeoutError:
            return f"database unreachable: no answer within {self._timeout:g} s"
        except Exception as exc:  # any failure to reach the database means "not ready"
            return f"database unreachable: {exc}"
        return None if state.migrated else f"database {state.describe()}"


async def readyz(request: web.Request) -> web.Response:
    not_ready = await request.app[READINESS].not_ready()
    if not_ready is not None:
        return problem(503, "Not ready", not_ready, code="not_ready")
    return json_response(Ready(status="ready", database="migrated"))


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
