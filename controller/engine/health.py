"""What the daemon's probes say: alive, and ready (the store locked and a recent cycle that kept Descope in line).

The daemon records each cycle here; the HTTP endpoints read it. Neither needs the other, so the
endpoints are built before the daemon and tests can ask without running one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from controller.adapters.http_server import Health
from controller.adapters.store_lock import StoreLock
from controller.core.outcome import CycleStatus
from controller.engine.cycle import CycleReport


class DaemonHealth:
    def __init__(
        self,
        lock: StoreLock,
        *,
        interval: float,
        stale_after: float = 0.0,  # a last success older than this is not ready (0: 3 x interval)
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = lock
        self.interval = interval
        self.stale_after = stale_after or 3 * interval
        self.clock = clock
        self.cycles = 0
        self.last_report: CycleReport | None = None
        self.last_success_at: float | None = None
        self.scheduler_running: Callable[[], bool] = lambda: False
        self._guard = threading.Lock()

    def record(self, report: CycleReport) -> None:
        """One cycle finished; a cycle that kept Descope in line refreshes readiness."""
        with self._guard:
            self.cycles += 1
            self.last_report = report
            if report.kept_in_line:
                self.last_success_at = report.finished

    def liveness(self) -> Health:
        return Health(ok=True, detail={"cycles": self.cycles, "scheduler": self.scheduler_running()})

    def readiness(self) -> Health:
        with self._guard:
            report, last_success, cycles = self.last_report, self.last_success_at, self.cycles
        now = self.clock()
        detail: dict[str, Any] = {"store": "locked" if self.lock.held else "not locked", "cycles": cycles}
        if report is not None:
            detail["last_cycle"] = report.status
            detail["source"] = "unavailable" if report.status is CycleStatus.UNAVAILABLE else "ok"
            if report.error is not None:
                detail["last_error"] = str(report.error).splitlines()[0][:300]
        if last_success is not None:
            detail["last_success_age_seconds"] = round(now - last_success, 1)
        ok = (
            self.lock.held
            and report is not None
            and last_success is not None
            and now - last_success <= self.stale_after
        )
        if not ok and report is None:
            detail["reason"] = "no cycle has finished yet"
        elif not ok:
            detail["reason"] = f"no successful cycle in the last {self.stale_after:.0f}s"
        return Health(ok=bool(ok), detail=detail)
