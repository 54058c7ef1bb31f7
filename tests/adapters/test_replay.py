"""The replay memory of webhook delivery ids: a window in time, a cap in count, a way to let a failed one retry."""

from __future__ import annotations

import threading

import pytest

from controller.adapters.replay import RecentDeliveries


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_delivery_is_claimed_once_within_the_window_and_again_after_it() -> None:
    clock = Clock()
    seen = RecentDeliveries(window=600, clock=clock)
    assert seen.claim("github:d-1")
    clock.now += 599
    assert not seen.claim("github:d-1")
    assert seen.claim("gitlab:d-1")  # another provider's id space
    clock.now += 2  # 601 s after the first sighting
    assert seen.claim("github:d-1")


def test_memory_is_bounded_oldest_first() -> None:
    seen = RecentDeliveries(window=600, capacity=3, clock=Clock())
    for key in ("a", "b", "c", "d"):
        assert seen.claim(key)
    assert len(seen) == 3
    assert seen.claim("a")  # forgotten to make room: a very old replay gets through, memory stays bounded
    assert not seen.claim("d")


def test_a_released_delivery_can_be_claimed_again() -> None:
    seen = RecentDeliveries(clock=Clock())
    assert seen.claim("x")
    seen.release("x")
    assert seen.claim("x")
    seen.release("never-seen")  # no error


def test_concurrent_claims_of_one_delivery_let_exactly_one_through() -> None:
    seen = RecentDeliveries()
    go = threading.Barrier(16)
    won: list[bool] = []

    def claim() -> None:
        go.wait()
        won.append(seen.claim("same"))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 15 + [True]


@pytest.mark.parametrize(("window", "capacity"), [(0, 10), (-1, 10), (10, 0)])
def test_nonsense_bounds_are_refused(window: float, capacity: int) -> None:
    with pytest.raises(ValueError, match="window"):
        RecentDeliveries(window=window, capacity=capacity)
