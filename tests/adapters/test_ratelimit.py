"""The client-side limiter paces calls, honours bursts, and a cooldown holds every thread."""

from __future__ import annotations

import threading
import time

import pytest

from controller.adapters.ratelimit import RateLimiter


class FakeTime:
    """A clock that only moves when someone sleeps; records every sleep."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(ft: FakeTime, rate: float | None, burst: int = 1) -> RateLimiter:
    return RateLimiter(rate, burst, clock=ft.clock, sleep=ft.sleep)


def test_spaces_calls_evenly_at_the_rate() -> None:
    ft = FakeTime()
    rl = limiter(ft, rate=4)
    starts = []
    for _ in range(4):
        rl.acquire()
        starts.append(ft.now - 100.0)
    assert starts == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert ft.sleeps == pytest.approx([0.25, 0.25, 0.25])


def test_burst_goes_at_once_then_paces() -> None:
    ft = FakeTime()
    rl = limiter(ft, rate=1, burst=3)
    waits = [rl.acquire() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0, 1, 1])


def test_idle_time_refills_at_most_one_burst() -> None:
    ft = FakeTime()
    rl = limiter(ft, rate=2, burst=2)
    rl.acquire()
    ft.now += 60  # idle a minute: only `burst` calls may go at once afterwards
    waits = [rl.acquire() for _ in range(4)]
    assert waits == pytest.approx([0, 0, 0.5, 0.5])


def test_unlimited_rate_never_waits() -> None:
    ft = FakeTime()
    rl = limiter(ft, rate=None)
    assert [rl.acquire() for _ in range(100)] == [0.0] * 100
    assert ft.sleeps == []


@pytest.mark.parametrize("rate", [None, 5.0])
def test_pause_until_holds_acquire_until_the_deadline(rate: float | None) -> None:
    ft = FakeTime()
    rl = limiter(ft, rate=rate)
    rl.pause_until(ft.now + 7)
    assert rl.paused_for() == pytest.approx(7)
    assert rl.acquire() == pytest.approx(7)
    assert ft.now == pytest.approx(107)
    assert rl.paused_for() == 0


def test_a_later_deadline_wins_and_an_earlier_one_does_not_shorten() -> None:
    ft = FakeTime()
    rl = limiter(ft, rate=None)
    rl.pause_until(ft.now + 10)
    rl.pause_until(ft.now + 3)
    assert rl.acquire() == pytest.approx(10)


def test_a_slot_reserved_before_a_pause_is_taken_again_after_it() -> None:
    ft = FakeTime()

    def sleep_while_another_thread_hits_429(seconds: float) -> None:
        ft.sleep(seconds)
        rl.pause_until(105.0)

    rl = RateLimiter(1, clock=ft.clock, sleep=sleep_while_another_thread_hits_429)
    rl.acquire()  # t=100, immediate
    # The second call reserves t=101 and sleeps; meanwhile a 429 sets a cooldown until t=105.
    waited = rl.acquire()
    assert ft.now == pytest.approx(105)
    assert waited == pytest.approx(5)
    # The pace resumes from the end of the pause: the next call does not join it in a burst.
    assert rl.acquire() == pytest.approx(1)


def test_concurrent_callers_get_distinct_slots() -> None:
    now = 0.0
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # the clock stands still: each thread records its reserved wait
        with lock:
            waits.append(seconds)

    rl = RateLimiter(10, clock=lambda: now, sleep=sleep)
    barrier = threading.Barrier(10)

    def worker() -> None:
        barrier.wait()
        rl.acquire()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([0.1 * i for i in range(1, 10)])


def test_cooldown_blocks_other_threads_in_real_time() -> None:
    rl = RateLimiter(None)
    rl.pause_until(time.monotonic() + 0.3)
    elapsed: list[float] = []

    def worker() -> None:
        t0 = time.monotonic()
        rl.acquire()
        elapsed.append(time.monotonic() - t0)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(elapsed) == 3
    assert min(elapsed) >= 0.25


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0)])
def test_rejects_nonsense_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)
