"""Compressed answers: pages, JSON, calendars and CSV in gzip (or deflate) when the client takes
it, and the live boards' server-sent events compressed event by event.

A 10,000-site board is 5.7 MB of HTML and its first record 2.6 MB of JSON; both shrink to a few
percent. A whole answer is compressed once, after its handler (`compression_middleware`). An
event stream cannot wait for its end, so `EventStream` flushes the compressor after every event
(zlib's sync flush): the browser's EventSource reads each event as it comes.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from aiohttp.payload import Payload
from aiohttp.web import ContentCoding

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Below this an answer goes as it is: the gzip header and the CPU cost more than they save.
MIN_BYTES = 1024
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/plain",
        "text/css",
        "text/csv",
        "text/calendar",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "application/xml",
        "image/svg+xml",
    }
)
# What we answer with, best first, and the zlib window that writes each (RFC 9110 8.4.1).
_CODINGS = (
    ("gzip", ContentCoding.gzip, 16 + zlib.MAX_WBITS),
    ("deflate", ContentCoding.deflate, zlib.MAX_WBITS),
)


def accepted_coding(accept_encoding: str) -> str | None:
    """The coding to answer with for an `Accept-Encoding` header: gzip, else deflate, else None
    (identity). Honours q-values (`gzip;q=0` refuses gzip) and `*`."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        weights[name] = q
    for name, _, _ in _CODINGS:
        if weights.get(name, weights.get("*", 0.0)) > 0:
            return name
    return None


def compressible(response: web.Response) -> bool:
    if response.status < 200 or response.status in (204, 304):
        return False
    if hdrs.CONTENT_ENCODING in response.headers or response.compression:
        return False
    if response.content_type not in COMPRESSIBLE:
        return False
    body = response.body
    if isinstance(body, bytes | bytearray):
        return len(body) >= MIN_BYTES
    # A text answer given as `str` is held as a payload that knows its size.
    return isinstance(body, Payload) and (body.size or 0) >= MIN_BYTES


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Compress a whole answer (a page, JSON, an invite, CSV) of 1 KB or more when the client
    accepts gzip or deflate. Streams (`StreamResponse`) and files pass through untouched."""
    response = await handler(request)
    if type(response) is not web.Response or not compressible(response):
        return response
    response.headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)
    coding = accepted_coding(request.headers.get(hdrs.ACCEPT_ENCODING, ""))
    for name, content_coding, _ in _CODINGS:
        if name == coding:
            response.enable_compression(force=content_coding)
    return response


class EventStream:
    """A server-sent events answer written event by event, compressed when the client accepts
    it: each `send` is compressed and flushed at once, so no event waits in the compressor."""

    def __init__(self, request: web.Request, headers: dict[str, str]) -> None:
        self._request = request
        self.response = web.StreamResponse(headers=headers)
        self.response.headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)
        coding = accepted_coding(request.headers.get(hdrs.ACCEPT_ENCODING, ""))
        self._compressor: zlib._Compress | None = None
        for name, _, wbits in _CODINGS:
            if name == coding:
                self.response.headers[hdrs.CONTENT_ENCODING] = name
                self._compressor = zlib.compressobj(wbits=wbits)

    async def prepare(self) -> None:
        """Send the answer's head."""
        await self.response.prepare(self._request)

    async def send(self, data: bytes) -> None:
        """Write `data` (whole events or a comment) and push it to the client now."""
        if self._compressor is not None:
            data = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        await self.response.write(data)
