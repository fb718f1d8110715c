"""Self-hosted Jitsi links: tokens checked with PyJWT the way Prosody checks them, per site."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Attendee, Meeting, PermanentConnectorError
from connectors.jitsi import HS256Signer, JitsiProvider, url_fragment

DOMAIN = "meet.example.org"
APP_ID = "orchestrator"
SECRET = "7f3c9a1e5b2d4f6081a3c5e7f9b1d3e5"  # 32 bytes, the HS256 minimum
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
TITLE = "Hội nghị trực tuyến Đà Nẵng"
DA_NANG = Attendee("da-nang", "Sở TT&TT Đà Nẵng", "cntt@danang.gov.vn", moderator=True)
CAN_THO = Attendee("can-tho", "Sở TT&TT Cần Thơ", "stttt@cantho.gov.vn")
ROOM_RE = re.compile(r"[a-z0-9-]{1,50}")


class Mismatch(Exception):
    """The token is genuine but was issued for another room or another site."""


def provider(**kw: Any) -> JitsiProvider:
    return JitsiProvider(DOMAIN, APP_ID, SECRET, **kw)


def meeting(
    room: str = "hoi-nghi-da-nang-0a1b2c3d4e5f6071",
    start: datetime = START,
    *,
    subject: str | None = None,
) -> Meeting:
    end = start + timedelta(hours=2)
    return Meeting(
        session_id="s-1",
        title=TITLE,
        room=room,
        start=start,
        end=end,
        opens_at=start - timedelta(minutes=30),
        closes_at=end + timedelta(minutes=15),
        subject=subject,
    )


def token_of(url: str) -> str:
    (token,) = parse_qs(urlsplit(url).query)["jwt"]
    return token


def fragment_of(url: str) -> dict[str, Any]:
    """The fragment as the Jitsi web client reads it: URL-decode, then JSON-parse each value."""
    pairs = (part.split("=", 1) for part in urlsplit(url).fragment.split("&") if part)
    return {key: json.loads(unquote(value)) for key, value in pairs}


def verify(
    token: str,
    *,
    room: str,
    site: str,
    secret: str = SECRET,
    audience: str = APP_ID,
    check_window: bool = False,
) -> dict[str, Any]:
    """Prosody's checks (signature, alg, iss, aud, room compared lower-cased) plus the site's id."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        audience=audience,
        issuer=APP_ID,
        options={
            "require": ["iss", "aud", "sub", "room", "nbf", "exp"],
            "verify_exp": check_window,
            "verify_nbf": check_window,
        },
    )
    if claims["room"] == "*" or claims["room"].lower() != room:
        raise Mismatch(f"token is for room {claims['room']!r}, not {room!r}")
    if claims["context"]["user"]["id"] != site:
        raise Mismatch(f"token is for site {claims['context']['user']['id']!r}, not {site!r}")
    return claims


def test_token_carries_the_provider_claims() -> None:
    m = meeting()
    url = provider().join_url(m, CAN_THO)
    token = token_of(url)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = verify(token, room=m.room, site="can-tho")
    assert claims["iss"] == APP_ID
    assert claims["aud"] == APP_ID  # no audience configured: the app id
    assert claims["sub"] == DOMAIN
    assert claims["room"] == m.room
    assert claims["nbf"] == int(m.opens_at.timestamp()) == 1796862600
    assert claims["exp"] == int(m.closes_at.timestamp()) == 1796872500
    assert claims["context"]["user"] == {
        "id": "can-tho",
        "name": "Sở TT&TT Cần Thơ",
        "email": "stttt@cantho.gov.vn",
        "affiliation": "member",
    }
    assert "features" not in claims["context"]


def test_configured_audience_is_required() -> None:
    m = meeting()
    token = token_of(provider(audience="jitsi").join_url(m, CAN_THO))
    assert verify(token, room=m.room, site="can-tho", audience="jitsi")["aud"] == "jitsi"
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, room=m.room, site="can-tho", audience=APP_ID)


def test_another_issuer_is_refused() -> None:
    token = token_of(provider().join_url(meeting(), CAN_THO))
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            audience=APP_ID,
            issuer="someone-else",
            options={"verify_exp": False, "verify_nbf": False},
        )


def test_unsigned_or_foreign_tokens_are_refused() -> None:
    m = meeting()
    token = token_of(provider().join_url(m, CAN_THO))
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, "", algorithm="none")
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(unsigned, room=m.room, site="can-tho")
    forged = jwt.encode(claims, "another-secret-of-thirty-two-byte", algorithm="HS256")
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, room=m.room, site="can-tho")
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, room=m.room, site="can-tho", secret="another-secret-of-thirty-two-byte")


