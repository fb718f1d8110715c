"""Preparation over HTTP: the board of tasks and document uploads."""

from __future__ import annotations

from aiohttp import web

from orchestrator.domain.errors import InvalidRequest
from orchestrator.preparation.service import Preparation
from orchestrator.web.http import json_response, principal_of

PREPARATION = web.AppKey("preparation", Preparation)


async def board(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    out = await request.app[PREPARATION].board(request.match_info["id"], principal)
    return json_response(out)


async def submit(request: web.Request) -> web.Response:
    """multipart/form-data with a `file` field, or the raw document with `?filename=`."""
    principal = await principal_of(request)
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and getattr(part, "name", None) != "file":
            part = await reader.next()
        if part is None or not hasattr(part, "read"):
            raise InvalidRequest("send the document in a form field named 'file'", field="file")
        filename = getattr(part, "filename", None) or ""
        content_type = part.headers.get("Content-Type", "application/octet-stream")
        data = await part.read(decode=False)
    else:
        filename = request.query.get("filename", "")
        content_type = request.content_type or "application/octet-stream"
        data = await request.read()
    if not filename:
        raise InvalidRequest("the document needs its file name", field="filename")
    out = await request.app[PREPARATION].submit(
        request.match_info["id"],
        request.match_info["task"],
        filename,
        content_type,
        bytes(data),
        principal,
    )
    return json_response(out, 201)
