"""What calendars do with a series' invites: RFC 5546's restrictions for each METHOD, the
expansion of an object by `recurring-ical-events` (Python) and by ical.js (JavaScript, run with
node), and a calendar that applies a site's mailed messages in turn (REQUEST, CANCEL, with and
without RECURRENCE-ID) as a client does.

ical.js is the npm package, installed beside the service's other run-time files by the tests
themselves (`var/node`, like axe-core for the browser tests): a failure on CI (CI=true) when it
cannot be, else a skip.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import recurring_ical_events
from icalendar import Calendar, Event

ROOT = Path(__file__).resolve().parents[1]
ICALJS = ROOT / "var" / "node" / "node_modules" / "ical.js" / "dist" / "ical.js"


@dataclass(frozen=True, order=True)
class Seen:
    """One instance a calendar shows: its start and end (UTC), its title, and the original start
    it stands for (its RECURRENCE-ID; the start itself for an instance of the rule)."""

    start: datetime
    end: datetime
    summary: str = field(compare=False)
    recurrence_id: datetime | None = field(default=None, compare=False)


def count(component: Any, name: str) -> int:
    value = component.get(name)
    if value is None:
        return 0
    return len(value) if isinstance(value, list) else 1


def _used_tzids(data: bytes) -> set[str]:
    text = data.decode().replace("\r\n ", "")
    return {
        part.split("=", 1)[1].split(":", 1)[0].split(";", 1)[0]
        for line in text.split("\r\n")
        for part in line.split(";")[1:]
        if part.startswith("TZID=")
    }


def assert_itip(data: bytes) -> Calendar:
    """RFC 5546 section 3.2's restriction table for the object's METHOD (VEVENT), recurring
    events included: every VEVENT has the object's one UID, at most one has no RECURRENCE-ID
    (the master, the only one with RRULE or EXDATE); a CANCEL has no VALARM and says CANCELLED.
    Returns the parsed calendar."""
    cal = Calendar.from_ical(data)
    method = str(cal["METHOD"])
    assert count(cal, "METHOD") == 1
    assert str(cal["VERSION"]) == "2.0"
    assert count(cal, "PRODID") == 1
    events = cal.walk("VEVENT")
    assert events
    if method != "PUBLISH":
        assert len({str(e["UID"]) for e in events}) == 1, f"{method}: one UID per object"
        masters = [e for e in events if "RECURRENCE-ID" not in e]
        assert len(masters) <= 1
        keys = [e.decoded("RECURRENCE-ID") for e in events if "RECURRENCE-ID" in e]
        assert len(set(keys)) == len(keys), "one VEVENT per occurrence"
    required = {
        "REQUEST": ("DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "UID", "SEQUENCE"),
        "CANCEL": ("DTSTAMP", "ORGANIZER", "SEQUENCE", "UID"),
        "PUBLISH": ("DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "UID"),
    }[method]
    at_most_one = (
        "CLASS", "CREATED", "DESCRIPTION", "DTEND", "DTSTART", "DURATION", "GEO",
        "LAST-MODIFIED", "LOCATION", "PRIORITY", "RECURRENCE-ID", "RRULE", "SEQUENCE",
        "STATUS", "SUMMARY", "TRANSP", "URL",
    )  # fmt: skip
    for event in events:
        for name in required:
            assert count(event, name) == 1, f"{method}: {name} must appear once"
        for name in at_most_one:
            assert count(event, name) <= 1, f"{method}: {name} at most once"
        assert not ("DTEND" in event and "DURATION" in event)
        assert count(event, "REQUEST-STATUS") == 0
        if "RECURRENCE-ID" in event:
            assert "RRULE" not in event, "an instance has no rule"
            assert "EXDATE" not in event, "an instance has no rule"
        status = str(event.get("STATUS", ""))
        attendees = count(event, "ATTENDEE")
        alarms = len(event.walk("VALARM"))
        if method == "REQUEST":
            assert attendees >= 1
            assert status in ("", "TENTATIVE", "CONFIRMED")
        elif method == "CANCEL":
            assert attendees >= 1
            assert status == "CANCELLED"
            assert alarms == 0
        else:
            assert attendees == 0
            assert alarms == 0
            assert status in ("", "TENTATIVE", "CONFIRMED", "CANCELLED")
    assert _used_tzids(data) <= {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    return cal


# Expanding ----------------------------------------------------------------------------------

FAR_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)
FAR_AFTER = datetime(2100, 1, 1, tzinfo=UTC)


def _utc(value: Any) -> datetime:
    assert isinstance(value, datetime), value
    assert value.tzinfo is not None, value
    return value.astimezone(UTC)


def expand(data: bytes) -> list[Seen]:
    """The instances `recurring-ical-events` lists for the object, in order."""
    cal = Calendar.from_ical(data)
    seen = []
    for event in recurring_ical_events.of(cal).between(FAR_BEFORE, FAR_AFTER):
        rid = event.get("RECURRENCE-ID")
        seen.append(
            Seen(
                _utc(event.decoded("DTSTART")),
                _utc(event.decoded("DTEND")),
                str(event["SUMMARY"]),
                _utc(rid.dt) if rid is not None else None,
            )
        )
    return sorted(seen)


_ICALJS_EXPAND = r"""
import { readFileSync } from "node:fs";
const ICAL = (await import(process.argv[1])).default;
const root = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
for (const zone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const byUid = new Map();
for (const vevent of root.getAllSubcomponents("vevent")) {
  const uid = vevent.getFirstPropertyValue("uid");
  if (!byUid.has(uid)) byUid.set(uid, { master: null, exceptions: [] });
  const entry = byUid.get(uid);
  if (vevent.hasProperty("recurrence-id")) entry.exceptions.push(vevent);
  else entry.master = vevent;
}
const out = [];
const seen = (start, end, summary, rid) => out.push({
  start: start.toUnixTime(), end: end.toUnixTime(), summary, rid: rid ? rid.toUnixTime() : null,
});
for (const { master, exceptions } of byUid.values()) {
  if (master === null) {
    for (const vevent of exceptions) {
      const event = new ICAL.Event(vevent);
      seen(event.startDate, event.endDate, event.summary, event.recurrenceId);
    }
    continue;
  }
  const event = new ICAL.Event(master);
  for (const exception of exceptions) event.relateException(exception);
  if (!event.isRecurring()) {
    seen(event.startDate, event.endDate, event.summary, null);
    continue;
  }
  const iterator = event.iterator();
  for (let next = iterator.next(), n = 0; next && n < 2000; next = iterator.next(), n++) {
    const details = event.getOccurrenceDetails(next);
    seen(details.startDate, details.endDate, details.item.summary, details.recurrenceId);
  }
}
process.stdout.write(JSON.stringify(out));
"""


@functools.cache
def icaljs() -> Path | None:
    """ical.js's module, installed with npm into var/node when missing; None when it cannot be
    (no npm, no network)."""
    if not ICALJS.exists() and (npm := shutil.which("npm")) is not None:
        prefix = ICALJS.parents[3]
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "ical.js@2"],
            check=False,
            capture_output=True,
            timeout=600,
        )
    return ICALJS if ICALJS.exists() and shutil.which("node") else None


def require_icaljs() -> Path:
    """ical.js, or the test skips (locally) or fails (on CI)."""
    module = icaljs()
    if module is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"ical.js could not be installed ({ICALJS}): calendars must be checked")
        pytest.skip("ical.js is not installed (npm install --prefix var/node ical.js@2)")
    return module


def expand_icaljs(data: bytes) -> list[Seen]:
    """The instances ical.js lists for the object (its own expansion with exceptions)."""
    module = require_icaljs()
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, "--input-type=module", "-e", _ICALJS_EXPAND, module.as_uri()],
        input=data,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return sorted(
        Seen(
            datetime.fromtimestamp(item["start"], UTC),
            datetime.fromtimestamp(item["end"], UTC),
            item["summary"],
            datetime.fromtimestamp(item["rid"], UTC) if item["rid"] is not None else None,
        )
        for item in json.loads(done.stdout)
    )


def assert_calendars_show(data: bytes, expected: list[tuple[datetime, datetime]]) -> None:
    """Both libraries expand `data` to exactly the `expected` (start, end) instants."""
    want = sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in expected)
    python = [(s.start, s.end) for s in expand(data)]
    assert python == want, "recurring-ical-events"
    javascript = [(s.start, s.end) for s in expand_icaljs(data)]
    assert javascript == want, "ical.js"


# A calendar that receives a site's messages --------------------------------------------------


@dataclass
class Client:
    """A site's calendar, applying each iTIP message as a client does (RFC 5546 3.2): a REQUEST
    with the master replaces the whole event; one with only RECURRENCE-ID VEVENTs replaces those
    instances; a CANCEL with RECURRENCE-ID removes that instance, one without removes the event.
    A message whose SEQUENCE is not above the last one applied to its UID is an error here: the
    service raises SEQUENCE on every message (DESIGN 10)."""

    masters: dict[str, Event] = field(default_factory=dict)
    instances: dict[str, dict[datetime, Event]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    zones: dict[str, Any] = field(default_factory=dict)
    applied: list[tuple[str, str, datetime | None, int]] = field(default_factory=list)

    def apply(self, data: bytes) -> None:
        cal = assert_itip(data)
        method = str(cal["METHOD"])
        for zone in cal.walk("VTIMEZONE"):
            self.zones[str(zone["TZID"])] = zone
        events = cal.walk("VEVENT")
        uid = str(events[0]["UID"])
        sequence = max(int(e.decoded("SEQUENCE")) for e in events)
        assert sequence > self.sequences.get(uid, -1), f"SEQUENCE {sequence} did not grow"
        self.sequences[uid] = sequence
        master = next((e for e in events if "RECURRENCE-ID" not in e), None)
        rid = None
        if master is None:
            rid = _utc(events[0].decoded("RECURRENCE-ID"))
        self.applied.append((method, uid, rid, sequence))
        if method == "REQUEST":
            if master is not None:
                self.masters[uid] = master
                self.instances[uid] = {}
            for event in events:
                if "RECURRENCE-ID" in event:
                    key = _utc(event.decoded("RECURRENCE-ID"))
                    self.instances.setdefault(uid, {})[key] = event
            return
        assert method == "CANCEL"
        if master is not None:
            self.masters.pop(uid, None)
            self.instances.pop(uid, None)
            return
        for event in events:
            key = _utc(event.decoded("RECURRENCE-ID"))
            self.instances.setdefault(uid, {}).pop(key, None)
            stored = self.masters.get(uid)
            if stored is not None:
                stored.add("EXDATE", event.decoded("RECURRENCE-ID"))

    def export(self) -> bytes:
        """Everything the calendar holds, as one object (for the expansions)."""
        cal = Calendar()
        cal.add("PRODID", "-//tests//client//EN")
        cal.add("VERSION", "2.0")
        for zone in self.zones.values():
            cal.add_component(zone)
        for uid, master in self.masters.items():
            cal.add_component(master)
            for event in self.instances.get(uid, {}).values():
                cal.add_component(event)
        return cal.to_ical()

    def shows(self) -> list[tuple[datetime, datetime]]:
        """The instants the calendar shows, by both libraries (which must agree)."""
        data = self.export()
        python = [(s.start, s.end) for s in expand(data)]
        javascript = [(s.start, s.end) for s in expand_icaljs(data)]
        assert python == javascript, "recurring-ical-events and ical.js disagree"
        return python


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
