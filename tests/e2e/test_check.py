"""`orchestrator check` on real configurations, good and bad: each problem named by its setting,
exit 1 on any, SMTP unreachable a warning unless `--strict`, and no secret's value printed."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.store import migrate
from orchestrator.store.sql import create_engine
from tests.smtp_server import SmtpTestServer

runner = CliRunner()

JITSI_SECRET = "jitsi-app-secret-0123456789-abcdefghij"  # 38 bytes
EVENTS_TOKEN = "events-token-Zq8WmK3pLx"
RESERVATIONS_TOKEN = "reservations-token-Hf2Ty7Rb"
JAAS_WEBHOOK_SECRET = "jaas-webhook-secret-Pw4Nc9"
METRICS_TOKEN = "metrics-token-Vd6Js1Qe"
SMTP_PASSWORD = "smtp-password-Kx5Rm2Lw"
DB_PASSWORD = "db-password-Tg3Yh8Ub"
APP_ID = "vpaas-magic-cookie-1fc542a3e4414a44b2611668195e2bfe"

Check = Callable[..., tuple[int, str]]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines: list[str] = []
    for name, values in sections.items():
        if name:
            lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def rsa_key_file(tmp_path: Path) -> Path:
    key = tmp_path / "jaas.pk"
    key.write_bytes(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    return key


@pytest.fixture
def good(
    db_url: str, tmp_path: Path, smtp_server: SmtpTestServer, rsa_key_file: Path
) -> dict[str, dict[str, Any]]:
    """A configuration with nothing wrong: both providers complete, every secret set, the test
    SMTP server answering (with a login)."""
    smtp_server.behaviour.credentials = ("office", SMTP_PASSWORD)
    return {
        "": {"data_dir": tmp_path / "var", "database_url": db_url},
        "server": {"base_url": "https://hop.example.org", "metrics_token": METRICS_TOKEN},
        "jitsi": {
            "domain": "meet.example.org",
            "app_id": "orchestrator",
            "app_secret": JITSI_SECRET,
            "events_token": EVENTS_TOKEN,
            "reservations_token": RESERVATIONS_TOKEN,
        },
        "jaas": {
            "app_id": APP_ID,
            "key_id": f"{APP_ID}/4f4910",
            "private_key_file": rsa_key_file,
            "webhook_secret": JAAS_WEBHOOK_SECRET,
        },
        "smtp": {
            "host": smtp_server.host,
            "port": smtp_server.port,
            "username": "office",
            "password": SMTP_PASSWORD,
            "timeout": 2.0,
        },
    }


@pytest.fixture
def check(tmp_path: Path) -> Check:
    """Run `orchestrator check` on a configuration (sections of `orchestrator.toml`, the
    top-level settings under ""); the exit code and everything printed."""

    def invoke(sections: dict[str, dict[str, Any]], *args: str) -> tuple[int, str]:
        config = write_config(tmp_path / "orchestrator.toml", sections)
        result = runner.invoke(app, ["--config", str(config), "check", *args])
        return result.exit_code, result.stdout + result.stderr

    return invoke


def with_(config: dict[str, dict[str, Any]], **changes: dict[str, Any]) -> dict[str, Any]:
    """`config` with some sections' values changed (None removes a value)."""
    out = {name: dict(values) for name, values in config.items()}
    for name, values in changes.items():
        section = out.setdefault("" if name == "top" else name, {})
        for key, value in values.items():
            if value is None:
                section.pop(key, None)
            else:
                section[key] = value
    return out


def findings(output: str) -> dict[str, list[dict[str, str]]]:
    """The JSON findings by setting."""
    by: dict[str, list[dict[str, str]]] = {}
    for f in json.loads(output)["checks"]:
        by.setdefault(f["setting"], []).append(f)
    return by


def status(output: str, setting: str) -> set[str]:
    return {f["status"] for f in findings(output)[setting]}


def assert_no_secret(output: str) -> None:
    for secret in (
        JITSI_SECRET,
        EVENTS_TOKEN,
        RESERVATIONS_TOKEN,
        JAAS_WEBHOOK_SECRET,
        METRICS_TOKEN,
        SMTP_PASSWORD,
        DB_PASSWORD,
    ):
        assert secret not in output


