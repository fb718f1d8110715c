"""The static link provider: per-site links from a template, ASCII room names."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import Attendee, Meeting, PermanentConnectorError
from connectors.static_link import StaticLinkProvider, slugify

T = datetime(2026, 12, 10, 1, tzinfo=UTC)


def test_slug_drops_vietnamese_marks() -> None:
    assert slugify("Hội nghị trực tuyến Đà Nẵng") == "hoi-nghi-truc-tuyen-da-nang"
    assert slugify("!!!") == "phien"
    assert len(slugify("x" * 200)) <= 40


def test_links_name_the_site() -> None:
    p = StaticLinkProvider("https://bridge.example.org/{room}?site={site}")
    room = p.room_name("Giao ban vùng", "abcdef0123456789")
    assert room == "giao-ban-vung-abcdef0123"
    m = Meeting("s", "t", room, T, T, T, T)
    a = p.join_url(m, Attendee("da-nang", "Đà Nẵng", None))
    b = p.join_url(m, Attendee("can-tho", "Cần Thơ", None))
    assert a != b
    assert a.endswith("?site=da-nang")
    with pytest.raises(PermanentConnectorError):
        StaticLinkProvider("https://fixed.example.org/")


@given(st.text(max_size=12), st.text(max_size=12))
def test_links_quote_the_room_and_the_site_as_percent_encoding_does(room: str, site: str) -> None:
    # ids and room names made of unreserved characters skip quoting (its result is themselves)
    p = StaticLinkProvider("{room}|{site}")
    link = p.join_url(Meeting("s", "t", room, T, T, T, T), Attendee(site, "x", None))
    assert link == f"{quote(room, safe='')}|{quote(site, safe='')}"


def test_unsafe_ids_are_quoted() -> None:
    p = StaticLinkProvider("https://bridge.example.org/{room}?site={site}")
    m = Meeting("s", "t", "phòng họp/1", T, T, T, T)
    link = p.join_url(m, Attendee("a b&c", "x", None))
    assert link == "https://bridge.example.org/ph%C3%B2ng%20h%E1%BB%8Dp%2F1?site=a%20b%26c"
