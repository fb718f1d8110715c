"""Pages: the year's reports for the office (`/office/reports`, every session) and a chair
(`/chair/reports`, the sessions they chair), DESIGN 11.

A GET form filters by dates (default: the administrative year), region, kind and series; the page
shows the attendance per region (a table and a chart drawn here as SVG, no script) and per site,
a sites x sessions grid of verdicts for a series or the regional meetings of the range, the
preparation tasks per region and site, and links to the API's CSV and XLSX with the same filters
in the page's language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup, escape
from pydantic import ValidationError

from orchestrator.domain.errors import OrchestratorError
from orchestrator.domain.models import Principal, Role
from orchestrator.reports.service import (
    AttendanceCounts,
    AttendanceReportOut,
    GridOut,
    PreparationQuery,
    ReportQuery,
)
from orchestrator.store.base import SeriesQuery
from orchestrator.web.keys import BOOKINGS, DIRECTORY, REPORTS
from orchestrator.web.pages.board import number
from orchestrator.web.pages.common import (
    form_date,
    invalid_summary,
    language,
    render,
    text_of,
    viewer_for,
    zone_name,
)

SITES_SHOWN = 500  # rows of a per-site table; the exports hold every site
GRID_SITES = 400  # rows of the grid
VERDICTS = ("present", "partial", "absent", "unknown")
BAR = 300.0  # the chart's bars' length, of a 420-wide drawing (the rate written beside)
KINDS = ("national", "regional")


@dataclass(frozen=True)
class Filters:
    """The page's query as asked; `link` builds the page's or an export's address from it."""

    path: str
    start: date | None = None
    end: date | None = None
    region: str | None = None
    kind: str | None = None
    series: str | None = None

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "region": self.region,
            "kind": self.kind,
            "series": self.series,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v}

    def link(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return self.path + ("?" + query if query else "")

    @property
    def active(self) -> bool:
        return bool(self.start or self.end or self.region or self.kind or self.series)


def percent(rate: float | None, lang: str) -> str:
    """0.875 as `87,5 %` (vi) or `87.5%` (en); `—` when there is no rate."""
    if rate is None:
        return "—"
    text = f"{rate * 100:.1f}".removesuffix(".0")
    return text.replace(".", ",") + " %" if lang == "vi" else text + "%"


def _bar_row(
    y: int, name: str, counts: AttendanceCounts, words: Mapping[str, str], lang: str
) -> str:
    """One region's row of the chart: its name, a bar of its verdicts' shares, its rate."""
    parts = [f'<text class="name" x="0" y="{y + 14}">{escape(name)}</text>']
    total = counts.present + counts.partial + counts.absent + counts.unknown
    x = 0.0
    width = BAR
    if total:
        for verdict in VERDICTS:
            n = getattr(counts, verdict)
            if not n:
                continue
            w = width * n / total
            tip = escape(f"{name} · {words[verdict]}: {number(n, lang)}")
            parts.append(
                f'<rect class="seg {verdict}" x="{x:.1f}" y="{y + 20}" width="{w:.1f}" '
                f'height="18"><title>{tip}</title></rect>'
            )
            x += w
    else:
        parts.append(f'<rect class="seg empty" x="0" y="{y + 20}" width="{width}" height="18"/>')
    rate = escape(f"{percent(counts.attendance_rate, lang)} · {number(counts.sessions, lang)}")
    parts.append(f'<text class="rate" x="{width + 8:.0f}" y="{y + 34}">{rate}</text>')
    return "".join(parts)


def region_chart(
    rows: Sequence[tuple[str, AttendanceCounts]],
    title: str,
    desc: str,
    words: Mapping[str, str],
    lang: str,
) -> Markup:
    """An SVG of one stacked bar per region (present, partial, absent, unknown as shares of its
    sites' sessions), the rate and the count written beside; named by `title` and `desc`."""
    height = 44 * len(rows) + 4
    body = "".join(
        _bar_row(4 + 44 * i, name, counts, words, lang) for i, (name, counts) in enumerate(rows)
    )
    return Markup(
        f'<svg class="region-chart" viewBox="0 0 420 {height}" role="img" '
        f'aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMinYMin meet">'
        f'<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(desc)}</desc>{body}</svg>'
    )


def _filters(request: web.Request, path: str) -> tuple[Filters, bool]:
    """The query read, and whether a date in it was not one."""
    q = request.query
    asked_from, asked_to = q.get("from", "").strip(), q.get("to", "").strip()
    start, end = form_date(asked_from), form_date(asked_to)
    bad = bool(asked_from and start is None) or bool(asked_to and end is None)
    kind = q.get("kind", "").strip()
    f = Filters(
        path=path,
        start=start,
        end=end,
        region=q.get("region", "").strip()[:64] or None,
        kind=kind if kind in KINDS else None,
        series=q.get("series", "").strip()[:36] or None,
    )
    return f, bad


def _queries(f: Filters, zone: str) -> tuple[ReportQuery, PreparationQuery]:
    """The use cases' queries (a half range asks for the other end alone: it is filled from
    the administrative year by leaving both out, and said so by the page)."""
    both = f.start is not None and f.end is not None
    values: dict[str, Any] = {"tz": zone, "region": f.region}
    if both:
        values |= {"from": f.start, "to": f.end}
    prep = PreparationQuery.model_validate(values)
    report = ReportQuery.model_validate(values | {"kind": f.kind, "series": f.series})
    return report, prep


async def _series_choices(request: web.Request, viewer: Principal) -> list[tuple[str, str]]:
    try:
        found = await request.app[BOOKINGS].series.list_series(SeriesQuery(limit=200), viewer)
    except OrchestratorError:
        return []
    return [(s.id, s.title) for s in found]


def _grid_rows(grid: GridOut, names: Mapping[str, str]) -> list[dict[str, Any]]:
    rows = []
    for site in grid.sites[:GRID_SITES]:
        cells = []
        for value in grid.cells.get(site, []):
            words = value.split()
            cells.append(
                {
                    "verdict": words[0] if words else "",
                    "late": "late" in words,
                    "left_early": "left_early" in words,
                }
            )
        rows.append({"site": site, "name": names.get(site, site), "cells": cells})
    return rows


async def _page(request: web.Request, viewer: Principal, path: str) -> web.StreamResponse:
    lang = language(request)
    zone = zone_name(request)
    f, bad_date = _filters(request, path)
    problem = text_of(request, "reports.bad_date") if bad_date else ""
    half = (f.start is None) != (f.end is None)
    try:
        report_q, prep_q = _queries(f, zone)
    except ValidationError as exc:
        problem = invalid_summary(request, exc)
        f = Filters(path=path)
        report_q, prep_q = _queries(f, zone)
    reports = request.app[REPORTS]
    attendance: AttendanceReportOut = await reports.attendance(report_q, viewer)
    preparation = await reports.preparation(prep_q, viewer)
    show_grid = f.series is not None or f.kind == "regional"
    grid = await reports.grid(report_q, viewer) if show_grid else None
    directory = await request.app[DIRECTORY].view(viewer)
    site_names = {s.id: s.name for s in directory.sites}
    region_names = {r.id: r.name for r in directory.regions}
    none_region = text_of(request, "reports.no_region")

    def region_name(region: str | None) -> str:
        return none_region if region is None else region_names.get(region, region)

    words = {v: text_of(request, f"reports.col.{v}") for v in VERDICTS}
    chart = None
    if attendance.regions:
        chart = region_chart(
            [(region_name(r.region), r) for r in attendance.regions],
            text_of(request, "reports.chart_title"),
            text_of(request, "reports.chart_desc"),
            words,
            lang,
        )
    series = await _series_choices(request, viewer)
    # the exports: the range the page shows, in its zone and its language
    export = urlencode(
        f.params(**{"from": attendance.from_.isoformat(), "to": attendance.to.isoformat()})
        | {"tz": zone, "lang": lang}
    )
    prep_export = urlencode(
        {
            "from": preparation.from_.isoformat(),
            "to": preparation.to.isoformat(),
            "tz": zone,
            "lang": lang,
        }
        | ({"region": f.region} if f.region else {})
    )
    region_sites: dict[str | None, int] = {}
    for s in attendance.sites:
        region_sites[s.region] = region_sites.get(s.region, 0) + 1

    def day(d: date) -> str:
        return f"{d:%d/%m/%Y}" if lang == "vi" else d.isoformat()

    return render(
        request,
        "reports/page.html",
        {
            "f": f,
            "problem": problem,
            "half": half,
            "a": attendance,
            "p": preparation,
            "grid": grid,
            "grid_rows": _grid_rows(grid, site_names) if grid else [],
            "grid_sites_cut": grid is not None and len(grid.sites) > GRID_SITES,
            "grid_sites_max": GRID_SITES,
            "chart": chart,
            "regions": directory.regions,
            "series": series,
            "series_title": dict(series).get(f.series or "", ""),
            "site_name": lambda s: site_names.get(s, s),
            "region_name": region_name,
            "region_sites": region_sites,
            "sites_shown": SITES_SHOWN,
            "n": lambda x: number(int(x), lang),
            "pct": lambda r: percent(r, lang),
            "day": day,
            "range_label": f"{day(attendance.from_)} – {day(attendance.to)}",
            "export_attendance": export,
            "export_preparation": prep_export,
            "verdicts": VERDICTS,
            "kinds": KINDS,
            "chair_view": viewer.role is Role.CHAIR,
        },
    )


async def office_reports(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    return await _page(request, viewer, "/office/reports")


async def chair_reports(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.CHAIR)
    return await _page(request, viewer, "/chair/reports")
