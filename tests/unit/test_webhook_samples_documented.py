"""docs/attendance.md shows each webhook's body as the wire samples hold it, one per endpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOWN = re.compile(r"\(`tests/data/wire/([\w.-]+\.json)`\)[^\n]*\n\n```json\n(.*?)\n```", re.S)


def test_every_sample_is_shown_as_it_is() -> None:
    text = (ROOT / "docs" / "attendance.md").read_text(encoding="utf-8")
    shown = {name: json.loads(body) for name, body in SHOWN.findall(text)}
    samples = sorted(p.name for p in (ROOT / "tests" / "data" / "wire").glob("*.json"))
    assert sorted(shown) == samples
    for name in samples:
        sample = json.loads((ROOT / "tests" / "data" / "wire" / name).read_text(encoding="utf-8"))
        assert shown[name] == sample, name


def test_every_endpoint_and_event_has_its_sample() -> None:
    names = {p.name for p in (ROOT / "tests" / "data" / "wire").glob("*.json")}
    for endpoint in ("room-created", "occupant-joined", "occupant-left", "room-destroyed"):
        assert f"event-sync-{endpoint}.json" in names
    for event in ("participant-joined", "participant-left", "room-created", "room-destroyed"):
        assert f"jaas-{event}.json" in names
