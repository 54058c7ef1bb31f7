"""The client-side limiter: never more than N arrivals in any W seconds at the server, full bursts, shared cooldowns."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters.ratelimit import RateLimiter, Ticket
from controller.descope_api import RateLimit


class FakeTime:
    """A clock that only moves when someone sleeps (or a test moves it); records every sleep."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(ft: FakeTime, limit: str | None) -> RateLimiter:
    return RateLimiter(None if limit is None else RateLimit.parse(limit), clock=ft.clock, sleep=ft.sleep)


def most_in_any_window(arrivals: list[float], window: float) -> int:
    """The largest number of arrivals in any half-open span [t, t + window)."""
    ordered = sorted(arrivals)
    most, first = 0, 0
    for last, arrival in enumerate(ordered):
        while ordered[first] <= arrival - window:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_a_full_burst_of_n_goes_at_once_then_the_next_waits_a_window() -> None:
    ft = FakeTime()
    rl = limiter(ft, "5/10s")
    for _ in range(5):
        with rl.acquire() as ticket:
            assert ticket.waited == 0
    with rl.acquire() as sixth:
        assert sixth.waited == pytest.approx(10)
    assert ft.now == pytest.approx(110)


def test_windows_follow_each_other_at_the_limit() -> None:
    ft = FakeTime()
    rl = limiter(ft, "20/4s")
    starts = []
    for _ in range(60):
        with rl.acquire():
            starts.append(ft.now - 100)
    assert starts == [0.0] * 20 + [4.0] * 20 + [8.0] * 20  # the ideal: floor((k-1)/N) * W for k = 60


def test_a_slow_request_delays_the_one_n_places_later_by_its_end_not_its_start() -> None:
    # N = 2 per 10 s. Request 1 is slow: sent at 100, it may reach Descope as late as 103, when its answer
    # comes back. Request 2 is fast. If request 3 went at 110 (spacing *sends*), requests 1 (at 103),
    # 3 and 4 could all arrive within 10 s, and Descope would block us for a whole window.
    ft = FakeTime()
    rl = limiter(ft, "2/10s")
    first, second = rl.acquire(), rl.acquire()
    ft.now = 100.5
    second.finish()
    ft.now = 103.0
    first.finish()
    third = rl.acquire()
    assert ft.now == pytest.approx(113.0)
    fourth = rl.acquire()  # request 2 ended at 100.5, but request 1 (also N back from here) ended later
    assert ft.now == pytest.approx(113.0)
    third.finish()
    fourth.finish()


@dataclass
class Flight:
    """One simulated request: when it was allowed out, when it reaches the server, when its answer is back."""

    ticket: Ticket
    start: float
    arrival: float
    end: float


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 6),
    window=st.sampled_from([1.0, 4.0, 60.0]),
    concurrency=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_never_more_than_n_arrivals_in_any_window_whatever_the_delays(
    count: int, window: float, concurrency: int, seed: int
) -> None:
    """A simulation of `concurrency` callers with random round trips (up to 2 windows) and random arrival
    points inside them: the server never sees more than N arrivals in any W-second span."""
    rng = random.Random(seed)
    ft = FakeTime()
    flights: list[Flight] = []  # every request, in grant order
    out: list[Flight] = []  # those still in flight
    arrivals: list[float] = []

    def land_until(moment: float) -> None:
        """Answers come back, in the order of their end times, up to `moment`."""
        for flight in sorted((f for f in out if f.end <= moment), key=lambda f: f.end):
            ft.now = max(ft.now, flight.end)
            flight.ticket.finish()
            out.remove(flight)
        ft.now = max(ft.now, moment)

    def sleep(seconds: float) -> None:
        land_until(ft.now + seconds)

    rl = RateLimiter(RateLimit(count, window), clock=ft.clock, sleep=sleep)
    for _ in range(40):
        if len(out) >= concurrency:  # every caller is busy: wait for the first answer
            land_until(min(f.end for f in out))
        if len(flights) >= count and flights[-count] in out:  # the limiter would wait for request j-N's answer
            land_until(flights[-count].end)
        ticket = rl.acquire()
        start = ft.now
        trip = rng.choice([0.001, rng.uniform(0, 2 * window)])
        flight = Flight(ticket, start, start + rng.uniform(0, trip), start + trip)
        arrivals.append(flight.arrival)
        flights.append(flight)
        out.append(flight)
    land_until(max((f.end for f in out), default=ft.now))
    assert most_in_any_window(arrivals, window) <= count


