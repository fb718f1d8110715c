"""The aiohttp application: one `init_app` used by `serve` and by the tests, and the one place
that starts and stops what runs beside it (`background_services`, `run_background`)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator.bootstrap import Container
from orchestrator.domain.text import as_sent
from orchestrator.web import attendance, hooks
from orchestrator.web.api import ROUTES
from orchestrator.web.attendance import ATTENDANCE
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
from orchestrator.web.invites import INVITES
from orchestrator.web.openapi import build_spec
from orchestrator.web.pages import pages_middleware, setup_pages
from orchestrator.web.preparation import PREPARATION

log = logging.getLogger(__name__)

SPEC = web.AppKey("openapi", str)


class Background(Protocol):
    """Work that runs beside the HTTP service for as long as it serves."""

    async def start(self) -> None:
        """Start the work (in a task of its own); return once it runs."""
        ...

    async def stop(self) -> None:
        """Stop the work and wait for it to end; nothing runs afterwards."""
        ...


class Repeating:
    """A round of work run again and again in a task: at once while a round reports work done
    (`busy`), else after `pause` seconds. A failing round is logged; the next one tries again."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        pause: float,
        *,
        busy: Callable[[object], bool] = lambda _: False,
    ) -> None:
        self.name = name
        self._work = work
        self._pause = pause
        self._busy = busy
        self._task: asyncio.Task[None] | None = None

    async def _forever(self) -> None:
        while True:
            try:
                busy = self._busy(await self._work())
            except Exception:  # the loop outlives any one failure; the next round tries again
                log.exception("%s round failed", self.name)
                busy = False
            if not busy:
                await asyncio.sleep(self._pause)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


BACKGROUND: web.AppKey[tuple[Background, ...]] = web.AppKey("background")


def background_services(
    container: Container, *, deliver: bool, extra: Sequence[Background] = ()
) -> list[Background]:
    """Everything that runs beside the HTTP service, in the order it starts (it stops in
    reverse): `extra` (the scheduler of `serve`), then with `deliver` the presence poller
    (`[jitsi] muc_size_url`) and the outbox's delivery (`[invites] worker`)."""
    settings = container.settings
    services = list(extra)
    if deliver and settings.jitsi.muc_size_url:
        poll = container.attendance.poll_live
        services.append(Repeating("presence poll", poll, settings.attendance.poll_seconds))
    if deliver and settings.invites.worker:
        services.append(
            Repeating(
                "invite delivery",
                container.outbox.deliver_due,
                settings.invites.poll_seconds,
                busy=bool,  # items handled: more may be due, look again at once
            )
        )
    return services


async def run_background(app: web.Application) -> AsyncIterator[None]:
    """The app's one cleanup context for background work: starts each of `app[BACKGROUND]` in
    turn on one exit stack, so they stop in reverse order when the app stops (also when a later
    one fails to start)."""
    async with contextlib.AsyncExitStack() as stack:
        for service in app[BACKGROUND]:
            await service.start()
            stack.push_async_callback(service.stop)
        yield


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


def init_app(
    container: Container, *, deliver: bool = False, background: Sequence[Background] = ()
) -> web.Application:
    """The web application over a built container (the container is closed by its owner).

    With `deliver`, the app also runs the outbox's delivery and the presence poller (as `serve`
    does); `background` runs beside them (`serve`'s scheduler). All of them start when the app
    starts and stop when it stops (`run_background`).
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
    app[BACKGROUND] = tuple(background_services(container, deliver=deliver, extra=background))
    app.cleanup_ctx.append(run_background)
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
