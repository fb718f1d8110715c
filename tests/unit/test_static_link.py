"""The static link provider: per-site links from a template, ASCII room names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
