"""The composition root: the only module that builds concrete adapters and wires them.

The CLI, the HTTP server and the tests all call `build()`; tests pass overrides (a clock,
a store) instead of patching.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from connectors.base import Mailer, MeetingProvider, PermanentConnectorError, RoomPresence
from connectors.jaas import JaasProvider
from connectors.jitsi import JitsiProvider
from connectors.smtp import SmtpMailer
from connectors.static_link import StaticLinkProvider
from orchestrator.access.service import Access
from orchestrator.access.signin import SignIn
from orchestrator.attendance.mail import StoredRecordMailParts
from orchestrator.attendance.merge import Thresholds
from orchestrator.attendance.results import LiveRecordResults
from orchestrator.attendance.service import Attendance
from orchestrator.booking.gateway import JoinGateway
from orchestrator.booking.links import JoinLinks
from orchestrator.booking.service import BookingDefaults, Bookings
from orchestrator.directory.service import DirectoryService
from orchestrator.domain.clock import Clock, SystemClock
from orchestrator.domain.join_keys import GatewayLinks
from orchestrator.domain.models import SessionKind
from orchestrator.domain.outbox import OutboxKind, RecordMailParts
from orchestrator.domain.ports import ChangeFeed
from orchestrator.invites.composers import (
    AttendanceRecordComposer,
    InviteComposer,
    ReminderComposer,
    SeriesInviteComposer,
    TaskReminderComposer,
)
from orchestrator.invites.dispatch import Composer, OutboxDispatcher, Retries
from orchestrator.invites.letters import InviteLetters
from orchestrator.invites.letters import InviteSettings as InviteConfig
from orchestrator.invites.links import MailLinks
from orchestrator.invites.series_letters import SeriesLetters
from orchestrator.invites.service import Invites
from orchestrator.lifecycle.service import Lifecycle
from orchestrator.preparation.service import Preparation
from orchestrator.reports.service import Reports
from orchestrator.rooms.service import Rooms
from orchestrator.scheduler.apscheduler_adapter import ApschedulerJobScheduler
from orchestrator.scheduler.leader import Leadership
from orchestrator.scheduler.runtime import SchedulerRuntime
from orchestrator.settings import Settings
from orchestrator.store import migrate
from orchestrator.store.base import Store
from orchestrator.store.files import FileDocuments
from orchestrator.store.sql import SqlStore, create_engine

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything the service is made of, built once."""

    settings: Settings
    clock: Clock
    store: Store
    bookings: Bookings
    directory: DirectoryService
    access: Access
    rooms: Rooms
    invites: Invites
    outbox: OutboxDispatcher
    attendance: Attendance
    lifecycle: Lifecycle
    preparation: Preparation
    signin: SignIn
    gateway: JoinGateway
    reports: Reports
    providers: dict[str, MeetingProvider] = field(default_factory=dict)

    async def close(self) -> None:
        await self.attendance.close()
        await self.store.close()


def build_store(settings: Settings) -> SqlStore:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=settings.database.echo, pool_size=settings.database.pool_size)
    return SqlStore(engine, lock_key_space=settings.database.lock_key_space)


def build_providers(settings: Settings) -> dict[str, MeetingProvider]:
    """`static` always; `jitsi` when `[jitsi] domain` is set; `jaas` when `[jaas] app_id` is.

    Raises PermanentConnectorError for a half-configured provider.
    """
    providers: dict[str, MeetingProvider] = {
        "static": StaticLinkProvider(settings.static.url_template)
    }
    j = settings.jitsi
    if j.domain:
        if j.app_secret is None or not j.app_id:
            raise PermanentConnectorError("[jitsi] domain is set: app_id and app_secret are needed")
        providers["jitsi"] = JitsiProvider(
            j.domain,
            j.app_id,
            j.app_secret.get_secret_value(),
            j.audience or None,
            j.max_participants,
        )
    a = settings.jaas
    if a.app_id:
        if a.private_key_file is None or not a.key_id:
            raise PermanentConnectorError(
                "[jaas] app_id is set: key_id and private_key_file are needed"
            )
        providers["jaas"] = JaasProvider.from_key_file(a.app_id, a.key_id, a.private_key_file)
    return providers


def build_mailer(settings: Settings) -> Mailer:
    s = settings.smtp
    return SmtpMailer(
        s.host,
        s.port,
        username=s.username or None,
        password=s.password.get_secret_value() if s.password else None,
        starttls=s.starttls,
        use_tls=s.use_tls,
        timeout=s.timeout,
        sender=s.sender,
    )


def invite_settings(settings: Settings) -> InviteConfig:
    return InviteConfig(
        base_url=settings.server.base_url,
        organizer_email=settings.smtp.sender,
        organizer_name=settings.smtp.sender_name,
        alarms=tuple(settings.invites.alarms_minutes),
    )


def delivery_retries(settings: Settings) -> Retries:
    i = settings.invites
    return Retries(max_attempts=i.max_attempts, backoff=timedelta(seconds=i.backoff_seconds))


def build_composers(
    store: Store,
    clock: Clock,
    mailer: Mailer,
    letters: InviteLetters,
    links: MailLinks,
    records: RecordMailParts,
    gateway: GatewayLinks,
) -> dict[OutboxKind, Composer]:
    """The composer of each outbox kind: the one table of what mail the service sends."""
    s = letters.settings
    return {
        OutboxKind.INVITES: InviteComposer(store, clock, mailer, letters, links, gateway),
        OutboxKind.SERIES_INVITES: SeriesInviteComposer(
            store, clock, mailer, SeriesLetters(s), links, gateway
        ),
        OutboxKind.REMINDER: ReminderComposer(store, clock, mailer, s, links),
        OutboxKind.TASK_REMINDER: TaskReminderComposer(store, clock, mailer, s),
        OutboxKind.ATTENDANCE_RECORD: AttendanceRecordComposer(store, mailer, s, links, records),
    }


