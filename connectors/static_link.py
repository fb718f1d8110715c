"""Fixed links: a hardware bridge, a SIP address or any URL pattern the office configures."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from connectors.base import Attendee, Meeting, PermanentConnectorError


def slugify(text: str, max_len: int = 40) -> str:
    """ASCII slug of `text`: Vietnamese letters lose their marks, đ becomes d."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "phien"


class StaticLinkProvider:
    """Links from a template with `{room}` and `{site}` placeholders."""

    def __init__(self, url_template: str, max_participants: int = 1_000_000) -> None:
        if "{room}" not in url_template and "{site}" not in url_template:
            raise PermanentConnectorError(
                f"static url_template {url_template!r} needs a {{room}} or {{site}} placeholder"
            )
        self._template = url_template
        self._max_participants = max_participants

    @property
    def name(self) -> str:
        return "static"

    @property
    def max_participants(self) -> int:
        return self._max_participants

    def room_name(self, title: str, salt: str) -> str:
        return f"{slugify(title)}-{salt[:10]}"

    def join_url(self, meeting: Meeting, attendee: Attendee) -> str:
        return self._template.format(room=_quoted(meeting.room), site=_quoted(attendee.site_id))


# What `quote(text, safe="")` leaves as it is: a room name or site id made only of these is its
# own quoted form (most are), found several times faster than by quoting it (10,000 sites'
# links quoted each site and the room each time: about half of a national booking's links).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def _quoted(text: str) -> str:
    return text if _UNRESERVED(text) else quote(text, safe="")
