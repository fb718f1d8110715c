"""The one route table: every route of the app, the pages' included, is registered from `ROUTES`
by `add_routes`, and `/openapi.json` is built from the same table (`openapi.py`).

Each route says what kind of endpoint it is: the JSON API (documented from its fields and the
models that validate it), a video platform's hook or one of the service's own endpoints
(documented in their own shapes, `openapi_hooks.py`), or a page (HTML for browsers, outside the
document).

About 580 lines on purpose: most of it is the table itself, one entry per route, so that every
path, its roles and its description are read (and reviewed) in one place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from importlib import resources

from aiohttp import web
from pydantic import BaseModel

from orchestrator.attendance.service import (
    AttendanceOut,
    CheckinOut,
    CheckinRequest,
    OverrideRequest,
)
from orchestrator.booking.gateway import RotatedLinkOut
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
from orchestrator.booking.series.schemas import (
    BookSeriesRequest,
    SeriesListOut,
    SeriesOut,
    UpdateSeriesRequest,
)
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.models import require_office
from orchestrator.invites.service import InvitesOut, RsvpRequest
from orchestrator.preparation.service import BoardOut, TaskOut
from orchestrator.reports.service import (
    AttendanceReportOut,
    PreparationQuery,
    PreparationReportOut,
    ReportQuery,
)
from orchestrator.web import api, attendance, hooks, invites, joins, ops, preparation, reports
from orchestrator.web.http import Handler, principal_of
from orchestrator.web.pages import (
    NOT_PAGES,
    api_docs,
    auth,
    board,
    office_book,
    office_book_series,
    office_directory,
    office_plan,
    office_series,
    office_session,
    office_timeline,
    site,
)
from orchestrator.web.pages import reports as report_pages


class Kind(enum.Enum):
    API = "api"  # JSON (or a download, a page of a signed link); errors as problem+json
    HOOK = "hook"  # called by a video platform; answers in the platform's shape
    SERVICE = "service"  # the service's own: /openapi.json, /metrics
    PAGE = "page"  # HTML for browsers: outside the document


@dataclass(frozen=True)
class Route:
    """One endpoint. `summary` and the fields after `who` describe an `API` route in the
    document; hooks and the service's own endpoints are described in `openapi_hooks.py`."""

    method: str
    path: str
    handler: Handler
    summary: str = ""
    who: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses with the same answer
    auth: bool = True
    idempotent_create: bool = False
    body_type: str = "application/json"
    answer_type: str = "application/json"
    kind: Kind = Kind.API

    @property
    def office_only(self) -> bool:
        """Only the office may call it: refused (403) before the request is read."""
        return self.kind is Kind.API and self.who == "office"


