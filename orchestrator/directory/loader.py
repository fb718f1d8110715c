"""Reads a directory file (TOML) into validated domain values, or says everything wrong with it.

The file holds four sections; every key not listed here is an error. See docs/directory.md.

    [[regions]]                        # zero or more
    id = "dong-bang-song-hong"         # required: 1-64 of a-z, 0-9, '-'
    name = "Đồng bằng sông Hồng"       # required
    head_site = "ha-noi"               # optional: a site of this file whose region is this one
    chair_name = "..."                 # optional: the region head who chairs regional meetings
    chair_email = "..."                # optional

    [[sites]]                          # zero or more
    id = "ha-noi"                      # required, unique among sites
    name = "Sở GD&ĐT Hà Nội"           # required
    region = "dong-bang-song-hong"     # optional: a region of this file
    timezone = "Asia/Ho_Chi_Minh"      # optional: an IANA zone, default Asia/Ho_Chi_Minh
    capacity = 60                      # optional: people the room seats, default 0 (unknown)
    room = "Phòng họp trực tuyến"      # optional
    language = "vi"                    # optional: vi (default) or en
    [sites.coordinator]                # optional: the site's contact (đầu mối)
    name = "..."
    email = "..."
    phone = "..."

    [[leader_groups]]                  # zero or more
    id = "lanh-dao-bo"                 # required, unique among leader groups
    name = "Lãnh đạo Bộ GD&ĐT"         # required
    members = ["Bộ trưởng"]            # optional

    [policies.regional]                # one table per session kind: national, regional
    working_days = ["mon", "tue", "wed", "thu", "fri"]
    working_hours = ["07:30-11:30", "13:30-17:00"]
    holidays = true                    # refuse public holidays
    holiday_country = "VN"
    min_notice_days = 15               # or min_notice_minutes, not both
    max_duration_minutes = 600

A policy key left out keeps that kind's default (`DEFAULT_POLICIES`); a kind left out is absent
from `Directory.policies`. Problems are reported as `file:line: field: message`, where `field` is
a dotted path with 0-based indexes such as `sites[3].timezone` (the fourth `[[sites]]` table).

Over 500 lines on purpose: this description of the file, then checks that read top to bottom as
the file does, each with the problem code the pages word; split apart they would only pass the
same line map and problem list between modules.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.domain.errors import refusal_words
from orchestrator.domain.models import (
    DEFAULT_POLICIES,
    BookingPolicy,
    LeaderGroup,
    Region,
    SessionKind,
    Site,
    WorkingWindow,
)

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

SECTIONS = ("regions", "sites", "leader_groups", "policies")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Policy keys whose value goes to BookingPolicy unchanged; the others are converted here.
_PLAIN_POLICY_KEYS = frozenset(BookingPolicy.model_fields) - {"working_days", "working_hours"}
_POLICY_KEYS = tuple(
    sorted(_PLAIN_POLICY_KEYS | {"working_days", "working_hours", "min_notice_days"})
)
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_TOML_POSITION_RE = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_TOML_END_RE = re.compile(r"\s*\(at end of document\)\s*$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_CONTEXT = ("max_length", "min_length", "ge", "gt", "le", "lt", "expected")  # pydantic's, kept


@dataclass(frozen=True)
class Directory:
    """Everything a directory file defines, validated and cross-checked."""

    regions: tuple[Region, ...]
    sites: tuple[Site, ...]
    leader_groups: tuple[LeaderGroup, ...]
    policies: dict[SessionKind, BookingPolicy]


@dataclass(frozen=True)
class DirectoryProblem:
    """One thing wrong with a directory file: where (line, field path) and what.

    `message` is English; `code` and `values` say the same as data, for readers that word it in
    another language: a pydantic error type (`string_too_long`, `missing`...) with its context,
    or one of the loader's own codes (`syntax`, `unknown_key`, `duplicate_id`...)."""

    line: int | None
    field: str | None
    message: str
    code: str = ""
    values: tuple[tuple[str, str], ...] = ()

    def render(self, file: str) -> str:
        where = file if self.line is None else f"{file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DirectoryFileError(Exception):
    """A directory file that cannot be used; `problems` lists all that was found, in line order.

    `line`, `field` and `message` are those of the first problem.
    """

    def __init__(self, file: str, problems: Sequence[DirectoryProblem]) -> None:
        if not problems:
            raise ValueError("DirectoryFileError needs at least one problem")
        self.file = file
        self.problems = list(problems)
        first = self.problems[0]
        self.line: int | None = first.line
        self.field: str | None = first.field
        self.message: str = first.message
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(p.render(self.file) for p in self.problems)


