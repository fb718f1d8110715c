"""One site's invite email (iMIP, RFC 6047): text, HTML and the iTIP object, plus `invite.ics`.

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain; charset=UTF-8
    │   ├── text/html; charset=UTF-8
    │   └── text/calendar; method=<METHOD>; charset=UTF-8; component=VEVENT
    └── application/ics; name="invite.ics"   (attachment, optional)

Every part is base64 and every header is written ready-encoded (RFC 2047 words for non-ASCII
text), which lets the message skip the email package's header parsing: see `_InvitePolicy`.
The bodies are rendered once per session and filled in per site (`_render_bodies`), and the
message's bytes are written while it is built and kept with it (`_InviteMessage`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import operator
import re
import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import EmailPolicy, Policy, default
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import jinja2
from markupsafe import escape

from orchestrator.invites.ics import (
    LANGUAGES,
    InviteEvent,
    InviteMethod,
    Language,
    Party,
    describe_instant,
    describe_range,
    zone_label,
)

_SUBJECTS = {
    ("vi", "new"): "Mời họp: {summary}",
    ("vi", "changed"): "Cập nhật lịch họp: {summary}",
    ("vi", "cancel"): "Hủy họp: {summary}",
    ("en", "new"): "Invitation: {summary}",
    ("en", "changed"): "Updated invitation: {summary}",
    ("en", "cancel"): "Cancelled: {summary}",
}

# Headers the MIME machinery reads while it writes a message (several times per part). They are
# handed back as plain strings; see _Prepared.
_STRUCTURAL = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition", "mime-version"}
)
_MAX_LINE = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters
# 39 UTF-8 bytes -> 52 base64 characters -> a 64-character encoded word, which fits on a header's
# first line after its name (`Subject: `) within 78 columns (RFC 2047 allows up to 75).
_WORD_BYTES = 39


class _Prepared(str):
    """A header value already in its wire form: ASCII, folded at spaces to 78 columns.

    The email package parses every header value into a header object when it is stored and
    refolds it when the message is written, which costs more than the rest of an invite
    together. A `_Prepared` value skips both: it has the two things the package asks of a
    header object when writing (`name`, `fold()`), and is written as it is. Read back, it
    gives the parsed header object, made on first use, so `msg["To"].addresses` or
    `part.is_attachment()` work as usual; for the MIME headers the package re-reads while it
    writes (Content-Type...), the string itself comes back and forwards attribute look-ups
    (`.params`, `.content_type`) to the parsed object.
    """

    name: str
    _parsed: Any

    def __new__(cls, folded: str, name: str) -> _Prepared:
        obj = super().__new__(cls, folded)
        obj.name = name
        obj._parsed = None
        return obj

    def __reduce__(self) -> tuple[type[_Prepared], tuple[str, str]]:
        # copy and pickle rebuild it from its text and name (the parsed form is made again).
        return _Prepared, (str(self), self.name)

    def fold(self, *, policy: Policy[Any]) -> str:
        linesep = policy.linesep
        if "\n" in self:
            return f"{self.name}: {self.replace(chr(10), linesep)}{linesep}"
        return f"{self.name}: {self}{linesep}"

    def parsed(self) -> Any:
        if self._parsed is None:
            self._parsed = default.header_factory(self.name, "".join(self.splitlines()))
        return self._parsed

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.parsed(), attr)


def _fold_header(name: str, value: str) -> str:
    """`value` folded at spaces so that no line (the first with `Name: `) passes 78 columns."""
    if len(name) + 2 + len(value) <= _MAX_LINE:
        return value
    lines: list[str] = []
    current = ""
    width = _MAX_LINE - len(name) - 2
    for word in value.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current, width = word, _MAX_LINE - 1  # the continuation's leading space
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\n ".join(lines)


def _prepare(name: str, value: Any) -> _Prepared | None:
    """`value` as a `_Prepared` header if it is a plain ASCII string without line breaks."""
    if type(value) is str and value.isascii() and "\n" not in value and "\r" not in value:
        return _Prepared(_fold_header(name, value), name)
    return None


if TYPE_CHECKING:
    _EmailPolicy = EmailPolicy[EmailMessage]
else:  # not subscriptable at run time
    _EmailPolicy = EmailPolicy


class _InvitePolicy(_EmailPolicy):
    """The default email policy, with a fast path for ASCII header values.

    An ASCII value without line breaks is stored folded as a `_Prepared` string instead of being
    parsed; anything else (non-ASCII, or a value a caller set later) takes the default path.
    """

    def header_max_count(self, name: str) -> int | None:
        # The default looks the header class up anew on every header set; the answer is fixed.
        return _max_count(name.lower())

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        prepared = _prepare(name, value)
        if prepared is not None:
            return name, prepared
        return super().header_store_parse(name, value)

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, _Prepared):
            if name.lower() in _STRUCTURAL:
                return value if "\n" not in value else _Prepared("".join(value.splitlines()), name)
            return value.parsed()
        return super().header_fetch_parse(name, value)


@functools.lru_cache(maxsize=128)
def _max_count(name: str) -> int | None:
    count: int | None = default.header_max_count(name)
    return count


# CRLF line ends: as_bytes() is what goes on the wire and into .eml files.
POLICY = _InvitePolicy(linesep="\r\n")


_LINE_ENDS_RE = re.compile(r"\r\n|\r|\n")
_BOUNDARY_RE = re.compile(r';\s*boundary="([^"\\]+)"', re.IGNORECASE)


def _flatten(message: Message[Any, Any], policy: Policy[Any], out: list[str]) -> bool:
    """Append `message` as BytesGenerator writes it; False for what this does not cover.

    Covered: multipart parts with a list payload, a boundary and no preamble or epilogue (not
    multipart/signed), and leaves whose payload is an ASCII string; headers that are ASCII once
    folded. Anything else is left to the email package's own generator.
    """
    linesep = policy.linesep
    raw_type: object = None
    for name, value in message.raw_items():
        if isinstance(value, _Prepared):
            out.append(value.fold(policy=policy))
        else:
            try:
                out.append(policy.fold_binary(name, value).decode("ascii"))
            except UnicodeDecodeError:
                return False
        if raw_type is None and name.lower() == "content-type":
            raw_type = value
    out.append(linesep)
    payload = message.get_payload()  # the stored body: a list of parts, or text as stored
    if isinstance(raw_type, _Prepared):
        # Our own header: its type and boundary without the general parameter parser.
        ctype = raw_type.partition(";")[0].strip().lower()
        found = _BOUNDARY_RE.search(raw_type)
        boundary = found.group(1) if found else None
    else:
        ctype, boundary = message.get_content_type(), None
    if ctype.count("/") != 1:
        return False
    maintype, _, subtype = ctype.partition("/")
    if maintype == "multipart":
        if (
            not isinstance(payload, list)
            or not payload
            or subtype == "signed"
            or message.preamble is not None
            or message.epilogue is not None
        ):
            return False
        boundary = boundary or message.get_boundary()
        if not boundary:
            return False
        out.append(f"--{boundary}{linesep}")
        for index, part in enumerate(payload):
            if index:
                out.append(f"{linesep}--{boundary}{linesep}")
            if not _flatten(part, policy, out):
                return False
        out.append(f"{linesep}--{boundary}--{linesep}")
        return True
    if maintype == "message" or not isinstance(payload, str) or not payload.isascii():
        return False
    if "\r" in payload:
        out.append(_LINE_ENDS_RE.sub(linesep, payload))
    else:
        out.append(payload.replace("\n", linesep))
    return True


# What the bytes of one part of a built message depend on: the part (None for the message
# itself), its header list and payload as they were, and a multipart's sub-parts as they were.
_State: TypeAlias = (
    "tuple[Message[Any, Any] | None, tuple[Any, ...], Any, tuple[object, ...] | None]"
)


def _state(part: Message[Any, Any], *, top: bool = False) -> _State:
    state = part.__dict__  # the email package keeps these private; only read here
    payload = state["_payload"]
    items = tuple(payload) if isinstance(payload, list) else None
    return None if top else part, tuple(state["_headers"]), payload, items


def _same(items: Sequence[object], kept: Sequence[object]) -> bool:
    return len(items) == len(kept) and all(map(operator.is_, items, kept))


def _unchanged(message: Message[Any, Any], states: Sequence[_State]) -> bool:
    """Whether `message` and each part below it still have the headers and payload they had.

    Every way of changing a message (setting, deleting or replacing a header, a new payload,
    attaching, set_content...) changes or replaces its header list or its payload, and the
    strings in them are immutable, so comparing identities is enough. Each multipart's list of
    parts is compared too, so the parts checked are the ones in the tree.
    """
    for part, headers, payload, items in states:
        owner = message if part is None else part
        state = owner.__dict__
        current = state["_payload"]
        if current is not payload or not _same(state["_headers"], headers):
            return False
        if items is not None and (  # a multipart: its parts, preamble and epilogue
            not _same(current, items) or owner.preamble is not None or owner.epilogue is not None
        ):
            return False
    return True


class _InviteMessage(EmailMessage):
    """An EmailMessage that writes itself without the email package's generator when it can.

    The generator costs more than building the invite. `build_invite_email` writes the bytes
    while it builds the message (it has every piece at hand) and keeps them with the state they
    were written from: as long as the message is unchanged, `as_bytes()` returns them. A
    message changed since is written by `_flatten`, which writes the same bytes directly for
    the shapes `build_invite_email` makes; anything else (a `unixfrom`, a part changed into
    something `_flatten` does not cover) goes the usual way. The tests compare all three with
    the email package's generator.
    """

    _written: tuple[bytes, tuple[_State, ...]] | None = None

    def as_bytes(self, unixfrom: bool = False, policy: Policy[Any] | None = None) -> bytes:
        policy = self.policy if policy is None else policy
        if unixfrom:
            return super().as_bytes(unixfrom, policy)
        written = self._written
        if written is not None and policy is POLICY and _unchanged(self, written[1]):
            return written[0]
        out: list[str] = []
        if _flatten(self, policy, out):
            return "".join(out).encode("ascii")
        return super().as_bytes(unixfrom, policy)


def encode_words(text: str) -> str:
    """`text` as RFC 2047 encoded words (UTF-8, base64) when it is not ASCII, else as it is."""
    text = " ".join(text.split())  # no line breaks or runs of spaces in a header
    if text.isascii():
        return text
    data = text.encode()
    words = []
    start = 0
    while start < len(data):
        cut = min(start + _WORD_BYTES, len(data))
        while cut < len(data) and data[cut] & 0xC0 == 0x80:  # not inside a character
            cut -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:cut]).decode('ascii')}?=")
        start = cut
    return " ".join(words)


def format_address(party: Party) -> str:
    """`Name <address>` with the name quoted or encoded as a header needs it."""
    name = " ".join(party.name.split())
    if not name:
        return party.email
    if name.isascii():
        return formataddr((name, party.email))
    return f"{encode_words(name)} <{party.email}>"


# Cached for the values the invites of a session share (the subject, the sender); the
# recipient's address is made anew, once per invite.
_shared_words = functools.lru_cache(maxsize=256)(encode_words)
_shared_address = functools.lru_cache(maxsize=256)(format_address)


def default_subject(event: InviteEvent, language: Language) -> str:
    """`Mời họp: ...` for a new session, `Cập nhật lịch họp: ...` for a changed one (SEQUENCE
    above 0), `Hủy họp: ...` for a cancel; English likewise."""
    kind = "cancel" if event.cancelled else ("changed" if event.sequence > 0 else "new")
    return _SUBJECTS[(language, kind)].format(summary=event.summary)


@functools.lru_cache(maxsize=64)  # one sending time serves a whole batch
def _date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


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
def _template(language: Language, kind: str, extension: str) -> jinja2.Template:
    return _environment().get_template(f"{language}/{kind}.{extension}")


def _prepare_own(name: str, value: str) -> _Prepared:
    """A header value this module makes (ASCII, one line), prepared."""
    prepared = _prepare(name, value)
    if prepared is None:
        raise ValueError(f"{name}: {value!r} is not a plain ASCII header value")
    return prepared


@functools.cache
def _constant(name: str, value: str) -> _Prepared:
    """A header value every invite repeats, prepared once (header objects are immutable)."""
    return _prepare_own(name, value)


@functools.lru_cache(maxsize=1024)
def _shared(name: str, value: str) -> _Prepared | None:
    """A header value the invites of a session share (From, Subject, Date...), prepared once;
    None if it cannot be (see `_prepare`)."""
    return _prepare(name, value)


# The bodies ------------------------------------------------------------------------------


class _Shared(NamedTuple):
    """What the bodies show that is the same for every site of a session (in one language and
    zone)."""

    summary: str
    when: str
    zone: str
    zone_label: str
    connection_test: str | None
    agenda_lines: tuple[str, ...]
    chair: str
    organizer: Party
    updated: bool

    def texts(self) -> tuple[str, ...]:
        organizer = self.organizer
        return (
            self.summary, self.when, self.zone, self.zone_label, self.connection_test or "",
            *self.agenda_lines, self.chair, organizer.name, organizer.email,
        )  # fmt: skip


# Cached: every site of a session in one zone and language shares these.
@functools.lru_cache(maxsize=256)
def _shared_values(
    summary: str,
    start: datetime,
    end: datetime,
    zone: str,
    language: Language,
    connection_test_at: datetime | None,
    agenda: str,
    chair: str,
    organizer: Party,
    updated: bool,
) -> _Shared:
    agenda = agenda.strip()
    return _Shared(
        summary=summary,
        when=describe_range(start, end, zone, language),
        zone=zone,
        zone_label=zone_label(zone, language),
        connection_test=(
            describe_instant(connection_test_at, zone, language)
            if connection_test_at is not None
            else None
        ),
        agenda_lines=tuple(agenda.splitlines()) if agenda else (),
        chair=chair,
        organizer=organizer,
        updated=updated,
    )


class _Person(NamedTuple):
    """The recipient as the templates see it (`attendee.name`)."""

    name: str
    email: str


# The values each site has of its own, in this order: attendee name and email, site name,
# location, join link, RSVP accept and decline links, the site's page on the service.
_SiteValues = tuple[str, str, str, str, str, str | None, str | None, str | None]


def _context(shared: _Shared, site: Sequence[str | None]) -> dict[str, Any]:
    name, email, site_name, location, join_url, accept, decline, page = site
    return {
        "summary": shared.summary,
        "site_name": site_name,
        "when": shared.when,
        "zone": shared.zone,
        "zone_label": shared.zone_label,
        "connection_test": shared.connection_test,
        "join_url": join_url,
        "location": location,
        "agenda_lines": shared.agenda_lines,
        "chair": shared.chair,
        "organizer": shared.organizer,
        "attendee": _Person(name or "", email or ""),
        "updated": shared.updated,
        "rsvp_accept_url": accept,
        "rsvp_decline_url": decline,
        "page_url": page,
    }


def _render_direct(
    language: Language, kind: str, shared: _Shared, site: Sequence[str | None]
) -> tuple[str, str]:
    """The text and HTML bodies, rendered by jinja for this one site."""
    context = _context(shared, site)
    return (
        _template(language, kind, "txt").render(context),
        _template(language, kind, "html").render(context),
    )


# A placeholder for the per-site value number N: a character no shared text holds (checked).
_PLACEHOLDERS = tuple(f"\x00{n}\x00" for n in range(8))
_PLACEHOLDER_RE = re.compile("\x00([0-9])\x00")


class _Frame(NamedTuple):
    """A body rendered once with placeholders, in UTF-8: `head`, then (value number, text)
    pairs."""

    head: bytes
    rest: tuple[tuple[int, bytes], ...]

    @classmethod
    def of(cls, rendered: str) -> _Frame:
        pieces = [piece.encode() for piece in _PLACEHOLDER_RE.split(rendered)]
        rest = zip(map(int, pieces[1::2]), pieces[2::2], strict=True)
        return cls(pieces[0], tuple(rest))

    def fill(self, values: Sequence[str | None], *, html: bool = False) -> bytes:
        """The body with the `values` of its slots (never empty ones), HTML-escaped for `html`
        as jinja's autoescape does."""
        out = [self.head]
        for slot, text in self.rest:
            value = values[slot]
            assert value  # only a set value has a slot
            out += ((_escape(value) if html else value).encode(), text)
        return b"".join(out)


