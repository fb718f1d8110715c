"""The principals of authenticated tokens kept for a few seconds (`TokenCache`)."""

from __future__ import annotations

from orchestrator.access.cache import TokenCache
from orchestrator.domain.models import Principal, Role


def principal(token_id: str) -> Principal:
    return Principal(role=Role.OFFICE, token_id=token_id)


def test_kept_for_its_time_then_forgotten() -> None:
    now = [100.0]
    cache = TokenCache(5.0, now=lambda: now[0])
    cache.put("h", principal("a"), cache.generation)
    now[0] = 104.9
    assert cache.get("h") == principal("a")
    now[0] = 105.0
    assert cache.get("h") is None


def test_a_revocation_forgets_the_token_and_what_look_ups_under_way_find() -> None:
    cache = TokenCache(5.0)
    cache.put("h", principal("a"), cache.generation)
    cache.put("k", principal("b"), cache.generation)
    began = cache.generation
    cache.revoked("a")
    assert cache.get("h") is None
    assert cache.get("k") == principal("b")
    cache.put("h", principal("a"), began)  # read before the revocation: not kept
    assert cache.get("h") is None


def test_bounded_least_recently_used_first_and_off_at_zero() -> None:
    cache = TokenCache(5.0, max_tokens=2)
    for key in "abc":
        cache.put(key, principal(key), cache.generation)
        cache.get("a")
    assert [cache.get(k) is not None for k in "abc"] == [True, False, True]
    off = TokenCache(0)
    off.put("a", principal("a"), off.generation)
    assert off.get("a") is None
