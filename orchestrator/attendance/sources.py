"""What the platforms send, read into neutral observations (DESIGN 6.3 and 6.4).

Prosody's event-sync: Unix *seconds*, no event id (so a natural key dedupes retries), breakout
moves as a leave then a join, and on destroy `all_occupants`, which repeats every join and leave
under the same natural keys: whatever was missed is filled in, nothing is counted twice.
JaaS: Unix *milliseconds*, an `idempotencyKey` per delivery, unknown event types ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Kind = Literal["join", "leave", "created", "destroyed", "present", "absent", "unknown"]


class PayloadError(ValueError):
    """The body is not what the platform sends: answer 400 and record nothing."""


@dataclass(frozen=True)
class Observation:
    """One thing a source saw, before it is tied to a session."""

    source: str
    kind: Kind
    room: str
    at: datetime
    dedupe_key: str
    site_id: str | None = None  # the token's context.user.id, unchecked
    occupant: str | None = None  # one connection: a site may hold several
    data: dict[str, Any] = field(default_factory=dict)


def _seconds(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SyncOccupant(_Lenient):
    occupant_jid: str = Field(min_length=1)
    joined_at: float | None = None
    left_at: float | None = None
    name: str | None = None
    email: str | None = None
    id: str | None = None


class SyncEvent(_Lenient):
    event_name: Literal[
        "muc-room-created", "muc-room-destroyed", "muc-occupant-joined", "muc-occupant-left"
    ]
    room_name: str = Field(min_length=1)
    room_jid: str = ""
    is_breakout: bool = False
    breakout_room_id: str | None = None
    created_at: float | None = None
    destroyed_at: float | None = None
    occupant: SyncOccupant | None = None
    all_occupants: list[SyncOccupant] = Field(default_factory=list)

    @field_validator("room_name")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


def _occupant_key(jid: str, breakout: str | None) -> str:
    # Each room of a meeting (main, breakouts) holds its own connection of the occupant.
    return f"{jid}#{breakout}" if breakout else jid


def _sync_person(
    ev: SyncEvent, person: SyncOccupant, kind: Literal["join", "leave"], when: float
) -> Observation:
    name = "muc-occupant-joined" if kind == "join" else "muc-occupant-left"
    breakout = ev.breakout_room_id if ev.is_breakout else None
    return Observation(
        source="jitsi",
        kind=kind,
        room=ev.room_name,
        at=_seconds(when),
        dedupe_key=f"{ev.room_name}|{breakout or ''}|{person.occupant_jid}|{name}|{when:g}",
        site_id=person.id or None,
        occupant=_occupant_key(person.occupant_jid, breakout),
        data={"name": person.name, "email": person.email, "breakout": breakout},
    )


def read_event_sync(endpoint: str, body: bytes) -> list[Observation]:
    """Observations from one event-sync POST to `/events/<endpoint>` (e.g. `occupant/joined`).

    Raises PayloadError for a body Prosody would not send.
    """
    try:
        ev = SyncEvent.model_validate_json(body)
    except ValidationError as exc:
        raise PayloadError(f"not an event-sync payload: {exc.errors()[0]['msg']}") from exc
    expected = {
        "room/created": "muc-room-created",
        "room/destroyed": "muc-room-destroyed",
        "occupant/joined": "muc-occupant-joined",
        "occupant/left": "muc-occupant-left",
    }.get(endpoint)
    if expected != ev.event_name:
        raise PayloadError(f"{ev.event_name} was posted to /events/{endpoint}")
    if ev.event_name in ("muc-occupant-joined", "muc-occupant-left"):
        person = ev.occupant
        if person is None:
            raise PayloadError("an occupant event needs its occupant")
        if ev.event_name == "muc-occupant-joined":
            if person.joined_at is None:
                raise PayloadError("occupant.joined_at is missing")
            return [_sync_person(ev, person, "join", person.joined_at)]
        if person.left_at is None:
            raise PayloadError("occupant.left_at is missing")
        return [_sync_person(ev, person, "leave", person.left_at)]
    if ev.event_name == "muc-room-created":
        if ev.created_at is None:
            raise PayloadError("created_at is missing")
        return [
            Observation(
                "jitsi",
                "created",
                ev.room_name,
                _seconds(ev.created_at),
                f"{ev.room_name}|{ev.breakout_room_id or ''}|created|{ev.created_at:g}",
            )
        ]
    if ev.destroyed_at is None:
        raise PayloadError("destroyed_at is missing")
    out: list[Observation] = []
    for person in ev.all_occupants:
        if person.joined_at is not None:
            out.append(_sync_person(ev, person, "join", person.joined_at))
        if person.left_at is not None:
            out.append(_sync_person(ev, person, "leave", person.left_at))
    if not ev.is_breakout:  # a breakout closing does not end the meeting
        out.append(
            Observation(
                "jitsi",
                "destroyed",
                ev.room_name,
                _seconds(ev.destroyed_at),
                f"{ev.room_name}||destroyed|{ev.destroyed_at:g}",
            )
        )
    return out


def read_poll(
    room: str,
    at: datetime,
    occupants: list[tuple[str, str | None, str | None]] | None,
    site_emails: dict[str, list[str]],
    *,
    failed: bool = False,
) -> list[Observation]:
    """One presence poll as observations (DESIGN 6.6; the rules of `merge` for polls).

    `occupants` are (jid, email, display name), or None when the room does not exist.
    An occupant maps to a site only when exactly one site of the session has its email; the
    rest are present without a site. A successful poll ends with one room-level `absent` (every
    site not listed was not there); a failed one is a single room-level `unknown`.
    """
    stamp = at.isoformat()
    if failed:
        return [Observation("poll", "unknown", room, at, f"{room}|poll|{stamp}|unknown")]
    out: list[Observation] = []
    for jid, email, name in occupants or []:
        sites = site_emails.get((email or "").strip().lower(), [])
        out.append(
            Observation(
                source="poll",
                kind="present",
                room=room,
                at=at,
                dedupe_key=f"{room}|poll|{stamp}|{jid}",
                site_id=sites[0] if len(sites) == 1 else None,
                occupant=jid,
                data={"name": name, "email": email},
            )
        )
    out.append(Observation("poll", "absent", room, at, f"{room}|poll|{stamp}|absent"))
    return out


class JaasData(_Lenient):
    id: str | None = None
    name: str | None = None
    email: str | None = None
    participantJid: str | None = None
    participantId: str | None = None
    isBreakout: bool | str = False
    breakoutRoomId: str | None = None
    disconnectReason: str | None = None
    moderator: bool | str | None = None
    conference: str | None = None


class JaasEnvelope(_Lenient):
    idempotencyKey: str = Field(min_length=1)
    eventType: str = Field(min_length=1)
    timestamp: int
    fqn: str = Field(min_length=3)
    sessionId: str | None = None
    appId: str | None = None
    data: JaasData = Field(default_factory=JaasData)


_JAAS_KINDS: dict[str, Kind] = {
    "PARTICIPANT_JOINED": "join",
    "PARTICIPANT_LEFT": "leave",
    "ROOM_CREATED": "created",
    "ROOM_DESTROYED": "destroyed",
}


def read_jaas(body: bytes) -> tuple[str | None, list[Observation]]:
    """(the app id of the fqn, observations) of one JaaS webhook; unknown types give none.

    Raises PayloadError for a body JaaS would not send.
    """
    try:
        env = JaasEnvelope.model_validate_json(body)
    except ValidationError as exc:
        raise PayloadError(f"not a JaaS webhook: {exc.errors()[0]['msg']}") from exc
    app, _, room = env.fqn.partition("/")
    if not room:
        raise PayloadError(f"fqn {env.fqn!r} is not <AppID>/<room>")
    kind = _JAAS_KINDS.get(env.eventType)
    if kind is None:
        return app, []
    d = env.data
    breakout = d.breakoutRoomId if str(d.isBreakout).lower() == "true" else None
    person = d.participantJid or d.participantId
    if kind in ("join", "leave") and not person:
        raise PayloadError("a participant event needs participantJid or participantId")
    if kind == "destroyed" and breakout:
        return app, []
    return app, [
        Observation(
            source="jaas",
            kind=kind,
            room=room.lower(),
            at=datetime.fromtimestamp(env.timestamp / 1000, UTC),
            dedupe_key=env.idempotencyKey,
            site_id=d.id or None,
            occupant=_occupant_key(person, breakout) if person else None,
            data={
                "name": d.name,
                "email": d.email,
                "breakout": breakout,
                "disconnect_reason": d.disconnectReason,
            },
        )
    ]
