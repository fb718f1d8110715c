"""Writing an invite's MIME message fast: headers prepared in their wire form, leaves and
multiparts written while they are built, base64 without the standard library's Python loop.

Every part is base64 and every header is written ready-encoded (RFC 2047 words for non-ASCII
text), which lets the message skip the email package's header parsing: see `_InvitePolicy`.
The message's bytes are written while it is built and kept with it (`InviteMessage`); the tests
compare them with the email package's own generator.
"""

from __future__ import annotations

import base64
import binascii
import functools
import operator
import re
import struct
from collections.abc import Iterable, Sequence
from email.message import EmailMessage, Message
from email.policy import EmailPolicy, Policy, default
from email.utils import formataddr
from typing import TYPE_CHECKING, Any, TypeAlias

from orchestrator.invites.ics import Party

# Headers the MIME machinery reads while it writes a message (several times per part). They are
# handed back as plain strings; see Prepared.
_STRUCTURAL = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition", "mime-version"}
)
_MAX_LINE = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters
# 39 UTF-8 bytes -> 52 base64 characters -> a 64-character encoded word, which fits on a header's
# first line after its name (`Subject: `) within 78 columns (RFC 2047 allows up to 75).
_WORD_BYTES = 39


class Prepared(str):
    """A header value already in its wire form: ASCII, folded at spaces to 78 columns.

    The email package parses every header value into a header object when it is stored and
    refolds it when the message is written, which costs more than the rest of an invite
    together. A `Prepared` value skips both: it has the two things the package asks of a
    header object when writing (`name`, `fold()`), and is written as it is. Read back, it
    gives the parsed header object, made on first use, so `msg["To"].addresses` or
    `part.is_attachment()` work as usual; for the MIME headers the package re-reads while it
    writes (Content-Type...), the string itself comes back and forwards attribute look-ups
    (`.params`, `.content_type`) to the parsed object.
    """

    name: str
    _parsed: Any

    def __new__(cls, folded: str, name: str) -> Prepared:
        obj = super().__new__(cls, folded)
        obj.name = name
        obj._parsed = None
        return obj

    def __reduce__(self) -> tuple[type[Prepared], tuple[str, str]]:
        # copy and pickle rebuild it from its text and name (the parsed form is made again).
        return Prepared, (str(self), self.name)

    def fold(self, *, policy: Policy[Any]) -> str:
        linesep = policy.linesep
        if "\n" in self:
            return f"{self.name}: {self.replace(chr(10), linesep)}{linesep}"
        return f"{self.name}: {self}{linesep}"

    def parsed(self) -> Any:
        if self._parsed is None:
            self._parsed = default.header_factory(self.name, "".join(self.splitlines()))
        return self._parsed

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.parsed(), attr)


def _fold_header(name: str, value: str) -> str:
    """`value` folded at spaces so that no line (the first with `Name: `) passes 78 columns."""
    if len(name) + 2 + len(value) <= _MAX_LINE:
        return value
    lines: list[str] = []
    current = ""
    width = _MAX_LINE - len(name) - 2
    for word in value.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current, width = word, _MAX_LINE - 1  # the continuation's leading space
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\n ".join(lines)


def _prepare(name: str, value: Any) -> Prepared | None:
    """`value` as a `Prepared` header if it is a plain ASCII string without line breaks."""
    if type(value) is str and value.isascii() and "\n" not in value and "\r" not in value:
        return Prepared(_fold_header(name, value), name)
    return None


if TYPE_CHECKING:
    _EmailPolicy = EmailPolicy[EmailMessage]
else:  # not subscriptable at run time
    _EmailPolicy = EmailPolicy


