"""Changing a booked session: reschedule, retitle, change chair or host, add or remove sites
(bound by rules 1, 4 and 6 like a booking), and cancelling it (its claims released as history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orchestrator.booking.common import (
    INVITES,
    breaches_of,
    check_span,
    check_speakers,
    enforce,
    policies,
    require_office,
    retrying,
    session_resources,
    sites_for,
    sites_of,
)
from orchestrator.booking.gate import ClaimGate, Turn, held_over
from orchestrator.booking.links import JoinLinks
from orchestrator.booking.schemas import SessionOut, UpdateSessionRequest
from orchestrator.booking.series.exceptions import (
    as_exception,
    occurrence_cancelled,
    occurrence_changed,
)
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import (
    BookingConflict,
    Breach,
    Conflict,
    InvalidRequest,
    InvalidState,
    SessionNotFound,
)
from orchestrator.domain.models import (
    Principal,
    Session,
    SessionSite,
    SessionStatus,
    Site,
)
from orchestrator.store.base import ClaimOverlap, Store, UnitOfWork


class SessionChanges:
    """The office's changes to sessions already booked."""

    def __init__(
        self, store: Store, clock: Clock, links: JoinLinks, gate: ClaimGate | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._links = links
        self._gate = gate or ClaimGate()

    def _out(self, session: Session, sites: dict[str, Site]) -> SessionOut:
        return SessionOut.build(session, sites, self._clock.now(), self._links.visitors(session))

    async def update(
        self, session_id: str, req: UpdateSessionRequest, principal: Principal
    ) -> SessionOut:
        """Reschedule, retitle, change chair or host, add or remove sites (rules 1, 4, 6).

        Raises SessionNotFound, InvalidRequest, InvalidState, PolicyViolation, BookingConflict.
        """
        require_office(principal)
        turn = await self._turn_to_change(session_id, req, principal)
        held: list[Conflict] = []
        claimed: list[Conflict] = []  # what the committed change holds, told to its turn

        async def attempt() -> SessionOut:
            async with self._store.write() as uow:
                return await self._update_in(uow, session_id, req, principal, claimed)

        try:
            out = await retrying(attempt)
            held = claimed
            return out
        except ClaimOverlap as exc:
            async with self._store.read() as uow:
                old = await uow.sessions.get(session_id)
                if old is None:
                    raise SessionNotFound(session_id) from exc
                new = _apply(old, req, old.updated_at)
                span = new.claimed_range
                conflicts = await uow.claims.conflicts(
                    session_resources(new), span.start, span.end, old.id
                )
            raise BookingConflict(conflicts) from exc
        except BookingConflict as exc:
            held = exc.conflicts
            raise
        finally:
            if turn is not None:
                self._gate.leave(turn, held)

    async def _turn_to_change(
        self, session_id: str, req: UpdateSessionRequest, principal: Principal
    ) -> Turn | None:
        """This process's turn to claim what the change needs (see `ClaimGate`), once nothing
        refuses it: raises as `update` does before it claims, or BookingConflict when the new
        claims are held: told by a turn it waited for, or looked at outside any transaction;
        None when nothing changes."""
        async with self._store.peek() as uow:
            change = await self._change(uow, session_id, req, principal)
            if not isinstance(change, _Change):
                return None
            resources = [*session_resources(change.old), *change.resources]
            turn = self._gate.enter(resources)
            if turn is not None:  # nobody else here is claiming them: look on this connection
                with self._gate.leaving_on_error(turn):
                    await _refuse_if_held(uow, change)
                return turn
        claimed = change.new.claimed_range
        while True:  # after each turn that held some of them, without a connection meanwhile
            ended = await self._gate.wait(resources)
            told = held_over(ended, change.resources, claimed.start, claimed.end, change.old.id)
            if told:
                raise BookingConflict(told)
            turn = self._gate.enter(resources)
            with self._gate.leaving_on_error(turn):
                async with self._store.peek() as uow:
                    await _refuse_if_held(uow, change)
            if turn is not None:
                return turn

    async def _change(
        self, uow: UnitOfWork, session_id: str, req: UpdateSessionRequest, principal: Principal
    ) -> _Change | Session:
        """The change `req` asks of the session, checked (rules 4 and 6, the session's state,
        the directory), before anything is locked; the session itself when nothing changes.

        Raises SessionNotFound, InvalidRequest, InvalidState, PolicyViolation."""
        old = await uow.sessions.get(session_id)
        if old is None:
            raise SessionNotFound(session_id)
        now = self._clock.now()
        if old.status is SessionStatus.CANCELLED:
            raise InvalidState(
                f"session {session_id} is cancelled and cannot be changed",
                reason="cancelled_no_change",
            )
        if old.end <= now:
            raise InvalidState(
                f"session {session_id} has ended and cannot be changed", reason="ended_no_change"
            )
        unknown_removed = [s for s in req.remove_sites if s not in old.site_ids]
        if unknown_removed:
            raise InvalidRequest(
                f"not sites of this session: {', '.join(unknown_removed)}",
                field="remove_sites",
                reason="not_in_session",
                values={"ids": ", ".join(unknown_removed)},
            )
        new = _apply(old, req, now)
        if _same(old, new):  # nothing to change: no new version, no invites sent again
            return old
        if not new.sites:
            raise InvalidRequest(
                "a session needs at least one site", field="remove_sites", reason="no_sites"
            )
        if new.host_site not in new.site_ids:
            raise InvalidRequest(
                f"the host site {new.host_site} must take part in the session",
                field="host_site",
                reason="host_outside",
                values={"site": new.host_site},
            )
        if new.end <= new.start:
            raise InvalidRequest("end must be after start", field="end", reason="end_before_start")
        check_span(new)
        check_speakers(new)
        sites = await sites_for(uow, list(new.site_ids), "add_sites")
        timing_changed = (new.start, new.end) != (old.start, old.end)
        added = [s for s in new.site_ids if s not in old.site_ids]
        removed = [s for s in old.site_ids if s not in new.site_ids]
        breaches: list[Breach] = []
        if timing_changed or added:
            policy = (await policies(uow))[new.kind]
            breaches = breaches_of(new, sites, policy, self._clock.now())
            enforce(breaches, req.override_reason, principal)
        return _Change(old, new, sites, added, removed, breaches, session_resources(new), now)

    async def _update_in(
        self,
        uow: UnitOfWork,
        session_id: str,
        req: UpdateSessionRequest,
        principal: Principal,
        claimed_out: list[Conflict],
    ) -> SessionOut:
        change = await self._change(uow, session_id, req, principal)
        if not isinstance(change, _Change):
            return self._out(change, await sites_of(uow, [change]))
        old, new, sites, now = change.old, change.new, change.sites, change.now
        added, removed, resources = change.added, change.removed, change.resources
        claimed = new.claimed_range
        await uow.claims.lock(list(dict.fromkeys([*session_resources(old), *resources])))
        conflicts = await uow.claims.conflicts(resources, claimed.start, claimed.end, old.id)
        if conflicts:
            raise BookingConflict(conflicts)
        new = as_exception(old, self._links.issue(new, sites))
        await uow.claims.replace(old.id, resources, claimed.start, claimed.end)
        claimed_out[:] = [Conflict(r, old.id, claimed.start, claimed.end) for r in resources]
        await uow.sessions.update(new, added_sites=added, removed_sites=removed)
        if old.series_id is not None:  # an occurrence changed alone: its series' invites say so
            await occurrence_changed(uow, old, new, removed, now)
        else:
            await uow.outbox.add(
                INVITES, new.id, new.version, {"change": "updated", "removed_sites": removed}, now
            )
        changes = {
            k: v
            for k, v in req.model_dump(mode="json", exclude_unset=True).items()
            if k != "override_reason"
        }
        await uow.audit.record(
            at=now,
            actor=principal.actor,
            action="session.update",
            target=f"session:{old.id}",
            reason=req.override_reason,
            detail={
                "changes": changes,
                "version": new.version,
                "policy_overridden": [b.as_json() for b in change.breaches],
                **({"series_id": old.series_id} if old.series_id else {}),
            },
        )
        return self._out(new, sites)

    async def cancel(
        self, session_id: str, principal: Principal, reason: str | None = None
    ) -> SessionOut:
        """Cancel a session and release its claims. Cancelling twice answers the same.

        Raises SessionNotFound, InvalidState.
        """
        require_office(principal)

        async def attempt() -> SessionOut:
            async with self._store.write() as uow:
                session = await uow.sessions.get(session_id)
                if session is None:
                    raise SessionNotFound(session_id)
                sites = await sites_of(uow, [session])
                if session.status is SessionStatus.CANCELLED:
                    return self._out(session, sites)
                now = self._clock.now()
                if session.end <= now:
                    raise InvalidState(
                        f"session {session_id} has ended and cannot be cancelled",
                        reason="ended_no_cancel",
                    )
                cancelled = session.model_copy(
                    update={
                        "status": SessionStatus.CANCELLED,
                        "updated_at": now,
                        "version": session.version + 1,
                    }
                )
                await uow.claims.release(session.id)
                await uow.sessions.update(cancelled)
                if session.series_id is not None:
                    await occurrence_cancelled(uow, session, now)
                else:
                    await uow.outbox.add(
                        INVITES, session.id, cancelled.version, {"change": "cancelled"}, now
                    )
                await uow.audit.record(
                    at=now,
                    actor=principal.actor,
                    action="session.cancel",
                    target=f"session:{session.id}",
                    reason=reason,
                    detail={"title": session.title},
                )
                return self._out(cancelled, sites)

        return await retrying(attempt)


@dataclass(frozen=True)
class _Change:
    """A change of a session, checked and ready to claim: the session before and after, the
    sites it then takes part in, the sites added and removed, the policy's breaches (overridden
    by the office), the claims it then holds, and when it was asked."""

    old: Session
    new: Session
    sites: dict[str, Site]
    added: list[str]
    removed: list[str]
    breaches: list[Breach]
    resources: list[str]
    now: datetime


async def _refuse_if_held(uow: UnitOfWork, change: _Change) -> None:
    """Raise BookingConflict when another session holds any claim the change needs."""
    claimed = change.new.claimed_range
    held = await uow.claims.conflicts(change.resources, claimed.start, claimed.end, change.old.id)
    if held:
        raise BookingConflict(held)


_COMPARED = (
    "title",
    "agenda",
    "start",
    "end",
    "timezone",
    "chair",
    "host_site",
    "sites",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "speaking_sites",
)


def _same(old: Session, new: Session) -> bool:
    return all(getattr(old, f) == getattr(new, f) for f in _COMPARED)


def _apply(old: Session, req: UpdateSessionRequest, now: datetime) -> Session:
    sites = [s for s in old.sites if s.site_id not in set(req.remove_sites)]
    present = {s.site_id for s in sites}
    sites.extend(SessionSite(site_id=s) for s in dict.fromkeys(req.add_sites) if s not in present)
    update: dict[str, object] = {
        k: v
        for k, v in {
            "title": req.title,
            "agenda": req.agenda,
            "start": req.start,
            "end": req.end,
            "timezone": req.timezone,
            "chair": req.chair,
            "host_site": req.host_site,
            "buffer_before_minutes": req.buffer_before_minutes,
            "buffer_after_minutes": req.buffer_after_minutes,
            "speaking_sites": tuple(req.speaking_sites) if req.speaking_sites is not None else None,
        }.items()
        if v is not None
    }
    update.update(sites=tuple(sites), updated_at=now, version=old.version + 1)
    return old.model_copy(update=update)
