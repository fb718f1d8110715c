"""Notifications: every mail the service sends, and the invites' own use cases.

Rendered without I/O: `ics.render_calendar` writes one site's REQUEST or CANCEL,
`ics.render_feed` a site's subscription feed, `imip.build_invite_email` the message around an
object, `letters.site_invite` an invite from the session (the words in `wording` and
`templates/`). The outbox is delivered by `dispatch.OutboxDispatcher` through one composer per
kind (`composers`); `service.Invites` answers each site's state, downloads, RSVPs and feeds.
"""

from orchestrator.invites.ics import (
    DEFAULT_ALARMS,
    InviteEvent,
    InviteMethod,
    Party,
    invite_uid,
    render_calendar,
    render_feed,
)
from orchestrator.invites.imip import build_invite_email
from orchestrator.invites.letters import site_invite

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