class _InvitePolicy(_EmailPolicy):
    """The default email policy, with a fast path for ASCII header values.

    An ASCII value without line breaks is stored folded as a `Prepared` string instead of being
    parsed; anything else (non-ASCII, or a value a caller set later) takes the default path.
    """

    def header_max_count(self, name: str) -> int | None:
        # The default looks the header class up anew on every header set; the answer is fixed.
        return _max_count(name.lower())

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        prepared = _prepare(name, value)
        if prepared is not None:
            return name, prepared
        return super().header_store_parse(name, value)

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, Prepared):
            if name.lower() in _STRUCTURAL:
                return value if "\n" not in value else Prepared("".join(value.splitlines()), name)
            return value.parsed()
        return super().header_fetch_parse(name, value)


@functools.lru_cache(maxsize=128)
def _max_count(name: str) -> int | None:
    count: int | None = default.header_max_count(name)
    return count


# CRLF line ends: as_bytes() is what goes on the wire and into .eml files.
POLICY = _InvitePolicy(linesep="\r\n")


_LINE_ENDS_RE = re.compile(r"\r\n|\r|\n")
_BOUNDARY_RE = re.compile(r';\s*boundary="([^"\\]+)"', re.IGNORECASE)


def _flatten(message: Message[Any, Any], policy: Policy[Any], out: list[str]) -> bool:
    """Append `message` as BytesGenerator writes it; False for what this does not cover.

    Covered: multipart parts with a list payload, a boundary and no preamble or epilogue (not
    multipart/signed), and leaves whose payload is an ASCII string; headers that are ASCII once
    folded. Anything else is left to the email package's own generator.
    """
    linesep = policy.linesep
    raw_type: object = None
    for name, value in message.raw_items():
        if isinstance(value, Prepared):
            out.append(value.fold(policy=policy))
        else:
            try:
                out.append(policy.fold_binary(name, value).decode("ascii"))
            except UnicodeDecodeError:
                return False
        if raw_type is None and name.lower() == "content-type":
            raw_type = value
    out.append(linesep)
    payload = message.get_payload()  # the stored body: a list of parts, or text as stored
    if isinstance(raw_type, Prepared):
        # Our own header: its type and boundary without the general parameter parser.
        ctype = raw_type.partition(";")[0].strip().lower()
        found = _BOUNDARY_RE.search(raw_type)
        boundary = found.group(1) if found else None
    else:
        ctype, boundary = message.get_content_type(), None
    if ctype.count("/") != 1:
        return False
    maintype, _, subtype = ctype.partition("/")
    if maintype == "multipart":
        if (
            not isinstance(payload, list)
            or not payload
            or subtype == "signed"
            or message.preamble is not None
            or message.epilogue is not None
        ):
            return False
        boundary = boundary or message.get_boundary()
        if not boundary:
            return False
        out.append(f"--{boundary}{linesep}")
        for index, part in enumerate(payload):
            if index:
                out.append(f"{linesep}--{boundary}{linesep}")
            if not _flatten(part, policy, out):
                return False
        out.append(f"{linesep}--{boundary}--{linesep}")
        return True
    if maintype == "message" or not isinstance(payload, str) or not payload.isascii():
        return False
    if "\r" in payload:
        out.append(_LINE_ENDS_RE.sub(linesep, payload))
    else:
        out.append(payload.replace("\n", linesep))
    return True


# What the bytes of one part of a built message depend on: the part (None for the message
# itself), its header list and payload as they were, and a multipart's sub-parts as they were.
_State: TypeAlias = (
    "tuple[Message[Any, Any] | None, tuple[Any, ...], Any, tuple[object, ...] | None]"
)


def _state(part: Message[Any, Any], *, top: bool = False) -> _State:
    state = part.__dict__  # the email package keeps these private; only read here
    payload = state["_payload"]
    items = tuple(payload) if isinstance(payload, list) else None
    return None if top else part, tuple(state["_headers"]), payload, items


def _same(items: Sequence[object], kept: Sequence[object]) -> bool:
    return len(items) == len(kept) and all(map(operator.is_, items, kept))


