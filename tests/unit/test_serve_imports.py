"""What `orchestrator serve` loads before anything asks for it: the libraries only some requests
or some configurations need (a migration, a signed link, a JaaS key, presence polls, holidays,
invites, PostgreSQL) stay out of an idle service's memory (DESIGN 9: idle under 100 MB)."""

from __future__ import annotations

import json
import subprocess
import sys

LATER = ("alembic", "mako", "jwt", "cryptography", "httpx", "holidays", "icalendar", "asyncpg")


def test_serving_imports_none_of_what_it_needs_later() -> None:
    code = (
        "import json, sys\n"
        "import orchestrator.cli, orchestrator.cli.serve, orchestrator.web.server\n"
        "from orchestrator.bootstrap import build\n"
        f"print(json.dumps(sorted(m for m in {LATER!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == []
