"""A board's bulk steps hold the garbage collector off (`bulk`) and leave it as they found it,
nested or overlapping, on success or failure."""

from __future__ import annotations

import gc

import pytest

from orchestrator.attendance.boards import bulk


def test_bulk_steps_hold_the_collector_off_and_give_it_back() -> None:
    assert gc.isenabled()
    with bulk():
        assert not gc.isenabled()
        with bulk():  # a step inside another (or two boards' at once)
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), bulk():
        raise RuntimeError("a failed read")
    assert gc.isenabled()


def test_a_collector_someone_else_disabled_stays_disabled() -> None:
    gc.disable()
    try:
        with bulk():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
