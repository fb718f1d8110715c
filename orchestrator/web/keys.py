"""Every typed key of the web application and of its requests, in one place.

`init_app` and `setup_pages` fill the app's keys once, from the `Services` they are given; handlers
and middlewares only read them. Four keys hold types of the web layer whose modules read keys
themselves: those types are imported for type checking only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from orchestrator.access.service import Access
from orchestrator.access.signin import SignIn, WebSession
from orchestrator.attendance.service import Attendance
from orchestrator.booking.gateway import JoinGateway
from orchestrator.booking.service import Bookings
from orchestrator.directory.service import DirectoryService
from orchestrator.domain.clock import Clock
from orchestrator.domain.models import Principal
from orchestrator.invites.service import Invites
from orchestrator.preparation.service import Preparation
from orchestrator.reports.service import Reports
from orchestrator.rooms.service import Rooms
from orchestrator.settings import JaasSettings, JitsiSettings, ServerSettings
from orchestrator.store.base import Store

if TYPE_CHECKING:
    from orchestrator.web.app import Background
    from orchestrator.web.http import Metrics
    from orchestrator.web.ops import Readiness
    from orchestrator.web.pages.common import Catalog

# the use cases ----------------------------------------------------------------------------
BOOKINGS = web.AppKey("bookings", Bookings)
DIRECTORY = web.AppKey("directory", DirectoryService)
ACCESS = web.AppKey("access", Access)
ROOMS = web.AppKey("rooms", Rooms)
INVITES = web.AppKey("invites", Invites)
ATTENDANCE = web.AppKey("attendance", Attendance)
PREPARATION = web.AppKey("preparation", Preparation)
REPORTS = web.AppKey("reports", Reports)
SIGNIN = web.AppKey("signin", SignIn)
STORE = web.AppKey("store", Store)  # only `/healthz` uses it, to ping the database
CLOCK = web.AppKey("clock", Clock)
GATEWAY = web.AppKey("join_gateway", JoinGateway)

# settings sections ------------------------------------------------------------------------
SERVER = web.AppKey("server", ServerSettings)
JITSI = web.AppKey("jitsi", JitsiSettings)
JAAS = web.AppKey("jaas", JaasSettings)
PUBLIC_URL = web.AppKey("public_url", str)  # `[server] base_url`, for links in pages

# the app's own parts ----------------------------------------------------------------------
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")  # `/readyz`, its answer cached
SPEC = web.AppKey("openapi", str)  # `/openapi.json`, built once when the app is
CATALOG: web.AppKey[Catalog] = web.AppKey("catalog")
BACKGROUND: web.AppKey[tuple[Background, ...]] = web.AppKey("background")
# Set when the service stops: open live-board streams end within a second instead of holding
# the shutdown for the runner's whole grace period.
STOPPING = web.AppKey("attendance_streams_stopping", asyncio.Event)

# per request ------------------------------------------------------------------------------
PRINCIPAL = web.RequestKey("principal", Principal)  # the authenticated caller, once looked up
WEB = web.RequestKey("web_session", WebSession)  # a signed-in browser's session
SITE_ZONE = web.RequestKey("site_zone", str)  # the time zone a coordinator's pages show
SITE_NAME = web.RequestKey("site_name", str)  # the coordinator's site, as the header names it
