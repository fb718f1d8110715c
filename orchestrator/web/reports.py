"""The year's reports over HTTP: JSON, or CSV / XLSX by the path's suffix or `Accept`."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from orchestrator.reports.exports import (
    attendance_tables,
    attendance_xlsx,
    preparation_tables,
    preparation_xlsx,
    to_csv,
)
from orchestrator.reports.service import PreparationQuery, ReportQuery
from orchestrator.web.attendance import XLSX
from orchestrator.web.http import json_response, principal_of
from orchestrator.web.keys import REPORTS
from orchestrator.web.wording import accepted_language

Q = TypeVar("Q", bound=BaseModel)
LANG = "lang"  # `?lang=en`: English headers in the files (not a filter of the report)


def _query(request: web.Request, model: type[Q]) -> Q:
    return model.model_validate({k: v for k, v in request.query.items() if k != LANG})


def _language(request: web.Request) -> str:
    wanted = request.query.get(LANG, "")
    if wanted in ("vi", "en"):
        return wanted
    return accepted_language(request.headers.get("Accept-Language"), default="vi")


def _format(request: web.Request) -> str:
    suffix = request.match_info.get("suffix", "")
    accept = request.headers.get("Accept", "")
    if suffix == ".csv" or (not suffix and "text/csv" in accept):
        return "csv"
    if suffix == ".xlsx" or (not suffix and XLSX in accept):
        return "xlsx"
    return "json"


def _file(body: bytes, fmt: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="text/csv" if fmt == "csv" else XLSX,
        charset="utf-8" if fmt == "csv" else None,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


async def attendance(request: web.Request) -> web.Response:
    """Each site's, region's and the total attendance over the range (DESIGN 11)."""
    principal = await principal_of(request)
    query = _query(request, ReportQuery)
    out = await request.app[REPORTS].attendance(query, principal)
    fmt, language = _format(request), _language(request)
    name = f"attendance-{out.from_.isoformat()}-{out.to.isoformat()}"
    if fmt == "csv":
        return _file(to_csv(attendance_tables(out, language)), fmt, name)
    if fmt == "xlsx":
        return _file(attendance_xlsx(out, language), fmt, name)
    return json_response(out)


async def preparation(request: web.Request) -> web.Response:
    """Each site's, region's and the total preparation tasks due in the range (DESIGN 11)."""
    principal = await principal_of(request)
    query = _query(request, PreparationQuery)
    out = await request.app[REPORTS].preparation(query, principal)
    fmt, language = _format(request), _language(request)
    name = f"preparation-{out.from_.isoformat()}-{out.to.isoformat()}"
    if fmt == "csv":
        return _file(to_csv(preparation_tables(out, language)), fmt, name)
    if fmt == "xlsx":
        return _file(preparation_xlsx(out, language), fmt, name)
    return json_response(out)
