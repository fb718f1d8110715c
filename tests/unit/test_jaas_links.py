"""JaaS (8x8) links: RS256 tokens checked with PyJWT against 8x8's documented rules, per site."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connectors.base import Attendee, Meeting, PermanentConnectorError
from connectors.jaas import JaasProvider

APP_ID = "vpaas-magic-cookie-1fc542a3e4414a44b2611668195e2bfe"
KEY_ID = "4f4910"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
TITLE = "Giao ban trực tuyến toàn quốc"
HA_NOI = Attendee("ha-noi", "Văn phòng Hà Nội", "vanphong@hanoi.gov.vn", moderator=True)
CAN_THO = Attendee("can-tho", "Sở TT&TT Cần Thơ", "stttt@cantho.gov.vn")


class Mismatch(Exception):
    """The token is genuine but was issued for another room or another site."""


def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def provider(key: rsa.RSAPrivateKey) -> JaasProvider:
    return JaasProvider(APP_ID, KEY_ID, pem_of(key))


def meeting(room: str = "giao-ban-0a1b2c3d4e5f6071", start: datetime = START) -> Meeting:
    end = start + timedelta(hours=2)
    return Meeting(
        session_id="s-1",
        title=TITLE,
        room=room,
        start=start,
        end=end,
        opens_at=start - timedelta(minutes=30),
        closes_at=end + timedelta(minutes=15),
    )


def token_of(url: str) -> str:
    (token,) = parse_qs(urlsplit(url).query)["jwt"]
    return token


def verify(
    token: str,
    key: rsa.RSAPrivateKey,
    *,
    room: str,
    site: str,
    check_window: bool = False,
) -> dict[str, Any]:
    """8x8's rules (RS256 with the uploaded public key, aud "jitsi", iss "chat", sub = app id,
    literal room match) plus the site's id."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        audience="jitsi",
        issuer="chat",
        options={
            "require": ["iss", "aud", "sub", "room", "nbf", "exp"],
            "verify_exp": check_window,
            "verify_nbf": check_window,
        },
    )
    if claims["sub"] != APP_ID:
        raise Mismatch(f"token is for app {claims['sub']!r}")
    if claims["room"] != room:
        raise Mismatch(f"token is for room {claims['room']!r}, not {room!r}")
    if claims["context"]["user"]["id"] != site:
        raise Mismatch(f"token is for site {claims['context']['user']['id']!r}, not {site!r}")
    return claims


def test_header_names_the_key(provider: JaasProvider) -> None:
    header = jwt.get_unverified_header(token_of(provider.join_url(meeting(), CAN_THO)))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": f"{APP_ID}/{KEY_ID}"}


def test_token_carries_the_documented_claims(
    provider: JaasProvider, key: rsa.RSAPrivateKey
) -> None:
    m = meeting()
    claims = verify(token_of(provider.join_url(m, CAN_THO)), key, room=m.room, site="can-tho")
    assert (claims["aud"], claims["iss"], claims["sub"]) == ("jitsi", "chat", APP_ID)
    assert claims["room"] == m.room
    assert claims["nbf"] == 1796862600  # 2026-12-10 00:30 UTC
    assert claims["exp"] == 1796872500  # 2026-12-10 03:15 UTC
    assert claims["context"] == {
        "user": {
            "id": "can-tho",
            "name": "Sở TT&TT Cần Thơ",
            "email": "stttt@cantho.gov.vn",
            "moderator": "false",
        },
        "features": {
            "livestreaming": "false",
            "recording": "false",
            "transcription": "false",
            "outbound-call": "false",
        },
    }


def test_only_the_host_is_moderator(provider: JaasProvider, key: rsa.RSAPrivateKey) -> None:
    m = meeting()
    host = verify(token_of(provider.join_url(m, HA_NOI)), key, room=m.room, site="ha-noi")
    assert host["context"]["user"]["moderator"] == "true"
    guest = verify(token_of(provider.join_url(m, CAN_THO)), key, room=m.room, site="can-tho")
    assert guest["context"]["user"]["moderator"] == "false"


def test_visitors_are_marked(provider: JaasProvider, key: rsa.RSAPrivateKey) -> None:
    m = meeting()
    viewer = Attendee("nghe-an", "Nghệ An", None, visitor=True, avatar="https://example.org/a.png")
    user = verify(token_of(provider.join_url(m, viewer)), key, room=m.room, site="nghe-an")
    assert user["context"]["user"] == {
        "id": "nghe-an",
        "name": "Nghệ An",
        "avatar": "https://example.org/a.png",
        "moderator": "false",
        "role": "visitor",
    }
    both = Attendee("ha-noi", "Hà Nội", None, moderator=True, visitor=True)
    host = verify(token_of(provider.join_url(m, both)), key, room=m.room, site="ha-noi")
    assert "role" not in host["context"]["user"]
    assert host["context"]["user"]["moderator"] == "true"


def test_features_can_be_granted(key: rsa.RSAPrivateKey) -> None:
    p = JaasProvider(APP_ID, KEY_ID, pem_of(key), features={"recording": True, "file-upload": True})
    m = meeting()
    features = verify(token_of(p.join_url(m, HA_NOI)), key, room=m.room, site="ha-noi")["context"][
        "features"
    ]
    assert features["recording"] == "true"
    assert features["file-upload"] == "true"
    assert features["livestreaming"] == "false"


