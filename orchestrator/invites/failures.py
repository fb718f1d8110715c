"""What kind of failure an invite's stored reason is, as a stable code pages word in a person's
language (the reason itself stays as the mail server and the SMTP connector said it).

The reasons are those `connectors.smtp` builds ("SMTP server host:port refused the login: 535
…", "… did not answer within 30 s", "… [Errno 111] Connect call failed …") and the letters'
own ("site … has no coordinator email"); the operating system's words for a refused connection
or an unknown host are matched on Linux, macOS and Windows alike.
"""

from __future__ import annotations

import re
from typing import Literal

FailureKind = Literal[
    "connection_refused",
    "timeout",
    "host_unknown",
    "tls",
    "auth_refused",
    "recipient_refused",
    "message_refused",
    "disconnected",
    "no_address",
    "other",
]

# The first match wins: a server's own refusal is recognised before the socket's words it may
# quote, and a timeout before the connect failure that reports it.
_PATTERNS: tuple[tuple[FailureKind, str], ...] = (
    ("no_address", r"no coordinator email|nobody to invite"),
    ("auth_refused", r"refused the login|authentication|\bauth\b"),
    ("recipient_refused", r"refused every recipient|but accepted the message for the other"),
    (
        "message_refused",
        r"refused the message|refused the sender|message (is )?too (big|large)",
    ),
    ("tls", r"certificate|\bssl\b|\btls\b|starttls"),
    ("timeout", r"did not answer within|timed out|timeout|errno (110|60|10060)\b"),
    (
        "host_unknown",
        r"name or service not known|nodename nor servname|name resolution|getaddrinfo"
        r"|no address associated|errno (-2|-3|-5|8|11001)\b",
    ),
    (
        "connection_refused",
        r"connect call failed|connection refused|refused the connection"
        r"|errno (111|61|10061|113|101)\b|unreachable",
    ),
    ("disconnected", r"closed the connection|disconnected|connection (was )?(reset|lost)"),
)
_KINDS = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _PATTERNS)


# Where the connector says the server is: a host named "tls.…" or "auth.…" is no TLS or login
# failure.
_WHERE = re.compile(r"SMTP server \S+:\d+|Error connecting to \S+ on port \d+", re.IGNORECASE)


def failure_kind(reason: str | None) -> FailureKind | None:
    """The kind of a stored failure reason; None when there is no reason."""
    if not reason:
        return None
    said = _WHERE.sub("", reason)
    for kind, pattern in _KINDS:
        if pattern.search(said):
            return kind
    return "other"
