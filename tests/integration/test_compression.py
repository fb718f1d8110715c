"""Compressed answers on a real port: pages, JSON and the live board's event stream in gzip (or
deflate) when the client accepts it, as they are when it does not; each event of the stream
readable as soon as it is sent."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib

import aiohttp
import pytest
from aiohttp import web

from orchestrator.bootstrap import Container
from orchestrator.domain.models import Role
from orchestrator.web.compression import accepted_coding, compressible
from tests.builders import base_url, book, serving


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("gzip, deflate, br, zstd", "gzip"),
        ("deflate, gzip;q=0.5", "gzip"),
        ("gzip;q=0, deflate", "deflate"),
        ("GZIP", "gzip"),
        ("br", None),
        ("identity", None),
        ("", None),
        ("*", "gzip"),
        ("*;q=0", None),
        ("gzip;q=oops", None),
    ],
)
def test_the_coding_follows_accept_encoding(header: str, coding: str | None) -> None:
    assert accepted_coding(header) == coding


def test_only_text_of_a_kilobyte_or_more_is_compressed() -> None:
    big = b"x" * 2048
    assert compressible(web.Response(body=big, content_type="text/html"))
    assert compressible(web.Response(body=big, content_type="application/problem+json"))
    assert not compressible(web.Response(body=b"x" * 100, content_type="text/html"))
    # A workbook is a zip already; compressing it again only costs time.
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert not compressible(web.Response(body=big, content_type=xlsx))
    assert not compressible(web.Response(body=big, status=304, content_type="text/html"))


async def _get(
    url: str, accept: str | None, **headers: str
) -> tuple[aiohttp.ClientResponse, bytes]:
    sent = {**headers}
    if accept is not None:
        sent["Accept-Encoding"] = accept
    async with (
        aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Accept-Encoding"]) as http,
        http.get(url, headers=sent) as response,
    ):
        return response, await response.read()


async def test_json_and_pages_are_compressed_when_accepted(container: Container) -> None:
    async with serving(container) as server:
        url = base_url(server)
        plain_response, plain = await _get(f"{url}/openapi.json", None)
        assert "Content-Encoding" not in plain_response.headers
        assert "Accept-Encoding" in plain_response.headers.get("Vary", "")
        json.loads(plain)

        zipped_response, zipped = await _get(f"{url}/openapi.json", "gzip, deflate, br")
        assert zipped_response.headers["Content-Encoding"] == "gzip"
        # The length the head gives (if any: a text answer goes chunked) is the compressed one.
        assert int(zipped_response.headers.get("Content-Length", len(zipped))) == len(zipped)
        assert gzip.decompress(zipped) == plain
        assert len(zipped) < len(plain) / 3

        deflated_response, deflated = await _get(f"{url}/openapi.json", "gzip;q=0, deflate")
        assert deflated_response.headers["Content-Encoding"] == "deflate"
        assert zlib.decompress(deflated) == plain

        refused_response, refused = await _get(f"{url}/openapi.json", "br")
        assert "Content-Encoding" not in refused_response.headers
        assert refused == plain

        page_response, page = await _get(f"{url}/signin", "gzip")
        assert page_response.status == 200
        assert page_response.headers["Content-Encoding"] == "gzip"
        assert b"<html" in gzip.decompress(page)


async def test_each_event_of_the_stream_arrives_compressed_and_whole(
    container: Container,
) -> None:
    booked = await book(container)
    token = (await container.access.create_token(Role.OFFICE)).token
    async with (
        serving(container) as server,
        aiohttp.ClientSession(auto_decompress=False) as http,
        http.get(
            f"{base_url(server)}/api/sessions/{booked.id}/attendance/stream",
            headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
        ) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Encoding"] == "gzip"
        # The stream stays open; without a flush after each event the compressor would keep
        # the first record to itself and this read would time out.
        inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        text = b""
        while b"\n\n" not in text:
            chunk = await asyncio.wait_for(response.content.readany(), timeout=10)
            assert chunk, "the stream ended before its first event"
            text += inflate.decompress(chunk)
        event, _, rest = text.partition(b"\n")
        assert event == b"event: attendance"
        data = json.loads(rest.partition(b"\n\n")[0].removeprefix(b"data: "))
        assert data["session_id"] == booked.id


async def test_a_client_without_gzip_reads_the_stream_as_it_was(container: Container) -> None:
    booked = await book(container)
    token = (await container.access.create_token(Role.OFFICE)).token
    async with (
        serving(container) as server,
        aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Accept-Encoding"]) as http,
        http.get(
            f"{base_url(server)}/api/sessions/{booked.id}/attendance/stream",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert "Content-Encoding" not in response.headers
        first = await asyncio.wait_for(response.content.readline(), timeout=10)
        assert first == b"event: attendance\n"
