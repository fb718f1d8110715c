"""The one settings tree: `orchestrator.toml` and `ORCH_*` variables (env wins, `__` nests).

Each component receives its own section. Secrets are `SecretStr`: never printed or logged.
Nothing is read at import time; `load_settings()` reads when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from orchestrator.domain.models import SessionKind
from orchestrator.domain.preparation import TaskRule, check_rule_set

DEFAULT_CONFIG = Path("orchestrator.toml")


class Section(BaseModel):
    """A settings section: unknown keys are mistakes, not extras."""

    model_config = ConfigDict(extra="forbid")


class ServerSettings(Section):
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on")
    port: int = Field(default=8080, ge=0, le=65535, description="Port `serve` listens on")
    base_url: str = Field(
        default="http://127.0.0.1:8080", description="Public URL of the service, used in links"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="If set, GET /metrics needs `Authorization: Bearer <token>`"
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, description="Largest request body (uploads included)"
    )
    token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="An authenticated API token is trusted this long before it is looked up"
        " again: a token revoked on another instance or with the CLI is refused within it",
    )


class DatabaseSettings(Section):
    auto_migrate: bool = Field(
        default=True, description="Apply migrations before any command opens the database"
    )
    pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections per instance")
    lock_key_space: int = Field(
        default=2048,
        ge=1,
        le=8192,
        description="Advisory-lock keys resources hash into (bounds locks per booking)",
    )
    echo: bool = Field(default=False, description="Log every SQL statement")


class BookingSettings(Section):
    buffer_before_minutes: int = Field(default=30, ge=0, description="Default connection test")
    buffer_after_minutes: int = Field(default=15, ge=0, description="Default buffer after end")
    slot_step_minutes: int = Field(default=30, ge=5, description="Grid of proposed slot starts")
    link_grace_minutes: int = Field(default=15, ge=0, description="Links stay valid past end")


class StaticSettings(Section):
    url_template: str = Field(
        default="https://meet.example.org/{room}?site={site}",
        description="Join link of `static` sessions; `{room}` and `{site}` are replaced",
    )


class JitsiSettings(Section):
    """Self-hosted Jitsi: provider `jitsi`, reservations, event-sync webhooks."""

    domain: str = ""
    app_id: str = ""
    app_secret: SecretStr | None = None
    audience: str = ""
    events_token: SecretStr | None = None
    reservations_token: SecretStr | None = None
    muc_size_url: str = ""
    muc_size_token: bool = Field(
        default=False,
        description="Presence polls carry a room token (Prosody's"
        " enable_roomsize_token_verification); needs domain, app_id and app_secret",
    )
    max_participants: int = 100


class JaasSettings(Section):
    """8x8 JaaS: provider `jaas`, webhooks, settings provisioning."""

    app_id: str = ""
    key_id: str = ""
    private_key_file: Path | None = None
    webhook_secret: SecretStr | None = None


class SmtpSettings(Section):
    """Outgoing mail: invites and their cancellations."""

    host: str = Field(default="127.0.0.1", description="SMTP server")
    port: int = Field(default=25, ge=1, le=65535)
    username: str = Field(default="", description="Login; empty means no login")
    password: SecretStr | None = None
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS")
    use_tls: bool = Field(default=False, description="Implicit TLS (usually port 465)")
    timeout: float = Field(default=30.0, gt=0, description="Seconds per network step")
    sender: str = Field(
        default="office@example.org",
        description="From address and ORGANIZER of every invite (the office's mailbox)",
    )
    sender_name: str = Field(default="Văn phòng Bộ GD&ĐT", description="Organizer's name")


class InviteSettings(Section):
    """Invite delivery through the outbox."""

    worker: bool = Field(default=True, description="`serve` delivers queued invites itself")
    poll_seconds: float = Field(default=5.0, gt=0, description="Idle wait between outbox checks")
    alarms_minutes: list[Annotated[int, Field(gt=0)]] = Field(
        default=[1440, 60, 30], description="VALARM reminders, minutes before the start"
    )
    max_attempts: int = Field(default=8, ge=1, description="Tries per change before failing")
    backoff_seconds: float = Field(
        default=30.0, gt=0, description="First retry delay; doubles each try, at most an hour"
    )
    join_gateway: bool = Field(
        default=False,
        description="Single sessions' invites carry the join gateway's link (series' always do)",
    )


class AttendanceSettings(Section):
    """When a site counts as late, gone early, present (DESIGN 7)."""

    late_grace_minutes: int = Field(default=10, ge=0, description="Late after start + this")
    left_early_grace_minutes: int = Field(
        default=10, ge=0, description="Left early when the last leave is before end - this"
    )
    min_presence: float = Field(
        default=0.5, ge=0, le=1, description="Share of the session a present site was connected"
    )
    poll_seconds: float = Field(
        default=30.0, gt=0, description="Presence polls of live Jitsi rooms ([jitsi] muc_size_url)"
    )


class ReminderSettings(Section):
    """Reminders to coordinators and the chair before a session, per session kind."""

    national_minutes: list[Annotated[int, Field(gt=0)]] = Field(
        default=[1440, 60, 30], description="Minutes before a national session's start"
    )
    regional_minutes: list[Annotated[int, Field(gt=0)]] = Field(
        default=[1440, 60, 30], description="Minutes before a regional session's start"
    )


class PreparationSettings(Section):
    """Documents sites submit before and after regional meetings."""

    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="Largest document")
    national_rules: list[TaskRule] | None = Field(
        default=None, description="Tasks of national sessions (default: none)"
    )
    regional_rules: list[TaskRule] | None = Field(
        default=None,
        description="Tasks of regional sessions (default: seed 002's rules: topic reports, the "
        "plan and joint report 15 days before, the results within 15 days after)",
    )

    @field_validator("national_rules", "regional_rules")
    @classmethod
    def _distinct(cls, rules: list[TaskRule] | None) -> list[TaskRule] | None:
        if rules is not None:
            check_rule_set(rules)  # one task per kind: ids must not collide
        return rules

    def rules(self) -> dict[SessionKind, list[TaskRule]]:
        """The rules configured here, by session kind (kinds left out keep their defaults)."""
        out: dict[SessionKind, list[TaskRule]] = {}
        if self.national_rules is not None:
            out[SessionKind.NATIONAL] = self.national_rules
        if self.regional_rules is not None:
            out[SessionKind.REGIONAL] = self.regional_rules
        return out

    uploads_dir: Path | None = Field(
        default=None, description="Where documents are kept (default: <data_dir>/uploads)"
    )


class Settings(BaseSettings):
    """Every setting of the service (see docs/configuration.md)."""

    model_config = SettingsConfigDict(
        env_prefix="ORCH_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    data_dir: Path = Field(default=Path("var"), description="SQLite database and uploads")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file in data_dir. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db",
    )
    log_level: str = Field(
        default="INFO", pattern="^(?i)(debug|info|warning|error)$", description="Service log level"
    )
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    booking: BookingSettings = BookingSettings()
    static: StaticSettings = StaticSettings()
    jitsi: JitsiSettings = JitsiSettings()
    jaas: JaasSettings = JaasSettings()
    smtp: SmtpSettings = SmtpSettings()
    invites: InviteSettings = InviteSettings()
    attendance: AttendanceSettings = AttendanceSettings()
    preparation: PreparationSettings = PreparationSettings()
    reminders: ReminderSettings = ReminderSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'orchestrator.sqlite3').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `config_file` (default ./orchestrator.toml if present), env and overrides.

    Raises FileNotFoundError for a named file that does not exist, pydantic's ValidationError
    for bad values.
    """
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    if config_file is None and DEFAULT_CONFIG.is_file():
        config_file = DEFAULT_CONFIG

    # A subclass per call, so the file is chosen at run time, never at import time.
    from_file = type(
        "Settings", (Settings,), {"model_config": SettingsConfigDict(toml_file=config_file)}
    )
    values = {k: v for k, v in overrides.items() if v is not None}
    settings: Settings = from_file(**values)
    return settings
