"""What the platforms send, read into neutral observations (DESIGN 6.3 and 6.4).

Prosody's event-sync: Unix *seconds*, no event id (so a natural key dedupes retries), breakout
moves as a leave then a join, and on destroy `all_occupants`, which repeats every join and leave
under the same natural keys: whatever was missed is filled in, nothing is counted twice.
JaaS: Unix *milliseconds*, an `idempotencyKey` per delivery, unknown event types ignored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.domain.text import storable, unstorable

Kind = Literal["join", "leave", "created", "destroyed", "present", "absent", "unknown"]

# What the event log's columns hold (store/tables.py): longer key fields are refused, a longer
# natural key is stored as its digest (still exact: equal keys, equal digests).
ROOM_MAX = 100
OCCUPANT_MAX = 230  # a JID; with "#<breakout>" it stays within the log's 300
BREAKOUT_MAX = 64
SITE_MAX = 64
KEY_MAX = 400
# Instants outside these years are no meeting's: refused rather than stored.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_FIRST, _LAST = EARLIEST.timestamp(), LATEST.timestamp()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


class PayloadError(ValueError):
    """The body is not what the platform sends: answer 400 and record nothing. `field` is the
    dotted path of the missing or bad field (`occupant.occupant_jid`), None when the body is not
    JSON at all."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(slots=True)
class Observation:
    """One thing a source saw, before it is tied to a session. Nothing changes one once made;
    not frozen only because a frozen dataclass costs twice as much to make, and every webhook
    makes one for each event (a room's end, 20,000)."""

    source: str
    kind: Kind
    room: str
    at: datetime
    dedupe_key: str
    site_id: str | None = None  # the token's context.user.id, unchecked
    occupant: str | None = None  # one connection: a site may hold several
    data: dict[str, Any] = field(default_factory=dict)  # what else it says; no null value


def fit_key(key: str) -> str:
    """`key` as the log stores it: itself, or its digest when longer than the column."""
    if len(key) <= KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def micros(at: datetime) -> int:
    """The instant as whole microseconds since the epoch: exact at the log's precision."""
    return (at - _EPOCH) // _MICRO


# The event-sync event an occupant's join or leave comes as, in its key (`sync_key`).
SYNC_EVENTS: dict[Kind, str] = {"join": "muc-occupant-joined", "leave": "muc-occupant-left"}


def sync_key(room: str, breakout: str | None, jid: str, event: str, at: datetime) -> str:
    """The natural key of one event-sync event (DESIGN 6.3: room, occupant, event, instant).

    Exact: two events one microsecond apart have different keys, the same event resent has the
    same one. Migration 0008 re-keyed the events logged before with this very shape.
    """
    return _sync_key(room, breakout, jid, event, micros(at))


def _sync_key(room: str, breakout: str | None, jid: str, event: str, micro: int) -> str:
    """`sync_key` of the instant `micro` microseconds after the epoch."""
    return fit_key(f"{room}|{breakout or ''}|{jid}|{event}|{micro}")


def _instant(value: float, unit: float, where: str) -> datetime:
    """A platform's Unix time (`unit` seconds per count) as an instant, or PayloadError."""
    try:
        seconds = float(value) * unit
    except OverflowError:  # an integer past any float
        seconds = math.nan
    if not _FIRST <= seconds < _LAST:
        raise PayloadError(
            f"{where}: {value!r} is not a Unix time between {EARLIEST.year} and {LATEST.year}",
            where,
        )
    return datetime.fromtimestamp(seconds, UTC)


def _key_text(value: str, where: str, limit: int) -> str:
    """A field the event's identity rests on: refused when it cannot be stored as it is."""
    if unstorable(value):
        raise PayloadError(f"{where} holds a NUL or an unpaired surrogate", where)
    if len(value) > limit:
        raise PayloadError(f"{where} is longer than {limit} characters", where)
    return value


def _free(value: str | None) -> str | None:
    """Free text (a display name, an email): kept without what cannot be stored."""
    return None if value is None else storable(value)


def _site(value: str | None) -> str | None:
    return _fitting_site(_free(value))


def _fitting_site(site: str | None) -> str | None:
    """A storable site id as the log keeps it: None when empty or longer than its column."""
    return site if site and len(site) <= SITE_MAX else None


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


def _invalid(what: str, exc: ValidationError) -> PayloadError:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    if not where:  # not JSON, or not an object: no field to name
        return PayloadError(f"not {what}: {first['msg']}")
    if first["type"] == "missing":
        return PayloadError(f"not {what}: {where} is missing", where)
    return PayloadError(f"not {what}: {where}: {first['msg']}", where)


