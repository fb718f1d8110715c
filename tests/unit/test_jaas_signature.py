"""JaaS webhook signatures: the public test vector and every way a signature can be wrong."""

from __future__ import annotations

import time

import pytest

from connectors.jaas_webhooks import SignatureInvalid, sign, verify_signature

SECRET = "whsec_9635df66714a4cf088ee9d0979dd3bf6"
T = 1632490060
SIGNATURE = "xlzqEojlh4qb21sQpXYsWgyK8x9HVpz+RQldsv18rV0="
BODY = (
    b'{"eventType":"PARTICIPANT_JOINED","sessionId":"9a441d60-ceaf-4eba-b0a8-a7d940a76e1b",'
    b'"timestamp":1632490058278,"fqn":"vpaas-magic-cookie-96f0941768964ab380ed0fbada7a502f/'
    b'sampleappromanticshiftsstripas","idempotencyKey":"9e9e7420-562d-4659-8e22-44b9b22aaa49",'
    b'"customerId":"96f0941768964ab380ed0fbada7a502f","appId":"vpaas-magic-cookie-'
    b'96f0941768964ab380ed0fbada7a502f","data":{"avatar":"","name":"Test User","id":"auth0|'
    b'5f903d7a77f3b4006eb8e67d","participantJid":"fc1ea14a-9bca-4218-a563-8c627e803d56@8x8.vc",'
    b'"moderator":true,"email":"test.user@company.com"}}'
)
HEADER = f"t={T},v1={SIGNATURE}"


def test_the_public_test_vector() -> None:
    assert sign(BODY, SECRET, T) == SIGNATURE
    assert verify_signature(HEADER, BODY, SECRET, now=T + 2) == T


@pytest.mark.parametrize(
    ("header", "body", "secret", "now", "words"),
    [
        (HEADER, BODY + b" ", SECRET, T, "no v1 signature matches"),  # tampered body
        (HEADER, BODY, "whsec_0000", T, "no v1 signature matches"),  # wrong secret
        (HEADER, BODY, SECRET.removeprefix("whsec_"), T, "no v1 signature matches"),  # no prefix
        (HEADER, BODY, SECRET, T + 301, "tolerance"),  # stale
        (HEADER, BODY, SECRET, T - 301, "tolerance"),  # from the future
        (f"t={T},v0={SIGNATURE}", BODY, SECRET, T, "has no v1 signature"),  # unknown scheme only
        (f"v1={SIGNATURE}", BODY, SECRET, T, "no timestamp"),
        ("", BODY, SECRET, T, "missing"),
        (None, BODY, SECRET, T, "missing"),
        (f"t=soon,v1={SIGNATURE}", BODY, SECRET, T, "bad timestamp"),
        # Undecodable header bytes reach the handler as lone surrogates (aiohttp decodes
        # headers with surrogateescape): refused, not a crash.
        (f"t={T},v1=\udcff\udcfe", BODY, SECRET, T, "other than ASCII"),
        (f"t={T},v1={SIGNATURE}\udcff", BODY, SECRET, T, "other than ASCII"),
        (f"t={T},v1=é{SIGNATURE}", BODY, SECRET, T, "other than ASCII"),
        # `t` is digits as JaaS writes them, not whatever int() accepts.
        (f"t=+{T},v1={SIGNATURE}", BODY, SECRET, T, "bad timestamp"),
        (f"t={T:_},v1={SIGNATURE}", BODY, SECRET, T, "bad timestamp"),
        (f"t={'9' * 5000},v1={SIGNATURE}", BODY, SECRET, T, "bad timestamp"),
    ],
)
def test_refusals(header: str | None, body: bytes, secret: str, now: int, words: str) -> None:
    with pytest.raises(SignatureInvalid, match=words):
        verify_signature(header, body, secret, now=now)


def test_a_timestamp_in_other_scripts_digits_is_refused() -> None:
    arabic_indic = str(T).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    with pytest.raises(SignatureInvalid, match="other than ASCII"):
        verify_signature(f"t={arabic_indic},v1={SIGNATURE}", BODY, SECRET, now=T)


def test_any_of_several_v1_values_and_other_schemes_ignored() -> None:
    header = f"t={T},v1=bm90LXRoaXMtb25l,v0=whatever,v1={SIGNATURE}"
    assert verify_signature(header, BODY, SECRET, now=T) == T


def test_the_real_clock_refuses_the_old_vector() -> None:
    with pytest.raises(SignatureInvalid):
        verify_signature(HEADER, BODY, SECRET, now=int(time.time()))
