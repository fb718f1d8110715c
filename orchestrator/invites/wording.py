"""The words of the mail the service sends, in Vietnamese and English: the short texts of
`templates/words.toml`, the jinja templates of the bodies, and times in words in a site's zone.

Read on first use and kept (nothing is read at import time); a missing key or a key without both
languages fails the first use, which every test of the mail makes.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

import jinja2

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")


@dataclass(frozen=True)
class Words:
    """The short texts in one language, by key (`{name}` placeholders left to the caller)."""

    texts: dict[str, str]
    weekdays: tuple[str, ...]
    months: tuple[str, ...]

    def __getitem__(self, key: str) -> str:
        return self.texts[key]


def _per_language(key: str, value: object) -> dict[str, object]:
    if isinstance(value, dict) and set(value) == set(LANGUAGES):
        return value
    if isinstance(value, str):  # the same text in both languages (a bilingual mail)
        return dict.fromkeys(LANGUAGES, value)
    raise ValueError(f"words.toml: {key} needs exactly vi and en, or one text for both")


@functools.cache
def _catalog() -> dict[Language, Words]:
    source = resources.files("orchestrator.invites") / "templates" / "words.toml"
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    texts: dict[Language, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    lists: dict[Language, dict[str, tuple[str, ...]]] = {lang: {} for lang in LANGUAGES}
    for key, value in data.items():
        entry = _per_language(key, value)
        for lang in LANGUAGES:
            text = entry[lang]
            if isinstance(text, list):
                lists[lang][key] = tuple(str(item) for item in text)
            else:
                texts[lang][key] = str(text)
    return {
        lang: Words(texts[lang], lists[lang]["time.weekdays"], lists[lang]["time.months"])
        for lang in LANGUAGES
    }


@functools.cache  # called per invite: one cached call
def words(language: Language) -> Words:
    """The short texts in `language`."""
    return _catalog()[language]


@functools.cache
def _environment() -> jinja2.Environment:
    # Built on first use, once per process: templates are compiled once and kept (auto_reload
    # off, so no file checks per invite).
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("orchestrator.invites", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    # The templates use none of jinja's default globals (range, lipsum...); without them each
    # render skips merging them into its context, a good part of a small template's cost.
    environment.globals.clear()
    return environment


@functools.cache
def template(name: str) -> jinja2.Template:
    """The template `name` of `templates/` (`vi/request.txt`, `attendance_record.txt`...)."""
    return _environment().get_template(name)


def render_text(name: str, **values: object) -> str:
    """A plain-text body: the template `name` filled in, without its last line break (the mail
    writes its own line ends)."""
    return template(name).render(values).removesuffix("\n")


# Times in words, in the site's zone -------------------------------------------------------


def _day(moment: datetime, language: Language) -> str:
    # Names come from the catalog, not strftime: %A follows the process locale.
    w = words(language)
    return w["time.day"].format(
        weekday=w.weekdays[moment.weekday()], month=w.months[moment.month - 1], moment=moment
    )


def zone_label(zone: str, language: Language) -> str:
    """`giờ Asia/Ho_Chi_Minh` / `Asia/Ho_Chi_Minh time`."""
    return words(language)["time.zone"].format(zone=zone)


# Cached: every site of a session in one zone shares these phrases.
@functools.lru_cache(maxsize=1024)
def describe_range(start: datetime, end: datetime, zone: str, language: Language) -> str:
    """E.g. `08:00–11:30 thứ Năm 10/12/2026 (giờ Asia/Ho_Chi_Minh)`, in `zone`."""
    tz = ZoneInfo(zone)
    s, e = start.astimezone(tz), end.astimezone(tz)
    if s.date() == e.date():
        when = f"{s:%H:%M}–{e:%H:%M} {_day(s, language)}"
    else:
        when = f"{s:%H:%M} {_day(s, language)} – {e:%H:%M} {_day(e, language)}"
    return f"{when} ({zone_label(zone, language)})"


@functools.lru_cache(maxsize=1024)
def describe_instant(moment: datetime, zone: str, language: Language) -> str:
    """E.g. `07:30 thứ Năm 10/12/2026 (giờ Asia/Ho_Chi_Minh)`, in `zone`."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} {_day(local, language)} ({zone_label(zone, language)})"


# Cached: the text around the site's own lines is the same for every site of a session that
# shares a zone and language.
@functools.lru_cache(maxsize=1024)
def description_frame(
    cancelled: bool,
    start: datetime,
    end: datetime,
    zone: str,
    language: Language,
    connection_test_at: datetime | None,
    agenda: str,
) -> tuple[str, str]:
    """An invite's DESCRIPTION before the site's lines (cancelled, time, connection test) and
    after them (the agenda)."""
    w = words(language)
    before = []
    if cancelled:
        before.append(w["calendar.cancelled"])
    before.append(f"{w['calendar.when']}: {describe_range(start, end, zone, language)}")
    if connection_test_at is not None:
        test = describe_instant(connection_test_at, zone, language)
        before.append(f"{w['calendar.test']}: {test}")
    agenda = agenda.strip()
    after = f"\n\n{w['calendar.agenda']}:\n{agenda}" if agenda else ""
    return "\n".join(before), after
