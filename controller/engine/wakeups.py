"""Requests for a cycle now, from any thread (a webhook push, a file change), kept until the daemon takes them.

The webhook endpoint and the file watcher are built before the daemon and only need this, not
the daemon; the daemon's main loop waits on it and starts one cycle for whatever arrived.
"""

from __future__ import annotations

import threading

from controller.adapters.webhook import PushEvent


class Wakeups:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Event()
        self._reasons: list[str] = []

    def request(self, reason: str) -> None:
        """Ask for a cycle now; returns at once (thread-safe; not for signal handlers, which must not lock)."""
        with self._lock:
            self._reasons.append(reason)
            self._arrived.set()

    def push(self, event: PushEvent) -> None:
        """A verified push to the followed ref."""
        self.request(f"{event.provider} push {event.ref or ''} {(event.after or '')[:12]}".strip())

    def take(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` for requests; return those that arrived (oldest first) and forget them."""
        self._arrived.wait(timeout)
        with self._lock:
            reasons, self._reasons = self._reasons, []
            self._arrived.clear()
        return reasons
