"""What the controller says about flapping tenants: a line when one starts and ends, and the cycle's note."""

from __future__ import annotations

from collections.abc import Mapping

from controller.core.flapping import Hold, Release, Released
from controller.engine.logs import shown

RESUME_HINT = "`descope-gitops resume`"
NOTE_TENANTS = 10  # a note names this many; status and the log name them all


def span(seconds: float) -> str:
    """``42s``, ``7m``, ``1.5h``: how long the reverts took."""
    seconds = max(1.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def started_line(tenant_id: str, hold: Hold) -> str:
    return (
        f"stopped correcting {tenant_id}: {hold.field} was reverted to {shown(hold.foreign)} "
        f"{hold.reverts} times in {span(hold.since - hold.first)} (we set {shown(hold.ours)}); another writer "
        f"is changing this project. Correcting again when tenants.yaml or the live value changes, "
        f"or after {RESUME_HINT}."
    )


def released_line(release: Release) -> str:
    tid, hold = release.tenant_id, release.hold
    if release.reason is Released.YAML:
        if release.value is None:
            return f"correcting {tid} again: tenants.yaml no longer manages {hold.field}"
        return (
            f"correcting {tid} again: tenants.yaml now sets {hold.field} to {shown(release.value)} "
            f"(was {shown(hold.ours)})"
        )
    if release.reason is Released.LIVE:
        return (
            f"correcting {tid} again: {hold.field} is {shown(release.value)} live, "
            f"no longer the foreign {shown(hold.foreign)}"
        )
    if release.reason is Released.RESUME:
        return f"correcting {tid} again: released by {RESUME_HINT} ({hold.field} was held at {shown(hold.foreign)})"
    if release.reason is Released.OFF:
        return f"correcting {tid} again: flapping detection is off ([reconcile] flapping_reverts is 0)"
    return f"{tid} is no longer held as flapping: it left tenants.yaml or Descope"


def held_text(hold: Hold) -> str:
    """One held tenant, as ``status`` shows it."""
    return (
        f"{hold.field} kept at {shown(hold.foreign)} by another writer (we set {shown(hold.ours)}; "
        f"reverted {hold.reverts} times in {span(hold.since - hold.first)})"
    )


def note(holds: Mapping[str, Hold]) -> str:
    """The cycle's note while tenants are held."""
    names = [f"{tid} ({hold.field})" for tid, hold in sorted(holds.items())]
    more = f" and {len(names) - NOTE_TENANTS} more" if len(names) > NOTE_TENANTS else ""
    return (
        f"{len(names)} flapping tenant{'s' if len(names) != 1 else ''} not corrected, another writer keeps "
        f"reverting them: {', '.join(names[:NOTE_TENANTS])}{more}; {RESUME_HINT} corrects them again"
    )
