"""The deploy kit (`deploy/`) agrees with the service: the Prosody configuration with the
orchestrator's settings (hosts, paths, tokens, app id), the nginx site with `[server]` and the
board's stream, the systemd units with the commands they run. Prosody itself is not run here
(Jitsi's plugins are not packaged for this machine): these are the values that must match."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from orchestrator.settings import Settings, load_settings
from orchestrator.web.attendance import HEARTBEAT_SECONDS
from orchestrator.web.routes import ROUTES
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
EXAMPLE = ROOT / "config" / "orchestrator.example.toml"
PROSODY = DEPLOY / "prosody" / "orchestrator.cfg.lua"
SITE = DEPLOY / "nginx" / "orchestrator.conf"
PROXY = DEPLOY / "nginx" / "orchestrator-proxy.conf"
ENV = DEPLOY / "systemd" / "orchestrator.env.example"
UNIT = DEPLOY / "systemd" / "orchestrator@.service"


@pytest.fixture(scope="module")
def settings() -> Settings:
    """The kit's orchestrator.toml, read as the service reads it (no ORCH_ variable of this
    machine in the way)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("ORCH_")]:
            mp.delenv(name)
        return load_settings(DEPLOY / "orchestrator.toml")


def lua(name: str) -> str:
    """The string value of the Prosody option `name` (its first assignment)."""
    found = re.search(rf'^\s*{re.escape(name)}\s*=\s*"([^"]*)"', PROSODY.read_text(), re.M)
    assert found, f"{name} is not set in {PROSODY.name}"
    return found.group(1)


def lua_section(kind: str, name: str) -> str:
    """The lines of the `VirtualHost`/`Component` named `name`, up to the next section."""
    text = PROSODY.read_text()
    start = re.search(rf'^{kind} "{re.escape(name)}"', text, re.M)
    assert start, f'{kind} "{name}" is not in {PROSODY.name}'
    rest = text[start.end() :]
    end = re.search(r"^(VirtualHost|Component) ", rest, re.M)
    return rest[: end.start() if end else len(rest)]


def example_keys() -> set[str]:
    """`[section] key` of every key config/orchestrator.example.toml names, set or commented
    out (the secrets are commented out there)."""
    keys: set[str] = set()
    section = ""
    for line in EXAMPLE.read_text().splitlines():
        if m := re.match(r"^\[(\w+)\]", line):
            section = m.group(1)
        elif m := re.match(r"^#?\s*(\w+)\s*=", line):
            keys.add(f"[{section}] {m.group(1)}" if section else m.group(1))
    return keys


def env_placeholders() -> dict[str, str]:
    """ORCH_ name: its placeholder in the environment file."""
    return dict(re.findall(r"^#?\s*(ORCH_\w+)=.*?(@\w+@)", ENV.read_text(), re.M))


def test_kit_settings_are_the_documented_keys(settings: Settings) -> None:
    documented = example_keys()
    section = ""
    for line in (DEPLOY / "orchestrator.toml").read_text().splitlines():
        if m := re.match(r"^\[(\w+)\]", line):
            section = m.group(1)
        elif m := re.match(r"^(\w+)\s*=", line):
            key = f"[{section}] {m.group(1)}" if section else m.group(1)
            assert key in documented, f"{key} is not in config/orchestrator.example.toml"
    assert settings.database.auto_migrate is False  # orchestrator-migrate.service does it
    assert settings.server.host == "127.0.0.1"
    assert settings.server.base_url.startswith("https://")


def test_prosody_annotations_name_settings_of_the_example_config() -> None:
    """Every Prosody value that must agree says with what: a key of the example config or the
    ORCH_ variable of a secret (itself a key of the example config)."""
    documented = example_keys()
    notes = re.findall(r"--\s*(?:conference\.<)?(\[\w+\] \w+)", PROSODY.read_text())
    assert len(notes) >= 8
    for key in notes:
        assert key in documented, key
    secrets = re.findall(r"--\s*(ORCH_(\w+?)__(\w+))\b", PROSODY.read_text())
    assert {s[0] for s in secrets} == {
        "ORCH_JITSI__APP_SECRET",
        "ORCH_JITSI__EVENTS_TOKEN",
        "ORCH_JITSI__RESERVATIONS_TOKEN",
    }
    for _, section, key in secrets:
        assert f"[{section.lower()}] {key.lower()}" in documented


