"""What a cycle's outcome means: its status, whether it kept Descope in line, whether to retry soon.

The one place for these rules; the reconciler sets a status, and the daemon (retries, readiness),
the state store (``last_success_at``) and the metrics (``last_success``) all read it through here.
"""

from __future__ import annotations

from enum import StrEnum


class CycleStatus(StrEnum):
    """A cycle's result; a ``str`` so it is stored, logged and exported as its value."""

    PLANNED = "planned"  # read and planned, wrote nothing (plan, dry run, report policy, suspended)
    SUCCEEDED = "succeeded"  # every planned action done
    PARTIAL = "partial"  # some actions failed, were deferred or conflicted; the others were done
    FAILED = "failed"  # the cycle stopped (Descope or the store said no), or every action failed
    BLOCKED = "blocked"  # a guard refused the whole plan; nothing written
    INVALID = "invalid"  # the revision was refused (file:line errors); the last good one may be enforced
    UNAVAILABLE = "unavailable"  # the source could not be read; the last good revision may be enforced

    @property
    def completed(self) -> bool:
        """The cycle ran to its end over the revision it read."""
        return self in _COMPLETED

    @property
    def revision_refused(self) -> bool:
        """The revision just read was not used: the last good revision, if any, was planned instead."""
        return self in (CycleStatus.INVALID, CycleStatus.UNAVAILABLE)

    @property
    def wrote(self) -> bool:
        """Writes reached Descope (all of them or some)."""
        return self in (CycleStatus.SUCCEEDED, CycleStatus.PARTIAL)


_COMPLETED = frozenset({CycleStatus.PLANNED, CycleStatus.SUCCEEDED, CycleStatus.PARTIAL})


def kept_in_line(status: CycleStatus, *, enforced_revision: str | None) -> bool:
    """Did this cycle keep Descope equal to a good revision? What ``last_success`` and readiness count.

    A refused revision while the last good one is still enforced counts: drift is still corrected,
    and the refusal has its own signal (``config_valid`` 0). A source that cannot be read does not:
    how long it stays unreadable is what freshness alerts are for.
    """
    return status.completed or (status is CycleStatus.INVALID and bool(enforced_revision))


def retry_soon(status: CycleStatus, *, retryable: bool) -> bool:
    """Should the next try come before the next tick? Only after a failure that retrying can help."""
    return status in (CycleStatus.FAILED, CycleStatus.UNAVAILABLE) and retryable
