"""Schema-driven fuzzing (schemathesis) of the live service, on SQLite and on PostgreSQL.

Every operation of `/openapi.json` is sent generated requests, valid and not, each with its own
credentials (an office token for the API, the platforms' tokens for their hooks, JaaS signatures
made by a hook): the run fails on any 5xx and on any answer the document does not describe
(status, content type, headers, body). schemathesis runs as its own process against the app on a
real port, so its threads and event loop stay out of pytest's; a fixed seed and a cap on examples
per operation keep the run reproducible and to about a minute per database, and the process is
killed past `TIME_CAP`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from orchestrator.domain.clock import ManualClock
from orchestrator.settings import Settings
from tests.conftest import OFFICE, SIX
from tests.integration.test_hostile_input import (
    EVENTS_TOKEN,
    JAAS_SECRET,
    RESERVATIONS_TOKEN,
    Served,
    serve,
)

pytestmark = [
    pytest.mark.slow,
    # aiohttp warns about a malformed Content-Disposition and then carries on without it; here
    # warnings are errors, which would turn that into a failure the service does not have.
    pytest.mark.filterwarnings("ignore::aiohttp.BadContentDispositionHeader"),
    pytest.mark.filterwarnings("ignore::aiohttp.BadContentDispositionParam"),
]

SEED = 20261123
MAX_EXAMPLES = 25  # per operation and phase
TIME_CAP = 300.0  # seconds for the whole schemathesis run on one database; killed past it
REQUEST_TIMEOUT = 20.0
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# Server-sent events never end: a generated request would only wait for its timeout.
EXCLUDED_PATHS = r"/attendance/stream$"
REGIONS = [
    "dong-bang-song-hong",
    "trung-du-mien-nui-phia-bac",
    "bac-trung-bo-duyen-hai-mien-trung",
    "tay-nguyen",
    "dong-nam-bo",
    "dong-bang-song-cuu-long",
]
UNSIGNED = "unsigned"  # what schemathesis sends as X-Jaas-Signature until the hook signs it

# Loaded by schemathesis (SCHEMATHESIS_HOOKS): JaaS signs the raw body with the time of the
# request, which no static credential can do. A signature schemathesis mangled or left out on
# purpose (testing authentication) is left as it is.
SIGNING_HOOK = f'''
import json
import os

import schemathesis
from schemathesis.core import NotSet

from connectors.jaas_webhooks import sign


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {{}}
    if headers.get("X-Jaas-Signature") != "{UNSIGNED}":
        return
    if isinstance(case.body, NotSet):
        raw = b""
    else:
        raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
        case.body = raw
    now = int(os.environ["FUZZ_JAAS_NOW"])
    headers["X-Jaas-Signature"] = f"t={{now}},v1={{sign(raw, os.environ['FUZZ_JAAS_SECRET'], now)}}"
    case.headers = headers
'''


def _config(s: Served, feed_token: str) -> str:
    """schemathesis.toml: each security scheme's credentials, and path parameters drawn mostly
    from what exists (so handlers get past their lookups), otherwise generated."""

    def values(items: list[str]) -> str:
        return json.dumps(items, ensure_ascii=False)

    return f"""
[auth.openapi]
bearer = {{ bearer = "{s.office}" }}
jitsiEvents = {{ bearer = "{EVENTS_TOKEN}" }}
jitsiReservations = {{ bearer = "{RESERVATIONS_TOKEN}" }}
feedToken = {{ api_key = "{feed_token}" }}
jaasSignature = {{ api_key = "{UNSIGNED}" }}

[dictionaries.sessions]
values = {values([s.national.id, s.regional.id])}

[dictionaries.sites]
values = {values([*SIX, "lanh-dao-bo"])}

[dictionaries.tasks]
values = {values(s.tasks)}

[dictionaries.regions]
values = {values(REGIONS)}

[dictionaries.groups]
values = ["lanh-dao-bo"]

[dictionaries.rooms]
values = {values([r for r in (s.national.room, s.regional.room) if r])}

[parameters]
"path.id" = {{ dictionary = "sessions", probability = 0.8 }}
"path.site" = {{ dictionary = "sites", probability = 0.8 }}
"path.task" = {{ dictionary = "tasks", probability = 0.8 }}
"body.host_site" = {{ dictionary = "sites", probability = 0.8 }}
"body.sites[*]" = {{ dictionary = "sites", probability = 0.8 }}
"body.add_sites[*]" = {{ dictionary = "sites", probability = 0.8 }}
"body.remove_sites[*]" = {{ dictionary = "sites", probability = 0.8 }}
"body.speaking_sites[*]" = {{ dictionary = "sites", probability = 0.8 }}
"body.leader_groups[*]" = {{ dictionary = "groups", probability = 0.8 }}
"body.region" = {{ dictionary = "regions", probability = 0.8 }}
"body.regions[*]" = {{ dictionary = "regions", probability = 0.8 }}
"body.room_name" = {{ dictionary = "rooms", probability = 0.8 }}
"body.occupant.id" = {{ dictionary = "sites", probability = 0.8 }}
"body.data.id" = {{ dictionary = "sites", probability = 0.8 }}

# The feed token is the credential of one site's feed.
[[operations]]
include-path = "/api/sites/{{site}}/calendar.ics"
parameters = {{ "path.site" = "ha-noi" }}

# Only the regional session has preparation tasks.
[[operations]]
include-path = "/api/sessions/{{id}}/tasks/{{task}}/submission"
parameters = {{ "path.id" = "{s.regional.id}" }}
"""


async def test_schemathesis_finds_no_5xx_and_no_undocumented_answer(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    async with serve(settings, clock) as s:
        feed_url = await s.container.invites.create_feed("ha-noi", OFFICE)
        feed_token = parse_qs(urlsplit(feed_url).query)["token"][0]
        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(s, feed_token), encoding="utf-8")
        (tmp_path / "fuzz_signing_hook.py").write_text(SIGNING_HOOK, encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
            "SCHEMATHESIS_HOOKS": "fuzz_signing_hook",
            "FUZZ_JAAS_SECRET": JAAS_SECRET,
            "FUZZ_JAAS_NOW": str(int(clock.now().timestamp())),
        }
        code, output = await _schemathesis(
            config,
            f"{s.base_url}/openapi.json",
            tmp_path,
            env,
            # To dig deeper by hand, e.g. FUZZ_SEED=7 FUZZ_MAX_EXAMPLES=200 (and a larger cap).
            seed=int(os.environ.get("FUZZ_SEED", SEED)),
            max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", MAX_EXAMPLES)),
            time_cap=float(os.environ.get("FUZZ_TIME_CAP", TIME_CAP)),
        )
    assert code == 0, f"schemathesis exited with {code}:\n{output}"


async def _schemathesis(
    config: Path,
    spec: str,
    cwd: Path,
    env: dict[str, str],
    *,
    seed: int,
    max_examples: int,
    time_cap: float,
) -> tuple[int, str]:
    """Run the CLI against the live app; its exit code and everything it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        spec,
        "--checks",
        ",".join(CHECKS),
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        "--workers",
        "2",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--exclude-path-regex",
        EXCLUDED_PATHS,
        "--output-truncate",
        "false",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), time_cap)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        return -1, f"killed after {time_cap:.0f} s\n" + out.decode(errors="replace")
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")
