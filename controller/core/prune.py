"""What prune deletes (inventory tenants gone from tenants.yaml, children first) and the guards that refuse too much.

Pure, like the planner that calls it: deletes never use cascade, a tenant whose children stay is a
conflict, and the guards refuse the whole plan when it would delete too many tenants or when the
source lost too many (a bad merge, an emptied file) against the last applied revision.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping, Sequence, Set
from dataclasses import replace

from controller.core.model import DesiredState, DesiredTenant, LiveTenant
from controller.core.plan_types import Action, ActionKind, Conflict, PlanPolicy


def prune_deletes(
    desired_by_id: Mapping[str, DesiredTenant],
    live_by_id: Mapping[str, LiveTenant],
    inventory: Set[str],
    policy: PlanPolicy,
) -> tuple[list[Action], list[str], list[Conflict]]:
    gone = sorted(tid for tid in inventory - desired_by_id.keys() if tid in live_by_id)
    if not policy.prune:
        return [], gone, []
    doomed = set(gone)
    deletes, conflicts = [], []
    for tid in gone:
        kept_children = [
            c
            for c in _successors(tid, live_by_id)
            if c not in doomed  # a child that stays would be orphaned by Descope or refused
        ]
        if kept_children:
            conflicts.append(
                Conflict(tid, f"not deleted: child tenants {', '.join(sorted(kept_children))} still exist")
            )
            continue
        deletes.append(Action(ActionKind.DELETE, tid, cascade=False))
    return deletes, [], conflicts


def next_inventory(
    inventory: set[str],
    claimed: Collection[str],
    deleted: Set[str],
    desired_ids: Mapping[str, object],
    live_ids: Container[str],
) -> set[str]:
    """The inventory after a cycle: plus what it claimed, less what it deleted, less ids neither desired nor live.

    An id that is neither desired nor live can never be touched again. An idle cycle changes nothing,
    so this checks before it copies: ``inventory`` itself is returned when nothing changes (100k ids).
    ``desired_ids`` is a mapping keyed by id: ``set.difference`` then looks each id up without a copy.
    """
    if deleted or not all(map(inventory.__contains__, claimed)):
        inventory = inventory.union(claimed).difference(deleted)
    elif claimed is desired_ids and len(inventory) == len(desired_ids):
        return inventory  # it holds every desired id and nothing else: nothing to forget
    forgotten = {t for t in inventory.difference(desired_ids) if t not in live_ids}
    return inventory - forgotten if forgotten else inventory


def _height(
    tid: str, seen: frozenset[str], height: dict[str, int], deleting: Set[str], live_by_id: Mapping[str, LiveTenant]
) -> int:
    """The longest chain of deleted descendants below ``tid`` (memoised in ``height``; ``seen`` stops a loop)."""
    if tid not in height:
        kids = [c for c in _successors(tid, live_by_id) if c in deleting and c not in seen]
        height[tid] = 1 + max((_height(c, seen | {tid}, height, deleting, live_by_id) for c in kids), default=-1)
    return height[tid]


def _successors(tenant_id: str, live_by_id: Mapping[str, LiveTenant]) -> list[str]:
    listed = {str(s) for s in (live_by_id[tenant_id].get("successors") or [])}
    by_parent = {tid for tid, t in live_by_id.items() if t.get("parent") == tenant_id}
    return sorted(listed | by_parent)


def delete_guards(
    desired: DesiredState,
    deletes: Sequence[Action],
    inventory: Set[str],
    live_by_id: Mapping[str, LiveTenant],
    last_applied_count: int | None,
    policy: PlanPolicy,
) -> list[tuple[str, str]]:
    reasons: list[tuple[str, str]] = []
    lifted = policy.allow_deletes
    n_deletes = len(deletes)
    if n_deletes > policy.max_deletes and n_deletes > lifted:
        reasons.append(
            (
                "max_deletes",
                f"would delete {n_deletes} tenants, more than max_deletes={policy.max_deletes} "
                f"(lift once with --allow-deletes {n_deletes})",
            )
        )
    # counted only when something is deleted: an unchanged plan of 100k tenants need not walk the inventory
    managed_live = (sum(1 for tid in inventory if tid in live_by_id) or len(live_by_id)) if n_deletes else 0
    if n_deletes and managed_live and n_deletes / managed_live > policy.max_delete_ratio and n_deletes > lifted:
        reasons.append(
            (
                "max_delete_ratio",
                f"would delete {n_deletes} of {managed_live} managed tenants "
                f"({n_deletes / managed_live:.0%}), more than max_delete_ratio={policy.max_delete_ratio:.0%} "
                f"(lift once with --allow-deletes {n_deletes})",
            )
        )
    count = len(desired.tenants)
    if count == 0:
        held = max(len(inventory), last_applied_count or 0)
        if lifted < max(held, 1):
            reasons.append(
                (
                    "empty_source",
                    "the source declares zero tenants; refusing to treat that as the desired state "
                    f"(lift once with --allow-deletes {max(held, 1)})",
                )
            )
    elif last_applied_count:
        lost = last_applied_count - count
        if lost > 0 and lost / last_applied_count > policy.max_delete_ratio and lost > lifted:
            reasons.append(
                (
                    "source_shrank",
                    f"the source lost {lost} of the {last_applied_count} tenants of the last applied "
                    f"revision ({lost / last_applied_count:.0%}), "
                    f"more than max_delete_ratio={policy.max_delete_ratio:.0%} "
                    f"(lift once with --allow-deletes {lost})",
                )
            )
    return reasons


def staged_deletes(deletes: list[Action], live_by_id: Mapping[str, LiveTenant]) -> list[Action]:
    """Children before parents: a delete waits for the deletes of all its children."""
    deleting = {a.tenant_id for a in deletes}
    height: dict[str, int] = {}
    # a module-level function, not a recursive closure: that closure would be a reference cycle holding
    # live_by_id, which lives on until the collector runs (engine.live_list keeps it out of collections)
    staged = [replace(a, stage=_height(a.tenant_id, frozenset(), height, deleting, live_by_id)) for a in deletes]
    return sorted(staged, key=lambda a: a.stage)
