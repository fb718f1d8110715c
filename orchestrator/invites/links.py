"""The signed links mail carries: one-click answers to an invite, and the pages of the people
it goes to (a coordinator's session page, the chair's board), through the `PageLinks` port."""

from __future__ import annotations

import secrets
from datetime import timedelta

from orchestrator.domain.models import Role, Session, Site
from orchestrator.domain.outbox import PageLink, PageLinks
from orchestrator.store.base import Store

# Links to the pages in emails work until this long after the session ends.
PAGE_LINK_DAYS = timedelta(days=30)
RSVP_SECRET = "rsvp-links"


class MailLinks:
    """The secrets behind the links, loaded from the store, and the page links made with them.

    One instance serves every kind of mail: the page links' secret is loaded once, on the first
    `load()`; without `pages` (or before that) mail carries no page links.
    """

    def __init__(self, store: Store, pages: PageLinks | None = None) -> None:
        self._store = store
        self._pages = pages
        self._maker: PageLink | None = None

    async def load(self) -> bytes:
        """The answer links' key (made and stored on first use); loads the page links' secret
        the first time. May raise the store's errors."""
        if self._pages is not None and self._maker is None:
            self._maker = await self._pages.link_maker()
        async with self._store.write() as uow:
            return (await uow.tokens.secret(RSVP_SECRET, secrets.token_hex(32))).encode()

    def page(self, session: Session, site: Site | None = None) -> str | None:
        """The signed link to a coordinator's session page (`site`) or the chair's board; None
        until `load()` has run or without page links."""
        if self._maker is None:
            return None
        until = session.end + PAGE_LINK_DAYS
        if site is not None:
            return self._maker(
                role=Role.COORDINATOR,
                site_id=site.id,
                email=site.coordinator.email,
                next_path=f"/site/sessions/{session.id}",
                until=until,
            )
        return self._maker(
            role=Role.CHAIR,
            email=session.chair.email,
            next_path=f"/chair/sessions/{session.id}",
            until=until,
        )
