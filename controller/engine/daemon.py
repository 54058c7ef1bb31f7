"""The long-lived controller: a scheduled reconcile loop with triggers, signals and a store lock.

Modelled on uvicorn's server: signal handlers only set flags (installed for the run and restored
after it, ``signals.capture_signals``); the main thread watches the flags and the wakeups;
shutdown stops starting new actions, lets the ones in flight finish (every finished action is
already journaled) and exits 0 within ``shutdown_timeout``. Cycles never overlap: the APScheduler
interval job and every trigger (webhook, file change, SIGHUP) go through one cycle lock, and a
trigger that arrives during a cycle runs one more cycle right after it, so no push is lost.
Its parts are handed in (``compose.daemon`` builds them): one stop event shared with the reconciler
and the periodic jobs, the health it records cycles in, the wakeups the webhook and the file watcher
post to, and services (the HTTP port) started once the store lock is held.
After a failed cycle that retrying can help (``CycleReport.retry_soon``: a 5xx, a timeout, an
unreadable remote; not a wrong key or a refused body) the next try comes sooner, with the shared
backoff up to the interval; Flux's ``RequeueAfter``, decided from what the cycle returned.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from controller.adapters.state_store import StateStore
from controller.adapters.store_lock import StoreLock
from controller.core.backoff import Backoff
from controller.engine.cycle import CycleOptions, CycleReport
from controller.engine.health import DaemonHealth
from controller.engine.signals import capture_signals
from controller.engine.wakeups import Wakeups
from controller.errors import DescopeGitopsError

RETRY_BASE = 2.0  # the first retry after a failed cycle; doubles up to the interval
RETRY_JITTER = 0.2  # share of the wait added at random


@dataclass(frozen=True)
class DaemonConfig:
    interval: float = 60.0
    jitter: float = 0.1  # share of the interval added at random, so many controllers do not align
    shutdown_timeout: float = 30.0
    settings_refresh_interval: float = 3600.0


class CycleRunner(Protocol):
    def run_cycle(self, options: CycleOptions) -> CycleReport: ...


class Service(Protocol):
    """Something served while the daemon runs (the HTTP port): started after the lock, stopped at shutdown."""

    def start(self) -> object: ...
    def stop(self) -> None: ...


class Daemon:
    def __init__(
        self,
        reconciler: CycleRunner,
        state_store: StateStore,
        lock: StoreLock,
        options: CycleOptions,
        *,
        config: DaemonConfig = DaemonConfig(),
        stop: threading.Event | None = None,  # the one stop event, shared with the reconciler and the jobs
        health: DaemonHealth | None = None,
        wakeups: Wakeups | None = None,
        services: Sequence[Service] = (),
        watcher: Callable[[Callable[[str], None], threading.Event], None] | None = None,
        on_cycle: Callable[[CycleReport], None] = lambda _report: None,
        jobs: Sequence[tuple[str, Callable[[], None], float, float]] = (),  # name, job, every, first delay
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reconciler = reconciler
        self.state_store = state_store
        self.lock = lock
        self.options = options
        self.config = config
        self.clock = clock
        self.on_cycle = on_cycle
        self.jobs = list(jobs)
        self.services = list(services)
        self._watcher = watcher
        self.should_exit = stop if stop is not None else threading.Event()
        self.health = health if health is not None else DaemonHealth(lock, interval=config.interval, clock=clock)
        self.wakeups = wakeups if wakeups is not None else Wakeups()
        self._exit_signalled = False  # set by signal handlers: plain attributes, never a lock
        self._hup_signalled = False
        self._pending = threading.Event()
        self._cycle_lock = threading.Lock()
        self._failures = 0
        self._last_refresh = 0.0
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.health.scheduler_running = lambda: bool(self.scheduler.running)

    @property
    def last_report(self) -> CycleReport | None:
        return self.health.last_report

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self, *, install_signals: bool = True) -> int:
        """Run until SIGTERM/SIGINT (or the stop event); returns the process exit code."""
        handlers = {
            signal.SIGINT: self._handle_exit,
            signal.SIGTERM: self._handle_exit,
            signal.SIGHUP: self._handle_hup,
        }
        self.lock.acquire()  # StoreLocked propagates: the CLI says who holds it and exits 1
        try:
            with capture_signals(handlers) if install_signals else nullcontext():
                self._start()
                self._main_loop()
                return self._shutdown()
        finally:
            self.lock.release()

    def _start(self) -> None:
        try:
            self.health.last_success_at = self.state_store.load().last_success_at
        except DescopeGitopsError as exc:
            # kept aside by the store, never deleted; the cycles go on with a fresh state
            logger.error("{}", exc)
        for service in self.services:
            service.start()
        self._start_scheduler()
        if self._watcher is not None:
            threading.Thread(
                target=self._watcher, args=(self.wakeups.request, self.should_exit), name="watch", daemon=True
            ).start()
        logger.info("controller started: a cycle every {:.0f}s", self.config.interval)

    def _main_loop(self) -> None:
        while not self.should_exit.is_set():
            reasons = self.wakeups.take(timeout=0.2)
            if self._exit_signalled:
                self.should_exit.set()
                break
            if self._hup_signalled:
                self._hup_signalled = False
                reasons.append("SIGHUP")
            for reason in dict.fromkeys(reasons):  # the same reason twice is one request
                self.trigger(reason)

    def _handle_exit(self, signum: int, frame: FrameType | None) -> None:
        self._exit_signalled = True

    def _handle_hup(self, signum: int, frame: FrameType | None) -> None:
        self._hup_signalled = True

    def _shutdown(self) -> int:
        logger.info("shutting down: no new actions start; waiting for the ones in flight")
        self.scheduler.pause()  # nothing new starts; running jobs finish (waited for below)
        finished = self._cycle_lock.acquire(timeout=self.config.shutdown_timeout)
        for service in self.services:
            service.stop()
        if not finished:
            # the cycle's thread still holds the client and writes the store: do not release the lock
            # under it; end the process, and the kernel drops the lock only once it is gone
            logger.warning(
                "a cycle still runs after {:.0f}s; exiting now (every finished action is journaled, "
                "the next start resumes)",
                self.config.shutdown_timeout,
            )
            logger.complete()
            os._exit(0)
        self._cycle_lock.release()
        # periodic jobs (a snapshot) see should_exit between requests; wait for them before the
        # caller closes the HTTP client under them
        self.scheduler.shutdown(wait=True)
        logger.info("stopped")
        return 0

    # -- scheduling ----------------------------------------------------------------------------

    def _start_scheduler(self) -> None:
        jitter = max(0.0, self.config.interval * self.config.jitter)
        self.scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self.config.interval, jitter=int(jitter) or None, timezone=UTC),
            id="reconcile",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        for name, job, every, first in self.jobs:
            self.scheduler.add_job(
                self._guarded(name, job),
                IntervalTrigger(seconds=every, timezone=UTC),
                id=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC) + timedelta(seconds=first),
            )
        self.scheduler.start()

    def _guarded(self, name: str, job: Callable[[], None]) -> Callable[[], None]:
        """A periodic job that logs its failure and tries again next time, never killing the scheduler."""

        def run() -> None:
            if self.should_exit.is_set():
                return
            try:
                job()
            except Exception as exc:
                logger.error("{} failed: {}: {}", name, type(exc).__name__, exc)

        return run

    def trigger(self, reason: str) -> None:
        """Run a cycle now without disturbing the interval schedule (thread-safe, returns at once)."""
        if self.should_exit.is_set():
            return
        logger.info("cycle requested: {}", reason)
        self._pending.set()
        self._schedule_once("trigger", 0.0)

    def _schedule_once(self, job_id: str, delay: float) -> None:
        if self.should_exit.is_set():
            return
        when = datetime.now(UTC) + timedelta(seconds=delay)
        try:
            self.scheduler.add_job(
                self._tick,
                DateTrigger(run_date=when, timezone=UTC),
                id=job_id,
                replace_existing=True,
                misfire_grace_time=None,
            )
        except Exception as exc:  # scheduler shut down between the check and the call
            logger.debug("could not schedule {}: {}", job_id, exc)

    def _tick(self) -> None:
        if not self._cycle_lock.acquire(blocking=False):
            self._pending.set()  # a cycle is running: it will run once more when it ends
            return
        try:
            while not self.should_exit.is_set():
                self._pending.clear()
                try:
                    self._run_one()
                except Exception as exc:  # never let the scheduler swallow a bug silently
                    logger.error("cycle crashed: {}: {}; retrying", type(exc).__name__, exc)
                    self._schedule_retry()
                if not self._pending.is_set():
                    break
        finally:
            self._cycle_lock.release()
        if self._pending.is_set() and not self.should_exit.is_set():
            # a trigger arrived between our last check and the release: do not lose it
            self._schedule_once("trigger", 0.0)

    def _run_one(self) -> None:
        try:
            flag = self.state_store.suspend_flag()
        except DescopeGitopsError as exc:
            logger.error("cannot read the suspend flag, treating the controller as suspended: {}", exc)
            flag = None
        suspended = flag is None or flag.suspended
        now = self.clock()
        refresh = now - self._last_refresh >= self.config.settings_refresh_interval
        # a resume (the flag's time while not suspended) also releases the tenants held as flapping before it
        resumed_at = flag.since if flag is not None and not flag.suspended else None
        options = replace(self.options, suspended=suspended, refresh_settings=refresh, resumed_at=resumed_at)
        report = self.reconciler.run_cycle(options)
        self.health.record(report)
        if refresh and report.status.completed:
            self._last_refresh = now
        if report.kept_in_line:
            self._failures = 0
        elif report.retry_soon:
            self._schedule_retry(report.status)
        elif not report.status.completed and report.error is not None:
            logger.warning(
                "cycle {}; retrying cannot help before this is fixed; next try at the next tick", report.status
            )
        self._log_summary(report, suspended)
        try:
            self.on_cycle(report)
        except Exception as exc:  # a metrics bug must not stop the controller
            logger.error("cycle observer failed: {}", exc)

    def _schedule_retry(self, why: str = "failed") -> None:
        if self.should_exit.is_set():
            return
        self._failures += 1
        policy = Backoff(first=RETRY_BASE, cap=self.config.interval, jitter=RETRY_JITTER, relative=True)
        delay = policy.delay(self._failures)
        logger.warning("cycle {}; retrying in {:.1f}s", why, delay)
        self._schedule_once("retry", delay)

    def _log_summary(self, report: CycleReport, suspended: bool) -> None:
        plan = report.plan
        applied = report.applied
        flapping = f", {len(report.flapping)} flapping (not corrected)" if report.flapping else ""
        stopping = applied.cut_by_shutdown if applied else ()
        logger.bind(cycle=report.cycle_id, revision=report.revision.id if report.revision else "-").info(
            "cycle {}{}: {} actions ({} done, {} failed{}), {} drifted, {} changed by tenants.yaml{}, "
            "{} conflicts, {:.2f}s",
            report.status,
            " (suspended)" if suspended else "",
            len(plan.actions) if plan else 0,
            len(applied.succeeded) if applied else 0,
            len(applied.failed_writes) if applied else 0,
            f", {len(stopping)} not attempted: shutting down" if stopping else "",
            plan.drifted if plan else 0,
            plan.changed if plan else 0,
            flapping,
            len(plan.conflicts) if plan else 0,
            report.duration,
        )
