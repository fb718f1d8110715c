"""The credentials area of the store: API tokens, calendar-feed tokens and the app's secrets.

Only hashes of tokens are stored; the tokens themselves are shown once, when issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orchestrator.domain.models import Principal


@dataclass(frozen=True)
class TokenRecord:
    """An API token as listed (never the token itself)."""

    id: str
    role: str
    site_id: str | None
    email: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


class Tokens(Protocol):
    """Credentials (`uow.tokens`). Database failures (a duplicate token id among them) surface
    when the unit of work ends."""

    async def add(self, record: TokenRecord, token_hash: str) -> None:
        """Store a new, unrevoked API token under its hash."""
        ...

    async def principal_for(self, token_hash: str) -> Principal | None:
        """The principal of an unrevoked token, or None."""
        ...

    async def revoke(self, token_id: str, at: datetime) -> bool:
        """Revoke a token; False when it is unknown or revoked already."""
        ...

    async def all(self) -> list[TokenRecord]:
        """Every API token, revoked ones too, oldest first."""
        ...

    async def set_feed(self, site_id: str, token_hash: str, at: datetime) -> None:
        """Replace the site's calendar-feed token (the old one stops working)."""
        ...

    async def site_for_feed(self, token_hash: str) -> str | None:
        """The site whose current feed token this is, or None."""
        ...

    async def secret(self, name: str, candidate: str) -> str:
        """The stored secret `name`; stores `candidate` first if there is none (so concurrent
        first callers all get the one that won)."""
        ...