def test_a_good_configuration_passes_and_prints_no_secret(
    check: Check, good: dict[str, Any]
) -> None:
    code, out = check(good)
    assert code == 0, out
    assert "0 problem(s), 0 warning(s)" in out
    for setting in ("database_url", "data_dir", "[server] base_url", "[jitsi]", "[jaas]"):
        assert setting in out
    assert_no_secret(out)
    code, out = check(good, "--json", "--strict")
    assert code == 0, out
    data = json.loads(out)
    assert data["ok"] is True
    assert data["problems"] == data["warnings"] == 0
    assert {f["status"] for f in data["checks"]} == {"ok"}
    assert "migrated" in findings(out)["database_url"][0]["message"]
    assert "answers EHLO" in findings(out)["[smtp] host"][0]["message"]
    assert_no_secret(out)


def test_an_unreachable_postgresql_is_a_problem_without_its_password(
    check: Check, good: dict[str, Any]
) -> None:
    url = f"postgresql+asyncpg://orch:{DB_PASSWORD}@127.0.0.1:{closed_port()}/orch"
    code, out = check(with_(good, top={"database_url": url}), "--json")
    assert code == 1
    (found,) = findings(out)["database_url"]
    assert found["status"] == "problem"
    assert "cannot reach postgresql+asyncpg://orch:***@127.0.0.1" in found["message"]
    assert_no_secret(out)
    code, out = check(with_(good, top={"database_url": url}))
    assert code == 1
    assert "1 problem(s)" in out
    assert_no_secret(out)


def test_a_database_url_that_is_no_url(check: Check, good: dict[str, Any]) -> None:
    code, out = check(with_(good, top={"database_url": f"orch:{DB_PASSWORD}@db"}), "--json")
    assert code == 1
    (found,) = findings(out)["database_url"]
    assert "not a database URL" in found["message"]
    assert_no_secret(out)


def test_a_database_not_migrated_is_a_problem_until_db_upgrade(
    check: Check, good: dict[str, Any], db_url: str, tmp_path: Path
) -> None:
    async def one_back() -> None:
        engine = create_engine(db_url)
        try:
            await migrate.downgrade(engine, "-1")
        finally:
            await engine.dispose()

    asyncio.run(one_back())
    code, out = check(good, "--json")
    assert code == 1
    (found,) = findings(out)["database_url"]
    assert found["status"] == "problem"
    assert "not migrated: at revision" in found["message"]
    assert "orchestrator db upgrade" in found["message"]
    result = runner.invoke(app, ["--database-url", db_url, "db", "upgrade"])
    assert result.exit_code == 0, result.stderr
    code, out = check(good, "--json")
    assert code == 0, out
    assert status(out, "database_url") == {"ok"}