def _unchanged(message: Message[Any, Any], states: Sequence[_State]) -> bool:
    """Whether `message` and each part below it still have the headers and payload they had.

    Every way of changing a message (setting, deleting or replacing a header, a new payload,
    attaching, set_content...) changes or replaces its header list or its payload, and the
    strings in them are immutable, so comparing identities is enough. Each multipart's list of
    parts is compared too, so the parts checked are the ones in the tree.
    """
    for part, headers, payload, items in states:
        owner = message if part is None else part
        state = owner.__dict__
        current = state["_payload"]
        if current is not payload or not _same(state["_headers"], headers):
            return False
        if items is not None and (  # a multipart: its parts, preamble and epilogue
            not _same(current, items) or owner.preamble is not None or owner.epilogue is not None
        ):
            return False
    return True


class InviteMessage(EmailMessage):
    """An EmailMessage that writes itself without the email package's generator when it can.

    The generator costs more than building the invite. `build_invite_email` writes the bytes
    while it builds the message (it has every piece at hand) and keeps them with the state they
    were written from: as long as the message is unchanged, `as_bytes()` returns them. A
    message changed since is written by `_flatten`, which writes the same bytes directly for
    the shapes `build_invite_email` makes; anything else (a `unixfrom`, a part changed into
    something `_flatten` does not cover) goes the usual way. The tests compare all three with
    the email package's generator.
    """

    _written: tuple[bytes, tuple[_State, ...]] | None = None

    def keep_bytes(self, data: bytes, parts: Iterable[Written]) -> None:
        """Keep `data`, as written, for as long as the message and `parts` (every part below it,
        as `leaf` and `fill_multipart` made them) stay as they are now."""
        self._written = (data, (_state(self, top=True), *[_state(part) for part, _ in parts]))

    def as_bytes(self, unixfrom: bool = False, policy: Policy[Any] | None = None) -> bytes:
        policy = self.policy if policy is None else policy
        if unixfrom:
            return super().as_bytes(unixfrom, policy)
        written = self._written
        if written is not None and policy is POLICY and _unchanged(self, written[1]):
            return written[0]
        out: list[str] = []
        if _flatten(self, policy, out):
            return "".join(out).encode("ascii")
        return super().as_bytes(unixfrom, policy)


def encode_words(text: str) -> str:
    """`text` as RFC 2047 encoded words (UTF-8, base64) when it is not ASCII, else as it is."""
    text = " ".join(text.split())  # no line breaks or runs of spaces in a header
    if text.isascii():
        return text
    data = text.encode()
    words = []
    start = 0
    while start < len(data):
        cut = min(start + _WORD_BYTES, len(data))
        while cut < len(data) and data[cut] & 0xC0 == 0x80:  # not inside a character
            cut -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:cut]).decode('ascii')}?=")
        start = cut
    return " ".join(words)


def format_address(party: Party) -> str:
    """`Name <address>` with the name quoted or encoded as a header needs it."""
    name = " ".join(party.name.split())
    if not name:
        return party.email
    if name.isascii():
        return formataddr((name, party.email))
    return f"{encode_words(name)} <{party.email}>"


# Cached for the values the invites of a session share (the subject, the sender); the
# recipient's address is made anew, once per invite.
shared_words = functools.lru_cache(maxsize=256)(encode_words)
shared_address = functools.lru_cache(maxsize=256)(format_address)


def _prepare_own(name: str, value: str) -> Prepared:
    """A header value this module makes (ASCII, one line), prepared."""
    prepared = _prepare(name, value)
    if prepared is None:
        raise ValueError(f"{name}: {value!r} is not a plain ASCII header value")
    return prepared


@functools.cache
def _constant(name: str, value: str) -> Prepared:
    """A header value every invite repeats, prepared once (header objects are immutable)."""
    return _prepare_own(name, value)


@functools.lru_cache(maxsize=1024)
def _shared(name: str, value: str) -> Prepared | None:
    """A header value the invites of a session share (From, Subject, Date...), prepared once;
    None if it cannot be (see `_prepare`)."""
    return _prepare(name, value)


# The parts ------------------------------------------------------------------------------