def _sync_person(
    room: str,
    breakout: str | None,
    jid: str,
    joined_at: float | None,
    left_at: float | None,
    name: str | None,
    email: str | None,
    site: str | None,
    where: str,
) -> list[Observation]:
    """The join (when `joined_at`) and/or leave (when `left_at`) of one occupant, in that
    order; what both share is checked and cleaned once. PayloadError names the first field at
    fault (`where` is the occupant's path): the jid, then the join's, then the leave's time."""
    if unstorable(jid) or len(jid) > OCCUPANT_MAX:
        _key_text(jid, f"{where}.occupant_jid", OCCUPANT_MAX)  # raises
    joined = None if joined_at is None else _sync_instant(joined_at, where, "joined_at")
    left = None if left_at is None else _sync_instant(left_at, where, "left_at")
    if unstorable(f"{name or ''}{email or ''}{site or ''}"):  # (one look at the usual case)
        name, email, site = _free(name), _free(email), _free(site)
    site = _fitting_site(site)
    occupant = _occupant_key(jid, breakout)
    if name is not None and email is not None:  # (the usual case, without `_said`'s loop)
        data = {"name": name, "email": email}
        if breakout:
            data["breakout"] = breakout
    else:
        data = _said(name=name, email=email, breakout=breakout)
    out = []
    times: tuple[tuple[Kind, tuple[datetime, int] | None], ...] = (
        ("join", joined),
        ("leave", left),
    )
    for kind, instant in times:
        if instant is not None:
            at, micro = instant
            key = _sync_key(room, breakout, jid, SYNC_EVENTS[kind], micro)
            out.append(Observation("jitsi", kind, room, at, key, site, occupant, data))
    return out


def _sync_instant(value: float, where: str, name: str) -> tuple[datetime, int]:
    """An event-sync time (Unix seconds) as (the instant, its microseconds since the epoch,
    as `sync_key` writes them)."""
    if _FIRST <= value < _LAST and (whole := int(value)) == value:  # Prosody's: whole seconds
        return datetime.fromtimestamp(whole, UTC), whole * 1_000_000
    at = _instant(value, 1, f"{where}.{name}")
    return at, micros(at)


def _said(**fields: Any) -> dict[str, Any]:
    """What an observation says besides its key fields: the fields that hold a value (the log
    keeps no null)."""
    return {k: v for k, v in fields.items() if v is not None}


_SYNC_ENDPOINTS = {
    "room/created": "muc-room-created",
    "room/destroyed": "muc-room-destroyed",
    "occupant/joined": "muc-occupant-joined",
    "occupant/left": "muc-occupant-left",
}


def read_event_sync(endpoint: str, body: bytes) -> list[Observation]:
    """Observations from one event-sync POST to `/events/<endpoint>` (e.g. `occupant/joined`).

    Raises PayloadError, naming the field, for a body Prosody would not send or whose room,
    occupant or instant cannot be stored. Free text that cannot be stored is dropped from it.
    In `room/destroyed`, an unusable entry of `all_occupants` (a repeat of events already sent
    one by one) is left out rather than refusing the room's end.
    """
    try:
        ev = SyncEvent.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid("an event-sync payload", exc) from exc
    if _SYNC_ENDPOINTS.get(endpoint) != ev.event_name:
        raise PayloadError(f"{ev.event_name} was posted to /events/{endpoint}", "event_name")
    person = ev.occupant
    return _sync_observations(
        ev.event_name,
        ev.room_name,
        ev.is_breakout,
        ev.breakout_room_id,
        ev.created_at,
        ev.destroyed_at,
        None
        if person is None
        else (
            person.occupant_jid,
            person.joined_at,
            person.left_at,
            person.name,
            person.email,
            person.id,
        ),
        [(p.occupant_jid, p.joined_at, p.left_at, p.name, p.email, p.id) for p in ev.all_occupants],
    )


# An occupant as read: (occupant_jid, joined_at, left_at, name, email, id).
_Person = tuple[str, float | None, float | None, str | None, str | None, str | None]