def test_prosody_hosts_and_app_id_agree(settings: Settings) -> None:
    j = settings.jitsi
    assert j.domain
    assert lua_section("VirtualHost", j.domain)
    assert lua("http_default_host") == j.domain
    assert lua_section("Component", f"conference.{j.domain}").startswith(' "muc"')
    esync = lua_section("Component", f"event_sync.{j.domain}")
    assert f'muc_component = "conference.{j.domain}"' in esync
    host = lua_section("VirtualHost", j.domain)
    assert f'app_id = "{j.app_id}"' in host
    assert 'authentication = "token"' in host
    for module in ("muc_size", "reservations", "presence_identity"):
        assert f'"{module}";' in host
    assert j.audience in ("", j.app_id)  # Prosody's default audience check accepts it


def test_prosody_calls_the_service_at_its_hooks(settings: Settings) -> None:
    base = settings.server.base_url.rstrip("/")
    reservations = lua("reservations_api_prefix")
    events = lua("api_prefix")
    assert reservations == f"{base}/hooks/jitsi/reservations"
    assert events == f"{base}/hooks/jitsi"
    paths = {(r.method, r.path) for r in ROUTES}
    # Prosody appends /conference (and /conference/{id}) and /events/<what>/<event>.
    suffix = reservations.removeprefix(base)
    assert ("POST", f"{suffix}/conference") in paths
    assert ("DELETE", f"{suffix}/conference/{{id}}") in paths
    hook = next(
        p for m, p in paths if m == "POST" and p.startswith(f"{events.removeprefix(base)}/events/")
    )
    assert hook.startswith("/hooks/jitsi/events/")


def test_prosody_tokens_are_the_services_secrets() -> None:
    env = env_placeholders()
    text = PROSODY.read_text()
    assert f'app_secret = "{env["ORCH_JITSI__APP_SECRET"]}"' in text
    assert f'"Bearer {env["ORCH_JITSI__EVENTS_TOKEN"]}"' in lua_section(
        "Component", "event_sync.meet.example.org"
    )
    assert f'"Bearer {env["ORCH_JITSI__RESERVATIONS_TOKEN"]}"' in lua_section(
        "VirtualHost", "meet.example.org"
    )
    assert len(set(env.values())) == len(env), "each secret has its own placeholder"


def test_prosody_http_serves_the_presence_polls(settings: Settings) -> None:
    url = urlsplit(settings.jitsi.muc_size_url)
    text = PROSODY.read_text()
    assert re.search(rf"^http_ports = \{{ {url.port} \}}", text, re.M)
    assert re.search(rf'^http_interfaces = \{{ "{re.escape(url.hostname or "")}" \}}', text, re.M)
    token = re.search(r"enable_roomsize_token_verification = (true|false)", text)
    assert token
    assert (token.group(1) == "true") is settings.jitsi.muc_size_token


def test_bookworm_lua_path_finds_basexx() -> None:
    dropin = (DEPLOY / "prosody" / "prosody.service.d" / "lua-path.conf").read_text()
    line = next(x for x in dropin.splitlines() if x.startswith("Environment="))
    path = line.split("LUA_PATH=", 1)[1].strip('"')
    assert "/usr/share/lua/5.1/?.lua" in path.split(";")
    assert path.endswith(";;")  # Lua's own path still follows


def test_nginx_body_limit_matches_the_service(settings: Settings) -> None:
    size = re.search(r"^client_max_body_size (\d+)([km]?);", PROXY.read_text(), re.M)
    assert size
    factor = {"": 1, "k": 1024, "m": 1024 * 1024}[size.group(2)]
    limit = int(size.group(1)) * factor
    assert limit == settings.server.max_body_bytes
    assert limit == tomllib.loads(EXAMPLE.read_text())["server"]["max_body_bytes"]


