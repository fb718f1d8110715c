"""Names of downloaded files: for the session (its title and local date) and the site, so a
coordinator's folder of invitations does not read `invite.ics`, `invite (1).ics`, ..."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def ascii_slug(text: str, max_len: int = 60) -> str:
    """`text` in lowercase ASCII words joined by '-': Vietnamese letters lose their marks and
    đ becomes d ("Hội nghị trực tuyến" → "hoi-nghi-truc-tuyen")."""
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:max_len].rstrip("-")


def session_file_stem(
    title: str, start: datetime, zone: str, site_id: str = "", site_name: str | None = None
) -> tuple[str, str]:
    """The ASCII and the readable stem of a session's file: its title, its date in `zone` and
    the site, e.g. ("hoi-nghi-truc-tuyen-2026-12-10-da-nang",
    "Hội nghị trực tuyến 2026-12-10 Sở GD&ĐT Đà Nẵng")."""
    day = f"{start.astimezone(ZoneInfo(zone)):%Y-%m-%d}"
    words = [ascii_slug(title) or "phien-hop", day, ascii_slug(site_id)]
    readable = [title.strip()[:120], day, site_name or site_id]
    return "-".join(w for w in words if w), " ".join(r for r in readable if r)


def attachment(ascii_stem: str, readable_stem: str, suffix: str) -> str:
    """A Content-Disposition value: an ASCII `filename` every client reads, and the readable
    name in UTF-8 as `filename*` (RFC 6266 / RFC 5987) for those that read it."""
    readable = _UNSAFE.sub(" ", readable_stem).strip() or ascii_stem
    return (
        f'attachment; filename="{ascii_stem}{suffix}"; '
        f"filename*=UTF-8''{quote(readable + suffix, safe='')}"
    )
