"""JaaS webhook signatures (`X-Jaas-Signature`), as 8x8 documents them (DESIGN 6.4).

The header is `t=<unix seconds>,v1=<signature>[,v1=<signature>...]`; each signature is the
standard base64 of HMAC-SHA256, keyed with the endpoint secret *including* its `whsec_` prefix,
over `<t>.` followed by the raw body bytes. Other schemes are ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from connectors.base import PermanentConnectorError

DEFAULT_TOLERANCE = 300  # seconds between the header's timestamp and now
MAX_TIMESTAMP_DIGITS = 20  # Unix seconds need 10 digits for centuries yet


class SignatureInvalid(PermanentConnectorError):
    """The request is not provably from JaaS: refuse it and record nothing."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `v1` signature of `body` at `timestamp` (for tests and tools)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> int:
    """Check `X-Jaas-Signature` against the raw `body`; the signed timestamp when it holds.

    Raises SignatureInvalid naming what is wrong (missing header, characters other than ASCII,
    no or a malformed timestamp, stale or future timestamp, no v1 signature, no signature
    matching).
    """
    if not header:
        raise SignatureInvalid("missing X-Jaas-Signature header")
    # JaaS sends ASCII only; anything else (undecodable bytes arrive as surrogates) cannot be
    # compared as a signature, and a refusal is the answer, not a crash.
    if not header.isascii():
        raise SignatureInvalid("the signature header holds characters other than ASCII")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            # Digits only: int() would also take signs, underscores and spaces, none of which
            # JaaS sends, and `t` is signed as written.
            if not value.isdigit() or len(value) > MAX_TIMESTAMP_DIGITS:
                raise SignatureInvalid(f"bad timestamp {value[:40]!r}")
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None:
        raise SignatureInvalid("the signature header has no timestamp (t=...)")
    if abs(now - timestamp) > tolerance:
        raise SignatureInvalid(
            f"timestamp {timestamp} is {now - timestamp:+d} s from now (tolerance {tolerance} s)"
        )
    if not candidates:
        raise SignatureInvalid("the signature header has no v1 signature")
    expected = sign(body, secret, timestamp).encode()
    # Compare every candidate, always, so timing does not tell which one was close.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise SignatureInvalid("no v1 signature matches the body")
    return timestamp
