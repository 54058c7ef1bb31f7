"""Signal handlers are put back after a run; wakeups from other threads reach the daemon's loop once each."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest

from controller.adapters.webhook import PushEvent
from controller.engine.signals import capture_signals, raise_interrupt
from controller.engine.wakeups import Wakeups


def test_capture_signals_restores_the_previous_handlers_even_after_an_error() -> None:
    seen: list[int] = []

    def mine(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    before = signal.getsignal(signal.SIGHUP)
    with pytest.raises(RuntimeError), capture_signals({signal.SIGHUP: mine}):
        assert signal.getsignal(signal.SIGHUP) is mine
        signal.raise_signal(signal.SIGHUP)
        raise RuntimeError("the block fails")
    assert seen == [signal.SIGHUP]
    assert signal.getsignal(signal.SIGHUP) is before


def test_sigterm_ends_a_one_shot_command_like_ctrl_c() -> None:
    with pytest.raises(KeyboardInterrupt), capture_signals({signal.SIGTERM: raise_interrupt}):
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is not raise_interrupt


def test_wakeups_from_many_threads_are_all_taken_once() -> None:
    wakeups = Wakeups()
    threads = [threading.Thread(target=wakeups.request, args=(f"push {i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = wakeups.take(timeout=1.0)
    assert sorted(taken) == sorted(f"push {i}" for i in range(20))
    assert wakeups.take(timeout=0.05) == []  # nothing is taken twice


def test_a_push_names_provider_ref_and_commit() -> None:
    wakeups = Wakeups()
    wakeups.push(PushEvent(provider="github", ref="refs/heads/main", after="0d76441aa1b2c3d4e5f6", delivery_id=None))
    assert wakeups.take(timeout=1.0) == ["github push refs/heads/main 0d76441aa1b2"]
