"""Per-site invites, rendered without I/O: the iCalendar object (iTIP) and its email (iMIP).

`ics.render_calendar` writes one site's REQUEST or CANCEL, `ics.render_feed` a site's
subscription feed, `imip.build_invite_email` the message around an object. Sending, storing
SEQUENCE numbers and the outbox live elsewhere.
"""

from orchestrator.invites.ics import (
    DEFAULT_ALARMS,
    InviteEvent,
    InviteMethod,
    Party,
    invite_uid,
    render_calendar,
    render_feed,
    site_invite,
)
from orchestrator.invites.imip import build_invite_email

__all__ = [
    "DEFAULT_ALARMS",
    "InviteEvent",
    "InviteMethod",
    "Party",
    "build_invite_email",
    "invite_uid",
    "render_calendar",
    "render_feed",
    "site_invite",
]