@functools.cache
def _leaf_headers(content_type: str, disposition: str | None) -> tuple[tuple[Prepared, ...], bytes]:
    """A leaf's headers, and how they are written (with the blank line after them)."""
    headers = [
        _constant("Content-Type", content_type),
        _constant("Content-Transfer-Encoding", "base64"),
    ]
    if disposition is not None:
        headers.append(_constant("Content-Disposition", disposition))
    return tuple(headers), header_bytes(headers) + b"\r\n"


def header_bytes(headers: Iterable[Prepared]) -> bytes:
    """Prepared headers as the generator writes them with this module's POLICY (CRLF)."""
    text = "".join([f"{header.name}: {header}\n" for header in headers])
    return text.encode("ascii").replace(b"\n", b"\r\n")  # prepared values fold with LF


# A part and its bytes as written, in pieces.
Written = tuple[EmailMessage, list[bytes]]


def leaf(content_type: str, body: tuple[str, bytes], disposition: str | None = None) -> Written:
    """A leaf part of `body` (see `encoded`)."""
    headers, written = _leaf_headers(content_type, disposition)
    part = EmailMessage(policy=POLICY)
    for header in headers:
        part.set_raw(header.name, header)
    payload, data = body
    part.set_payload(payload)
    return part, [written, data]


def fill_multipart(
    message: EmailMessage, subtype: str, boundary: str, parts: Sequence[Written]
) -> Written:
    """Make `message` the multipart of `parts`: its last header, Content-Type, and payload."""
    content_type = _prepare_own("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')
    message.set_raw("Content-Type", content_type)
    message.set_payload([part for part, _ in parts])
    delimiter = f"--{boundary}".encode("ascii")
    out = [header_bytes([content_type]), b"\r\n", delimiter, b"\r\n"]
    for index, (_, data) in enumerate(parts):
        if index:
            out += (b"\r\n", delimiter, b"\r\n")
        out += data
    out += (b"\r\n", delimiter, b"--\r\n")
    return message, out


# Lines of a Struct-split base64 text: the format for up to this many whole lines is cached.
_STRUCT_LINES = 1024


@functools.lru_cache(maxsize=128)
def _line_struct(lines: int) -> struct.Struct:
    return struct.Struct("76s" * lines)


def _base64_lines(data: bytes) -> list[bytes]:
    """`data` in base64 as `base64.encodebytes` cuts it: lines of 76 characters (the last one
    shorter), here without their line ends.

    The standard one loops in Python over 57-byte pieces; encoding at once and cutting the
    lines with a Struct stays in C and is several times faster.
    """
    encoded = binascii.b2a_base64(data, newline=False)
    count = len(encoded) // 76
    if count <= _STRUCT_LINES:
        lines = list(_line_struct(count).unpack_from(encoded))
    else:
        lines = list(map(_FIRST, struct.iter_unpack("76s", encoded[: count * 76])))
    if len(encoded) > count * 76:
        lines.append(encoded[count * 76 :])
    return lines


def base64_text(data: bytes) -> str:
    """`base64.encodebytes(data)` (76-character lines, each ending in LF), as text."""
    lines = _base64_lines(data)
    lines.append(b"")
    return b"\n".join(lines).decode("ascii")


def encoded(data: bytes) -> tuple[str, bytes]:
    """`data` in base64 as a part's payload (`base64_text`) and as written (CRLF line ends)."""
    lines = _base64_lines(data)
    lines.append(b"")
    return b"\n".join(lines).decode("ascii"), b"\r\n".join(lines)


_FIRST = operator.itemgetter(0)


def add_header(
    message: EmailMessage, name: str, value: str, *, shared: bool = False
) -> Prepared | None:
    """Add a header to a message being built (no earlier one of that name: no count check).

    Returns the prepared value, or None when it was parsed instead (non-ASCII text).
    `shared`: a value many invites of a session repeat, prepared once.
    """
    prepared = _shared(name, value) if shared else _prepare(name, value)
    if prepared is None:
        message[name] = value
    else:
        message.set_raw(name, prepared)
    return prepared