def test_a_missing_sqlite_file_is_not_created_by_the_check(
    check: Check, good: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "fresh"
    code, out = check(with_(good, top={"data_dir": data, "database_url": None}), "--json")
    assert code == 1
    (found,) = findings(out)["database_url"]
    assert "does not exist yet" in found["message"]
    assert not (data / "orchestrator.sqlite3").exists()


def test_a_short_jitsi_secret_is_named_and_not_shown(check: Check, good: dict[str, Any]) -> None:
    short = "tooShort-x9"
    code, out = check(with_(good, jitsi={"app_secret": short}))
    assert code == 1
    assert "[jitsi] app_secret" in out
    assert "shorter than 32 bytes" in out
    assert short not in out
    assert_no_secret(out)


def test_jitsi_without_its_id_or_event_sync_token(check: Check, good: dict[str, Any]) -> None:
    code, out = check(with_(good, jitsi={"app_id": None, "events_token": None}), "--json")
    assert code == 1
    assert status(out, "[jitsi] app_id") == {"problem"}
    assert status(out, "[jitsi] events_token") == {"problem"}
    code, out = check(with_(good, jitsi={"domain": "https://meet.example.org/x"}), "--json")
    assert code == 1
    assert "host name only" in findings(out)["[jitsi] domain"][0]["message"]


def test_jaas_key_unreadable_not_a_key_not_rsa_or_of_another_app(
    check: Check, good: dict[str, Any], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such.pk"
    code, out = check(with_(good, jaas={"private_key_file": missing}), "--json")
    assert code == 1
    (found,) = findings(out)["[jaas] private_key_file"]
    assert found["status"] == "problem"
    assert f"{missing} cannot be read" in found["message"]

    garbage = tmp_path / "garbage.pk"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n", encoding="utf-8")
    code, out = check(with_(good, jaas={"private_key_file": garbage}), "--json")
    assert code == 1
    assert "not an unencrypted PEM private key" in out

    ec_key = tmp_path / "ec.pk"
    ec_key.write_bytes(pem(ec.generate_private_key(ec.SECP256R1())))
    code, out = check(with_(good, jaas={"private_key_file": ec_key}), "--json")
    assert code == 1
    assert "must be an RSA key" in findings(out)["[jaas] private_key_file"][0]["message"]

    other = "vpaas-magic-cookie-0000000000000000000000000000000/4f4910"
    code, out = check(with_(good, jaas={"key_id": other}), "--json")
    assert code == 1
    assert "another app id" in findings(out)["[jaas] key_id"][0]["message"]

    code, out = check(with_(good, jaas={"app_id": "my-app", "webhook_secret": None}), "--json")
    assert code == 1
    assert status(out, "[jaas] app_id") == {"problem"}
    assert status(out, "[jaas] webhook_secret") == {"problem"}
    assert_no_secret(out)


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("/orchestrator", "is not an absolute URL"),
        ("hop.example.org", "is not an absolute URL"),
        ("http://hop.example.org", "must be https outside loopback"),
    ],
)
def test_base_url_relative_or_plain_http_outside_loopback(
    check: Check, good: dict[str, Any], base_url: str, why: str
) -> None:
    code, out = check(with_(good, server={"base_url": base_url}), "--json")
    assert code == 1
    (found,) = findings(out)["[server] base_url"]
    assert found["status"] == "problem"
    assert why in found["message"]


def test_plain_http_on_loopback_is_fine(check: Check, good: dict[str, Any]) -> None:
    code, out = check(with_(good, server={"base_url": "http://127.0.0.1:8080"}), "--json")
    assert code == 0, out


def test_an_unwritable_data_directory(check: Check, good: dict[str, Any], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    # a file where the data directory should be, and one where it would be created
    for data_dir, why in ((blocker, "is not a directory"), (blocker / "var", "cannot be created")):
        code, out = check(with_(good, top={"data_dir": data_dir}), "--json")
        assert code == 1
        (found,) = findings(out)["data_dir"]
        assert found["status"] == "problem"
        assert why in found["message"]


def test_smtp_unreachable_is_a_warning_unless_strict(check: Check, good: dict[str, Any]) -> None:
    config = with_(good, smtp={"port": closed_port()})
    code, out = check(config)
    assert code == 0, out
    assert "0 problem(s), 1 warning(s)" in out
    code, out = check(config, "--json")
    assert code == 0
    (found,) = findings(out)["[smtp] host"]
    assert found["status"] == "warning"
    assert "outbox" in found["message"]
    code, out = check(config, "--strict")
    assert code == 1
    assert_no_secret(out)


def test_a_refused_smtp_login_is_a_warning(
    check: Check, good: dict[str, Any], smtp_server: SmtpTestServer
) -> None:
    smtp_server.behaviour.credentials = ("office", "another-password")
    code, out = check(good, "--json")
    assert code == 0
    (found,) = findings(out)["[smtp] host"]
    assert found["status"] == "warning"
    assert "535" in found["message"]
    assert_no_secret(out)


def test_a_smtp_login_without_its_password(check: Check, good: dict[str, Any]) -> None:
    code, out = check(with_(good, smtp={"password": None}), "--json")
    assert code == 1
    assert status(out, "[smtp] password") == {"problem"}


def test_invalid_settings_are_named_without_their_values(
    check: Check, good: dict[str, Any]
) -> None:
    code, out = check(with_(good, jitsi={"app_secret": 12345678901, "colour": "blue"}), "--json")
    assert code == 1
    found = findings(out)
    assert found["[jitsi] app_secret"][0]["status"] == "problem"
    assert found["[jitsi] colour"][0]["status"] == "problem"
    assert "12345678901" not in out
