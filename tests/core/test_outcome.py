"""The rules a cycle's outcome carries: kept Descope in line, retry soon; table-driven."""

import pytest

from controller.core.outcome import CycleStatus, kept_in_line, retry_soon

S = CycleStatus


@pytest.mark.parametrize(
    ("status", "enforced", "expected"),
    [
        (S.SUCCEEDED, "abc", True),
        (S.PARTIAL, "abc", True),
        (S.PLANNED, "abc", True),
        (S.INVALID, "abc", True),  # refused revision, the last good one still enforced
        (S.INVALID, None, False),  # nothing good to enforce
        (S.UNAVAILABLE, "abc", False),  # an unreadable source is for freshness alerts to see
        (S.FAILED, "abc", False),
        (S.BLOCKED, "abc", False),
    ],
)
def test_kept_in_line(status: CycleStatus, enforced: str | None, expected: bool) -> None:
    assert kept_in_line(status, enforced_revision=enforced) is expected


@pytest.mark.parametrize(
    ("status", "retryable", "expected"),
    [
        (S.FAILED, True, True),  # a 5xx or timeout
        (S.FAILED, False, False),  # a wrong management key: a human must act
        (S.UNAVAILABLE, True, True),
        (S.INVALID, False, False),  # a broken file waits for the next commit
        (S.BLOCKED, False, False),
        (S.PARTIAL, True, False),  # failing tenants have their own backoff
        (S.SUCCEEDED, False, False),
    ],
)
def test_retry_soon(status: CycleStatus, retryable: bool, expected: bool) -> None:
    assert retry_soon(status, retryable=retryable) is expected


def test_a_status_is_stored_and_compared_as_its_value() -> None:
    assert S.PARTIAL == "partial" and f"{S.BLOCKED}" == "blocked"
