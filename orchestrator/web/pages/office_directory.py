"""Pages: the directory as the office sees it (regions, sites, leader groups) and its import.

An uploaded directory file is read with the same loader as `orchestrator directory import`: a
file with any problem changes nothing and its problems are listed by line and field; a good file
is applied in one unit of work and the page says how many entries it held.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from orchestrator.directory.loader import DirectoryFileError, DirectoryProblem, parse_directory
from orchestrator.domain.models import Principal, Role
from orchestrator.web.keys import CATALOG, DIRECTORY
from orchestrator.web.pages.common import form_of, language, render, viewer_for
from orchestrator.web.wording import coded

COUNTS = ("regions", "sites", "leader_groups", "policies")
MAX_NAME = 200


def _counts(request: web.Request) -> dict[str, int] | None:
    """The counts of the last import, from the query string after the redirect."""
    if request.query.get("done") != "imported":
        return None
    out: dict[str, int] = {}
    for key in COUNTS:
        value = request.query.get(key, "0")
        out[key] = int(value) if value.isdigit() and len(value) < 9 else 0
    return out


async def _show(
    request: web.Request,
    viewer: Principal,
    *,
    problems: list[DirectoryProblem] | None = None,
    error: str | None = None,
    filename: str = "",
    status: int = 200,
) -> web.Response:
    directory = await request.app[DIRECTORY].view(viewer)
    regions = {r.id: r for r in directory.regions}
    wanted = request.query.get("region", "")
    region = wanted if wanted in regions or wanted == "-" else ""
    sites = directory.sites
    if region == "-":
        sites = [s for s in sites if s.region is None]
    elif region:
        sites = [s for s in sites if s.region == region]
    members: dict[str, int] = {}
    for s in directory.sites:
        if s.region:
            members[s.region] = members.get(s.region, 0) + 1
    context: dict[str, Any] = {
        "regions": directory.regions,
        "region_names": {r.id: r.name for r in directory.regions},
        "site_names": {s.id: s.name for s in directory.sites},
        "members": members,
        "sites": sites,
        "all_sites": len(directory.sites),
        "groups": directory.leader_groups,
        "region": region,
        "counts": _counts(request),
        "problems": _said(request, problems),
        "error": error,
        "filename": filename,
    }
    return render(request, "directory/page.html", context, status=status)


def _said(
    request: web.Request, problems: list[DirectoryProblem] | None
) -> list[dict[str, Any]] | None:
    """Each problem by line and field, in the viewer's language."""
    if problems is None:
        return None
    words, lang = request.app[CATALOG], language(request)
    return [
        {
            "line": p.line,
            "field": p.field,
            "message": coded(words, lang, p.code, dict(p.values), p.message),
        }
        for p in problems
    ]


async def directory_page(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    return await _show(request, viewer)


async def back_to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/office/directory")


def _upload(data: MultiDictProxy[Any]) -> tuple[str, bytes] | None:
    """The uploaded file's name and bytes, or None when no file was chosen."""
    part = data.get("file")
    if isinstance(part, web.FileField):
        content = part.file.read()
        name = (part.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:MAX_NAME]
        return (name or "directory.toml"), content
    return None


async def import_directory(request: web.Request) -> web.StreamResponse:
    viewer = await viewer_for(request, Role.OFFICE)
    data = await form_of(request)
    upload = _upload(data)
    if upload is None or not upload[1]:
        return await _show(request, viewer, error="directory.error.no_file", status=422)
    filename, content = upload
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return await _show(
            request, viewer, error="directory.error.encoding", filename=filename, status=422
        )
    try:
        directory = parse_directory(text, file=filename)
    except DirectoryFileError as exc:
        return await _show(request, viewer, problems=exc.problems, filename=filename, status=422)
    counts = await request.app[DIRECTORY].apply(
        directory, viewer, source=f"page upload: {filename}"
    )
    query = "&".join(f"{key}={getattr(counts, key)}" for key in COUNTS)
    raise web.HTTPSeeOther(f"/office/directory?done=imported&{query}")
