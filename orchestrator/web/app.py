"""The aiohttp application: one `init_app` used by `serve` and by the tests."""

from __future__ import annotations

import hmac
import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator.bootstrap import Container
from orchestrator.domain.text import as_sent
from orchestrator.web import attendance, hooks
from orchestrator.web.api import ROUTES
from orchestrator.web.attendance import ATTENDANCE, presence_poller
from orchestrator.web.attendance import POLL_SECONDS as ATTENDANCE_POLL
from orchestrator.web.hooks import CLOCK, JAAS, JITSI, ROOMS
from orchestrator.web.http import (
    ACCESS,
    BOOKINGS,
    DIRECTORY,
    METRICS,
    SERVER,
    STORE,
    Metrics,
    bearer,
    errors_middleware,
    metrics_middleware,
    problem,
    text_middleware,
)
from orchestrator.web.invites import INVITES, POLL_SECONDS, delivery_worker
from orchestrator.web.openapi import build_spec
from orchestrator.web.pages import pages_middleware, setup_pages
from orchestrator.web.preparation import PREPARATION

SPEC = web.AppKey("openapi", str)


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


def init_app(container: Container, *, deliver: bool = False) -> web.Application:
    """The web application over a built container (the container is closed by its owner).

    With `deliver`, the app also runs the invite outbox worker (as `serve` does).
    """
    settings = container.settings.server
    app = web.Application(
        middlewares=[metrics_middleware, errors_middleware, text_middleware, pages_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[BOOKINGS] = container.bookings
    app[DIRECTORY] = container.directory
    app[ACCESS] = container.access
    app[STORE] = container.store
    app[SERVER] = settings
    app[METRICS] = Metrics()
    app[SPEC] = json.dumps(build_spec(), ensure_ascii=False)
    app[ROOMS] = container.rooms
    app[INVITES] = container.invites
    app[ATTENDANCE] = container.attendance
    app[PREPARATION] = container.preparation
    app[ATTENDANCE_POLL] = container.settings.attendance.poll_seconds
    if deliver and container.settings.jitsi.muc_size_url:
        app.cleanup_ctx.append(presence_poller)
    app[POLL_SECONDS] = container.settings.invites.poll_seconds
    if container.settings.invites.worker and deliver:
        app.cleanup_ctx.append(delivery_worker)
    app[JITSI] = container.settings.jitsi
    app[JAAS] = container.settings.jaas
    app[CLOCK] = container.clock
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    hooks.add_routes(app)
    attendance.add_routes(app)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/metrics", metrics)
    setup_pages(app, container.signin, container.clock, settings.base_url)
    return app
