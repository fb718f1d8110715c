"""The join gateway (DESIGN 10): one link per (series or session, site), `{base_url}/join/{key}`,
that a calendar entry lasting months can carry. Opened inside an occurrence's window (its
connection test to its end plus the link grace) it mints that occurrence's link for the site;
outside every window it names the next occurrence; after the last it says the meetings are over.
Each opening is logged for the chair's board; the office rotates a site's link (the old key stops
working) and the site's invite is sent again with the new one.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from connectors.base import PermanentConnectorError
from orchestrator.booking.links import JoinLinks
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import InvalidRequest, NotFound, SessionNotFound
from orchestrator.domain.join_keys import (
    SECRET_NAME,
    JoinKey,
    JoinSubject,
    join_gateway_url,
    open_join_key,
)
from orchestrator.domain.models import (
    Principal,
    SeriesStatus,
    Session,
    SessionStatus,
    Site,
    require_office,
)
from orchestrator.domain.outbox import OutboxKind
from orchestrator.store.base import LinkOpening, Store, UnitOfWork

log = logging.getLogger(__name__)

Outcome = Literal["opened", "waiting", "ended"]


@dataclass(frozen=True)
class JoinAnswer:
    """What opening a gateway link comes to: `opened` (go to `url`, the occurrence's own link),
    `waiting` (outside every window: `session` is the next occurrence, its connection test at
    `opens_at`) or `ended` (after the last occurrence; `cancelled` when the series or session was
    cancelled). `site` says whose link it is (its name, zone and language word the page)."""

    outcome: Outcome
    title: str
    site: Site
    series: bool
    url: str | None = None
    session: Session | None = None
    opens_at: datetime | None = None
    cancelled: bool = False


class RotatedLinkOut(BaseModel):
    """A site's new gateway link; the previous one no longer opens anything."""

    site_id: str
    join_gateway_url: str


class JoinGateway:
    """Gateway links: made, opened, rotated."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        links: JoinLinks,
        base_url: str,
        *,
        sessions_enabled: bool = False,
    ) -> None:
        self._store = store
        self._clock = clock
        self._links = links
        self._base = base_url.rstrip("/")
        self._sessions_enabled = sessions_enabled
        self._secret: bytes | None = None

    @property
    def sessions_enabled(self) -> bool:
        """Whether single sessions' invites carry gateway links (`[invites] join_gateway`)."""
        return self._sessions_enabled

    async def secret(self) -> bytes:
        """The keys' signing secret (made and stored on first use, shared by every instance).
        May raise the store's errors."""
        if self._secret is None:
            async with self._store.write() as uow:
                value = await uow.tokens.secret(SECRET_NAME, secrets.token_hex(32))
            self._secret = value.encode()
        return self._secret

    async def urls(
        self, subject: JoinSubject, subject_id: str, site_ids: Sequence[str]
    ) -> dict[str, str]:
        """Each site's current gateway link, by site id."""
        secret = await self.secret()
        async with self._store.read() as uow:
            nonces = await uow.joins.nonces(subject_id)
        return {
            site: join_gateway_url(
                self._base, secret, JoinKey(subject, subject_id, site, nonces.get(site, 0))
            )
            for site in site_ids
        }

    async def rotations(self, subject: JoinSubject, subject_id: str) -> dict[str, int]:
        """How many times each site's link was rotated (its key's nonce), by site id."""
        del subject  # a series and a session never share an id
        async with self._store.read() as uow:
            return {site: n for site, n in (await uow.joins.nonces(subject_id)).items() if n}

    # opening --------------------------------------------------------------------------------
    async def open(self, text: str) -> JoinAnswer:
        """What the link `text` (the key of `/join/{key}`) opens now, the opening logged.

        Raises NotFound for a key that was not signed here, whose nonce was rotated, or whose
        series, session or site no longer exists."""
        key = open_join_key(await self.secret(), text)
        if key is None:
            raise NotFound("join link", "")
        now = self._clock.now()
        async with self._store.read() as uow:
            nonce = (await uow.joins.nonces(key.subject_id)).get(key.site_id, 0)
            found = await self._occurrences(uow, key) if nonce == key.nonce else None
            site = (await uow.directory.get_sites([key.site_id])).get(key.site_id)
        if found is None or site is None:
            raise NotFound("join link", "")
        title, occurrences, cancelled = found
        answer = self._answer(key, title, occurrences, cancelled, site, now)
        opened = answer.session
        async with self._store.write() as uow:
            await uow.joins.record_opening(
                LinkOpening(
                    subject_id=key.subject_id,
                    site_id=key.site_id,
                    session_id=opened.id if opened is not None else None,
                    at=now,
                    outcome=answer.outcome,
                )
            )
        log.info(
            "join link of %s %s for %s: %s%s",
            key.subject.value,
            key.subject_id,
            key.site_id,
            answer.outcome,
            f" (session {opened.id})" if opened is not None else "",
        )
        return answer

    async def _occurrences(
        self, uow: UnitOfWork, key: JoinKey
    ) -> tuple[str, list[Session], bool] | None:
        """The title, the sessions the link opens and whether it was cancelled; None when the
        series or session is gone."""
        if key.subject is JoinSubject.SERIES:
            series = await uow.series.get(key.subject_id)
            if series is None:
                return None
            occurrences = await uow.series.occurrences(series.id)
            return series.title, occurrences, series.status is SeriesStatus.CANCELLED
        session = await uow.sessions.get(key.subject_id)
        if session is None:
            return None
        return session.title, [session], session.status is SessionStatus.CANCELLED

    def window(self, session: Session) -> tuple[datetime, datetime]:
        """When the gateway opens the session: from its connection test to its end plus the
        link grace."""
        return (
            session.start - timedelta(minutes=session.buffer_before_minutes),
            self._links.closes_at(session),
        )

    def _answer(
        self,
        key: JoinKey,
        title: str,
        occurrences: list[Session],
        cancelled: bool,
        site: Site,
        now: datetime,
    ) -> JoinAnswer:
        series = key.subject is JoinSubject.SERIES
        live = sorted(
            (
                s
                for s in occurrences
                if s.status is not SessionStatus.CANCELLED and site.id in s.site_ids
            ),
            key=lambda s: s.start,
        )
        inside = [s for s in live if self.window(s)[0] <= now < self.window(s)[1]]
        if inside:
            # Windows of a series do not overlap unless the grace outlasts the gap: then the
            # occurrence about to begin is the one wanted.
            session = inside[-1]
            url = self._mint(session, site)
            return JoinAnswer("opened", session.title, site, series, url=url, session=session)
        upcoming = [s for s in live if self.window(s)[0] > now]
        if upcoming:
            session = upcoming[0]
            return JoinAnswer(
                "waiting",
                session.title,
                site,
                series,
                session=session,
                opens_at=self.window(session)[0],
            )
        return JoinAnswer("ended", title, site, series, cancelled=cancelled)

    def _mint(self, session: Session, site: Site) -> str:
        """The site's link to the session, minted now; the one issued at booking when the
        provider cannot mint it any more (its configuration changed). Raises NotFound when there
        is neither."""
        try:
            return self._links.link(session, site)
        except (InvalidRequest, PermanentConnectorError) as exc:
            stored = next((s.join_url for s in session.sites if s.site_id == site.id), None)
            if stored:
                log.warning("join link of session %s for %s: %s", session.id, site.id, exc)
                return stored
            raise NotFound("join link", "") from exc

    # rotating ------------------------------------------------------------------------------
    async def rotate_series(
        self, series_id: str, site_id: str, principal: Principal
    ) -> RotatedLinkOut:
        """A new gateway link for the site of the series (the office only): the old key stops
        working, the series' version is raised and the site's whole invite is sent again."""
        require_office(principal)
        now = self._clock.now()
        async with self._store.write() as uow:
            series = await uow.series.get(series_id)
            if series is None:
                raise NotFound("series", series_id)
            if site_id not in series.sites:
                raise NotFound("site of this series", site_id)
            nonce = await uow.joins.rotate(series_id, site_id, now)
            version = await uow.series.bump(series_id, now)
            await uow.outbox.add(
                OutboxKind.SERIES_INVITES,
                series_id,
                version,
                {
                    "series_id": series_id,
                    "message": "series",
                    "occurrence": None,
                    "site_ids": [site_id],
                },
                now,
            )
            await self._audit(uow, principal, f"series:{series_id}", site_id, now)
        url = join_gateway_url(
            self._base, await self.secret(), JoinKey(JoinSubject.SERIES, series_id, site_id, nonce)
        )
        return RotatedLinkOut(site_id=site_id, join_gateway_url=url)

    async def rotate_session(
        self, session_id: str, site_id: str, principal: Principal
    ) -> RotatedLinkOut:
        """A new gateway link for the site of a single session (the office only, with
        `[invites] join_gateway` on): the old key stops working and the site's invite is sent
        again with the new link, at a higher SEQUENCE. Raises NotFound with the gateway off."""
        require_office(principal)
        if not self._sessions_enabled:
            raise NotFound("join link of session", session_id)
        now = self._clock.now()
        async with self._store.write() as uow:
            session = await uow.sessions.get(session_id)
            if session is None:
                raise SessionNotFound(session_id)
            if site_id not in session.site_ids:
                raise NotFound("site of this session", site_id)
            nonce = await uow.joins.rotate(session_id, site_id, now)
            # The invite goes again with the new link, its SEQUENCE raised by the rotation
            # (DESIGN 6.7; the site's invites count its rotations from now on); the session
            # itself did not change, so its version stays.
            await uow.outbox.add(
                OutboxKind.INVITES, session_id, session.version, {"resend_sites": [site_id]}, now
            )
            await self._audit(uow, principal, f"session:{session_id}", site_id, now)
        url = join_gateway_url(
            self._base,
            await self.secret(),
            JoinKey(JoinSubject.SESSION, session_id, site_id, nonce),
        )
        return RotatedLinkOut(site_id=site_id, join_gateway_url=url)

    async def _audit(
        self, uow: UnitOfWork, principal: Principal, target: str, site_id: str, now: datetime
    ) -> None:
        await uow.audit.record(
            at=now,
            actor=principal.actor,
            action="join_link.rotate",
            target=target,
            detail={"site_id": site_id},
        )
