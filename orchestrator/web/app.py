"""The aiohttp application: one `init_app` used by `serve` and by the tests, and the one place
that starts and stops what runs beside it (`background_services`, `run_background`).

The app is built over `Services` (the use cases and settings it serves), never over the
composition root itself: whoever calls `init_app` has built them (`orchestrator serve`, the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from aiohttp import web

from orchestrator.web import attendance
from orchestrator.web.compression import compression_middleware
from orchestrator.web.http import Metrics, errors_middleware, metrics_middleware, text_middleware
from orchestrator.web.keys import (
    ACCESS,
    ATTENDANCE,
    BACKGROUND,
    BOOKINGS,
    CLOCK,
    DIRECTORY,
    GATEWAY,
    INVITES,
    JAAS,
    JITSI,
    METRICS,
    PREPARATION,
    PUBLIC_URL,
    READINESS,
    REPORTS,
    ROOMS,
    SERVER,
    SIGNIN,
    SPEC,
    STOPPING,
    STORE,
)
from orchestrator.web.openapi import build_spec
from orchestrator.web.ops import Readiness
from orchestrator.web.pages import pages_middleware, setup_pages
from orchestrator.web.routes import add_routes
from orchestrator.web.services import Services

log = logging.getLogger(__name__)


class Background(Protocol):
    """Work that runs beside the HTTP service for as long as it serves."""

    async def start(self) -> None:
        """Start the work (in a task of its own); return once it runs."""
        ...

    async def stop(self) -> None:
        """Stop the work and wait for it to end; nothing runs afterwards."""
        ...


class _InTask:
    """Background work run in one task of its own: `_run` is the work; stopping cancels it."""

    name: str
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Repeating(_InTask):
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

    async def _run(self) -> None:
        while True:
            try:
                busy = self._busy(await self._work())
            except Exception:  # the loop outlives any one failure; the next round tries again
                log.exception("%s round failed", self.name)
                busy = False
            if not busy:
                await asyncio.sleep(self._pause)


class Following(_InTask):
    """Work that runs until it is stopped (`work()` returns only when cancelled), in a task."""

    def __init__(self, name: str, work: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self._work = work

    async def _run(self) -> None:
        try:
            await self._work()
        except Exception:  # logged, not raised: the service goes on without it
            log.exception("%s failed", self.name)


def background_services(
    services: Services, *, deliver: bool, extra: Sequence[Background] = ()
) -> list[Background]:
    """Everything that runs beside the HTTP service, in the order it starts (it stops in
    reverse): the boards' feed of what other instances log (always: boards are served with or
    without `deliver`), `extra` (the scheduler of `serve`), then with `deliver` the presence
    poller (`[jitsi] muc_size_url`) and the outbox's delivery (`[invites] worker`)."""
    settings = services.settings
    parts: list[Background] = [Following("board feed", services.attendance.follow)]
    parts.extend(extra)
    if deliver and settings.jitsi.muc_size_url:
        poll = services.attendance.poll_live
        parts.append(Repeating("presence poll", poll, settings.attendance.poll_seconds))
    if deliver and settings.invites.worker:
        parts.append(
            Repeating(
                "invite delivery",
                services.outbox.deliver_due,
                settings.invites.poll_seconds,
                busy=bool,  # items handled: more may be due, look again at once
            )
        )
    return parts


async def run_background(app: web.Application) -> AsyncIterator[None]:
    """The app's one cleanup context for background work: starts each of `app[BACKGROUND]` in
    turn on one exit stack, so they stop in reverse order when the app stops (also when a later
    one fails to start)."""
    async with contextlib.AsyncExitStack() as stack:
        for service in app[BACKGROUND]:
            await service.start()
            stack.push_async_callback(service.stop)
        yield


def init_app(
    services: Services, *, deliver: bool = False, background: Sequence[Background] = ()
) -> web.Application:
    """The web application over built services (they are closed by their owner).

    With `deliver`, the app also runs the outbox's delivery and the presence poller (as `serve`
    does); `background` runs beside them (`serve`'s scheduler). All of them start when the app
    starts and stop when it stops (`run_background`).
    """
    settings = services.settings
    app = web.Application(
        middlewares=[
            metrics_middleware,
            compression_middleware,
            errors_middleware,
            text_middleware,
            pages_middleware,
        ],
        client_max_size=settings.server.max_body_bytes,
    )
    app[BOOKINGS] = services.bookings
    app[DIRECTORY] = services.directory
    app[ACCESS] = services.access
    app[ROOMS] = services.rooms
    app[INVITES] = services.invites
    app[GATEWAY] = services.gateway
    app[ATTENDANCE] = services.attendance
    app[PREPARATION] = services.preparation
    app[REPORTS] = services.reports
    app[SIGNIN] = services.signin
    app[STORE] = services.store
    app[CLOCK] = services.clock
    app[SERVER] = settings.server
    app[JITSI] = settings.jitsi
    app[JAAS] = settings.jaas
    app[PUBLIC_URL] = settings.server.base_url
    app[METRICS] = Metrics()
    app[READINESS] = Readiness(services.store, services.clock)
    app[SPEC] = json.dumps(build_spec(), ensure_ascii=False)
    app[BACKGROUND] = tuple(background_services(services, deliver=deliver, extra=background))
    app.cleanup_ctx.append(run_background)
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(attendance.stop_streams)
    add_routes(app)
    setup_pages(app)
    return app