def load_directory(path: str | Path) -> Directory:
    """Read and parse the directory file at `path`; raises DirectoryFileError on any problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DirectoryFileError(
            file, [DirectoryProblem(None, None, f"cannot read: {exc}")]
        ) from exc
    return parse_directory(text, file=file)


def parse_directory(text: str, *, file: str = "<string>") -> Directory:
    """Parse a directory file's text; raises DirectoryFileError listing every problem found.

    `file` only names the source in error messages.
    """
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DirectoryFileError(file, [_syntax_problem(str(exc), text)]) from exc
    return _Parser(text, file).parse(data)


def _syntax_problem(message: str, text: str) -> DirectoryProblem:
    if match := _TOML_POSITION_RE.search(message):
        line: int | None = int(match.group(1))
        message = message[: match.start()]
    elif match := _TOML_END_RE.search(message):
        line = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
        message = message[: match.start()] + " at end of file"
    else:
        line = None
    return DirectoryProblem(
        line, None, f"TOML syntax error: {message}", "syntax", (("detail", message),)
    )


def format_loc(loc: Loc) -> str:
    """`("sites", 3, "timezone")` -> `sites[3].timezone`; odd keys are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _BARE_KEY_RE.match(part) else json.dumps(part, ensure_ascii=False)
            out += f".{name}" if out else name
    return out


