"""The daemon loop with a scripted reconciler: no overlap, no lost trigger, backoff, readiness."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.state_store import StateStore
from controller.adapters.store_lock import StoreLock
from controller.core.outcome import CycleStatus
from controller.engine.cycle import CycleOptions, CycleReport
from controller.engine.daemon import Daemon, DaemonConfig
from controller.engine.health import DaemonHealth
from controller.errors import DescopeAuthError, DescopeGitopsError, DescopeUnreachable, SourceUnavailable, StoreLocked
from tests.e2e.conftest import wait_until


class ScriptedReconciler:
    """Returns the statuses it is given, one per cycle, and records overlap."""

    def __init__(self, statuses: list[str], duration: float = 0.0) -> None:
        self.statuses = statuses
        self.duration = duration
        self.calls: list[CycleOptions] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def run_cycle(self, options: CycleOptions) -> CycleReport:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.calls.append(options)
            status = self.statuses[min(len(self.calls) - 1, len(self.statuses) - 1)]
        time.sleep(self.duration)
        with self.lock:
            self.running -= 1
        now = time.time()
        report = CycleReport(cycle_id=str(len(self.calls)), status=CycleStatus(status), started=now, finished=now)
        report.error = ERRORS.get(status)
        return report


# what a real cycle carries with these statuses; "failed-auth" is a failure retrying cannot help
ERRORS: dict[str, DescopeGitopsError] = {
    "unavailable": SourceUnavailable("git remote unreachable"),
    "failed": DescopeUnreachable("connection refused"),
}


def start(
    tmp_path: Path, reconciler: ScriptedReconciler, stale_after: float = 0.0, **config: Any
) -> tuple[Daemon, threading.Thread]:
    store = StateStore(tmp_path)
    lock = StoreLock(tmp_path)
    daemon_config = DaemonConfig(**{"interval": 60.0, "shutdown_timeout": 5.0, **config})
    daemon = Daemon(
        reconciler,
        store,
        lock,
        CycleOptions(apply=True, record=True),
        config=daemon_config,
        health=DaemonHealth(lock, interval=daemon_config.interval, stale_after=stale_after),
    )
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    return daemon, thread


def stop(daemon: Daemon, thread: threading.Thread) -> None:
    daemon.should_exit.set()
    thread.join(10)
    assert not thread.is_alive()


def test_a_trigger_during_a_cycle_runs_exactly_one_more_cycle_and_cycles_never_overlap(tmp_path: Path) -> None:
    reconciler = ScriptedReconciler(["succeeded"], duration=0.4)
    daemon, thread = start(tmp_path, reconciler)
    try:
        wait_until(lambda: reconciler.running == 1, what="first cycle running")
        for _ in range(5):
            daemon.trigger("webhook")  # five pushes during one cycle: coalesced into one more cycle
        wait_until(lambda: len(reconciler.calls) == 2 and reconciler.running == 0, what="one rerun")
        time.sleep(0.6)
        assert len(reconciler.calls) == 2
        assert reconciler.max_running == 1
    finally:
        stop(daemon, thread)


def test_a_failed_cycle_is_retried_soon_with_backoff_not_after_the_full_interval(tmp_path: Path) -> None:
    reconciler = ScriptedReconciler(["unavailable", "failed", "succeeded"])
    daemon, thread = start(tmp_path, reconciler, interval=600.0)
    try:
        wait_until(lambda: len(reconciler.calls) >= 3, timeout=15, what="two retries (2s, 4s backoff)")
        assert daemon.last_report is not None and daemon.last_report.status == "succeeded"
        time.sleep(1.0)
        assert len(reconciler.calls) == 3  # success: back to the interval
    finally:
        stop(daemon, thread)


def test_a_failure_retrying_cannot_help_waits_for_the_next_tick(tmp_path: Path) -> None:
    class AuthFailing(ScriptedReconciler):
        def run_cycle(self, options: CycleOptions) -> CycleReport:
            report = super().run_cycle(options)
            report.error = DescopeAuthError("401: the management key is wrong")
            return report

    reconciler = AuthFailing(["failed"])
    daemon, thread = start(tmp_path, reconciler, interval=600.0)
    try:
        wait_until(lambda: reconciler.calls, what="a first cycle")
        time.sleep(3.0)  # a retryable failure would have been retried after ~2s
        assert len(reconciler.calls) == 1
        assert daemon.last_report is not None and not daemon.last_report.retry_soon
    finally:
        stop(daemon, thread)


def test_readiness_follows_the_first_cycle_and_staleness(tmp_path: Path) -> None:
    reconciler = ScriptedReconciler(["succeeded", "failed"], duration=0.3)
    daemon, thread = start(tmp_path, reconciler, stale_after=1.0, interval=600.0)
    try:
        wait_until(lambda: reconciler.running == 1, what="first cycle running")
        not_yet = daemon.health.readiness()
        assert not not_yet.ok and not_yet.detail["reason"] == "no cycle has finished yet"
        wait_until(lambda: daemon.health.readiness().ok, what="ready after a success")
        assert daemon.health.liveness().ok
        time.sleep(1.2)
        stale = daemon.health.readiness()
        assert not stale.ok and "no successful cycle in the last 1s" in str(stale.detail["reason"])
    finally:
        stop(daemon, thread)


def test_suspend_flag_is_passed_to_every_cycle(tmp_path: Path) -> None:
    from controller.adapters.state_store import SuspendFlag

    StateStore(tmp_path).set_suspend(SuspendFlag(True, "incident"))
    reconciler = ScriptedReconciler(["planned"])
    daemon, thread = start(tmp_path, reconciler)
    try:
        wait_until(lambda: reconciler.calls, what="a cycle")
        assert reconciler.calls[0].suspended is True
    finally:
        stop(daemon, thread)


def test_the_store_lock_is_exclusive_and_says_who_holds_it(tmp_path: Path) -> None:
    with StoreLock(tmp_path, purpose="descope-gitops run"):
        with pytest.raises(StoreLocked) as info:
            StoreLock(tmp_path).acquire()
        assert "descope-gitops run" in str(info.value) and "pid" in str(info.value)
    StoreLock(tmp_path).acquire().release()  # released on exit: free again
