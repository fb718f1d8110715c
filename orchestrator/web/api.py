"""The JSON API's handlers: parse into a model, call one use case, serialise.

`ROUTES` is the one list of endpoints: the app is built from it and so is `/openapi.json`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.attendance.service import (
    AttendanceOut,
    CheckinOut,
    CheckinRequest,
    OverrideRequest,
)
from orchestrator.booking.schemas import (
    BookingOut,
    BookSessionRequest,
    CancelRequest,
    RegionalPlanOut,
    RegionalPlanRequest,
    SessionListOut,
    SessionOut,
    SlotQuery,
    SlotsOut,
    UpdateSessionRequest,
)
from orchestrator.booking.service import require_office
from orchestrator.directory.loader import DirectoryFileError, parse_directory
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.errors import InvalidRequest
from orchestrator.domain.models import AuditEntry, Instant, SessionStatus, Slug
from orchestrator.invites.service import InvitesOut, RsvpRequest
from orchestrator.preparation.service import BoardOut, TaskOut
from orchestrator.store.base import SessionQuery
from orchestrator.web import attendance, invites, preparation
from orchestrator.web.http import (
    ACCESS,
    BOOKINGS,
    DIRECTORY,
    METRICS,
    Handler,
    json_body,
    json_response,
    principal_of,
    problem,
    query_model,
)

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


class Health(BaseModel):
    status: str
    database: str


# handlers ------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    from orchestrator.web.http import STORE

    try:
        await request.app[STORE].ping()
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        return problem(503, "Unavailable", f"database unreachable: {exc}", code="unhealthy")
    return json_response(Health(status="ok", database="reachable"))


async def get_directory(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    return json_response(await request.app[DIRECTORY].view(principal))


async def import_directory(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    require_office(principal)
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
    counts = await request.app[DIRECTORY].apply(directory, actor=principal.actor, source="api")
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
    require_office(principal)
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
    require_office(principal)
    req = await json_body(request, UpdateSessionRequest)
    out = await request.app[BOOKINGS].update(request.match_info["id"], req, principal)
    return json_response(out)


async def cancel_session(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    require_office(principal)
    req = await json_body(request, CancelRequest) if request.can_read_body else CancelRequest()
    out = await request.app[BOOKINGS].cancel(request.match_info["id"], principal, req.reason)
    return json_response(out)


async def find_slots(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    require_office(principal)
    q = query_model(request, SlotQuery, lists=("sites", "groups"))
    return json_response(await request.app[BOOKINGS].find_slots(q, principal))


async def plan_regional(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    require_office(principal)
    req = await json_body(request, RegionalPlanRequest)
    answer = await request.app[BOOKINGS].plan_regional(
        req, principal, idempotency_key=_idempotency_key(request)
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return json_response(answer.value, answer.status, **headers)


async def audit_log(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    require_office(principal)
    q = query_model(request, AuditQuery)
    entries = await request.app[ACCESS].audit_log(target=q.target, limit=q.limit)
    return json_response(AuditOut(entries=entries))


# the route table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    who: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses with the same answer
    auth: bool = True
    idempotent_create: bool = False
    body_type: str = "application/json"
    answer_type: str = "application/json"


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/healthz",
        healthz,
        "Liveness: the service answers and its database is reachable",
        "anyone",
        answer=Health,
        auth=False,
    ),
    Route(
        "GET",
        "/api/directory",
        get_directory,
        "Regions, sites and leader groups",
        "office (all); chairs (no phone numbers); coordinators (their own site)",
        answer=DirectoryOut,
    ),
    Route(
        "POST",
        "/api/directory",
        import_directory,
        "Import a directory file (TOML body); updates in place, all or nothing",
        "office",
        answer=DirectoryImportOut,
        body_type="application/toml",
    ),
    Route(
        "POST",
        "/api/sessions",
        book_session,
        "Book a session across sites",
        "office",
        body=BookSessionRequest,
        answer=BookingOut,
        status=201,
        idempotent_create=True,
    ),
    Route(
        "GET",
        "/api/sessions",
        list_sessions,
        "List sessions, earliest first",
        "office (all); chairs (their own); coordinators (their site's)",
        query=SessionListQuery,
        answer=SessionListOut,
    ),
    Route(
        "GET",
        "/api/sessions/{id}",
        get_session,
        "Read one session",
        "office; its chair; its sites' coordinators",
        answer=SessionOut,
    ),
    Route(
        "PATCH",
        "/api/sessions/{id}",
        update_session,
        "Reschedule, retitle, change chair or host, add or remove sites",
        "office",
        body=UpdateSessionRequest,
        answer=SessionOut,
    ),
    Route(
        "POST",
        "/api/sessions/{id}/cancel",
        cancel_session,
        "Cancel a session and release its claims",
        "office",
        body=CancelRequest,
        answer=SessionOut,
    ),
    Route(
        "GET",
        "/api/slots",
        find_slots,
        "Earliest common free slots",
        "office",
        query=SlotQuery,
        answer=SlotsOut,
    ),
    Route(
        "POST",
        "/api/plans/regional",
        plan_regional,
        "Plan (and with commit, book) a non-overlapping round of regional meetings",
        "office",
        body=RegionalPlanRequest,
        answer=RegionalPlanOut,
        status=201,
        also=(200,),
        idempotent_create=True,
    ),
    Route(
        "GET",
        "/api/audit",
        audit_log,
        "The audit log, newest first",
        "office",
        query=AuditQuery,
        answer=AuditOut,
    ),
    Route(
        "GET",
        "/api/sessions/{id}/invites",
        invites.invite_status,
        "Each site's invite: queued, sent or failed (with the reason), SEQUENCE, RSVP",
        "office; the chair; a coordinator (their site only)",
        answer=InvitesOut,
    ),
    Route(
        "GET",
        "/api/sessions/{id}/sites/{site}/invite.ics",
        invites.invite_ics,
        "The site's current invite as iCalendar (REQUEST, or CANCEL once cancelled)",
        "office; that site's coordinator; the chair",
        answer_type="text/calendar",
    ),
    Route(
        "POST",
        "/api/sessions/{id}/sites/{site}/rsvp",
        invites.rsvp,
        "Accept or decline the invitation for the site",
        "that site's coordinator",
        body=RsvpRequest,
        answer=InvitesOut,
    ),
    Route(
        "POST",
        "/api/sites/{site}/feed",
        invites.create_feed,
        "A new calendar subscription URL for the site (the previous one stops working)",
        "office; that site's coordinator",
        answer=invites.FeedOut,
        status=201,
    ),
    Route(
        "GET",
        "/api/sites/{site}/calendar.ics",
        invites.feed,
        "The site's calendar feed; the `token` query parameter is the credential",
        "whoever holds the site's current feed URL",
        answer_type="text/calendar",
        auth=False,
    ),
    Route(
        "GET",
        "/rsvp/{id}/{site}/{response}",
        invites.rsvp_link,
        "The page behind an email's answer link: a button to confirm",
        "whoever holds the signed link",
        answer_type="text/html",
        auth=False,
    ),
    Route(
        "POST",
        "/rsvp/{id}/{site}/{response}",
        invites.rsvp_link_confirm,
        "Record the answer of a signed link",
        "whoever holds the signed link",
        answer_type="text/html",
        auth=False,
    ),
    Route(
        "POST",
        "/api/sessions/{id}/sites/{site}/checkin",
        attendance.checkin,
        "Check the site in: headcount and delegates' names (around the session's window)",
        "that site's coordinator",
        body=CheckinRequest,
        answer=CheckinOut,
    ),
    Route(
        "POST",
        "/api/sessions/{id}/sites/{site}/override",
        attendance.override,
        "Mark a site present or absent, with a reason (audited)",
        "the session's chair; office",
        body=OverrideRequest,
        answer=AttendanceOut,
    ),
    Route(
        "GET",
        "/api/sessions/{id}/attendance",
        attendance.record,
        "The attendance record (JSON; CSV or XLSX by Accept; `?lang=en` for English headers)",
        "office; the session's chair",
        answer=AttendanceOut,
    ),
    Route(
        "GET",
        "/api/sessions/{id}/attendance{suffix:\\.(?:json|csv|xlsx)}",
        attendance.record,
        "The attendance record as .json, .csv or .xlsx",
        "office; the session's chair",
        answer_type="text/csv",
    ),
    Route(
        "GET",
        "/api/sessions/{id}/attendance/stream",
        attendance.stream,
        "Server-sent events: the record now, then one `attendance` event per change",
        "office; the session's chair",
        answer_type="text/event-stream",
    ),
    Route(
        "POST",
        "/api/sessions/{id}/attendance/freeze",
        attendance.freeze,
        "Freeze the record of an ended session (the scheduler will do it on time)",
        "office",
        answer=AttendanceOut,
    ),
    Route(
        "GET",
        "/api/sessions/{id}/tasks",
        preparation.board,
        "Preparation tasks: who owes which document by when, and what is late",
        "office; the chair; a coordinator (their site's tasks)",
        answer=BoardOut,
    ),
    Route(
        "POST",
        "/api/sessions/{id}/tasks/{task}/submission",
        preparation.submit,
        "Submit a document for a task (multipart field `file`, or the raw body with ?filename=)",
        "the coordinator of the site that owes it; office",
        answer=TaskOut,
        status=201,
        body_type="multipart/form-data",
    ),
)
