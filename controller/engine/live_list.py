"""Reads a cycle's live tenant list so the cyclic collector never scans it while the cycle holds it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from controller.core.gc_pause import CycleFreeze, paused_gc
from controller.engine.cycle import DescopeReader


class LiveList:
    """``load_all`` with the live tenants by id, its containers frozen (``core.gc_pause.CycleFreeze``) for the cycle.

    Enter ``cycle()`` around a cycle and ``read`` in it: the list is decoded with the collector paused and
    frozen at once (so the allocation count it made is gone and no collection scans it), then unfrozen
    when the cycle ends, by which time reference counting has freed it.
    """

    def __init__(self) -> None:
        self._freeze = CycleFreeze()

    def cycle(self) -> AbstractContextManager[None]:
        return self._freeze.cycle()

    def read(self, client: DescopeReader) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Every live tenant (``GET /tenant/all``), and the same records by their id."""
        with paused_gc():
            live = client.load_all()
            self._freeze.freeze()
        return live, {str(t.get("id")): t for t in live}