class _Parser:
    def __init__(self, text: str, file: str) -> None:
        self._file = file
        self._lines = LineIndex(text)
        self._problems: list[DirectoryProblem] = []

    def parse(self, data: Mapping[str, Any]) -> Directory:
        for key in data:
            if key not in SECTIONS:
                allowed = ", ".join(sorted(SECTIONS))
                self._add(
                    (key,),
                    f"unknown section (allowed: {allowed})",
                    "unknown_section",
                    allowed=allowed,
                )
        regions = self._entries(data, "regions", Region)
        sites = self._entries(data, "sites", Site)
        groups = self._entries(data, "leader_groups", LeaderGroup)
        for name, entries in (("regions", regions), ("sites", sites), ("leader_groups", groups)):
            self._check_unique(name, [raw for _, raw in entries])
        self._check_references([raw for _, raw in regions], [raw for _, raw in sites])
        policies = self._policies(data.get("policies", {}))
        if self._problems:
            ordered = sorted(self._problems, key=lambda p: (p.line is None, p.line or 0))
            raise DirectoryFileError(self._file, list(dict.fromkeys(ordered)))
        return Directory(
            regions=tuple(m for m, _ in regions if m is not None),
            sites=tuple(m for m, _ in sites if m is not None),
            leader_groups=tuple(m for m, _ in groups if m is not None),
            policies=policies,
        )

    def _add(self, loc: Loc, message: str, code: str = "", **values: object) -> None:
        said = tuple((key, str(value)) for key, value in values.items())
        line = self._lines.line_of(loc)
        self._problems.append(DirectoryProblem(line, format_loc(loc), message, code, said))

    def _entries(
        self, data: Mapping[str, Any], name: str, model: type[M]
    ) -> list[tuple[M | None, Mapping[str, Any]]]:
        """Validate each table of an array section; the raw table is kept for cross-checks."""
        raw = data.get(name, [])
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            self._add(
                (name,),
                f"must be an array of tables: start each entry with [[{name}]]",
                "not_array",
                section=name,
            )
            return []
        out: list[tuple[M | None, Mapping[str, Any]]] = []
        for index, item in enumerate(raw):
            try:
                out.append((model.model_validate(item), item))
            except ValidationError as exc:
                self._add_validation((name, index), model, exc)
                out.append((None, item))
        return out

    def _add_validation(self, prefix: Loc, model: type[BaseModel], exc: ValidationError) -> None:
        for error in exc.errors(include_url=False):
            loc: tuple[str | int, ...] = tuple(error["loc"])
            kind = error["type"]
            ctx = error.get("ctx") or {}
            values = {k: v for k, v in ctx.items() if k in _CONTEXT}
            if kind == "missing":
                message = "required key is missing"
            elif kind == "extra_forbidden":
                allowed = _allowed_keys(model, loc[:-1])
                message = "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
                kind, values = "unknown_key", {"allowed": ", ".join(allowed)}
            else:
                message = refusal_words(error)
                value = error.get("input")
                if kind != "value_error" and isinstance(value, str | int | float | bool):
                    message += f" (got {value!r})"
                # pydantic adds tags such as 'function-after[_slug(), str]' for validator steps.
                loc = tuple(p for p in loc if isinstance(p, int) or "[" not in p)
                if kind == "value_error" and isinstance(ctx.get("reason"), str):
                    # a validator's refusal as data (`domain.errors.invalid_value`)
                    kind = ctx["reason"]
                    values = {k: v for k, v in ctx.items() if k not in ("reason", "message")}
                elif kind == "value_error":
                    values = {"detail": message}
            self._add(prefix + loc, message, kind, **values)

    def _check_unique(self, name: str, raws: Sequence[Mapping[str, Any]]) -> None:
        first_index: dict[str, int] = {}
        for index, raw in enumerate(raws):
            ident = raw.get("id")
            if not isinstance(ident, str):
                continue
            if ident not in first_index:
                first_index[ident] = index
                continue
            first = first_index[ident]
            line = self._lines.line_of((name, first, "id"))
            where = f"{name}[{first}]" + (f" (line {line})" if line is not None else "")
            self._add(
                (name, index, "id"),
                f"duplicate id {ident!r}: already used by {where}",
                "duplicate_id",
                ident=ident,
                where=where,
            )

    def _check_references(
        self, regions: Sequence[Mapping[str, Any]], sites: Sequence[Mapping[str, Any]]
    ) -> None:
        region_ids = {raw["id"] for raw in regions if isinstance(raw.get("id"), str)}
        region_of_site: dict[str, object] = {}
        for index, raw in enumerate(sites):
            if isinstance(raw.get("id"), str):
                region_of_site.setdefault(raw["id"], raw.get("region"))
            region = raw.get("region")
            if isinstance(region, str) and region not in region_ids:
                self._add(
                    ("sites", index, "region"),
                    f"unknown region {region!r}: no [[regions]] table has this id",
                    "unknown_region",
                    ident=region,
                )
        for index, raw in enumerate(regions):
            head, region_id = raw.get("head_site"), raw.get("id")
            if not isinstance(head, str):
                continue
            loc: Loc = ("regions", index, "head_site")
            if head not in region_of_site:
                self._add(
                    loc,
                    f"unknown site {head!r}: no [[sites]] table has this id",
                    "unknown_site",
                    ident=head,
                )
            elif (actual := region_of_site[head]) != region_id:
                where = f"its region is {actual!r}" if actual is not None else "it has no region"
                self._add(
                    loc,
                    f"site {head!r} is not in region {region_id!r} ({where})",
                    "head_other_region" if actual is not None else "head_no_region",
                    site=head,
                    region=region_id,
                    actual=actual if actual is not None else "",
                )

    def _policies(self, raw: object) -> dict[SessionKind, BookingPolicy]:
        kinds = ", ".join(k.value for k in SessionKind)
        if not isinstance(raw, dict):
            self._add(
                ("policies",),
                f"must be a table with one sub-table per kind ({kinds})",
                "policies_not_table",
                kinds=kinds,
            )
            return {}
        out: dict[SessionKind, BookingPolicy] = {}
        for name, table in raw.items():
            if name not in {k.value for k in SessionKind}:
                self._add(
                    ("policies", name),
                    f"unknown session kind (allowed: {kinds})",
                    "unknown_kind",
                    allowed=kinds,
                )
            elif not isinstance(table, dict):
                self._add(
                    ("policies", name),
                    f"must be a table: write [policies.{name}]",
                    "policy_not_table",
                    kind=name,
                )
            elif (policy := self._policy(SessionKind(name), table)) is not None:
                out[SessionKind(name)] = policy
        return out

    def _policy(self, kind: SessionKind, table: Mapping[str, Any]) -> BookingPolicy | None:
        prefix: Loc = ("policies", kind.value)
        values: dict[str, Any] = DEFAULT_POLICIES[kind].model_dump()
        ok = True
        for key, value in table.items():
            loc = (*prefix, key)
            converted: object = None
            if key == "working_days":
                converted = self._working_days(loc, value)
            elif key == "working_hours":
                converted = self._working_hours(loc, value)
            elif key == "min_notice_days":
                converted = self._notice_days(loc, value, both="min_notice_minutes" in table)
                key = "min_notice_minutes"
            elif key in _PLAIN_POLICY_KEYS:
                converted = value
            else:
                self._add(
                    loc,
                    f"unknown key (allowed: {', '.join(_POLICY_KEYS)})",
                    "unknown_key",
                    allowed=", ".join(_POLICY_KEYS),
                )
            if converted is None:
                ok = False
            else:
                values[key] = converted
        try:
            policy = BookingPolicy.model_validate(values)
        except ValidationError as exc:
            self._add_validation(prefix, BookingPolicy, exc)
            return None
        return policy if ok else None

    def _working_days(self, loc: Loc, value: object) -> tuple[int, ...] | None:
        if not isinstance(value, list) or not value:
            self._add(
                loc,
                'must be a non-empty list of day names, e.g. ["mon", "tue", "wed"]',
                "days_list",
            )
            return None
        days: list[int] = []
        ok = True
        for index, name in enumerate(value):
            day = name.strip().lower() if isinstance(name, str) else None
            if day not in DAY_NAMES:
                self._add(
                    (*loc, index),
                    f"unknown day {name!r} (use {', '.join(DAY_NAMES)})",
                    "unknown_day",
                    day=name,
                    allowed=", ".join(DAY_NAMES),
                )
                ok = False
            elif DAY_NAMES.index(day) in days:
                self._add((*loc, index), f"day {name!r} is listed twice", "day_twice", day=name)
                ok = False
            else:
                days.append(DAY_NAMES.index(day))
        return tuple(sorted(days)) if ok else None

    def _working_hours(self, loc: Loc, value: object) -> tuple[WorkingWindow, ...] | None:
        if not isinstance(value, list) or not value:
            self._add(
                loc, 'must be a non-empty list of windows, e.g. ["07:30-11:30"]', "hours_list"
            )
            return None
        windows: list[WorkingWindow] = []
        ok = True
        for index, text in enumerate(value):
            window = _window(text)
            if isinstance(window, tuple):
                self._add((*loc, index), window[1], window[0], got=text)
                ok = False
            else:
                windows.append(window)
        windows.sort(key=lambda w: w.start)
        for earlier, later in pairwise(windows):
            if later.start < earlier.end:
                self._add(
                    loc,
                    f"windows overlap: {_hhmm(earlier)} and {_hhmm(later)}",
                    "windows_overlap",
                    first=_hhmm(earlier),
                    second=_hhmm(later),
                )
                ok = False
        return tuple(windows) if ok else None

    def _notice_days(self, loc: Loc, value: object, *, both: bool) -> int | None:
        if both:
            self._add(loc, "give min_notice_days or min_notice_minutes, not both", "notice_both")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self._add(
                loc,
                f"must be a whole number of days, 0 or more (got {value!r})",
                "notice_days",
                got=value,
            )
            return None
        return value * 24 * 60


