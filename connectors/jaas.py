"""8x8 Jitsi as a Service (JaaS): per-site links on 8x8.vc carrying an RS256 token."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Attendee, Meeting, PermanentConnectorError
from connectors.jitsi import checked_room, link_fragment, secret_room_name, token_window

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

# PyJWT and cryptography (about 9 MB) are imported where a key is read or a token signed: a
# service without JaaS configured never loads them.

JAAS_BASE_URL = "https://8x8.vc"
APP_ID_PREFIX = "vpaas-magic-cookie-"
JAAS_MAX_PARTICIPANTS = 500  # per meeting; more only as visitors
DEFAULT_FEATURES: Mapping[str, bool] = {
    "livestreaming": False,
    "recording": False,
    "transcription": False,
    "outbound-call": False,
}
_MIN_KEY_BITS = 2048


class JaasProvider:
    """8x8 Jitsi as a Service links, RS256 tokens.

    Header `kid` = `<app_id>/<key_id>`. Claims: `aud` "jitsi", `iss` "chat", `sub` = app_id,
    `room`, `nbf`, `exp`, `context.user` {`id`, `name`, `email`, `avatar`, `moderator`
    "true"/"false", `role` "visitor" for visitors}, `context.features` (values "true"/"false";
    JaaS honours them for moderators only).
    """

    def __init__(
        self,
        app_id: str,
        key_id: str,
        private_key_pem: bytes | str,
        max_participants: int = JAAS_MAX_PARTICIPANTS,
        *,
        features: Mapping[str, bool] | None = None,
        subject_in_url: bool = True,
    ) -> None:
        if not app_id.startswith(APP_ID_PREFIX) or len(app_id) == len(APP_ID_PREFIX):
            raise PermanentConnectorError(
                f"jaas app_id must look like {APP_ID_PREFIX}<id>, got {app_id!r}"
            )
        # The console shows the kid whole (`<app_id>/<key>`); accept it as well as the key part.
        key_part = key_id.removeprefix(f"{app_id}/")
        if not key_part or "/" in key_part:
            raise PermanentConnectorError(
                f"jaas key_id must be the API key id (the part after {app_id}/), got {key_id!r}"
            )
        if not 1 <= max_participants <= JAAS_MAX_PARTICIPANTS:
            raise PermanentConnectorError(
                f"jaas max_participants must be between 1 and {JAAS_MAX_PARTICIPANTS}"
            )
        self._app_id = app_id
        self._headers = {"kid": f"{app_id}/{key_part}"}
        # Parsed once: loading a PEM costs far more than one signature.
        self._key = _load_private_key(private_key_pem)
        wanted = {**DEFAULT_FEATURES, **(features or {})}
        self._features = {k: "true" if on else "false" for k, on in wanted.items()}
        self._max_participants = max_participants
        self._subject_in_url = subject_in_url

    @classmethod
    def from_key_file(
        cls,
        app_id: str,
        key_id: str,
        private_key_file: Path | str,
        max_participants: int = JAAS_MAX_PARTICIPANTS,
        **options: Any,
    ) -> JaasProvider:
        """Read the PEM private key downloaded from the JaaS console. Raises
        `PermanentConnectorError` when the file cannot be read or holds no RSA private key."""
        try:
            pem = Path(private_key_file).read_bytes()
        except OSError as exc:
            raise PermanentConnectorError(
                f"jaas private key file {str(private_key_file)!r} cannot be read: {exc.strerror}"
            ) from exc
        return cls(app_id, key_id, pem, max_participants, **options)

    @property
    def name(self) -> str:
        return "jaas"

    @property
    def max_participants(self) -> int:
        return self._max_participants

    def room_name(self, title: str, salt: str) -> str:
        return secret_room_name(title, salt)

    def join_url(self, meeting: Meeting, attendee: Attendee) -> str:
        import jwt

        room = checked_room(meeting)
        token = jwt.encode(
            self.claims(meeting, attendee), self._key, algorithm="RS256", headers=self._headers
        )
        fragment = link_fragment(meeting, attendee, subject=self._subject_in_url)
        return f"{JAAS_BASE_URL}/{self._app_id}/{room}?jwt={token}{fragment}"

    def claims(self, meeting: Meeting, attendee: Attendee) -> dict[str, Any]:
        """The token body for `attendee` (public so tests and the bench can inspect it)."""
        nbf, exp = token_window(meeting)
        user: dict[str, str] = {"id": attendee.site_id, "name": attendee.name}
        if attendee.email:
            user["email"] = attendee.email
        if attendee.avatar:
            user["avatar"] = attendee.avatar
        user["moderator"] = "true" if attendee.moderator else "false"
        if attendee.visitor and not attendee.moderator:
            user["role"] = "visitor"
        return {
            "aud": "jitsi",
            "iss": "chat",
            "sub": self._app_id,
            "room": checked_room(meeting),
            "nbf": nbf,
            "exp": exp,
            "context": {"user": user, "features": dict(self._features)},
        }


def load_pem_private_key(data: bytes, password: bytes | None) -> Any:
    """cryptography's own, imported when a key is read."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key as load

    return load(data, password=password)


def _load_private_key(pem: bytes | str) -> rsa.RSAPrivateKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa

    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # The message never quotes the key material.
        raise PermanentConnectorError(
            "jaas private key is not an unencrypted PEM private key"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PermanentConnectorError("jaas private key must be an RSA key (RS256)")
    if key.key_size < _MIN_KEY_BITS:
        raise PermanentConnectorError(f"jaas private key must have at least {_MIN_KEY_BITS} bits")
    return key
