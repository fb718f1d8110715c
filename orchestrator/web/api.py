"""The JSON API's handlers of sessions, series, slots, plans, the directory and the audit log:
parse into a model, call one use case, serialise. The route table (`routes.py`) names them."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.booking.schemas import (
    BookSessionRequest,
    CancelRequest,
    RegionalPlanRequest,
    SessionListOut,
    SlotQuery,
    UpdateSessionRequest,
)
from orchestrator.booking.series.schemas import (
    BookSeriesRequest,
    SeriesListOut,
    UpdateSeriesRequest,
)
from orchestrator.directory.loader import DirectoryFileError, parse_directory
from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import AuditEntry, Instant, SeriesStatus, SessionStatus, Slug
from orchestrator.store.base import SeriesQuery, SessionQuery
from orchestrator.web.http import (
    json_body,
    json_response,
    principal_of,
    problem,
    query_model,
)
from orchestrator.web.keys import ACCESS, BOOKINGS, DIRECTORY, METRICS

MAX_OFFSET = 2**31 - 1


class SessionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Instant | None = Field(default=None, alias="from", description="Sessions ending after")
    to: Instant | None = Field(default=None, description="Sessions starting before")
    region: Slug | None = None
    site: Slug | None = None
    status: SessionStatus | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    # Bounded so every backend can bind it (SQLite and PostgreSQL stop at 64-bit integers);
    # no listing holds more sessions than this.
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class SeriesListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Slug | None = None
    status: SeriesStatus | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class AuditOut(BaseModel):
    entries: list[AuditEntry]


class DirectoryImportOut(BaseModel):
    regions: int
    sites: int
    leader_groups: int
    policies: int


# handlers ------------------------------------------------------------------------------


async def get_directory(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    return json_response(await request.app[DIRECTORY].view(principal))


async def import_directory(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    text = (await request.read()).decode("utf-8", errors="replace")
    try:
        directory = parse_directory(text, file="request body")
    except DirectoryFileError as exc:
        return problem(
            422,
            "Invalid directory file",
            str(exc),
            code="invalid_directory",
            instance=request.path,
            errors=[{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems],
        )
    counts = await request.app[DIRECTORY].apply(directory, principal, source="api")
    return json_response(
        DirectoryImportOut(
            regions=counts.regions,
            sites=counts.sites,
            leader_groups=counts.leader_groups,
            policies=counts.policies,
        )
    )


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200:
        raise InvalidRequest("Idempotency-Key must be 1-200 characters", field="Idempotency-Key")
    return key


async def book_session(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, BookSessionRequest)
    metrics = request.app[METRICS]
    try:
        answer = await request.app[BOOKINGS].book(
            req, principal, idempotency_key=_idempotency_key(request)
        )
    except Exception as exc:
        metrics.bookings.labels(type(exc).__name__).inc()
        raise
    metrics.bookings.labels("replayed" if answer.replayed else "booked").inc()
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return json_response(answer.value, answer.status, **headers)


async def list_sessions(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    q = query_model(request, SessionListQuery)
    sessions = await request.app[BOOKINGS].list_sessions(
        SessionQuery(
            start_from=q.from_,
            start_to=q.to,
            region=q.region,
            site=q.site,
            status=q.status,
            limit=q.limit,
            offset=q.offset,
        ),
        principal,
    )
    return json_response(SessionListOut(sessions=sessions, count=len(sessions)))


async def get_session(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    return json_response(await request.app[BOOKINGS].get(request.match_info["id"], principal))


async def update_session(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, UpdateSessionRequest)
    out = await request.app[BOOKINGS].update(request.match_info["id"], req, principal)
    return json_response(out)


async def cancel_session(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, CancelRequest) if request.can_read_body else CancelRequest()
    out = await request.app[BOOKINGS].cancel(request.match_info["id"], principal, req.reason)
    return json_response(out)


async def book_series(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, BookSeriesRequest)
    answer = await request.app[BOOKINGS].series.book(
        req, principal, idempotency_key=_idempotency_key(request)
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return json_response(answer.value, answer.status, **headers)


async def list_series(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    q = query_model(request, SeriesListQuery)
    found = await request.app[BOOKINGS].series.list_series(
        SeriesQuery(site=q.site, status=q.status, limit=q.limit, offset=q.offset), principal
    )
    return json_response(SeriesListOut(series=found, count=len(found)))


async def get_series(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    series = request.app[BOOKINGS].series
    return json_response(await series.get(request.match_info["id"], principal))


async def update_series(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, UpdateSeriesRequest)
    out = await request.app[BOOKINGS].series.update(request.match_info["id"], req, principal)
    return json_response(out)


async def cancel_series(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, CancelRequest) if request.can_read_body else CancelRequest()
    series = request.app[BOOKINGS].series
    return json_response(await series.cancel(request.match_info["id"], principal, req.reason))


async def find_slots(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    q = query_model(request, SlotQuery, lists=("sites", "groups"))
    return json_response(await request.app[BOOKINGS].find_slots(q, principal))


async def plan_regional(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    req = await json_body(request, RegionalPlanRequest)
    answer = await request.app[BOOKINGS].plan_regional(
        req, principal, idempotency_key=_idempotency_key(request)
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return json_response(answer.value, answer.status, **headers)


async def audit_log(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    q = query_model(request, AuditQuery)
    entries = await request.app[ACCESS].audit_log(principal, target=q.target, limit=q.limit)
    return json_response(AuditOut(entries=entries))
