"""Token and audit use cases. A token is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass

from orchestrator.access.cache import TokenCache
from orchestrator.domain.clock import Clock
from orchestrator.domain.errors import AuthenticationRequired, InvalidRequest
from orchestrator.domain.models import AuditEntry, Principal, Role, require_office
from orchestrator.domain.text import as_sent
from orchestrator.store.base import Store, TokenRecord

TOKEN_PREFIX = "orch_"


def hash_token(token: str) -> str:
    return hashlib.sha256(as_sent(token)).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    record: TokenRecord


class Access:
    """Issue, check and revoke API tokens; read the audit log.

    An authenticated token's principal is kept for `token_cache_seconds` (see `TokenCache`): a
    token revoked here is refused at once, one revoked elsewhere within that time."""

    def __init__(self, store: Store, clock: Clock, *, token_cache_seconds: float = 5.0) -> None:
        self._store = store
        self._clock = clock
        self._cache = TokenCache(token_cache_seconds)
        self._looking: dict[str, asyncio.Future[Principal | None]] = {}

    async def create_token(
        self,
        role: Role,
        *,
        site_id: str | None = None,
        email: str | None = None,
        label: str = "",
        actor: str = "cli",
    ) -> IssuedToken:
        """A new token for `role`. Coordinators need a site, chairs an email.

        Raises InvalidRequest for a missing or unknown site.
        """
        if role is Role.COORDINATOR and not site_id:
            raise InvalidRequest("a coordinator token needs --site", field="site")
        if role is Role.CHAIR and not email:
            raise InvalidRequest("a chair token needs --email (the chair's address)", field="email")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now()
        record = TokenRecord(
            id=secrets.token_hex(8),
            role=role.value,
            site_id=site_id,
            email=email.strip().lower() if email else None,
            label=label,
            created_at=now,
            revoked_at=None,
        )
        async with self._store.write() as uow:
            if site_id and not await uow.directory.get_sites([site_id]):
                raise InvalidRequest(f"unknown site: {site_id}", field="site")
            await uow.tokens.add(record, hash_token(token))
            await uow.audit.record(
                at=now,
                actor=actor,
                action="token.create",
                target=f"token:{record.id}",
                detail={"role": role.value, "site_id": site_id, "email": record.email},
            )
        return IssuedToken(token, record)

    async def authenticate(self, token: str | None) -> Principal:
        """The principal behind a bearer token. Raises AuthenticationRequired."""
        if not token:
            raise AuthenticationRequired("send Authorization: Bearer <token>")
        token_hash = hash_token(token)
        principal = self._cache.get(token_hash)
        if principal is None:
            principal = await self._look_up(token_hash)
        if principal is None:
            raise AuthenticationRequired("unknown or revoked token")
        return principal

    async def _look_up(self, token_hash: str) -> Principal | None:
        """The token's principal from the store; concurrent look-ups of one token share one
        query, which runs to its end even if the request that started it is cancelled."""
        looking = self._looking.get(token_hash)
        if looking is None:
            looking = asyncio.ensure_future(self._read(token_hash))
            self._looking[token_hash] = looking
            looking.add_done_callback(lambda done: self._done_looking(token_hash, done))
        return await asyncio.shield(looking)

    def _done_looking(self, token_hash: str, done: asyncio.Future[Principal | None]) -> None:
        if self._looking.get(token_hash) is done:
            del self._looking[token_hash]
        if not done.cancelled():
            done.exception()  # seen by whoever awaited it; never "never retrieved"

    async def _read(self, token_hash: str) -> Principal | None:
        generation = self._cache.generation
        async with self._store.read() as uow:
            principal = await uow.tokens.principal_for(token_hash)
        if principal is not None:
            self._cache.put(token_hash, principal, generation)
        return principal

    async def revoke_token(self, token_id: str, *, actor: str = "cli") -> bool:
        now = self._clock.now()
        self._revoking(token_id)
        try:
            async with self._store.write() as uow:
                done = await uow.tokens.revoke(token_id, now)
                if done:
                    await uow.audit.record(
                        at=now, actor=actor, action="token.revoke", target=f"token:{token_id}"
                    )
        finally:
            self._revoking(token_id)
        return done

    def _revoking(self, token_id: str) -> None:
        """Forget the token, and let no request join or keep a look-up begun before now."""
        self._cache.revoked(token_id)
        self._looking.clear()

    async def list_tokens(self) -> list[TokenRecord]:
        async with self._store.read() as uow:
            return await uow.tokens.all()

    async def audit_log(
        self, principal: Principal, *, target: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The audit log, newest first (of `target` only, if given). Raises PermissionDenied
        unless the principal is the office."""
        require_office(principal)
        async with self._store.read() as uow:
            return await uow.audit.recent(target=target, limit=limit)