def build_presence(
    settings: Settings, clock: Clock, jitsi: MeetingProvider | None = None
) -> RoomPresence | None:
    """Presence polls when `[jitsi] muc_size_url` is set (mod_muc_size on the Prosody host),
    each carrying a token for the room it asks about with `[jitsi] muc_size_token` (signed by
    the `jitsi` provider, like the sites' links). Raises PermanentConnectorError when a token is
    asked for without the provider."""
    j = settings.jitsi
    if not j.muc_size_url:
        return None
    token = None
    if j.muc_size_token:
        if not isinstance(jitsi, JitsiProvider):
            raise PermanentConnectorError(
                "[jitsi] muc_size_token needs the jitsi provider: domain, app_id and app_secret"
            )
        provider = jitsi

        def token(room: str) -> str:
            return provider.presence_token(room, clock.now())

    from connectors.muc_size import MucSizePresence  # httpx (4 MB): only when polls are set

    return MucSizePresence(j.muc_size_url, j.domain or "localhost", token=token)


def build_feed(store: Store) -> ChangeFeed | None:
    """How boards hear what other instances log: PostgreSQL's LISTEN/NOTIFY; None (in-process,
    one instance) on SQLite."""
    if isinstance(store, SqlStore) and store.backend == "postgresql":
        from orchestrator.store.sql.feed import PgChangeFeed  # asyncpg: PostgreSQL's only

        return PgChangeFeed(store.engine)
    return None


def attendance_thresholds(settings: Settings) -> Thresholds:
    a = settings.attendance
    return Thresholds(
        late_grace_minutes=a.late_grace_minutes,
        left_early_grace_minutes=a.left_early_grace_minutes,
        min_presence=a.min_presence,
    )


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    providers: dict[str, MeetingProvider] | None = None,
    mailer: Mailer | None = None,
) -> Container:
    """Wire the service from `settings`; any keyword replaces the part it names."""
    clock = clock or SystemClock()
    store = store or build_store(settings)
    providers = providers or build_providers(settings)
    b = settings.booking
    defaults = BookingDefaults(
        buffer_before_minutes=b.buffer_before_minutes,
        buffer_after_minutes=b.buffer_after_minutes,
        slot_step_minutes=b.slot_step_minutes,
        link_grace_minutes=b.link_grace_minutes,
    )
    attendance = Attendance(
        store,
        clock,
        attendance_thresholds(settings),
        presence=build_presence(settings, clock, providers.get("jitsi")),
        feed=build_feed(store),
        # renewed every round: another instance takes a room within three rounds of its holder
        poll_lease=timedelta(seconds=3 * settings.attendance.poll_seconds),
    )
    signin = SignIn(store, clock, settings.server.base_url)
    gateway = JoinGateway(
        store,
        clock,
        JoinLinks(providers, b.link_grace_minutes),
        settings.server.base_url,
        sessions_enabled=settings.invites.join_gateway,
    )
    letters = InviteLetters(invite_settings(settings), clock)
    links = MailLinks(store, pages=signin)  # the mail's links sign their addressees in
    composers = build_composers(
        store,
        clock,
        mailer or build_mailer(settings),
        letters,
        links,
        records=StoredRecordMailParts(store),  # the chair's mail reads the frozen record
        gateway=gateway,  # the invites carry the join gateway's links
    )
    outbox = OutboxDispatcher(store, clock, composers, delivery_retries(settings))
    return Container(
        settings=settings,
        clock=clock,
        store=store,
        # a series' answer carries each site's gateway link
        bookings=Bookings(store, clock, providers, defaults, gateway=gateway),
        directory=DirectoryService(store, clock),
        access=Access(store, clock, token_cache_seconds=settings.server.token_cache_seconds),
        signin=signin,
        gateway=gateway,
        rooms=Rooms(store, clock, timedelta(minutes=b.link_grace_minutes)),
        invites=Invites(store, clock, letters, links, outbox, gateway),
        outbox=outbox,
        attendance=attendance,
        lifecycle=Lifecycle(
            store,
            clock,
            records=attendance,  # the lifecycle freezes a session's record when it ends
            reminders={
                SessionKind.NATIONAL: tuple(settings.reminders.national_minutes),
                SessionKind.REGIONAL: tuple(settings.reminders.regional_minutes),
            },
            task_rules=settings.preparation.rules(),
        ),
        preparation=Preparation(
            store,
            clock,
            FileDocuments(settings.preparation.uploads_dir or settings.data_dir / "uploads"),
            settings.preparation.max_upload_bytes,
            settings.preparation.rules(),
        ),
        # the reports count a record not frozen yet as it stands, read live
        reports=Reports(store, clock, LiveRecordResults(attendance), settings.preparation.rules()),
        providers=providers,
    )


def build_scheduler(container: Container, *, tick_seconds: float = 30.0) -> SchedulerRuntime:
    """The scheduler of `serve`: leader election on the container's database, APScheduler jobs
    waking the lifecycle."""
    store = container.store
    if not isinstance(store, SqlStore):
        raise TypeError("the scheduler elects its leader on the SQL store")
    return SchedulerRuntime(
        container.lifecycle,
        ApschedulerJobScheduler,
        Leadership(store.engine),
        tick_seconds=tick_seconds,
    )


async def upgrade_database(container: Container) -> None:
    """Apply migrations to the container's database."""
    store = container.store
    if not isinstance(store, SqlStore):
        raise TypeError("only the SQL store has migrations")
    await migrate.upgrade(store.engine)
