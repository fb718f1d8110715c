"""The deploy kit's nginx site in front of two `serve` instances on one PostgreSQL, each a real
process: Debian's nginx (installed with apt-get when missing, like Chromium for the browser
tests) runs as a process of its own, not the system service, with its pid, logs and temporary
files in the test's folder.

The kit's site file is used as it stands, its placeholders filled: its TLS server block (with a
certificate made here) and its HTTP redirect listen on loopback ports, and beside them a plain
HTTP server on loopback includes the kit's proxy settings, for the browser and the checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url

from tests.conftest import ROOT, _admin, _pg_admin_url
from tests.e2e.serve_process import ServeProcess, free_port, service_env, start_serve

KIT = ROOT / "deploy" / "nginx"
SERVER_NAME = "hop.localhost"


def nginx_binary() -> str:
    """Debian's nginx, installed with apt-get when missing (a failure on CI, else a skip)."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )
    if found is None and (apt := shutil.which("apt-get")) is not None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in ([apt, "install", "-y", "-q", "nginx"], [apt, "update", "-q"]):
            subprocess.run(command, check=False, env=env, capture_output=True, timeout=900)
            if Path("/usr/sbin/nginx").exists():
                break
        if not Path("/usr/sbin/nginx").exists():
            subprocess.run(
                [apt, "install", "-y", "-q", "nginx"],
                check=False,
                env=env,
                capture_output=True,
                timeout=900,
            )
        found = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's nginx could not be installed: the kit must be tested on CI")
        pytest.skip("Debian's nginx is not installed (apt-get install nginx)")
    return found


@contextmanager
def postgres_database(pg_template: str | None) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (several instances need one: SQLite is one)."""
    admin = _pg_admin_url()
    if admin is None or pg_template is None:
        if os.environ.get("CI") == "true":
            pytest.fail("two instances need PostgreSQL, which CI must have: ORCH_TEST_DATABASE_URL")
        pytest.skip("two instances need PostgreSQL: ORCH_TEST_DATABASE_URL")
    name = f"orch_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(False)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for SERVER_NAME and its key, made for the test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Front:
    """nginx with the kit's site, on loopback."""

    url: str  # plain HTTP, the kit's proxy settings
    https_port: int  # the kit's TLS server block
    http_port: int  # the kit's redirect to HTTPS
    access_log: Path  # the plain server's, in the kit's log format
    tls_access_log: Path
    upstreams: tuple[str, str]

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []


def site_config(
    prefix: Path, upstreams: tuple[str, str], ports: tuple[int, int, int]
) -> tuple[Path, Path]:
    """The nginx.conf of the test: the kit's site with its placeholders filled, its ports on
    loopback and its logs in `prefix`; the kit's proxy snippet where Debian's nginx has its
    snippets (relative to the configuration's folder). Returns nginx.conf and the TLS log."""
    plain, https, http = ports
    cert, key = self_signed(prefix)
    (prefix / "snippets").mkdir()
    shutil.copy(KIT / "orchestrator-proxy.conf", prefix / "snippets" / "orchestrator-proxy.conf")
    tls_log = prefix / "orchestrator.access.log"
    site = (
        (KIT / "orchestrator.conf")
        .read_text()
        .replace("@SERVER_NAME@", SERVER_NAME)
        .replace("@TLS_CERTIFICATE@", str(cert))
        .replace("@TLS_CERTIFICATE_KEY@", str(key))
        .replace("@UPSTREAM_A@", upstreams[0])
        .replace("@UPSTREAM_B@", upstreams[1])
        .replace("listen 80;", f"listen 127.0.0.1:{http};")
        .replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
        .replace("/var/log/nginx/orchestrator.access.log", str(tls_log))
        .replace("/var/log/nginx/orchestrator.error.log", str(prefix / "orchestrator.error.log"))
    )
    assert "@" not in site.split("server {", 1)[1], "a placeholder is left"
    (prefix / "sites-enabled").mkdir()
    (prefix / "sites-enabled" / "orchestrator").write_text(site)
    temp = {
        name: prefix / "temp" / name
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    }
    for folder in temp.values():
        folder.mkdir(parents=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix / "access.log"};
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include sites-enabled/*;
    server {{
        listen 127.0.0.1:{plain};
        server_name {SERVER_NAME};
        access_log {prefix / "plain.access.log"} orchestrator;
        include snippets/orchestrator-proxy.conf;
    }}
}}
"""
    )
    return conf, tls_log


def check_config(nginx: str, conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(prefix)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextmanager
def nginx_front(nginx: str, prefix: Path, upstreams: tuple[str, str]) -> Iterator[Front]:
    prefix.mkdir(parents=True, exist_ok=True)
    ports = (free_port(), free_port(), free_port())
    conf, tls_log = site_config(prefix, upstreams, ports)
    checked = check_config(nginx, conf, prefix)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    front = Front(
        f"http://127.0.0.1:{ports[0]}",
        ports[1],
        ports[2],
        prefix / "plain.access.log",
        tls_log,
        upstreams,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"nginx exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                httpx.get(f"{front.url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield front
    finally:
        proc.terminate()  # nginx's fast shutdown
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@contextmanager
def two_instances(database_url: str, folder: Path) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two `serve` processes on one database, as orchestrator@<port> units run them."""
    env = service_env(database_url, folder / "var")
    first = start_serve(env, folder / "serve-a.log")
    try:
        second = start_serve(env, folder / "serve-b.log")
        try:
            yield first, second
        finally:
            second.terminate()
    finally:
        first.terminate()


def upstream_of(served: ServeProcess) -> str:
    return served.url.removeprefix("http://")
