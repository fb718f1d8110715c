"""Token and audit use cases. A token is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

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
    """Issue, check and revoke API tokens; read the audit log."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

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
        async with self._store.read() as uow:
            principal = await uow.tokens.principal_for(hash_token(token))
        if principal is None:
            raise AuthenticationRequired("unknown or revoked token")
        return principal

    async def revoke_token(self, token_id: str, *, actor: str = "cli") -> bool:
        now = self._clock.now()
        async with self._store.write() as uow:
            done = await uow.tokens.revoke(token_id, now)
            if done:
                await uow.audit.record(
                    at=now, actor=actor, action="token.revoke", target=f"token:{token_id}"
                )
        return done

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
