"""What the office's timeline, booking form and planner share: the directory and the sessions they
read, the days they show, and the names they put in sentences."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from aiohttp import web

from orchestrator.booking.schemas import SessionOut
from orchestrator.directory.service import DirectoryOut
from orchestrator.domain.models import Principal, Site
from orchestrator.store.base import SessionQuery
from orchestrator.web.keys import BOOKINGS, CLOCK, DIRECTORY
from orchestrator.web.pages.common import WEEKDAYS, text_of

PROVIDERS = ("static", "jitsi", "jaas")
PAGE_SIZE = 200
MAX_LISTED = 5000  # a month of a busy year is ~4,200 sessions


async def directory_of(request: web.Request, viewer: Principal) -> DirectoryOut:
    return await request.app[DIRECTORY].view(viewer)


async def sessions_between(
    request: web.Request, viewer: Principal, start: datetime, end: datetime
) -> list[SessionOut]:
    """Every session (cancelled ones too) that overlaps `[start, end)`, earliest first."""
    found: list[SessionOut] = []
    offset = 0
    while len(found) < MAX_LISTED:
        page = await request.app[BOOKINGS].list_sessions(
            SessionQuery(start_from=start, start_to=end, limit=PAGE_SIZE, offset=offset), viewer
        )
        found.extend(page)
        if len(page) < PAGE_SIZE:
            break
        offset += PAGE_SIZE
    return found


def today_in(request: web.Request, zone: str) -> date:
    return request.app[CLOCK].now().astimezone(ZoneInfo(zone)).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def day_heading(day: date, lang: str) -> str:
    weekday = WEEKDAYS[lang][day.weekday()]
    return f"{weekday} {day:%d/%m}" if lang == "vi" else f"{weekday} {day:%m-%d}"


def name_key(name: str) -> tuple[str, str]:
    """Vietnamese alphabetical order, near enough: letters without their marks (Đ as D) first,
    the marks only to break ties."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    base = _LATIN_MARKS.sub("", plain)  # Vietnamese's marks, all of them, in one pass
    if not base.isascii():  # other scripts' marks, if any, one character at a time
        base = "".join(c for c in base if not unicodedata.combining(c))
    return base.casefold(), name.casefold()


# The combining marks of the Latin block (U+0300-U+036F, but the grapheme joiner, which is not
# one): a 10,000-site board's names are keyed in a third of the time a look at each character
# took.
_LATIN_MARKS = re.compile(
    "[" + "".join(chr(c) for c in range(0x300, 0x370) if unicodedata.combining(chr(c))) + "]+"
)


def site_order(sites: Sequence[Site], head: str | None = None) -> list[Site]:
    """A region's sites as lists show them: its head site first, then the others by name."""
    return sorted(sites, key=lambda s: (s.id != head, name_key(s.name), s.id))


def range_label(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    return f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M}"


@dataclass
class Names:
    """Display names of the directory's regions, sites and groups, for sentences."""

    sites: dict[str, str]
    regions: dict[str, str]
    groups: dict[str, str]

    @classmethod
    def of(cls, directory: DirectoryOut) -> Names:
        return cls(
            sites={s.id: s.name for s in directory.sites},
            regions={r.id: r.name for r in directory.regions},
            groups={g.id: g.name for g in directory.leader_groups},
        )

    def resource(self, request: web.Request, resource: str) -> str:
        kind, _, ident = resource.partition(":")
        if kind == "site":
            return self.sites.get(ident, ident)
        if kind == "region":
            return text_of(request, "office.res_region", name=self.regions.get(ident, ident))
        if kind == "group":
            return self.groups.get(ident, ident)
        if kind == "chair":
            return text_of(request, "office.res_chair", email=ident)
        return resource
