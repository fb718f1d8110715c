"""What the web layer is given to serve: the use cases it calls and the settings it reads.

The composition root's container is one such `Services` (`serve` and the tests pass it to
`init_app`); nothing in `orchestrator.web` builds, opens or closes them.
"""

from __future__ import annotations

from typing import Protocol

from orchestrator.access.service import Access
from orchestrator.access.signin import SignIn
from orchestrator.attendance.service import Attendance
from orchestrator.booking.gateway import JoinGateway
from orchestrator.booking.service import Bookings
from orchestrator.directory.service import DirectoryService
from orchestrator.domain.clock import Clock
from orchestrator.invites.dispatch import OutboxDispatcher
from orchestrator.invites.service import Invites
from orchestrator.preparation.service import Preparation
from orchestrator.reports.service import Reports
from orchestrator.rooms.service import Rooms
from orchestrator.settings import Settings
from orchestrator.store.base import Store


class Services(Protocol):
    """The parts the app is built over, read once by `init_app`.

    Handlers see the use cases and their own settings sections only (through the app's keys);
    `settings` is read whole here because `init_app` hands out `[server]`, `[jitsi]` and `[jaas]`
    and the background work reads `[attendance]` and `[invites]`.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store:
        """Pinged by `/healthz`; every other read or write goes through a use case."""
        ...

    @property
    def bookings(self) -> Bookings: ...

    @property
    def directory(self) -> DirectoryService: ...

    @property
    def access(self) -> Access: ...

    @property
    def rooms(self) -> Rooms: ...

    @property
    def invites(self) -> Invites: ...

    @property
    def outbox(self) -> OutboxDispatcher:
        """Delivers what is due in the outbox, when the app runs the delivery (`deliver`)."""
        ...

    @property
    def attendance(self) -> Attendance: ...

    @property
    def preparation(self) -> Preparation: ...

    @property
    def signin(self) -> SignIn: ...

    @property
    def reports(self) -> Reports: ...

    @property
    def gateway(self) -> JoinGateway:
        """The join gateway: `/join/{key}` and the rotation of a site's link."""
        ...
