"""The platforms' payloads, read as they are sent (samples in tests/data/wire)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.attendance.logrows import SyncKeys
from orchestrator.attendance.merge import EventKind, EventSource
from orchestrator.attendance.sources import (
    PayloadError,
    _instant,
    _sync_instant,
    micros,
    read_event_sync,
    read_jaas,
)

WIRE = Path(__file__).resolve().parent.parent / "data" / "wire"


def sample(name: str) -> bytes:
    return (WIRE / name).read_bytes()


def test_event_sync_join_and_leave() -> None:
    [join] = read_event_sync("occupant/joined", sample("event-sync-occupant-joined.json"))
    [leave] = read_event_sync("occupant/left", sample("event-sync-occupant-left.json"))
    assert join.kind == "join"
    assert leave.kind == "leave"
    assert join.room == "hoi-nghi-van-phong-2013-k7q2"
    assert join.site_id == "da-nang"
    assert join.at == datetime(2026, 5, 12, 1, 0, tzinfo=UTC)  # Unix seconds
    assert leave.at == datetime(2026, 5, 12, 2, 0, tzinfo=UTC)
    assert join.occupant == leave.occupant
    assert join.dedupe_key != leave.dedupe_key
    assert join.data["name"] == "Điểm cầu Đà Nẵng"


def test_destroy_repeats_joins_and_leaves_under_the_same_keys() -> None:
    [join] = read_event_sync("occupant/joined", sample("event-sync-occupant-joined.json"))
    [leave] = read_event_sync("occupant/left", sample("event-sync-occupant-left.json"))
    events = read_event_sync("room/destroyed", sample("event-sync-room-destroyed.json"))
    assert [e.kind for e in events] == ["join", "leave", "destroyed"]
    assert events[0].dedupe_key == join.dedupe_key
    assert events[1].dedupe_key == leave.dedupe_key
    [created] = read_event_sync("room/created", sample("event-sync-room-created.json"))
    assert created.kind == "created"


def test_breakout_moves_are_separate_connections() -> None:
    body = json.loads(sample("event-sync-occupant-joined.json"))
    body.update(is_breakout=True, breakout_room_id="br-1")
    [ev] = read_event_sync("occupant/joined", json.dumps(body).encode())
    assert ev.occupant is not None
    assert ev.occupant.endswith("#br-1")
    assert ev.room == "hoi-nghi-van-phong-2013-k7q2"  # the main room's name


def test_a_board_makes_again_exactly_the_keys_of_main_room_joins_and_leaves() -> None:
    """A live board keeps no key it can make again (`SyncKeys`): it must make the very key
    logged, for a join, a leave and a destroyed room's occupants, and none for a breakout's."""
    events = [
        *read_event_sync("occupant/joined", sample("event-sync-occupant-joined.json")),
        *read_event_sync("occupant/left", sample("event-sync-occupant-left.json")),
        *read_event_sync("room/destroyed", sample("event-sync-room-destroyed.json")),
    ]
    keys = SyncKeys("hoi-nghi-van-phong-2013-k7q2")
    made = [
        keys.key(EventSource(e.source), EventKind(e.kind), e.at, e.occupant or "") for e in events
    ]
    assert made == [e.dedupe_key if e.kind != "destroyed" else None for e in events]
    body = json.loads(sample("event-sync-occupant-joined.json"))
    body.update(is_breakout=True, breakout_room_id="br-1")
    [moved] = read_event_sync("occupant/joined", json.dumps(body).encode())
    assert moved.occupant is not None
    again = keys.key(EventSource.JITSI, EventKind.JOIN, moved.at, moved.occupant)
    assert again != moved.dedupe_key  # kept as it is
    assert SyncKeys("another-room").key(EventSource.JITSI, EventKind.JOIN, moved.at, "x") != (
        events[0].dedupe_key
    )


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("occupant/joined", b"not json"),
        ("occupant/joined", b"{}"),
        ("occupant/left", sample("event-sync-occupant-joined.json")),  # wrong endpoint
        ("occupant/joined", b'{"event_name": "muc-occupant-joined", "room_name": "r"}'),
    ],
)
def test_malformed_event_sync_is_refused(endpoint: str, body: bytes) -> None:
    with pytest.raises(PayloadError):
        read_event_sync(endpoint, body)


def test_jaas_participant_left() -> None:
    app, [ev] = read_jaas(sample("jaas-participant-left.json"))
    assert app == "vpaas-magic-cookie-96f0941768964ab380ed0fbada7a502f"
    assert ev.kind == "leave"
    assert ev.site_id == "can-tho"
    assert ev.at == datetime(2026, 5, 12, 2, 0, 0, 123000, tzinfo=UTC)  # Unix milliseconds
    assert ev.dedupe_key == "3f0a6c1e-8d2b-4c57-a1e9-6b7d2f4e9c10"
    assert ev.data["disconnect_reason"] == "unknown"


def test_jaas_unknown_types_are_ignored_and_bad_bodies_refused() -> None:
    body = json.loads(sample("jaas-participant-left.json"))
    body["eventType"] = "TRANSCRIPTION_UPLOADED"
    assert read_jaas(json.dumps(body).encode())[1] == []
    with pytest.raises(PayloadError):
        read_jaas(b'{"eventType": "PARTICIPANT_LEFT"}')
    body["fqn"] = "no-room"
    with pytest.raises(PayloadError):
        read_jaas(json.dumps(body).encode())


@given(
    first=st.floats(min_value=946_684_800, max_value=7_258_118_399),
    gap=st.floats(min_value=1e-4, max_value=1e6),
)
def test_event_sync_keys_tell_apart_any_two_distinct_instants(first: float, gap: float) -> None:
    body = json.loads(sample("event-sync-occupant-joined.json"))

    def key(at: float) -> str:
        body["occupant"]["joined_at"] = at
        [ev] = read_event_sync("occupant/joined", json.dumps(body).encode())
        return ev.dedupe_key

    second = first + gap
    if second < 7_258_118_400:  # 2200: later instants are refused
        assert key(first) != key(second)
    assert key(first) == key(first)  # a resend is known


def test_overlong_natural_keys_are_stored_as_their_digest() -> None:
    body = json.loads(sample("event-sync-occupant-joined.json"))
    body["room_name"] = "r" * 100
    body.update(is_breakout=True, breakout_room_id="b" * 64)
    body["occupant"]["occupant_jid"] = "j" * 230
    [ev] = read_event_sync("occupant/joined", json.dumps(body).encode())
    assert ev.dedupe_key.startswith("sha256:")
    assert len(ev.dedupe_key) <= 400
    body["occupant"]["occupant_jid"] = "j" * 231
    with pytest.raises(PayloadError, match=r"occupant\.occupant_jid is longer than 230"):
        read_event_sync("occupant/joined", json.dumps(body).encode())


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.integers(min_value=946_684_800, max_value=7_258_118_399),
        st.floats(min_value=946_684_800, max_value=7_258_118_399, allow_nan=False),
    )
)
def test_an_event_sync_time_is_read_as_the_general_reading_reads_it(seconds: float) -> None:
    """Whole seconds (Prosody's) take a shorter way to the instant and its key's microseconds:
    the same as `_instant` and `micros` give, for any time in range."""
    at = _instant(seconds, 1, "occupant.joined_at")
    assert _sync_instant(seconds, "occupant", "joined_at") == (at, micros(at))
    assert _sync_instant(float(seconds), "occupant", "joined_at") == (at, micros(at))
