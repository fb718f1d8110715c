"""Jitsi's reservation API, answered from the bookings (DESIGN 6.5).

Prosody asks before the first person enters a room. A room opens only for a booked, not
cancelled session inside its buffered window, and closes when the session ends (plus a grace).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.domain.clock import Clock
from orchestrator.domain.models import Session, SessionStatus
from orchestrator.store.base import Store

# Each site may connect from several devices (a room PC, a laptop for slides, a phone).
DEVICES_PER_SITE = 3
SPARE_SEATS = 10
JAAS_MAX_OCCUPANTS = 500


class RoomRefused(Exception):
    """Prosody must not open the room; `message` is shown to the person trying to enter."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Reservation:
    """The reply Prosody expects: `duration` in seconds from `start_time`."""

    id: str
    name: str
    mail_owner: str
    start_time: str
    duration: int
    max_occupants: int

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "mail_owner": self.mail_owner,
            "start_time": self.start_time,
            "duration": self.duration,
            "max_occupants": self.max_occupants,
        }


def parse_java_date(value: str) -> datetime:
    """Prosody's `yyyy-MM-dd'T'HH:mm:ss.SSSX` (e.g. 2026-05-12T00:55:12.000Z)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RoomRefused(400, f"start_time {value!r} is not a date-time") from exc
    if parsed.tzinfo is None:
        raise RoomRefused(400, f"start_time {value!r} has no zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise RoomRefused(400, f"start_time {value!r} is outside the calendar") from None


def java_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class Rooms:
    """Answers the video platform's questions about rooms from the bookings."""

    def __init__(self, store: Store, clock: Clock, grace: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._grace = grace

    async def _session_for_room(self, room: str) -> Session:
        async with self._store.read() as uow:
            session = await uow.sessions.by_room(room.lower())
        if session is None:
            raise RoomRefused(
                404, "Phòng họp này chưa được đặt lịch / no session is booked for this room"
            )
        return session

    def _reservation(
        self, session: Session, mail_owner: str, start: datetime, raw: str
    ) -> Reservation:
        closes = session.end + self._grace
        return Reservation(
            id=session.id,
            name=(session.room or "").lower(),
            mail_owner=mail_owner,
            start_time=raw,
            duration=max(0, int((closes - start).total_seconds())),
            max_occupants=len(session.sites) * DEVICES_PER_SITE + SPARE_SEATS,
        )

    async def reserve(self, name: str, start_time: str, mail_owner: str) -> Reservation:
        """Open `name` if its session is booked and inside its window. Raises RoomRefused."""
        if not name or not mail_owner:
            raise RoomRefused(400, "name and mail_owner are required")
        start = parse_java_date(start_time)
        session = await self._session_for_room(name)
        now = self._clock.now()
        zone = ZoneInfo(session.timezone)
        if session.status is SessionStatus.CANCELLED:
            raise RoomRefused(
                403, f"Phiên họp đã bị hủy / the session '{session.title}' was cancelled"
            )
        opens = session.claimed_range.start
        closes = session.end + self._grace
        if now < opens:
            local = opens.astimezone(zone)
            raise RoomRefused(
                403,
                f"Phòng mở lúc {local:%H:%M %d/%m/%Y} ({session.timezone}) / "
                f"the room opens at {local:%H:%M on %Y-%m-%d} ({session.timezone})",
            )
        if now >= closes:
            raise RoomRefused(
                403, f"Phiên họp đã kết thúc / the session '{session.title}' has ended"
            )
        return self._reservation(session, mail_owner, start, start_time)

    async def jaas_settings(self, fqn: str, app_id: str) -> dict[str, object]:
        """JaaS SETTINGS_PROVISIONING: the meeting's settings from its booking.

        A room that is not booked (or is cancelled) gets a lobby and two seats, so nobody
        meets there unannounced; a booked one gets seats for every site's devices and, past
        JaaS's 500 participants, visitors.
        """
        owner, _, room = fqn.partition("/")
        if not room or (app_id and owner != app_id):
            raise RoomRefused(400, f"fqn {fqn!r} is not <AppID>/<room> of this application")
        async with self._store.read() as uow:
            session = await uow.sessions.by_room(room.lower())
        if session is None or session.status is SessionStatus.CANCELLED:
            return {"lobbyEnabled": True, "maxOccupants": 2, "visitorsEnabled": False}
        visitors = session.visitors(JAAS_MAX_OCCUPANTS)
        speaking = len(session.sites) - len(visitors)
        seats = speaking * DEVICES_PER_SITE + SPARE_SEATS
        return {
            "lobbyEnabled": False,
            "maxOccupants": max(2, min(JAAS_MAX_OCCUPANTS, seats)),
            "visitorsEnabled": bool(visitors),
            "participantsSoftLimit": max(2, min(JAAS_MAX_OCCUPANTS, speaking)),
        }

    async def reservation(self, conference_id: str) -> Reservation:
        """The reservation of a session by the id returned earlier. Raises RoomRefused."""
        async with self._store.read() as uow:
            session = await uow.sessions.get(conference_id)
        if session is None or session.status is SessionStatus.CANCELLED:
            raise RoomRefused(404, f"no reservation {conference_id}")
        now = self._clock.now()
        return self._reservation(session, "orchestrator", now, java_date(now))
