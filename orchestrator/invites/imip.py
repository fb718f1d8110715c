"""One site's invite email (iMIP, RFC 6047): text, HTML and the iTIP object, plus `invite.ics`.

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain; charset=UTF-8
    │   ├── text/html; charset=UTF-8
    │   └── text/calendar; method=<METHOD>; charset=UTF-8; component=VEVENT
    └── application/ics; name="invite.ics"   (attachment, optional)

The bodies are rendered once per session and filled in per site (`_render_bodies`); the message
is written by `mime` while it is built, every part in base64 and every header ready-encoded.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, NamedTuple

import jinja2
from markupsafe import escape

from orchestrator.invites.ics import InviteEvent, InviteMethod, Party
from orchestrator.invites.mime import (
    POLICY,
    InviteMessage,
    add_header,
    encoded,
    fill_multipart,
    format_address,
    header_bytes,
    leaf,
    shared_address,
    shared_words,
)
from orchestrator.invites.wording import (
    LANGUAGES,
    Language,
    describe_instant,
    describe_range,
    template,
    words,
    zone_label,
)


def default_subject(event: InviteEvent, language: Language) -> str:
    """`Mời họp: ...` for a new session, `Cập nhật lịch họp: ...` for a changed one (SEQUENCE
    above 0), `Hủy họp: ...` for a cancel; English likewise (`templates/words.toml`)."""
    kind = "cancel" if event.cancelled else ("changed" if event.sequence > 0 else "new")
    return _subject(language, kind).format(summary=event.summary)


@functools.cache
def _subject(language: Language, kind: str) -> str:
    return words(language)[f"subject.invite.{kind}"]


@functools.lru_cache(maxsize=64)  # one sending time serves a whole batch
def _date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


@functools.cache
def _template(language: Language, kind: str, extension: str) -> jinja2.Template:
    return template(f"{language}/{kind}.{extension}")


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
    when: str | None = None,
) -> EmailMessage:
    """The iMIP message of one invite, ready for `as_bytes()` or an SMTP client.

    `ics` is `render_calendar(event)`; its METHOD must be the event's (ValueError otherwise),
    and the text/calendar part says the same in `method=`. `from_addr` defaults to the
    organizer (iTIP replies go to the ORGANIZER address, so they should agree), `to_addr` to the
    attendee, `language` to the event's, `subject` to `default_subject`. The bodies give the time
    in the site's zone with the zone's name, the connection test, the join link, the agenda and,
    in a request, the RSVP links and the link to the site's page on the service when given.
    `message_id` defaults to one derived from the UID,
    method and SEQUENCE, so a retried delivery of one change carries the same Message-ID. `when`
    replaces the time the bodies give (a series' invite states its occurrences there).
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
    if when is not None:
        shared = shared._replace(when=when)
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
    calendar = encoded(ics)
    leaves = [
        leaf("text/plain; charset=UTF-8", encoded(text)),
        leaf("text/html; charset=UTF-8", encoded(html)),
        leaf(f"text/calendar; method={method}; charset=UTF-8; component=VEVENT", calendar),
    ]
    alternative = EmailMessage(policy=POLICY)
    parts = [fill_multipart(alternative, "alternative", f"=_alt_{token}", leaves)]
    if attach_ics:
        parts.append(
            leaf(
                'application/ics; name="invite.ics"', calendar, 'attachment; filename="invite.ics"'
            )
        )

    message = InviteMessage(policy=POLICY)
    # Short enough for one header line: <token.method-sequence@domain of the UID>.
    domain = event.uid.rpartition("@")[2] or "invites.invalid"
    message_id = message_id or f"<{token}.{method.lower()}-{event.sequence}@{domain}>"
    headers = [
        add_header(message, "From", shared_address(sender), shared=True),
        add_header(message, "To", format_address(recipient)),
        add_header(
            message, "Subject", shared_words(subject or default_subject(event, lang)), shared=True
        ),
        add_header(message, "Date", _date(event.dtstamp), shared=True),
        add_header(message, "Message-ID", message_id),
        add_header(message, "Content-Language", lang, shared=True),
        add_header(message, "MIME-Version", "1.0", shared=True),
    ]
    _, body = fill_multipart(message, "mixed", f"=_mixed_{token}", parts)
    prepared = [header for header in headers if header is not None]
    if len(prepared) == len(headers):  # else a header was parsed: as_bytes() writes it
        written = b"".join([header_bytes(prepared), *body])
        message.keep_bytes(written, (*parts, *leaves))
    return message
