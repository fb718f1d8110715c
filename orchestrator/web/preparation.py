"""Preparation over HTTP: the board of tasks and document uploads."""

from __future__ import annotations

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from orchestrator.domain.errors import InvalidRequest
from orchestrator.web.http import json_response, principal_of
from orchestrator.web.keys import PREPARATION


async def board(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    out = await request.app[PREPARATION].board(request.match_info["id"], principal)
    return json_response(out)


async def _form_file(request: web.Request) -> tuple[str, str, bytes]:
    """The `file` field of a multipart body: its file name, media type and bytes.

    A body that is not well-formed multipart (no boundary, nothing but boundary lines, a part
    without headers, a truncated part) is a 400; a form without a `file` field a 422.
    """
    try:
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and not (isinstance(part, BodyPartReader) and part.name == "file"):
            part = await reader.next()
        if part is None:
            raise InvalidRequest("send the document in a form field named 'file'", field="file")
        filename = part.filename or ""
        content_type = part.headers.get("Content-Type", "")
        data = await part.read(decode=False)
    except (ValueError, RuntimeError, HttpProcessingError) as exc:
        # aiohttp's multipart reader says what it could not parse with these; the request is
        # malformed, not the service.
        raise web.HTTPBadRequest(
            text="the body is not well-formed multipart/form-data (a boundary in Content-Type,"
            " then parts each with headers and a blank line)"
        ) from exc
    return filename, content_type, bytes(data)


async def submit(request: web.Request) -> web.Response:
    """multipart/form-data with a `file` field, or the raw document with `?filename=`."""
    principal = await principal_of(request)
    if request.content_type.startswith("multipart/"):
        filename, content_type, data = await _form_file(request)
    else:
        filename = request.query.get("filename", "")
        content_type = request.headers.get("Content-Type", "")
        data = await request.read()
    out = await request.app[PREPARATION].submit(
        request.match_info["id"],
        request.match_info["task"],
        filename,
        content_type,
        bytes(data),
        principal,
    )
    return json_response(out, 201)
