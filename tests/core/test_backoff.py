"""The one backoff policy, table-driven with the jitter draw pinned."""

import pytest

from controller.core.backoff import Backoff


@pytest.mark.parametrize(
    ("policy", "attempt", "draw", "expected"),
    [
        (Backoff(first=2.0, cap=60.0), 1, 0.0, 2.0),
        (Backoff(first=2.0, cap=60.0), 3, 0.0, 8.0),
        (Backoff(first=2.0, cap=60.0), 10, 0.0, 60.0),  # capped
        (Backoff(first=2.0, cap=60.0), 10_000, 0.0, 60.0),  # no overflow after days of failures
        (Backoff(first=0.5, cap=10.0, jitter=0.5), 1, 1.0, 1.0),  # absolute jitter in seconds
        (Backoff(first=2.0, cap=60.0, jitter=0.2, relative=True), 2, 1.0, 4.8),  # a share of the wait
        (Backoff(first=0.0, cap=60.0), 5, 0.0, 0.0),  # backoff off
    ],
)
def test_delay(policy: Backoff, attempt: int, draw: float, expected: float) -> None:
    assert policy.delay(attempt, draw) == pytest.approx(expected)


def test_random_jitter_stays_within_its_bounds() -> None:
    policy = Backoff(first=1.0, cap=8.0, jitter=0.5)
    delays = {policy.delay(4) for _ in range(50)}
    assert all(8.0 <= d < 8.5 for d in delays) and len(delays) > 1