def test_request_n_places_back_still_in_flight_holds_the_next_until_it_is_back() -> None:
    ft = FakeTime()
    rl = limiter(ft, "1/5s")
    slow = rl.acquire()
    got: list[Ticket] = []
    waiter = threading.Thread(target=lambda: got.append(rl.acquire()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not got  # still waiting: request 1 has not come back
    ft.now = 107.0
    slow.finish()
    waiter.join(5)
    assert got and ft.now == pytest.approx(112.0)  # then W after request 1's end


def test_a_caller_interrupted_while_waiting_gives_its_ticket_back() -> None:
    ft = FakeTime()

    def sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    rl = RateLimiter(RateLimit(1, 10), clock=ft.clock, sleep=sleep)
    rl.acquire().finish()
    with pytest.raises(KeyboardInterrupt):
        rl.acquire()  # waits for a slot at 110 and is interrupted: its ticket must not stay "in flight"
    ft.now = 200.0
    done = threading.Event()
    threading.Thread(target=lambda: (rl.acquire(), done.set()), daemon=True).start()
    assert done.wait(5)  # not stuck behind a ticket that never went out


def test_unlimited_never_waits() -> None:
    ft = FakeTime()
    rl = limiter(ft, None)
    for _ in range(1000):
        with rl.acquire() as ticket:
            assert ticket.waited == 0
    assert ft.sleeps == []


@pytest.mark.parametrize("limit", [None, "5/1s"])
def test_pause_until_holds_acquire_until_the_deadline(limit: str | None) -> None:
    ft = FakeTime()
    rl = limiter(ft, limit)
    rl.pause_until(ft.now + 7)
    assert rl.paused_for() == pytest.approx(7)
    assert rl.acquire().waited == pytest.approx(7)
    assert ft.now == pytest.approx(107)
    assert rl.paused_for() == 0


def test_a_later_deadline_wins_and_an_earlier_one_does_not_shorten() -> None:
    ft = FakeTime()
    rl = limiter(ft, None)
    rl.pause_until(ft.now + 10)
    rl.pause_until(ft.now + 3)
    assert rl.acquire().waited == pytest.approx(10)


def test_a_caller_already_waiting_for_its_slot_also_waits_out_a_pause() -> None:
    ft = FakeTime()

    def sleep_while_another_thread_hits_429(seconds: float) -> None:
        ft.sleep(seconds)
        rl.pause_until(130.0)

    rl = RateLimiter(RateLimit(1, 10), clock=ft.clock, sleep=sleep_while_another_thread_hits_429)
    rl.acquire().finish()  # t=100
    # The next caller gets the slot at 110 and sleeps; meanwhile a 429 sets a cooldown until 130.
    assert rl.acquire().waited == pytest.approx(30)
    assert ft.now == pytest.approx(130)


# ----- real threads, real clock --------------------------------------------------------------------------


def test_threads_share_one_budget_a_full_burst_then_never_more_than_n_in_any_window() -> None:
    limit = RateLimit(5, 0.3)
    rl = RateLimiter(limit)
    spans: list[tuple[float, float, float]] = []  # (start, end, waited) per request
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    rng = random.Random(7)
    trips = [[rng.uniform(0, 0.02) for _ in range(3)] for _ in range(8)]

    def caller(mine: list[float]) -> None:
        barrier.wait()
        for trip in mine:
            with rl.acquire() as ticket:
                start = time.monotonic()
                time.sleep(trip)  # the request is out
                end = time.monotonic()
            with lock:
                spans.append((start, end, ticket.waited))

    threads = [threading.Thread(target=caller, args=(mine,)) for mine in trips]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(spans) == 24
    spans.sort()
    assert [waited for _, _, waited in spans[:5]] == [0.0] * 5  # the first N went at once
    # Any request can arrive anywhere in [start, end]. For N+1 of them to fit in one window, the latest start
    # would have to come less than W after the earliest end among them: that never happens.
    for _, first_end, _ in spans:
        could_share = [s for s, e, _ in spans if e >= first_end and s < first_end + limit.window_s]
        assert len(could_share) <= limit.count


def test_cooldown_blocks_other_threads_in_real_time() -> None:
    rl = RateLimiter(None)
    rl.pause_until(time.monotonic() + 0.3)
    elapsed: list[float] = []

    def worker() -> None:
        t0 = time.monotonic()
        rl.acquire().finish()
        elapsed.append(time.monotonic() - t0)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(elapsed) == 3
    assert min(elapsed) >= 0.25


def test_stop_ends_a_wait_for_the_next_window_at_once_and_the_request_is_not_sent() -> None:
    """SIGTERM during a rate-limit wait (up to 60 s at Descope's default) is answered in moments."""
    from controller.errors import ShuttingDown

    stop = threading.Event()
    rl = RateLimiter(RateLimit.parse("1/60s"), sleep=stop.wait, should_stop=stop.is_set)
    rl.acquire().finish()  # the window's one request
    outcome: list[object] = []

    def second_request() -> None:
        try:
            rl.acquire().finish()
            outcome.append("sent")
        except ShuttingDown as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=second_request)
    waiter.start()
    time.sleep(0.2)
    assert outcome == []  # still waiting for its window
    stop.set()
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ShuttingDown) and outcome[0].retryable
    assert "not sent" in str(outcome[0])


def test_a_stop_already_set_refuses_before_any_wait() -> None:
    from controller.errors import ShuttingDown

    ft = FakeTime()
    rl = RateLimiter(RateLimit.parse("5/1s"), clock=ft.clock, sleep=ft.sleep, should_stop=lambda: True)
    with pytest.raises(ShuttingDown):
        rl.acquire()
    assert ft.sleeps == []
