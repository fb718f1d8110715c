"""Every reason a refusal is raised with has its words in both languages: the domain errors'
`reason=` (refused.*), the validators' `invalid_value(...)` (invalid.*) and the directory
loader's codes (dirprob.*, or invalid.* for pydantic's and the validators' own)."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.web.pages.common import Catalog

ROOT = Path(__file__).resolve().parents[2] / "orchestrator"
KNOWN = Catalog.load().known()


def _found(pattern: str) -> set[str]:
    out: set[str] = set()
    for path in ROOT.rglob("*.py"):
        out |= set(re.findall(pattern, path.read_text(encoding="utf-8")))
    return out


def test_each_domain_reason_is_worded() -> None:
    reasons = _found(r'\breason="([a-z_]+)"') - {"ended"}  # the invites' skip reason (not raised)
    assert len(reasons) >= 20
    assert sorted(r for r in reasons if f"refused.{r}" not in KNOWN) == []


def test_each_validator_reason_is_worded() -> None:
    reasons = _found(r'invalid_value\(\s*"([a-z_]+)"')
    assert len(reasons) >= 10
    assert sorted(r for r in reasons if f"invalid.{r}" not in KNOWN) == []


def test_each_directory_code_is_worded() -> None:
    text = (ROOT / "directory" / "loader.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'^\s+"([a-z_]+)",?\s*$', text, re.M))
    codes |= set(re.findall(r'return "([a-z_]+)", f', text))
    codes |= set(re.findall(r'"([a-z_]+)" if actual', text))
    codes |= set(re.findall(r'else "([a-z_]+)",', text))
    codes -= {"regions", "sites", "leader_groups", "policies"}  # section names
    assert {"window_format", "windows_overlap", "head_no_region"} <= codes
    missing = [c for c in codes if f"dirprob.{c}" not in KNOWN and f"invalid.{c}" not in KNOWN]
    assert sorted(missing) == []
