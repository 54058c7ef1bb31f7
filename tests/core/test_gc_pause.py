"""The collector's pause and freeze: restored as found, and what a freeze hides is collected in the end."""

from __future__ import annotations

import gc
import sys
from typing import Any

from controller.core.gc_pause import CycleFreeze, paused_gc


def test_a_pause_restores_the_collector_as_it_found_it_even_on_error() -> None:
    assert gc.isenabled()
    try:
        with paused_gc():
            assert not gc.isenabled()
            with paused_gc():
                assert not gc.isenabled()
            assert not gc.isenabled()  # only the outermost pause enables it again
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.isenabled()


def garbage(n: int) -> None:
    """``n`` lists each in a reference cycle with itself: freed only by the collector."""
    for _ in range(n):
        cell: list[Any] = []
        cell.append(cell)


def test_cycles_leave_nothing_frozen_even_when_they_fail() -> None:
    freeze = CycleFreeze()
    try:
        with freeze.cycle():
            freeze.freeze()
            assert gc.get_freeze_count() > 0
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_freeze_count() == 0
    with freeze.cycle():  # a cycle that never froze (the read failed) unfreezes nothing
        pass
    assert gc.get_freeze_count() == 0


def test_garbage_frozen_cycle_after_cycle_is_collected_before_it_grows_the_heap_by_a_quarter() -> None:
    gc.collect()
    start = sys.getallocatedblocks()  # what CycleFreeze watches: every object, tracked or not
    per_cycle = 10_000
    freeze = CycleFreeze()
    for _ in range(2 * start // per_cycle):  # twice the heap in garbage (a list is 2 blocks), young when frozen
        with freeze.cycle(), paused_gc():
            garbage(per_cycle)
            freeze.freeze()
    assert sys.getallocatedblocks() - start <= start // 4 + 4 * per_cycle