def _refusing_all_but_the_office(handler: Handler) -> Handler:
    """`handler`, refusing anyone but the office before it reads the request, so that a caller
    who may not call it learns nothing from validating their input (403 before 422). The use case
    it calls decides the same by the same rule (`require_office`); this only answers first."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        require_office(await principal_of(request))
        return await handler(request)

    return guarded


def _hook(method: str, path: str, handler: Handler) -> Route:
    return Route(method, path, handler, kind=Kind.HOOK)


def _page(method: str, path: str, handler: Handler) -> Route:
    return Route(method, path, handler, kind=Kind.PAGE)


_CONFERENCE = "/hooks/jitsi/reservations/conference"
_SESSION_PAGE = "/office/sessions/{id}"
_SERIES_PAGE = "/office/series/{id}"

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/healthz",
        ops.healthz,
        "Liveness: the service answers and its database is reachable",
        "anyone",
        answer=ops.Health,
        auth=False,
    ),
    Route(
        "GET",
        "/api/directory",
        api.get_directory,
        "Regions, sites and leader groups",
        "office (all); chairs (no phone numbers); coordinators (their own site)",
        answer=DirectoryOut,
    ),
    Route(
        "POST",
        "/api/directory",
        api.import_directory,
        "Import a directory file (TOML body); updates in place, all or nothing",
        "office",
        answer=api.DirectoryImportOut,
        body_type="application/toml",
    ),
    Route(
        "POST",
        "/api/sessions",
        api.book_session,
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
        api.list_sessions,
        "List sessions, earliest first",
        "office (all); chairs (their own); coordinators (their site's)",
        query=api.SessionListQuery,
        answer=SessionListOut,
    ),
    Route(
        "GET",
        "/api/sessions/{id}",
        api.get_session,
        "Read one session",
        "office; its chair; its sites' coordinators",
        answer=SessionOut,
    ),
    Route(
        "PATCH",
        "/api/sessions/{id}",
        api.update_session,
        "Reschedule, retitle, change chair or host, add or remove sites",
        "office",
        body=UpdateSessionRequest,
        answer=SessionOut,
    ),
    Route(
        "POST",
        "/api/sessions/{id}/cancel",
        api.cancel_session,
        "Cancel a session and release its claims",
        "office",
        body=CancelRequest,
        answer=SessionOut,
    ),
    Route(
        "POST",
        "/api/series",
        api.book_series,
        "Book a series: every occurrence of an RRULE, in one transaction (DESIGN 10)",
        "office",
        body=BookSeriesRequest,
        answer=SeriesOut,
        status=201,
        idempotent_create=True,
    ),
    Route(
        "GET",
        "/api/series",
        api.list_series,
        "List series, earliest first occurrence first",
        "office (all); chairs (their own); coordinators (their site's)",
        query=api.SeriesListQuery,
        answer=SeriesListOut,
    ),
    Route(
        "GET",
        "/api/series/{id}",
        api.get_series,
        "Read one series with its occurrences and the dates skipped",
        "office; its chair; its sites' coordinators",
        answer=SeriesOut,
    ),
    Route(
        "PATCH",
        "/api/series/{id}",
        api.update_series,
        "Change every occurrence not yet started (title, agenda, time of day, duration, sites, "
        "host, chair, buffers), all or nothing",
        "office",
        body=UpdateSeriesRequest,
        answer=SeriesOut,
    ),
    Route(
        "POST",
        "/api/series/{id}/cancel",
        api.cancel_series,
        "Cancel every occurrence not yet started and release their claims",
        "office",
        body=CancelRequest,
        answer=SeriesOut,
    ),
    Route(
        "GET",
        "/api/slots",
        api.find_slots,
        "Earliest common free slots",
        "office",
        query=SlotQuery,
        answer=SlotsOut,
    ),
    Route(
        "POST",
        "/api/plans/regional",
        api.plan_regional,
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
        api.audit_log,
        "The audit log, newest first",
        "office",
        query=api.AuditQuery,
        answer=api.AuditOut,
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
        "GET",
        "/api/series/{id}/invites",
        invites.series_invite_status,
        "Each site's invite to the series: queued, sent or failed, SEQUENCE, RSVP",
        "office; the chair; a coordinator (their site only)",
        answer=InvitesOut,
    ),
    Route(
        "GET",
        "/api/series/{id}/sites/{site}/invite.ics",
        invites.series_invite_ics,
        "The site's invite to the series as iCalendar: the whole current series (REQUEST with"
        " RRULE, EXDATEs and overrides), or its CANCEL once cancelled",
        "office; that site's coordinator; the chair",
        answer_type="text/calendar",
    ),
    Route(
        "POST",
        "/api/series/{id}/sites/{site}/rsvp",
        invites.series_rsvp,
        "Accept or decline every occurrence of the series for the site",
        "that site's coordinator",
        body=RsvpRequest,
        answer=InvitesOut,
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
        "GET",
        "/join/{key}",
        joins.open_link,
        "A site's join gateway link: inside an occurrence's window (its connection test to its"
        " end plus the link grace) a redirect to the site's own link to it; outside every window"
        " a page naming the next occurrence; after the last a page saying so",
        "whoever holds the site's gateway link",
        answer_type="text/html",
        auth=False,
    ),
    Route(
        "POST",
        "/api/series/{id}/sites/{site}/rotate-link",
        joins.rotate_series_link,
        "A new gateway link for the site (the old one stops working); its invite is sent again",
        "office",
        answer=RotatedLinkOut,
    ),
    Route(
        "POST",
        "/api/sessions/{id}/sites/{site}/rotate-link",
        joins.rotate_session_link,
        "A new gateway link for the site of a single session, with `[invites] join_gateway` on",
        "office",
        answer=RotatedLinkOut,
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
        query=attendance.StreamQuery,
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
    Route(
        "GET",
        "/api/reports/attendance",
        reports.attendance,
        "A school year's attendance per site, region and in total (CSV or XLSX by Accept;"
        " `?lang=en` for English headers)",
        "office (every session); a chair (the sessions they chair)",
        query=ReportQuery,
        answer=AttendanceReportOut,
    ),
    Route(
        "GET",
        "/api/reports/attendance{suffix:\\.(?:json|csv|xlsx)}",
        reports.attendance,
        "The attendance report as .json, .csv (the sites' table) or .xlsx (a sheet per table)",
        "office (every session); a chair (the sessions they chair)",
        query=ReportQuery,
        answer_type="text/csv",
    ),
    Route(
        "GET",
        "/api/reports/preparation",
        reports.preparation,
        "Preparation tasks due in a range per site, region and in total (CSV or XLSX by Accept)",
        "office (every session); a chair (the sessions they chair)",
        query=PreparationQuery,
        answer=PreparationReportOut,
    ),
    Route(
        "GET",
        "/api/reports/preparation{suffix:\\.(?:json|csv|xlsx)}",
        reports.preparation,
        "The preparation report as .json, .csv (the sites' table) or .xlsx (a sheet per table)",
        "office (every session); a chair (the sessions they chair)",
        query=PreparationQuery,
        answer_type="text/csv",
    ),
    # the video platforms -----------------------------------------------------------------
    _hook("POST", _CONFERENCE, hooks.create_conference),
    _hook("GET", _CONFERENCE + "/{id}", hooks.get_conference),
    _hook("DELETE", _CONFERENCE + "/{id}", hooks.delete_conference),
    _hook("POST", "/hooks/jaas/settings", hooks.jaas_settings),
    _hook("POST", "/hooks/jitsi/events/{what:room|occupant}/{event}", attendance.event_sync),
    _hook("POST", "/hooks/jaas", attendance.jaas_webhook),
    # the service's own ---------------------------------------------------------------------
    Route("GET", "/openapi.json", ops.openapi, kind=Kind.SERVICE),
    Route("GET", "/metrics", ops.metrics, kind=Kind.SERVICE),
    Route("GET", "/readyz", ops.readyz, kind=Kind.SERVICE),
    # pages ---------------------------------------------------------------------------------
    _page("GET", "/", auth.home),
    _page("GET", "/docs", api_docs.reader),  # Swagger UI on /openapi.json
    _page("GET", "/signin", auth.signin_form),
    _page("POST", "/signin", auth.signin_with_token),
    _page("GET", "/signin/{link}", auth.signin_link),
    _page("POST", "/signin/{link}", auth.signin_link),
    _page("POST", "/signout", auth.signout),
    _page("GET", "/lang/{lang}", auth.choose_language),
    _page("GET", "/tz", auth.choose_zone),
    _page("GET", "/office", office_timeline.timeline),
    _page("GET", "/office/book", office_book.book_form),
    _page("POST", "/office/book", office_book_series.book_submit),  # a session, a series, a preview
    _page("GET", "/office/book/check", office_book_series.book_check),
    _page("GET", "/office/plan", office_plan.plan_page),
    _page("POST", "/office/plan", office_plan.plan_commit),
    _page("GET", _SESSION_PAGE, office_session.session_page),
    # each form's action; a GET of it (a reload after the redirect) goes back to the page
    _page("POST", _SESSION_PAGE + "/reschedule", office_session.reschedule),
    _page("GET", _SESSION_PAGE + "/reschedule", office_session.back_to_page),
    _page("POST", _SESSION_PAGE + "/sites/add", office_session.add_sites),
    _page("GET", _SESSION_PAGE + "/sites/add", office_session.back_to_page),
    _page("POST", _SESSION_PAGE + "/sites/remove", office_session.remove_sites),
    _page("GET", _SESSION_PAGE + "/sites/remove", office_session.back_to_page),
    _page("POST", _SESSION_PAGE + "/cancel", office_session.cancel),
    _page("GET", _SESSION_PAGE + "/cancel", office_session.back_to_page),
    _page("GET", _SERIES_PAGE, office_series.series_page),
    _page("POST", _SERIES_PAGE + "/occurrences/move", office_series.move_one),
    _page("GET", _SERIES_PAGE + "/occurrences/move", office_series.back_to_page),
    _page("POST", _SERIES_PAGE + "/occurrences/cancel", office_series.cancel_one),
    _page("GET", _SERIES_PAGE + "/occurrences/cancel", office_series.back_to_page),
    _page("POST", _SERIES_PAGE + "/change", office_series.change_all),
    _page("GET", _SERIES_PAGE + "/change", office_series.back_to_page),
    _page("POST", _SERIES_PAGE + "/cancel", office_series.cancel_all),
    _page("GET", _SERIES_PAGE + "/cancel", office_series.back_to_page),
    _page("GET", "/office/reports", report_pages.office_reports),
    _page("GET", "/office/directory", office_directory.directory_page),
    _page("POST", "/office/directory/import", office_directory.import_directory),
    _page("GET", "/office/directory/import", office_directory.back_to_page),
    _page("GET", "/site", site.home),
    _page("POST", "/site/feed", site.create_feed),
    _page("GET", "/site/sessions/{id}", site.site_session),
    _page("POST", "/site/sessions/{id}/rsvp", site.rsvp),
    _page("POST", "/site/sessions/{id}/checkin", site.checkin),
    _page("POST", "/site/sessions/{id}/tasks/{task}/upload", site.upload),
    _page("GET", "/chair", board.chair_home),
    _page("GET", "/chair/sessions/{id}", board.board_page),
    _page("GET", "/chair/reports", report_pages.chair_reports),
)


def add_routes(app: web.Application) -> None:
    """Register every route of `ROUTES`, in its order, and the pages' static files.

    A GET of a page, a hook or the service's own endpoints answers HEAD too (aiohttp's
    `add_get`); the JSON API answers the methods it lists only. A route's kind and the page
    middleware's view of it (`NOT_PAGES`, by path) must agree, or the app is not built.
    """
    for route in ROUTES:
        if (route.kind is Kind.PAGE) == route.path.startswith(NOT_PAGES):
            raise ValueError(f"{route.method} {route.path}: its kind and NOT_PAGES disagree")
        handler = route.handler
        if route.office_only:
            handler = _refusing_all_but_the_office(handler)
        if route.method == "GET" and route.kind is not Kind.API:
            app.router.add_get(route.path, handler)
        else:
            app.router.add_route(route.method, route.path, handler)
    # Swagger UI's own files, from the installed package, before the service's /static/
    app.router.add_static(
        "/static/swagger-ui/", api_docs.swagger_ui_files(), name=api_docs.SWAGGER_UI
    )
    static = resources.files("orchestrator.web") / "static"
    app.router.add_static("/static/", str(static), name="static", append_version=True)
