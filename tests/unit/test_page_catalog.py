"""The pages' strings: every key a template or handler uses exists, in Vietnamese and English."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orchestrator.web.pages.common import (
    LANGUAGES,
    Catalog,
    form_date,
    form_time,
    format_when,
    local_instant,
    zone_label,
)
from tests.conftest import NOW

WEB = Path(__file__).resolve().parents[2] / "orchestrator" / "web"
# A key in `_("...")` or `text_of(request, "...")`; followed by `~` or `+` it is the start of
# keys built at run time (`_("board.conn." ~ state)`): some key must then start with it.
USED = re.compile(
    r"""(?:\b_|text_of\(\s*request,)\s*\(?\s*["']([a-z_]+\.[a-z0-9_.\-]+)["']\s*([~+])?"""
)


def used_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    files = [*(WEB / "templates").rglob("*.html"), *(WEB / "pages").glob("*.py")]
    for path in files:
        for key, built in USED.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key + ("*" if built else ""), set()).add(path.name)
    return found


def test_every_used_key_is_in_the_catalog() -> None:
    catalog = Catalog.load()
    used = used_keys()
    assert len(used) > 20, "the scan finds the keys the pages use"
    known = catalog.known()
    missing = {
        key: sorted(where)
        for key, where in used.items()
        if (
            not any(k.startswith(key[:-1]) for k in known)
            if key.endswith("*")
            else key not in known
        )
    }
    assert missing == {}


def test_every_key_has_both_languages_and_its_placeholders_agree() -> None:
    catalog = Catalog.load()
    for key in catalog.known():
        vi, en = (catalog.text(lang, key) for lang in LANGUAGES)
        assert vi.strip()
        assert en.strip()
        assert set(re.findall(r"{(\w+)}", vi)) == set(re.findall(r"{(\w+)}", en)), key


def test_a_key_defined_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    del tmp_path, monkeypatch  # the loader reads the package; the rule is checked on its data
    catalog = Catalog({"a.b": {"vi": "x", "en": "y"}})
    assert catalog.text("en", "a.b") == "y"
    assert catalog.text("vi", "missing.key") == "missing.key"


def test_times_are_shown_in_the_viewers_zone_with_the_zone_named() -> None:
    assert format_when(NOW, "vi", "Asia/Ho_Chi_Minh") == "T2 23/11/2026 09:00"
    assert format_when(NOW, "en", "Europe/Paris") == "Mon 2026-11-23 03:00"
    assert format_when(NOW, "en", "America/New_York", "time") == "21:00"
    assert format_when(None, "vi", "UTC") == "—"
    assert zone_label("Asia/Ho_Chi_Minh", NOW) == "Asia/Ho_Chi_Minh (UTC+07:00)"
    assert zone_label("America/New_York", NOW) == "America/New_York (UTC-05:00)"


def test_form_times_that_no_clock_shows_are_refused() -> None:
    paris = ZoneInfo("Europe/Paris")
    spring = form_date("2027-03-28")
    assert spring is not None
    assert local_instant(spring, time(2, 30), paris) is None  # clocks jump 02:00 -> 03:00
    kept = local_instant(spring, time(3, 30), paris)
    assert kept is not None
    assert kept.utcoffset() == timedelta(hours=2)
    assert form_date("0001-01-01") is None
    assert form_date("2026-02-30") is None
    assert form_time("25:00") is None
    assert form_time(" 08:30 ") == time(8, 30)
