"""Keeps the cyclic garbage collector off the many small containers a step builds (paused) or a cycle holds (frozen).

Decoding 100k tenants, loading a revision or planning makes millions of dicts and lists that hold no
reference cycles, so reference counting frees them; with the collector running, each of these steps
also pays for repeated scans of a heap that only grows (a third to two thirds of its time at 100k).
Pausing is process-wide and nests: the collector is enabled again only by the outermost pause, and
only if it was enabled before it, even on error.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the ``with`` block without the cyclic collector; restore its previous state afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class CycleFreeze:
    """Keeps what a cycle has built out of the collector's scans from ``freeze()`` until its ``cycle()`` ends.

    A daemon's idle cycle decodes ~200k tracked containers (a 100k-tenant list) that live until the
    cycle ends; once the collector is on again they are young, so the next collections scan all of them
    (0.05-0.15 s at 100k), and a full one the desired revision's too. ``gc.freeze`` moves everything
    tracked so far aside in O(1) and resets the young generation's count; ``gc.unfreeze`` at the end of
    the cycle puts back whatever still lives (the list is freed by reference counting by then).

    What is put back goes to the oldest generation, which only a full collection scans, and CPython starts
    one only when objects reach it through the younger ones: garbage that was young at the freeze (an
    HTTP client's reference cycles, a few dozen objects a request) or a list some reference cycle still
    held would otherwise wait there indefinitely. So the heap's size at the freeze (``sys.getallocatedblocks``,
    which counts by arena: ``gc.get_freeze_count`` walks every object, 60 ms at 100k) is compared cycle to
    cycle, and when it has grown by a quarter over the least seen (CPython's own rule for the oldest
    generation) one full collection runs at the end of that cycle.
    """

    def __init__(self) -> None:
        self._frozen = False
        self._least: int | None = None  # the heap's blocks at the smallest freeze since the last full collection
        self._collect = False

    def freeze(self) -> None:
        """Everything tracked so far is left out of collections until the enclosing ``cycle()`` ends."""
        gc.freeze()
        self._frozen = True
        count = sys.getallocatedblocks()
        if self._least is None or count < self._least:
            self._least = count
        self._collect = count > self._least + self._least // 4

    @contextmanager
    def cycle(self) -> Iterator[None]:
        """A cycle: what ``freeze`` left out during it is back in the collector's sight when it ends."""
        try:
            yield
        finally:
            if self._frozen:
                self._frozen = False
                gc.unfreeze()
                if self._collect:
                    self._collect, self._least = False, None
                    gc.collect()
