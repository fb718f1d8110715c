"""`orchestrator demo`: the six 2013 bridge sites, a six-site session booked soon, and the service
serving it, with the links and tokens a person tries next."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from orchestrator.booking.schemas import BookSessionRequest, SessionOut, SlotQuery
from orchestrator.bootstrap import Container, build_scheduler
from orchestrator.cli.common import cli_principal, err, fail, global_options, run
from orchestrator.cli.serve import HostOpt, PortOpt, server_overrides
from orchestrator.directory.loader import DirectoryFileError, load_directory
from orchestrator.domain.models import Role, SessionStatus
from orchestrator.store.base import SessionQuery

DEMO_TITLE = "Hội nghị trực tuyến công tác văn phòng các Sở GD&ĐT (demo)"
DEMO_SITES = ["ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen", "nghe-an"]


def find_example_directory() -> Path:
    # The working folder first, then the checkout this package runs from (orchestrator/cli/..).
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / "config" / "directory.example.toml"
        if candidate.is_file():
            return candidate
    raise fail("config/directory.example.toml not found: run the demo from the project folder")


def demo(host: HostOpt = None, port: PortOpt = None) -> None:
    """Load the six 2013 bridge sites, book a six-site session soon, and serve it."""
    from orchestrator.web.server import serve as serve_http

    settings = global_options.settings(**server_overrides(host, port))
    path = find_example_directory()
    try:
        directory = load_directory(path)
    except DirectoryFileError as exc:
        raise fail(str(exc)) from None
    office = cli_principal()

    async def work(c: Container) -> None:
        await c.directory.apply(directory, office, source=str(path))
        now = c.clock.now()
        existing = [
            s
            for s in await c.bookings.list_sessions(
                SessionQuery(start_from=now, site="ha-noi", limit=50), office
            )
            if s.title == DEMO_TITLE and s.status is not SessionStatus.CANCELLED
        ]
        if existing:
            session: SessionOut = existing[0]
        else:
            slots = await c.bookings.find_slots(
                SlotQuery(
                    sites=DEMO_SITES,
                    groups=["lanh-dao-bo"],
                    duration_minutes=180,
                    from_=now + timedelta(hours=1),
                    to=now + timedelta(days=30),
                    limit=1,
                ),
                office,
            )
            if not slots.slots:
                raise fail("no free slot in the next 30 days for the demo session")
            slot = slots.slots[0]
            answer = await c.bookings.book(
                BookSessionRequest(
                    title=DEMO_TITLE,
                    agenda="Các điểm cầu lần lượt báo cáo; công bố khen thưởng.",
                    start=slot.start,
                    end=slot.end,
                    host_site="ha-noi",
                    sites=DEMO_SITES,
                    chair={
                        "name": "Chánh Văn phòng Bộ",
                        "email": "chanh.vanphong@moet.example.org",
                    },
                    leader_groups=["lanh-dao-bo"],
                ),
                office,
            )
            session = answer.value
        office_token = await c.access.create_token(Role.OFFICE, label="demo office")
        chair_token = await c.access.create_token(
            Role.CHAIR, email=session.chair.email, label="demo chair"
        )
        coord_token = await c.access.create_token(
            Role.COORDINATOR, site_id="da-nang", label="demo coordinator"
        )

        ends = session.end + timedelta(days=30)
        pages = {
            "office": await c.signin.once_link(minutes=24 * 60, next_path="/office"),
            "coordinator": await c.signin.page_link(
                role=Role.COORDINATOR,
                site_id="da-nang",
                next_path=f"/site/sessions/{session.id}",
                until=ends,
            ),
            "chair": await c.signin.page_link(
                role=Role.CHAIR,
                email=session.chair.email,
                next_path=f"/chair/sessions/{session.id}",
                until=ends,
            ),
        }

        def ready(url: str) -> None:
            base = url
            configured = settings.server.base_url.rstrip("/")
            err.print(f"\n[bold]Demo ready[/] – session {session.id}")
            err.print(f"  {session.title}")
            err.print(f"  {session.start:%Y-%m-%d %H:%M}–{session.end:%H:%M} {session.timezone}\n")
            err.print("  Pages (open in a browser):")
            err.print(f"    office (one-time):   {pages['office'].replace(configured, base)}")
            err.print(f"    da-nang coordinator: {pages['coordinator'].replace(configured, base)}")
            err.print(f"    chair's board:       {pages['chair'].replace(configured, base)}\n")
            err.print(f"  health:      {base}/healthz")
            err.print(f"  API spec:    {base}/openapi.json")
            err.print(f"  API reader:  {base}/docs")
            err.print(f"  metrics:     {base}/metrics")
            err.print(f"  office token:      {office_token.token}")
            err.print(f"  chair token:       {chair_token.token}")
            err.print(f"  da-nang coordinator token: {coord_token.token}\n")
            err.print("  Try:")
            err.print(
                f'    curl -H "Authorization: Bearer {office_token.token}" '
                f"{base}/api/sessions/{session.id}"
            )
            err.print(
                f'    curl -H "Authorization: Bearer {office_token.token}" '
                f'"{base}/api/slots?sites=ha-noi,da-nang&groups=lanh-dao-bo&duration_minutes=90'
                f'&from={now:%Y-%m-%dT%H:%M:%SZ}&to={now + timedelta(days=14):%Y-%m-%dT%H:%M:%SZ}"'
            )
            err.print("\nCtrl-C stops the service.")

        await serve_http(
            c,
            settings.server.host,
            settings.server.port,
            on_ready=ready,
            background=[build_scheduler(c)],
        )

    run(work, settings, creates=True)