def _sync_observations(
    event: str,
    room: str,
    is_breakout: bool,
    breakout_room_id: str | None,
    created_at: float | None,
    destroyed_at: float | None,
    person: _Person | None,
    everyone: list[_Person],
) -> list[Observation]:
    """The observations of one event-sync event, its fields read (and `room` lowered)."""
    _key_text(room, "room_name", ROOM_MAX)
    breakout = None
    if is_breakout and breakout_room_id:
        breakout = _key_text(breakout_room_id, "breakout_room_id", BREAKOUT_MAX)
    if event in ("muc-occupant-joined", "muc-occupant-left"):
        if person is None:
            raise PayloadError(
                "occupant is missing: an occupant event needs its occupant", "occupant"
            )
        jid, joined_at, left_at, name, email, site = person
        if event == "muc-occupant-joined":
            if joined_at is None:
                raise PayloadError("occupant.joined_at is missing", "occupant.joined_at")
            left_at = None
        else:
            if left_at is None:
                raise PayloadError("occupant.left_at is missing", "occupant.left_at")
            joined_at = None
        return _sync_person(room, breakout, jid, joined_at, left_at, name, email, site, "occupant")
    if event == "muc-room-created":
        if created_at is None:
            raise PayloadError("created_at is missing", "created_at")
        at = _instant(created_at, 1, "created_at")
        # a breakout's creation keeps its id in the key even when `is_breakout` is not set
        own = _key_text(breakout_room_id or "", "breakout_room_id", BREAKOUT_MAX)
        return [
            Observation("jitsi", "created", room, at, fit_key(f"{room}|{own}|created|{micros(at)}"))
        ]
    if destroyed_at is None:
        raise PayloadError("destroyed_at is missing", "destroyed_at")
    ended = _instant(destroyed_at, 1, "destroyed_at")
    out: list[Observation] = []
    for index, (jid, joined_at, left_at, name, email, site) in enumerate(everyone):
        if joined_at is None and left_at is None:
            continue
        try:
            out += _sync_person(
                room,
                breakout,
                jid,
                joined_at,
                left_at,
                name,
                email,
                site,
                f"all_occupants.{index}",
            )
        except PayloadError:
            continue
    if not is_breakout:  # a breakout closing does not end the meeting
        out.append(
            Observation(
                "jitsi", "destroyed", room, ended, fit_key(f"{room}||destroyed|{micros(ended)}")
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
        return [Observation("poll", "unknown", room, at, fit_key(f"{room}|poll|{stamp}|unknown"))]
    out: list[Observation] = []
    for jid, email, name in occupants or []:
        sites = site_emails.get((email or "").strip().lower(), [])
        jid = storable(jid)[:300]
        out.append(
            Observation(
                source="poll",
                kind="present",
                room=room,
                at=at,
                dedupe_key=fit_key(f"{room}|poll|{stamp}|{jid}"),
                site_id=sites[0] if len(sites) == 1 else None,
                occupant=jid,
                data=_said(name=_free(name), email=_free(email)),
            )
        )
    out.append(Observation("poll", "absent", room, at, fit_key(f"{room}|poll|{stamp}|absent")))
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

    Raises PayloadError, naming the field, for a body JaaS would not send or whose room,
    participant or instant cannot be stored. Free text that cannot be stored is dropped from it.
    """
    try:
        env = JaasEnvelope.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid("a JaaS webhook", exc) from exc
    app, _, room = env.fqn.partition("/")
    if not room:
        raise PayloadError(f"fqn: {env.fqn!r} is not <AppID>/<room>", "fqn")
    kind = _JAAS_KINDS.get(env.eventType)
    if kind is None:
        return app, []
    room = _key_text(room.lower(), "fqn", ROOM_MAX)
    key = _key_text(env.idempotencyKey, "idempotencyKey", KEY_MAX)
    at = _instant(env.timestamp, 0.001, "timestamp")
    d = env.data
    breakout = None
    if str(d.isBreakout).lower() == "true" and d.breakoutRoomId:
        breakout = _key_text(d.breakoutRoomId, "data.breakoutRoomId", BREAKOUT_MAX)
    person = d.participantJid or d.participantId
    if kind in ("join", "leave") and not person:
        raise PayloadError(
            "data.participantJid is missing: a participant event needs it or participantId",
            "data.participantJid",
        )
    if person:
        person = _key_text(person, "data.participantJid", OCCUPANT_MAX)
    if kind == "destroyed" and breakout:
        return app, []
    return app, [
        Observation(
            source="jaas",
            kind=kind,
            room=room,
            at=at,
            dedupe_key=key,
            site_id=_site(d.id),
            occupant=_occupant_key(person, breakout) if person else None,
            data=_said(
                name=_free(d.name),
                email=_free(d.email),
                breakout=breakout,
                disconnect_reason=_free(d.disconnectReason),
            ),
        )
    ]
