"""Attendance over HTTP: the platforms' webhooks, check-ins, overrides, the record, the stream."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.attendance.service import (
    BoardMessage,
    CheckinRequest,
    OverrideRequest,
    to_csv,
    to_xlsx,
)
from orchestrator.attendance.sources import PayloadError, read_event_sync, read_jaas
from orchestrator.domain.collector import held_off
from orchestrator.domain.models import Slug
from orchestrator.domain.text import as_sent
from orchestrator.store.base import StoreError
from orchestrator.web.compression import EventStream
from orchestrator.web.hooks import accepted, answer, signed_jaas_body
from orchestrator.web.http import bearer, json_body, json_response, principal_of, query_model
from orchestrator.web.keys import ATTENDANCE, JITSI, STOPPING
from orchestrator.web.wording import accepted_language

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
CLIENT_CHECK_SECONDS = 1.0
# A board's event is written (and compressed) this many bytes at a time, the webhooks answered
# in between: the changes of a thousand sites after a flood are half a megabyte, which held the
# loop for 10-20 ms at once.
SEND_SLICE = 64 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STREAM_SITES_MAX = 1000
BULK_WEBHOOK = 64 * 1024  # bytes of an event-sync body (a room's end of 300 occupants or more)


class StreamQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sites: list[Slug] | None = Field(
        default=None,
        max_length=STREAM_SITES_MAX,
        description="Comma-separated site ids (what a page shows): every event's `sites` holds "
        "only their lines, and each event carries `states`, the state of every site (of each "
        "changed site in `changes`) in words, e.g. `dropped late`; empty: states only",
    )


def refused_payload(exc: PayloadError) -> web.Response:
    """400 in the platforms' shape, naming the missing or bad field when there is one."""
    return answer(400, {"message": exc.message, **({"field": exc.field} if exc.field else {})})


async def event_sync(request: web.Request) -> web.Response:
    """Prosody's event-sync webhooks: authenticated by the configured static header only."""
    token = request.app[JITSI].events_token
    if token is None:
        return answer(503, {"message": "event-sync is not configured on this orchestrator"})
    given = as_sent(bearer(request) or request.headers.get("Authorization") or "")
    if not hmac.compare_digest(given, token.get_secret_value().encode()):
        return answer(401, {"message": "bad or missing event-sync token"})
    endpoint = request.match_info["what"] + "/" + request.match_info["event"]
    body = await request.read()
    # A room's end repeats every join and leave of the meeting (`all_occupants`): its tens of
    # thousands of events are read with the collector held off (`held_off`; only the reading,
    # which waits for nothing: the logging may wait for the database).
    with held_off() if len(body) > BULK_WEBHOOK else contextlib.nullcontext():
        try:
            observations = read_event_sync(endpoint, body)
        except PayloadError as exc:
            return refused_payload(exc)
    added = await request.app[ATTENDANCE].ingest(observations)
    return accepted(added)


async def jaas_webhook(request: web.Request) -> web.Response:
    body = await signed_jaas_body(request)
    if isinstance(body, web.Response):
        return body
    try:
        _app_id, observations = read_jaas(body)
    except PayloadError as exc:
        return refused_payload(exc)
    added = await request.app[ATTENDANCE].ingest(observations)
    return accepted(added)


async def checkin(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, CheckinRequest)
    m = request.match_info
    return json_response(await request.app[ATTENDANCE].checkin(m["id"], m["site"], req, principal))


async def override(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, OverrideRequest)
    m = request.match_info
    out = await request.app[ATTENDANCE].override(m["id"], m["site"], req, principal)
    return json_response(out)


async def record(request: web.Request) -> web.Response:
    """JSON, or CSV / XLSX by the path's suffix or the Accept header (Vietnamese headers by
    default, English with `?lang=en` or, without `?lang=`, an `Accept-Language` preferring it)."""
    principal = await principal_of(request)
    out = await request.app[ATTENDANCE].record(request.match_info["id"], principal)
    suffix = request.match_info.get("suffix", "")
    accept = request.headers.get("Accept", "")
    wanted = request.query.get("lang", "")
    language = (
        wanted
        if wanted in ("vi", "en")
        else accepted_language(request.headers.get("Accept-Language"), default="vi")
    )
    name = f"attendance-{out.session_id}"
    if suffix == ".csv" or (not suffix and "text/csv" in accept):
        return web.Response(
            body=to_csv(out, language),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if suffix == ".xlsx" or (not suffix and XLSX in accept):
        return web.Response(
            body=to_xlsx(out, language),
            content_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if suffix not in ("", ".json"):
        raise web.HTTPNotFound(text=f"no attendance format {suffix!r}: use .json, .csv or .xlsx")
    return json_response(out)


async def freeze(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    out = await request.app[ATTENDANCE].freeze(request.match_info["id"], principal)
    return json_response(out)


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the whole record now (`attendance`), then what changes (`changes`,
    or `attendance` again), of every site or of `?sites=` only; see docs/attendance.md for the
    format."""
    principal = await principal_of(request)
    query = query_model(request, StreamQuery, lists=("sites",))
    messages = request.app[ATTENDANCE].stream(request.match_info["id"], principal, query.sites)
    first = await anext(messages)  # errors (404, 403) still answer as problem+json
    events = EventStream(
        request,
        {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    await events.prepare()

    async def send(message: BoardMessage) -> None:
        data = f"event: {message.event}\ndata: {message.data}\n\n".encode()
        for at in range(0, len(data), SEND_SLICE):
            if at:
                await asyncio.sleep(0)
            await events.send(data[at : at + SEND_SLICE])

    # One pending read of the next event at a time; a quiet 15 s only sends a comment, so
    # proxies keep the connection open. A client that went away is noticed within a second
    # (its connection is gone), not at the next write: a graceful stop does not wait for it.
    pending: asyncio.Future[BoardMessage] = asyncio.ensure_future(anext(messages))
    loop = asyncio.get_running_loop()
    stopping = request.app[STOPPING]
    try:
        await send(first)
        del first  # a whole record is megabytes: sent, not kept (nor below, once sent)
        quiet_since = loop.time()
        while (
            request.transport is not None
            and not request.transport.is_closing()
            and not stopping.is_set()
        ):
            done, _ = await asyncio.wait({pending}, timeout=CLIENT_CHECK_SECONDS)
            if not done:
                if loop.time() - quiet_since >= HEARTBEAT_SECONDS:
                    await events.send(b": still here\n\n")
                    quiet_since = loop.time()
                continue
            done.clear()
            await send(pending.result())
            quiet_since = loop.time()
            pending = asyncio.ensure_future(anext(messages))
    except (ConnectionResetError, StopAsyncIteration):
        pass
    except StoreError as exc:
        # The answer's head is sent: no problem+json can follow. The stream ends and the page's
        # EventSource connects again, which reads the whole record afresh.
        log.warning("a live board's stream ended: the database failed: %s", exc)
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
        with contextlib.suppress(Exception):
            await messages.aclose()  # type: ignore[attr-defined]
    return events.response


async def stop_streams(app: web.Application) -> None:
    """End the open streams (an `on_shutdown` callback of the app)."""
    app[STOPPING].set()