def test_a_token_serves_only_its_site_and_room() -> None:
    p = provider()
    room_a, room_b = p.room_name(TITLE, "a" * 16), p.room_name(TITLE, "b" * 16)
    token = token_of(p.join_url(meeting(room_a), CAN_THO))
    assert verify(token, room=room_a, site="can-tho")["room"] == room_a
    with pytest.raises(Mismatch, match="site"):
        verify(token, room=room_a, site="da-nang")
    with pytest.raises(Mismatch, match="room"):
        verify(token, room=room_b, site="can-tho")
    other = token_of(p.join_url(meeting(room_a), DA_NANG))
    assert other != token
    assert verify(other, room=room_a, site="da-nang")["context"]["user"]["id"] == "da-nang"


@pytest.mark.parametrize("room", ["*", "", "Room-1", "phòng", "a/b", "x" * 51])
def test_rooms_a_token_must_not_name_are_refused(room: str) -> None:
    with pytest.raises(PermanentConnectorError, match="room"):
        provider().join_url(meeting(room), CAN_THO)


def test_window_is_enforced_by_a_verifier() -> None:
    p = provider()
    now = datetime.now(UTC)  # PyJWT reads the real clock, so the meetings are placed around it
    live = meeting(start=now)
    token = token_of(p.join_url(live, CAN_THO))
    assert verify(token, room=live.room, site="can-tho", check_window=True)
    ended = meeting(start=now - timedelta(days=1))
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(
            token_of(p.join_url(ended, CAN_THO)), room=ended.room, site="can-tho", check_window=True
        )
    later = meeting(start=now + timedelta(days=1))
    with pytest.raises(jwt.ImmatureSignatureError):
        verify(
            token_of(p.join_url(later, CAN_THO)), room=later.room, site="can-tho", check_window=True
        )


def test_links_are_stable_and_follow_a_reschedule() -> None:
    p = provider()
    assert p.join_url(meeting(), CAN_THO) == p.join_url(meeting(), CAN_THO)
    moved = meeting(start=START + timedelta(days=1, hours=1))
    claims = verify(token_of(p.join_url(moved, CAN_THO)), room=moved.room, site="can-tho")
    assert (claims["nbf"], claims["exp"]) == (
        int(moved.opens_at.timestamp()),
        int(moved.closes_at.timestamp()),
    )
    assert claims["nbf"] == 1796862600 + 25 * 3600


def test_window_must_be_aware_and_forward() -> None:
    p = provider()
    naive = replace(meeting(), opens_at=datetime(2026, 12, 10, 0, 30))
    with pytest.raises(PermanentConnectorError, match="timezone"):
        p.join_url(naive, CAN_THO)
    backwards = replace(meeting(), closes_at=START - timedelta(hours=1))
    with pytest.raises(PermanentConnectorError, match="before it opens"):
        p.join_url(backwards, CAN_THO)


def test_only_the_host_is_moderator() -> None:
    m = meeting()
    p = provider()
    host = verify(token_of(p.join_url(m, DA_NANG)), room=m.room, site="da-nang")["context"]["user"]
    assert host["affiliation"] == "owner"
    assert host["moderator"] == "true"
    guest = verify(token_of(p.join_url(m, CAN_THO)), room=m.room, site="can-tho")["context"]["user"]
    assert guest["affiliation"] == "member"
    assert "moderator" not in guest  # "false" would be truthy to Lua and JavaScript readers
    assert all(isinstance(v, str) for v in (*host.values(), *guest.values()))


def test_visitors_are_marked_and_the_host_never_is() -> None:
    m = meeting()
    p = provider()
    viewer = Attendee("nghe-an", "Nghệ An", None, visitor=True)
    user = verify(token_of(p.join_url(m, viewer)), room=m.room, site="nghe-an")["context"]["user"]
    assert user["role"] == "visitor"
    assert "email" not in user
    plain = verify(token_of(p.join_url(m, CAN_THO)), room=m.room, site="can-tho")["context"]["user"]
    assert "role" not in plain
    both = Attendee("da-nang", "Đà Nẵng", None, moderator=True, visitor=True)
    host = verify(token_of(p.join_url(m, both)), room=m.room, site="da-nang")["context"]["user"]
    assert "role" not in host
    assert host["affiliation"] == "owner"


def test_avatar_is_passed_when_known() -> None:
    m = meeting()
    site = Attendee("hue", "Huế", None, avatar="https://example.org/hue.png")
    user = verify(token_of(provider().join_url(m, site)), room=m.room, site="hue")["context"][
        "user"
    ]
    assert user["avatar"] == "https://example.org/hue.png"


def test_url_shape_and_fragment_keep_vietnamese() -> None:
    m = meeting(subject="Giao ban quý IV: chuyển đổi số & an toàn")
    url = provider().join_url(m, CAN_THO)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", DOMAIN, f"/{m.room}")
    assert list(parse_qs(parts.query)) == ["jwt"]
    assert url.isascii()
    assert fragment_of(url) == {
        "config.subject": "Giao ban quý IV: chuyển đổi số & an toàn",
        "userInfo.displayName": "Sở TT&TT Cần Thơ",
    }
    # Values are quoted JSON strings: an unquoted one is dropped by the client.
    assert "config.subject=%22Giao%20ban%20qu%C3%BD" in parts.fragment


