"""The cyclic garbage collector held off while one large piece of work makes many objects (a
national booking; a live board read from its log or making every line), and what lives long
settled out of its full collections.

A 10,000-site booking or a national board's first read makes a hundred thousand objects that
hold no cycles (values, rows, their fields' dicts); each of the collections they set off walks
every object made since the last, so the collector cost a booking 20-25 ms of its 200 and a
board's first open a fifth of it. Held off, the work runs without them and what was left over,
by it and by whatever ran beside it (well under a second of work), is collected as usual
afterwards. Only for work that is large and short: the pause is the whole process's.

What lives as long as the process, or as long as a live board, is `settled`: moved out of the
collector's full collections (`gc.freeze`), which would otherwise walk it every second or two
under a flood of webhooks (a national board's hundred thousand events made each one 16-19 ms,
the webhooks' p99). What was settled is handed back (`unsettled`) when a board is dropped, so
that its objects, cycles included, are collected; what still lives is settled again. Each costs
one full collection (of what is not settled yet, for `settled`): when a board's merge is made
or has grown by ten thousand events, and when a board is dropped; never per webhook.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_held = 0  # pieces of work holding the collector off


@contextlib.contextmanager
def held_off() -> Iterator[None]:
    """Hold the collector off for the block (re-entrant, also across tasks: it runs again when
    the last block holding it ends). Left as it is when something else disabled it."""
    global _held
    if _held == 0 and not gc.isenabled():
        yield
        return
    _held += 1
    gc.disable()
    try:
        yield
    finally:
        _held -= 1
        if _held == 0:
            gc.enable()


def settled() -> None:
    """Take every object alive now as long-lived: the full collections skip it from now on.
    What is garbage already is collected first (a full collection of what is not settled yet),
    so no garbage is settled with it."""
    gc.collect()
    gc.freeze()


def unsettled() -> None:
    """Hand what `settled` kept back to the collector, collect what of it is garbage now (a
    dropped board's merge, cycles included) and settle the rest again: one full collection."""
    gc.unfreeze()
    settled()