def _window(text: object) -> WorkingWindow | tuple[str, str]:
    """A "HH:MM-HH:MM" window, or the code and words of why it is not one."""
    match = _HOURS_RE.match(text) if isinstance(text, str) else None
    if match is None:
        return "window_format", f'must look like "07:30-11:30" (got {text!r})'
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        return "window_time", f"not a time of day between 00:00 and 23:59 (got {text!r})"
    if start >= end:
        return "window_backwards", f"must end after it starts (got {text!r})"
    return WorkingWindow(start=start, end=end)


def _hhmm(window: WorkingWindow) -> str:
    return f"{window.start:%H:%M}-{window.end:%H:%M}"


def _allowed_keys(model: type[BaseModel], loc: Loc) -> tuple[str, ...]:
    """The keys the (sub)model at `loc` accepts, or () if `loc` does not lead to a model."""
    current = model
    for part in loc:
        info = current.model_fields.get(part) if isinstance(part, str) else None
        annotation = info.annotation if info is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ()
        current = annotation
    return tuple(sorted(current.model_fields))


# --- where things are in the text ------------------------------------------------------------
# tomllib reports no positions for values, so a light scanner maps each table header and key to
# its line. It runs only on text tomllib has accepted, so it need not diagnose anything.

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_ARRAY_HEADER_RE = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]\s*(?:#.*)?$")
_TABLE_HEADER_RE = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]\s*(?:#.*)?$")
_KEY_LINE_RE = re.compile(rf"^\s*({_DOTTED})\s*=(.*)$")
_KEY_PART_RE = re.compile(r"""([A-Za-z0-9_-]+)|"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'""")
_TOKEN_RE = re.compile(r"""\"\"\"|'''|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[#\[\]]""")


class LineIndex:
    """Maps a location such as `("sites", 3, "timezone")` to its 1-based line in the text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Loc, int] = {}
        self._counts: dict[Loc, int] = {}  # tables seen so far in each array of tables
        table: Loc = ()
        open_string: str | None = None  # the delimiter of a multi-line string being read
        depth = 0  # open brackets of a multi-line array
        for number, line in enumerate(text.splitlines(), start=1):
            if open_string is not None:
                end = line.find(open_string)
                if end >= 0:
                    depth, open_string = _scan(line[end + 3 :], depth)
                continue
            if depth > 0:
                depth, open_string = _scan(line, depth)
            elif match := _ARRAY_HEADER_RE.match(line):
                table = self._resolve(_key_parts(match.group(1)), array=True)
                self._lines.setdefault(table, number)
            elif match := _TABLE_HEADER_RE.match(line):
                table = self._resolve(_key_parts(match.group(1)), array=False)
                self._lines.setdefault(table, number)
            elif match := _KEY_LINE_RE.match(line):
                self._lines.setdefault((*table, *_key_parts(match.group(1))), number)
                depth, open_string = _scan(match.group(2), 0)

    def _resolve(self, parts: tuple[str, ...], *, array: bool) -> Loc:
        """A header's location: each array of tables on the way stands for its latest table."""
        loc: Loc = ()
        for position, part in enumerate(parts):
            loc = (*loc, part)
            if array and position == len(parts) - 1:
                count = self._counts.get(loc, 0)
                self._counts[loc] = count + 1
                loc = (*loc, count)
            elif loc in self._counts:
                loc = (*loc, self._counts[loc] - 1)
        return loc

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, else of the nearest enclosing table or key; None if none is known."""
        for size in range(len(loc), 0, -1):
            if (line := self._lines.get(loc[:size])) is not None:
                return line
        return None


def _key_parts(dotted: str) -> tuple[str, ...]:
    return tuple("".join(groups) for groups in _KEY_PART_RE.findall(dotted))


def _scan(fragment: str, depth: int) -> tuple[int, str | None]:
    """Follow a value's brackets to the end of the line: (array depth, open string delimiter)."""
    position = 0
    while match := _TOKEN_RE.search(fragment, position):
        token, position = match.group(), match.end()
        if token in ('"""', "'''"):
            end = fragment.find(token, position)
            if end < 0:
                return depth, token
            position = end + 3
        elif token == "#":
            break
        elif token == "[":
            depth += 1
        elif token == "]":
            depth -= 1
    return max(depth, 0), None
