"""Running the HTTP service until it is told to stop (SIGINT/SIGTERM), over services someone else
built (`orchestrator serve` builds them through bootstrap and closes them after)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence

from aiohttp import web

from orchestrator.domain.collector import settled
from orchestrator.web.app import Background, init_app
from orchestrator.web.services import Services

log = logging.getLogger(__name__)

# On a stop, requests under way get this long to finish (a webhook's commit takes milliseconds);
# then what is left, a stalled upload say, is cut off, so the process is gone within seconds
# (systemd's TimeoutStopSec is far longer). Boards end at once (`attendance.stop_streams`).
GRACE_SECONDS = 3.0


async def serve(
    services: Services,
    host: str,
    port: int,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    background: Sequence[Background] = (),
) -> None:
    """Serve until `stop` is set or a termination signal arrives; then close cleanly.

    `background` parts (the scheduler) start with the app, before the first request, beside the
    outbox's delivery and the presence poller, and stop with it, after the last (`init_app`).
    """
    app = init_app(services, deliver=True, background=background)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=GRACE_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0] if runner.addresses else (host, port)
    url = f"http://{bound[0]}:{bound[1]}"
    log.info("serving on %s", url)
    # What start-up built (modules, the app, caches) lives as long as the process: kept out of
    # the collector's sweeps, a full collection under a burst of webhooks takes a tenth as long.
    settled()
    if on_ready is not None:
        on_ready(url)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stopping: no new connections; requests under way get %.0f s", GRACE_SECONDS)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await runner.cleanup()
        log.info("stopped serving")