def test_nginx_streams_the_board_unbuffered_past_its_heartbeat() -> None:
    text = PROXY.read_text()
    found = re.search(r"location ~ (\S+) \{(.*?)\}", text, re.S)
    assert found
    pattern, block = found.groups()
    stream = next(r.path for r in ROUTES if r.path.endswith("/attendance/stream"))
    assert re.fullmatch(pattern.strip("^$"), stream.replace("{id}", "s-2026-abc"))
    assert "proxy_buffering off;" in block
    timeout = re.search(r"proxy_read_timeout (\d+)s;", block)
    assert timeout
    assert int(timeout.group(1)) > 2 * HEARTBEAT_SECONDS


def test_nginx_passes_the_client_address_and_logs_it() -> None:
    proxy, site = PROXY.read_text(), SITE.read_text()
    assert "proxy_set_header X-Real-IP $remote_addr;" in proxy
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in proxy
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in proxy
    assert "$remote_addr" in site.split("log_format orchestrator", 1)[1].split(";", 1)[0]
    assert "access_log /var/log/nginx/orchestrator.access.log orchestrator;" in site
    for placeholder in ("@SERVER_NAME@", "@TLS_CERTIFICATE@", "@TLS_CERTIFICATE_KEY@"):
        assert placeholder in site


def test_systemd_units_run_serve_with_restart_and_the_environment_file(
    settings: Settings,
) -> None:
    unit = UNIT.read_text()
    assert re.search(r"^Restart=on-failure$", unit, re.M)
    assert re.search(r"^EnvironmentFile=/etc/orchestrator/orchestrator.env$", unit, re.M)
    assert re.search(r"^ExecStart=\S+/orchestrator --config \S+ serve --port %i$", unit, re.M)
    upstreams = re.findall(r"orchestrator@(\d+)", SITE.read_text())
    assert settings.server.port == int(upstreams[0])
    for name in ("orchestrator-migrate.service", "orchestrator-backup.service"):
        text = (DEPLOY / "systemd" / name).read_text()
        assert "EnvironmentFile=/etc/orchestrator/orchestrator.env" in text
    env = env_placeholders()
    assert {"ORCH_DATABASE_URL", "ORCH_JITSI__APP_SECRET"} <= set(env)


def test_deploy_guide_names_every_agreeing_pair() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for pair in (
        "`[jitsi] domain`",
        "`VirtualHost`",
        "`http_default_host`",
        "`[jitsi] app_id`",
        "`app_id`",
        "`app_secret`",
        "`ORCH_JITSI__EVENTS_TOKEN`",
        "`api_headers`",
        "`ORCH_JITSI__RESERVATIONS_TOKEN`",
        "`reservations_api_headers`",
        "`reservations_api_prefix`",
        "`api_prefix`",
        "`[jitsi] muc_size_url`",
        "`http_ports`",
        "`[jitsi] muc_size_token`",
        "`enable_roomsize_token_verification`",
        "`[server] max_body_bytes`",
        "`client_max_body_size`",
        "LUA_PATH",
        "pg_dump",
        "pg_restore",
    ):
        assert pair in guide, pair


def test_site_placeholders_are_explained_in_its_opening_comment() -> None:
    text = SITE.read_text()
    head = "".join(x for x in text.splitlines() if x.startswith("#"))
    for placeholder in set(re.findall(r"@\w+@", text)):
        assert placeholder in head, placeholder


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd reads every unit without a complaint (unknown keys, bad values), the programs
    they run standing where the kit installs them (here, this project's own command)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    command = Path(sys.executable).parent / "orchestrator"
    assert command.exists()
    for unit in (DEPLOY / "systemd").iterdir():
        if unit.suffix in (".service", ".timer"):
            text = unit.read_text().replace("/opt/orchestrator/venv/bin/orchestrator", str(command))
            (tmp_path / unit.name).write_text(text)
    names = [
        "orchestrator@8081.service",
        "orchestrator-migrate.service",
        "orchestrator-backup.service",
        "orchestrator-backup.timer",
    ]
    done = subprocess.run(
        [analyze, "verify", *[str(tmp_path / n) for n in names]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