def test_a_token_serves_only_its_site_and_room(
    provider: JaasProvider, key: rsa.RSAPrivateKey
) -> None:
    room_a, room_b = provider.room_name(TITLE, "a" * 16), provider.room_name(TITLE, "b" * 16)
    token = token_of(provider.join_url(meeting(room_a), CAN_THO))
    assert verify(token, key, room=room_a, site="can-tho")["room"] == room_a
    with pytest.raises(Mismatch, match="site"):
        verify(token, key, room=room_a, site="ha-noi")
    with pytest.raises(Mismatch, match="room"):
        verify(token, key, room=room_b, site="can-tho")


def test_other_keys_and_algorithms_are_refused(
    provider: JaasProvider, key: rsa.RSAPrivateKey
) -> None:
    m = meeting()
    token = token_of(provider.join_url(m, CAN_THO))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, stranger, room=m.room, site="can-tho")
    claims = jwt.decode(token, options={"verify_signature": False})
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(jwt.encode(claims, "", algorithm="none"), key, room=m.room, site="can-tho")
    # The classic confusion: HS256 keyed with the (public) RSA key must not pass as RS256.
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = b".".join(
        _b64(json.dumps(part).encode()) for part in ({"alg": "HS256", "typ": "JWT"}, claims)
    )
    forged = signing_input + b"." + _b64(hmac.digest(public_pem, signing_input, hashlib.sha256))
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(forged.decode(), key, room=m.room, site="can-tho")


def test_window_is_enforced_by_a_verifier(provider: JaasProvider, key: rsa.RSAPrivateKey) -> None:
    now = datetime.now(UTC)  # PyJWT reads the real clock, so the meetings are placed around it
    live, ended = meeting(start=now), meeting(start=now - timedelta(days=1))
    token = token_of(provider.join_url(live, CAN_THO))
    assert verify(token, key, room=live.room, site="can-tho", check_window=True)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(
            token_of(provider.join_url(ended, CAN_THO)),
            key,
            room=ended.room,
            site="can-tho",
            check_window=True,
        )


def test_url_shape_and_fragment(provider: JaasProvider) -> None:
    m = meeting()
    url = provider.join_url(m, CAN_THO)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "8x8.vc", f"/{APP_ID}/{m.room}")
    assert list(parse_qs(parts.query)) == ["jwt"]
    assert url.isascii()
    pairs = (p.split("=", 1) for p in parts.fragment.split("&"))
    assert {k: json.loads(unquote(v)) for k, v in pairs} == {
        "config.subject": TITLE,
        "userInfo.displayName": "Sở TT&TT Cần Thơ",
    }


def test_room_names_share_the_jitsi_shape(provider: JaasProvider) -> None:
    room = provider.room_name(TITLE, "0123456789abcdef")
    assert re.fullmatch(r"giao-ban-truc-tuyen-toan-quoc-[0-9a-f]{16}", room)
    assert len(room) <= 50
    assert room != provider.room_name(TITLE, "0123456789abcdee")
    with pytest.raises(PermanentConnectorError, match="room"):
        provider.join_url(meeting("*"), CAN_THO)


def test_identity_and_limit(provider: JaasProvider) -> None:
    assert provider.name == "jaas"
    assert provider.max_participants == 500


def test_the_key_is_parsed_once(key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def counting(data: bytes, password: bytes | None) -> Any:
        calls.append(data)
        return serialization.load_pem_private_key(data, password)

    monkeypatch.setattr("connectors.jaas.load_pem_private_key", counting)
    p = JaasProvider(APP_ID, KEY_ID, pem_of(key).decode())  # str PEM works too
    for site in ("a", "b", "c"):
        p.join_url(meeting(), Attendee(site, site, None))
    assert len(calls) == 1


def test_key_file_and_full_kid(key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "jaas.pk"
    path.write_bytes(pem_of(key))
    p = JaasProvider.from_key_file(APP_ID, f"{APP_ID}/{KEY_ID}", path)
    header = jwt.get_unverified_header(token_of(p.join_url(meeting(), CAN_THO)))
    assert header["kid"] == f"{APP_ID}/{KEY_ID}"
    with pytest.raises(PermanentConnectorError, match="cannot be read"):
        JaasProvider.from_key_file(APP_ID, KEY_ID, tmp_path / "missing.pk")


def test_unusable_keys_are_permanent_errors(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(PermanentConnectorError, match="PEM"):
        JaasProvider(APP_ID, KEY_ID, b"not a key")
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(PermanentConnectorError, match="PEM"):
        JaasProvider(APP_ID, KEY_ID, encrypted)
    with pytest.raises(PermanentConnectorError, match="RSA"):
        JaasProvider(APP_ID, KEY_ID, pem_of(ec.generate_private_key(ec.SECP256R1())))
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(PermanentConnectorError, match="2048"):
        JaasProvider(APP_ID, KEY_ID, pem_of(small))


@pytest.mark.parametrize(
    ("app_id", "key_id", "limit", "message"),
    [
        ("my-app", KEY_ID, 500, "app_id"),
        ("vpaas-magic-cookie-", KEY_ID, 500, "app_id"),
        (APP_ID, "", 500, "key_id"),
        (APP_ID, "vpaas-magic-cookie-other/4f4910", 500, "key_id"),
        (APP_ID, KEY_ID, 501, "max_participants"),
        (APP_ID, KEY_ID, 0, "max_participants"),
    ],
)
def test_bad_configuration_is_permanent(
    key: rsa.RSAPrivateKey, app_id: str, key_id: str, limit: int, message: str
) -> None:
    with pytest.raises(PermanentConnectorError, match=message):
        JaasProvider(app_id, key_id, pem_of(key), limit)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")
