"""Text that both databases can store: PostgreSQL refuses NUL in text and neither database can
encode a lone UTF-16 surrogate (which JSON's `\\ud800` escapes produce)."""

from __future__ import annotations

import re
from collections.abc import Iterator

# NUL, and any code point in the surrogate range (only lone ones survive decoding into `str`)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether `text` holds a character no database here can store."""
    return _UNSTORABLE.search(text) is not None


def storable(text: str) -> str:
    """`text` without the characters no database here can store (free text from platforms)."""
    return _UNSTORABLE.sub("", text) if unstorable(text) else text


def unstorable_fields(value: object, where: str = "") -> Iterator[str]:
    """The dotted paths of every string (or key) in a parsed JSON value that `unstorable` finds."""
    if isinstance(value, str):
        if unstorable(value):
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and unstorable(key):
                yield path
            else:
                yield from unstorable_fields(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_fields(item, f"{where}.{index}" if where else str(index))


def as_sent(text: str) -> bytes:
    """The bytes a header or form value arrived as: undecodable bytes reach `str` as lone
    surrogates, which a plain `encode()` refuses. For hashing and constant-time comparison."""
    return text.encode("utf-8", "surrogateescape")
