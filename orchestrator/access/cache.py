"""The principals of recently authenticated API tokens, kept in memory for a few seconds.

Every API request authenticates its bearer token. Looking the token up is a unit of work of its
own (a connection, `BEGIN`, one `SELECT`, `COMMIT`), which under load costs as much CPU as the
request's own work. A token's principal never changes (a token is issued once and only ever
revoked), so an instance may keep it, keyed by the token's SHA-256, for `ttl` seconds:

- a token revoked through this instance (`Access.revoke_token`) is dropped at once;
- a token revoked elsewhere (another instance, `orchestrator tokens revoke`) is refused by this
  instance at the latest `ttl` seconds later (`[server] token_cache_seconds`, 0 turns it off);
- unknown and revoked tokens are never kept: each try is looked up.

Concurrent requests with the same token share one look-up, so a burst of requests costs the
database one query per token and `ttl`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from orchestrator.domain.models import Principal

MAX_TOKENS = 4096  # distinct tokens kept at once; the least recently used one goes first


class TokenCache:
    """Principals by token hash for `ttl` seconds (`ttl` 0: nothing is kept)."""

    def __init__(
        self,
        ttl: float,
        *,
        max_tokens: int = MAX_TOKENS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._max = max_tokens
        self._now = now
        self._kept: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self.generation = 0
        """Moves on at every revocation: a look-up that began before one may not be kept."""

    def get(self, token_hash: str) -> Principal | None:
        found = self._kept.get(token_hash)
        if found is None:
            return None
        principal, until = found
        if self._now() >= until:
            del self._kept[token_hash]
            return None
        self._kept.move_to_end(token_hash)
        return principal

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        """Keep `principal`, unless a token was revoked since `generation` was read."""
        if self.ttl <= 0 or generation != self.generation:
            return
        self._kept[token_hash] = (principal, self._now() + self.ttl)
        self._kept.move_to_end(token_hash)
        while len(self._kept) > self._max:
            self._kept.popitem(last=False)

    def revoked(self, token_id: str) -> None:
        """Forget the token `token_id` (and refuse to keep what look-ups under way find)."""
        self.generation += 1
        for key in [k for k, (p, _) in self._kept.items() if p.token_id == token_id]:
            del self._kept[key]

    def clear(self) -> None:
        self.generation += 1
        self._kept.clear()
