"""`orchestrator check`: what is wrong with a configuration, in words and by the setting's name,
before users find out. It reads the database and the files the settings name and writes nothing
(no migration, no SQLite file created); a secret's value is never printed."""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from pydantic import BaseModel, SecretStr, ValidationError
from rich.markup import escape
from rich.table import Table

from connectors.base import ConnectorError
from connectors.jaas import APP_ID_PREFIX, JaasProvider
from connectors.jitsi import JitsiProvider
from connectors.smtp import SmtpMailer
from orchestrator.bootstrap import build_store
from orchestrator.cli.common import err, fail, global_options, print_json, show
from orchestrator.settings import Settings, load_settings
from orchestrator.store.base import StoreError
from orchestrator.store.sql.urls import read_url

MIN_HS256_SECRET_BYTES = 32  # RFC 7518 3.2: a key at least as long as the hash
MIN_TOKEN_CHARS = 16  # below this a bearer token is guessable
DATABASE_SECONDS = 10.0
SMTP_SECONDS = 5.0
UPGRADE = "run `orchestrator db upgrade`"


class Level(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Finding:
    """One check's outcome: the setting it is about, and what was found, in words."""

    setting: str
    status: Level
    message: str


def _ok(setting: str, message: str) -> Finding:
    return Finding(setting, Level.OK, message)


def _warning(setting: str, message: str) -> Finding:
    return Finding(setting, Level.WARNING, message)


def _problem(setting: str, message: str) -> Finding:
    return Finding(setting, Level.PROBLEM, message)


# settings ------------------------------------------------------------------------------------
def setting_name(loc: tuple[int | str, ...]) -> str:
    """`("jitsi", "app_secret")` as `[jitsi] app_secret`; a top-level setting as itself."""
    parts = [str(p) for p in loc]
    if len(parts) == 1:
        return parts[0]
    return f"[{parts[0]}] {'.'.join(parts[1:])}"


def invalid_settings(exc: ValidationError) -> list[Finding]:
    """Each invalid setting by its name and pydantic's reason, never the value given."""
    return [_problem(setting_name(e["loc"]) or "settings", e["msg"]) for e in exc.errors()]


def secrets_of(settings: Settings) -> list[str]:
    """Every secret's value (to keep them out of what is printed): the `SecretStr` settings and
    the database URL's password."""
    found: list[str] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
            elif isinstance(value, BaseModel):
                walk(value)

    walk(settings)
    if settings.database_url:
        url = read_url(settings.database_url)
        if url is None:
            # An unreadable URL is printed nowhere; hide what follows its scheme all the same.
            found.extend(settings.database_url.split("://", 1)[-1:])
        elif url.password:
            found.append(url.password)
    return [s for s in found if len(s) >= 3]


# the database --------------------------------------------------------------------------------
async def check_database(settings: Settings) -> Finding:
    setting = "database_url"  # unset, it names the SQLite file in data_dir
    url = read_url(settings.resolved_database_url)
    if url is None:
        return _problem(setting, "not a database URL, such as postgresql+asyncpg://user@host/db")
    file = url.sqlite_file
    if file is not None and not await asyncio.to_thread(file.is_file):
        return _problem(setting, f"the SQLite file {file} does not exist yet: {UPGRADE}")
    where = url.shown
    try:
        store = build_store(settings)
    except Exception as exc:  # an unknown driver or option: SQLAlchemy's own words
        return _problem(setting, f"{where} cannot be opened: {type(exc).__name__}: {exc}")
    try:
        state = await asyncio.wait_for(store.schema(), DATABASE_SECONDS)
    except TimeoutError:
        return _problem(setting, f"{where} did not answer within {DATABASE_SECONDS:g} s")
    except StoreError as exc:
        return _problem(setting, f"cannot reach {where}: {exc}")
    finally:
        await store.close()
    if not state.migrated:
        return _problem(setting, f"{where}: the database is {state.describe()}: {UPGRADE}")
    return _ok(setting, f"{where}: reachable and {state.describe()}")


# the data directory --------------------------------------------------------------------------
def _unwritable(path: Path) -> str | None:
    """Why nothing can be written in directory `path` (created when missing), or None."""
    if path.exists():
        if not path.is_dir():
            return f"{path} is not a directory"
        try:
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            return f"cannot write in {path}: {exc.strerror}"
        return None
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{path} cannot be created: {ancestor} is not a directory"
    why = _unwritable(ancestor)
    return None if why is None else f"{path} cannot be created: {why}"


def check_directories(settings: Settings) -> Iterator[Finding]:
    data = settings.data_dir
    why = _unwritable(data)
    if why is not None:
        yield _problem("data_dir", why)
    else:
        state = "writable" if data.exists() else "will be created"
        yield _ok("data_dir", f"{data}: {state}")
    if settings.preparation.uploads_dir is not None:
        uploads = settings.preparation.uploads_dir
        why = _unwritable(uploads)
        if why is not None:
            yield _problem("[preparation] uploads_dir", why)
        else:
            yield _ok("[preparation] uploads_dir", f"{uploads}: writable")


# base_url ------------------------------------------------------------------------------------
def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(settings: Settings) -> Finding:
    name, url = "[server] base_url", settings.server.base_url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _problem(
            name,
            f"{url!r} is not an absolute URL such as https://hop.example.org: links in mail and "
            "pages are built from it",
        )
    if parts.query or parts.fragment:
        return _problem(name, f"{url!r} must not carry a query or a fragment")
    if parts.scheme != "https" and not is_loopback(parts.hostname):
        return _problem(
            name,
            f"{url!r} must be https outside loopback: sign-in links and cookies would travel in "
            "clear",
        )
    return _ok(name, url)


# providers -----------------------------------------------------------------------------------
def _short(token: SecretStr) -> bool:
    return len(token.get_secret_value()) < MIN_TOKEN_CHARS


def check_jitsi(settings: Settings) -> Iterator[Finding]:
    j = settings.jitsi
    if not (j.domain or j.app_id or j.app_secret):
        yield _ok("[jitsi]", "not configured: the jitsi provider is off")
        return
    complete = True
    domain = j.domain.strip()
    if not domain:
        complete = False
        yield _problem(
            "[jitsi] domain", "not set: the Jitsi server's host name, e.g. meet.example.org"
        )
    elif "/" in domain.rstrip("/"):
        complete = False
        yield _problem(
            "[jitsi] domain", f"{domain!r}: the host name only, without https:// or a path"
        )
    if not j.app_id:
        complete = False
        yield _problem("[jitsi] app_id", "not set: Prosody's app_id (token auth)")
    if j.app_secret is None or not j.app_secret.get_secret_value():
        complete = False
        yield _problem("[jitsi] app_secret", "not set: Prosody's app_secret (token auth)")
    elif len(j.app_secret.get_secret_value().encode()) < MIN_HS256_SECRET_BYTES:
        complete = False
        yield _problem(
            "[jitsi] app_secret",
            f"shorter than {MIN_HS256_SECRET_BYTES} bytes: HS256 tokens need a secret at least "
            "that long (set the same one as Prosody's app_secret)",
        )
    if complete:
        assert j.app_secret is not None
        try:
            JitsiProvider(
                j.domain, j.app_id, j.app_secret.get_secret_value(), j.audience or None,
                j.max_participants,
            )  # fmt: skip
        except ConnectorError as exc:
            complete = False
            yield _problem("[jitsi]", str(exc))
    if complete:
        yield _ok("[jitsi]", f"provider jitsi on {domain}, app id {j.app_id}")
    if j.events_token is None:
        yield _problem(
            "[jitsi] events_token",
            "not set: Prosody's event-sync webhooks would be refused and attendance stay empty",
        )
    elif _short(j.events_token):
        yield _warning("[jitsi] events_token", f"shorter than {MIN_TOKEN_CHARS} characters")
    else:
        yield _ok("[jitsi] events_token", "set")
    if j.reservations_token is None:
        yield _warning(
            "[jitsi] reservations_token",
            "not set: /hooks/jitsi/reservations answers 503, so a Prosody whose reservations "
            "point here opens no room",
        )
    elif _short(j.reservations_token):
        yield _warning("[jitsi] reservations_token", f"shorter than {MIN_TOKEN_CHARS} characters")
    else:
        yield _ok("[jitsi] reservations_token", "set")
    if j.muc_size_url:
        parts = urlsplit(j.muc_size_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            yield _problem(
                "[jitsi] muc_size_url",
                f"{j.muc_size_url!r} is not an absolute URL such as "
                "http://127.0.0.1:5280/room-size",
            )


def _key_id_problem(app_id: str, key_id: str) -> str | None:
    if not key_id:
        return "not set: the API key's id from the JaaS console"
    head, slash, key = key_id.rpartition("/")
    if slash and head != app_id:
        return f"{key_id!r} belongs to another app id than [jaas] app_id {app_id!r}"
    if not key or "/" in head.removeprefix(app_id):
        return f"{key_id!r} is not <app_id>/<key id> nor the key id alone"
    return None


def check_jaas(settings: Settings) -> Iterator[Finding]:
    a = settings.jaas
    if not (a.app_id or a.key_id or a.private_key_file):
        yield _ok("[jaas]", "not configured: the jaas provider is off")
        return
    complete = True
    if not a.app_id.startswith(APP_ID_PREFIX) or a.app_id == APP_ID_PREFIX:
        complete = False
        yield _problem(
            "[jaas] app_id", f"{a.app_id!r} is not an app id such as {APP_ID_PREFIX}<id>"
        )
    why = _key_id_problem(a.app_id, a.key_id)
    if why is not None:
        complete = False
        yield _problem("[jaas] key_id", why)
    if a.private_key_file is None:
        complete = False
        yield _problem("[jaas] private_key_file", "not set: the PEM key from the JaaS console")
    else:
        try:
            pem = a.private_key_file.read_bytes()
        except OSError as exc:
            complete = False
            yield _problem(
                "[jaas] private_key_file", f"{a.private_key_file} cannot be read: {exc.strerror}"
            )
        else:
            # The app id and key id were judged above; the key is judged on its own here.
            app_id = a.app_id if complete else f"{APP_ID_PREFIX}check"
            try:
                JaasProvider(app_id, a.key_id if complete else "check", pem)
            except ConnectorError as exc:
                complete = False
                yield _problem("[jaas] private_key_file", f"{a.private_key_file}: {exc}")
    if complete:
        yield _ok("[jaas]", f"provider jaas, app id {a.app_id}, key {a.key_id}")
    if a.webhook_secret is None:
        yield _problem(
            "[jaas] webhook_secret",
            "not set: JaaS webhooks would be refused and attendance stay empty",
        )
    else:
        yield _ok("[jaas] webhook_secret", "set")


# the other secrets, and mail -----------------------------------------------------------------
def check_secrets(settings: Settings) -> Iterator[Finding]:
    token = settings.server.metrics_token
    public = not is_loopback(urlsplit(settings.server.base_url).hostname)
    if token is None and public:
        yield _warning(
            "[server] metrics_token", "not set: /metrics is open to anyone who reaches the service"
        )
    elif token is not None and _short(token):
        yield _warning("[server] metrics_token", f"shorter than {MIN_TOKEN_CHARS} characters")


def check_smtp_settings(settings: Settings) -> list[Finding]:
    s = settings.smtp
    found: list[Finding] = []
    if s.username and s.password is None:
        found.append(
            _problem("[smtp] password", f"not set while [smtp] username is {s.username!r}")
        )
    if s.password is not None and not s.username:
        found.append(_problem("[smtp] username", "not set while [smtp] password is"))
    if s.starttls and s.use_tls:
        found.append(_problem("[smtp] use_tls", "choose starttls or use_tls, not both"))
    if s.password is not None and not (s.starttls or s.use_tls) and not is_loopback(s.host):
        found.append(
            _warning("[smtp] password", f"sent in clear to {s.host}: set starttls or use_tls")
        )
    return found


async def check_smtp(settings: Settings) -> Finding:
    s = settings.smtp
    where = f"{s.host}:{s.port}"
    mailer = SmtpMailer(
        s.host,
        s.port,
        username=s.username or None,
        password=s.password.get_secret_value() if s.password else None,
        starttls=s.starttls,
        use_tls=s.use_tls,
        timeout=min(SMTP_SECONDS, s.timeout),
        sender=s.sender,
    )
    try:
        await mailer.probe()
    except ConnectorError as exc:
        return _warning("[smtp] host", f"{exc}; invites wait in the outbox until it answers")
    return _ok("[smtp] host", f"{where} answers EHLO")


# the verb ------------------------------------------------------------------------------------
async def run_checks(settings: Settings) -> list[Finding]:
    """Every check, in the order they are printed."""
    found = [await check_database(settings)]
    found += check_directories(settings)
    found.append(check_base_url(settings))
    found += check_jitsi(settings)
    found += check_jaas(settings)
    found += check_secrets(settings)
    smtp = check_smtp_settings(settings)
    found += smtp
    if not any(f.status is Level.PROBLEM for f in smtp):
        found.append(await check_smtp(settings))
    return found


def scrubbed(findings: list[Finding], secrets: list[str]) -> list[Finding]:
    """The findings with any secret's value masked, whatever a library put in a message."""

    def mask(text: str) -> str:
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    return [Finding(f.setting, f.status, mask(f.message)) for f in findings]


_STYLE = {Level.OK: "green", Level.WARNING: "yellow", Level.PROBLEM: "bold red"}


def check(
    strict: Annotated[
        bool, typer.Option("--strict", help="Warnings (SMTP unreachable, ...) fail too")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON")] = False,
) -> None:
    """Check the configuration: database reachable and migrated, providers complete, base_url,
    secrets, data directory (exit 1 on a problem), SMTP reachable (a warning)."""
    g = global_options
    try:
        settings = load_settings(g.config, data_dir=g.data_dir, database_url=g.database_url)
    except FileNotFoundError as exc:
        raise fail(str(exc), code=2) from None
    except ValidationError as exc:
        findings, secrets = invalid_settings(exc), []
    else:
        findings, secrets = asyncio.run(run_checks(settings)), secrets_of(settings)
    findings = scrubbed(findings, secrets)
    problems = sum(f.status is Level.PROBLEM for f in findings)
    warnings = sum(f.status is Level.WARNING for f in findings)
    failed = problems > 0 or (strict and warnings > 0)
    if as_json:
        print_json(
            {
                "ok": not failed,
                "problems": problems,
                "warnings": warnings,
                "checks": [asdict(f) for f in findings],
            }
        )
    else:
        table = Table("status", "setting", "finding")
        for f in findings:
            style = _STYLE[f.status]
            table.add_row(f"[{style}]{f.status}[/]", escape(f.setting), escape(f.message))
        show(table)
        err.print(f"{problems} problem(s), {warnings} warning(s)", highlight=False)
    if failed:
        raise typer.Exit(1)