def _escape(value: str) -> str:
    """`markupsafe.escape(value)`, as jinja's autoescape writes it; for a plain string (every
    value here) the same replacements, without building a Markup object."""
    if type(value) is not str:
        return str(escape(value))
    return (
        value.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


@functools.lru_cache(maxsize=256)
def _frames(
    language: Language, kind: str, shared: _Shared, shape: tuple[str | None, ...]
) -> tuple[_Frame, _Frame] | None:
    """The bodies of the sites with this `shape`, rendered once with placeholders.

    `shape` has, for each per-site value, its placeholder if the value is set, else the empty
    value itself: the templates' conditions see the same as with the real values, and a set
    value is only ever written out as it is (HTML-escaped in the HTML body; the tests compare
    the result with jinja's). None when a shared text holds the placeholder character.
    """
    if any("\x00" in text for text in shared.texts()):
        return None
    text, html = _render_direct(language, kind, shared, shape)
    return _Frame.of(text), _Frame.of(html)


def _render_bodies(
    language: Language, kind: str, shared: _Shared, site: _SiteValues
) -> tuple[bytes, bytes]:
    """The text and HTML bodies of one site in UTF-8: what `_render_direct` gives, faster.

    Most sites of a session share every value of the bodies but their own (names, room, links),
    so the bodies are rendered once per session and shape (see `_frames`) and each site's values
    are filled in, HTML-escaped as jinja's autoescape does for the HTML body.
    """
    # Each value's placeholder if the value is set, else the empty value itself.
    shape = tuple(
        [value and placeholder for placeholder, value in zip(_PLACEHOLDERS, site, strict=True)]
    )
    frames = _frames(language, kind, shared, shape)
    if frames is None:
        text, html = _render_direct(language, kind, shared, site)
        return text.encode(), html.encode()
    return frames[0].fill(site), frames[1].fill(site, html=True)


# The parts ------------------------------------------------------------------------------


@functools.cache
def _leaf_headers(
    content_type: str, disposition: str | None
) -> tuple[tuple[_Prepared, ...], bytes]:
    """A leaf's headers, and how they are written (with the blank line after them)."""
    headers = [
        _constant("Content-Type", content_type),
        _constant("Content-Transfer-Encoding", "base64"),
    ]
    if disposition is not None:
        headers.append(_constant("Content-Disposition", disposition))
    return tuple(headers), _header_bytes(headers) + b"\r\n"


def _header_bytes(headers: Iterable[_Prepared]) -> bytes:
    """Prepared headers as the generator writes them with this module's POLICY (CRLF)."""
    text = "".join([f"{header.name}: {header}\n" for header in headers])
    return text.encode("ascii").replace(b"\n", b"\r\n")  # prepared values fold with LF


# A part and its bytes as written, in pieces.
_Written = tuple[EmailMessage, list[bytes]]


def _leaf(content_type: str, body: tuple[str, bytes], disposition: str | None = None) -> _Written:
    """A leaf part of `body` (see `_encoded`)."""
    headers, written = _leaf_headers(content_type, disposition)
    part = EmailMessage(policy=POLICY)
    for header in headers:
        part.set_raw(header.name, header)
    payload, data = body
    part.set_payload(payload)
    return part, [written, data]


def _fill_multipart(
    message: EmailMessage, subtype: str, boundary: str, parts: Sequence[_Written]
) -> _Written:
    """Make `message` the multipart of `parts`: its last header, Content-Type, and payload."""
    content_type = _prepare_own("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')
    message.set_raw("Content-Type", content_type)
    message.set_payload([part for part, _ in parts])
    delimiter = f"--{boundary}".encode("ascii")
    out = [_header_bytes([content_type]), b"\r\n", delimiter, b"\r\n"]
    for index, (_, data) in enumerate(parts):
        if index:
            out += (b"\r\n", delimiter, b"\r\n")
        out += data
    out += (b"\r\n", delimiter, b"--\r\n")
    return message, out


# Lines of a Struct-split base64 text: the format for up to this many whole lines is cached.
_STRUCT_LINES = 1024


@functools.lru_cache(maxsize=128)
def _line_struct(lines: int) -> struct.Struct:
    return struct.Struct("76s" * lines)


def _base64_lines(data: bytes) -> list[bytes]:
    """`data` in base64 as `base64.encodebytes` cuts it: lines of 76 characters (the last one
    shorter), here without their line ends.

    The standard one loops in Python over 57-byte pieces; encoding at once and cutting the
    lines with a Struct stays in C and is several times faster.
    """
    encoded = binascii.b2a_base64(data, newline=False)
    count = len(encoded) // 76
    if count <= _STRUCT_LINES:
        lines = list(_line_struct(count).unpack_from(encoded))
    else:
        lines = list(map(_FIRST, struct.iter_unpack("76s", encoded[: count * 76])))
    if len(encoded) > count * 76:
        lines.append(encoded[count * 76 :])
    return lines


def _base64(data: bytes) -> str:
    """`base64.encodebytes(data)` (76-character lines, each ending in LF), as text."""
    lines = _base64_lines(data)
    lines.append(b"")
    return b"\n".join(lines).decode("ascii")


def _encoded(data: bytes) -> tuple[str, bytes]:
    """`data` in base64 as a part's payload (`_base64`) and as written (CRLF line ends)."""
    lines = _base64_lines(data)
    lines.append(b"")
    return b"\n".join(lines).decode("ascii"), b"\r\n".join(lines)


_FIRST = operator.itemgetter(0)


def _method_of(ics: bytes) -> str:
    start = ics.find(b"\nMETHOD:")
    if start < 0:
        raise ValueError("the calendar object has no METHOD")
    end = ics.find(b"\r", start)
    return ics[start + 8 : end].decode("ascii", "replace")


def build_invite_email(
    event: InviteEvent,
    *,
    ics: bytes,
    subject: str | None = None,
    from_addr: Party | None = None,
    to_addr: Party | None = None,
    language: Language | None = None,
    rsvp_accept_url: str | None = None,
    rsvp_decline_url: str | None = None,
    page_url: str | None = None,
    attach_ics: bool = True,
    message_id: str | None = None,
) -> EmailMessage:
    """The iMIP message of one invite, ready for `as_bytes()` or an SMTP client.

    `ics` is `render_calendar(event)`; its METHOD must be the event's (ValueError otherwise),
    and the text/calendar part says the same in `method=`. `from_addr` defaults to the
    organizer (iTIP replies go to the ORGANIZER address, so they should agree), `to_addr` to the
    attendee, `language` to the event's, `subject` to `default_subject`. The bodies give the time
    in the site's zone with the zone's name, the connection test, the join link, the agenda and,
    in a request, the RSVP links and the link to the site's page on the service when given.
    `message_id` defaults to one derived from the UID,
    method and SEQUENCE, so a retried delivery of one change carries the same Message-ID.
    """
    method = event.method.value
    found = _method_of(ics)
    if found != method:
        raise ValueError(f"the calendar object says METHOD:{found}, the invite is a {method}")
    lang: Language = language or event.language
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {lang!r}")
    sender = from_addr or event.organizer
    recipient = to_addr or event.attendee
    kind = "cancel" if event.method is InviteMethod.CANCEL else "request"
    shared = _shared_values(
        event.summary,
        event.start,
        event.end,
        event.timezone,
        lang,
        event.connection_test_at,
        event.agenda,
        event.chair.name if event.chair is not None else "",
        sender,
        event.sequence > 0,
    )
    site: _SiteValues = (
        recipient.name,
        recipient.email,
        event.site_name,
        event.location,
        event.join_url,
        rsvp_accept_url,
        rsvp_decline_url,
        page_url,
    )
    text, html = _render_bodies(lang, kind, shared, site)

    # One token per (UID, method, SEQUENCE): the MIME boundaries and the Message-ID.
    token = hashlib.blake2b(
        f"{event.uid}/{method}/{event.sequence}".encode(), digest_size=9
    ).hexdigest()
    calendar = _encoded(ics)
    leaves = [
        _leaf("text/plain; charset=UTF-8", _encoded(text)),
        _leaf("text/html; charset=UTF-8", _encoded(html)),
        _leaf(f"text/calendar; method={method}; charset=UTF-8; component=VEVENT", calendar),
    ]
    alternative = EmailMessage(policy=POLICY)
    parts = [_fill_multipart(alternative, "alternative", f"=_alt_{token}", leaves)]
    if attach_ics:
        parts.append(
            _leaf(
                'application/ics; name="invite.ics"', calendar, 'attachment; filename="invite.ics"'
            )
        )

    message = _InviteMessage(policy=POLICY)
    # Short enough for one header line: <token.method-sequence@domain of the UID>.
    domain = event.uid.rpartition("@")[2] or "invites.invalid"
    message_id = message_id or f"<{token}.{method.lower()}-{event.sequence}@{domain}>"
    headers = [
        _add(message, "From", _shared_address(sender), shared=True),
        _add(message, "To", format_address(recipient)),
        _add(
            message, "Subject", _shared_words(subject or default_subject(event, lang)), shared=True
        ),
        _add(message, "Date", _date(event.dtstamp), shared=True),
        _add(message, "Message-ID", message_id),
        _add(message, "Content-Language", lang, shared=True),
        _add(message, "MIME-Version", "1.0", shared=True),
    ]
    _, body = _fill_multipart(message, "mixed", f"=_mixed_{token}", parts)
    prepared = [header for header in headers if header is not None]
    if len(prepared) == len(headers):  # else a header was parsed: as_bytes() writes it
        states = [_state(message, top=True), *[_state(part) for part, _ in (*parts, *leaves)]]
        message._written = (b"".join([_header_bytes(prepared), *body]), tuple(states))
    return message


def _add(message: EmailMessage, name: str, value: str, *, shared: bool = False) -> _Prepared | None:
    """Add a header to a message being built (no earlier one of that name: no count check).

    Returns the prepared value, or None when it was parsed instead (non-ASCII text).
    `shared`: a value many invites of a session repeat, prepared once.
    """
    prepared = _shared(name, value) if shared else _prepare(name, value)
    if prepared is None:
        message[name] = value
    else:
        message.set_raw(name, prepared)
    return prepared