def test_subject_defaults_to_title_and_can_stay_out_of_the_url() -> None:
    assert fragment_of(provider().join_url(meeting(), CAN_THO))["config.subject"] == TITLE
    quiet = fragment_of(provider(subject_in_url=False).join_url(meeting(), CAN_THO))
    assert quiet == {"userInfo.displayName": "Sở TT&TT Cần Thơ"}


def test_room_names_are_short_ascii_and_unguessable() -> None:
    p = provider()
    room = p.room_name(TITLE, "0123456789abcdef")
    assert ROOM_RE.fullmatch(room)
    assert room.startswith("hoi-nghi-truc-tuyen-da-nang-")
    assert room == p.room_name(TITLE, "0123456789abcdef")
    suffix = room.rsplit("-", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{16}", suffix)
    assert "0123456789" not in suffix  # derived from the salt, not a copy of it
    others = {p.room_name(TITLE, f"{i:016x}") for i in range(200)}
    assert len(others) == 200
    long = p.room_name("Hội nghị " * 30, "fedcba9876543210")
    assert ROOM_RE.fullmatch(long)
    assert len(long) <= 50
    assert ROOM_RE.fullmatch(p.room_name("!!!", "fedcba9876543210"))
    with pytest.raises(ValueError, match="salt"):
        p.room_name(TITLE, "abc")


def test_sub_is_the_lower_cased_host_or_the_configured_tenant() -> None:
    m = meeting()
    upper = JitsiProvider("Meet.Example.org:8443", APP_ID, SECRET)
    url = upper.join_url(m, CAN_THO)
    assert urlsplit(url).netloc == "Meet.Example.org:8443"
    assert verify(token_of(url), room=m.room, site="can-tho")["sub"] == "meet.example.org"
    docker = provider(token_sub="meet.jitsi")
    assert verify(token_of(docker.join_url(m, CAN_THO)), room=m.room, site="can-tho")["sub"] == (
        "meet.jitsi"
    )


def test_identity_and_limit() -> None:
    assert provider().name == "jitsi"
    assert provider().max_participants == 100
    assert provider(max_participants=40).max_participants == 40


@pytest.mark.parametrize(
    ("domain", "app_id", "secret", "message"),
    [
        ("", APP_ID, SECRET, "domain"),
        ("https://meet.example.org", APP_ID, SECRET, "domain"),
        (DOMAIN, "", SECRET, "app_id"),
        (DOMAIN, APP_ID, "", "app_secret"),
        (DOMAIN, APP_ID, "short-secret", "32 bytes"),
    ],
)
def test_bad_configuration_is_permanent(
    domain: str, app_id: str, secret: str, message: str
) -> None:
    with pytest.raises(PermanentConnectorError, match=message):
        JitsiProvider(domain, app_id, secret)


def test_participant_limit_must_be_positive() -> None:
    with pytest.raises(PermanentConnectorError, match="max_participants"):
        provider(max_participants=0)


_CLAIM_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_CLAIMS = st.fixed_dictionaries(
    {
        "iss": _CLAIM_TEXT,
        "aud": _CLAIM_TEXT,
        "sub": _CLAIM_TEXT,
        "room": st.from_regex(ROOM_RE, fullmatch=True),
        "nbf": st.integers(0, 2**33),
        "exp": st.integers(0, 2**33),
        "context": st.fixed_dictionaries(
            {"user": st.dictionaries(st.sampled_from(["id", "name", "email"]), _CLAIM_TEXT)}
        ),
    }
)


@given(claims=_CLAIMS, secret=st.binary(min_size=32, max_size=80))
@settings(max_examples=300, deadline=None)
def test_hs256_signer_gives_pyjwt_s_token_byte_for_byte(
    claims: dict[str, Any], secret: bytes
) -> None:
    token = HS256Signer(secret).sign(claims)
    assert token == jwt.encode(claims, secret, algorithm="HS256")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert (
        jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        == claims
    )


def test_hs256_signer_is_refused_under_another_secret() -> None:
    token = HS256Signer(SECRET.encode()).sign({"room": "r", "sub": DOMAIN})
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET.encode()[::-1], algorithms=["HS256"])
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, SECRET.encode(), algorithms=["HS256"])


@given(
    values=st.dictionaries(st.sampled_from(["config.subject", "userInfo.displayName"]), st.text())
)
@settings(max_examples=300, deadline=None)
def test_url_fragment_quotes_as_urllib_does(values: dict[str, str]) -> None:
    want = "&".join(
        f"{k}={quote(json.dumps(v, ensure_ascii=False), safe='')}" for k, v in values.items()
    )
    assert url_fragment(values) == (f"#{want}" if values else "")
