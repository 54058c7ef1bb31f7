"""The decision of what to change: desired + live + inventory → an ordered, guarded plan.

A pure function over plain data (kopf's ``diffs`` is the model): no I/O, no clock. The engine
executes the plan; this module only decides. Semantics (the README's "tenants.yaml" and "Deleting
tenants (prune) and the guards" say the same to users):

- only keys written in YAML are managed; inside ``customAttributes`` and ``settings`` only the
  keys written are managed, and the rest of the live map is carried over untouched;
- values are normalised before comparing (see ``normalize``), so an unchanged tenant plans nothing;
- an update carries only the changed patchable fields (``PATCH /v1/mgmt/tenant/patch``); default
  roles and settings, which have no patch form, get their own calls; an action's settings are the
  managed keys only, which the client lays over a fresh read of the live settings (Descope's
  settings POST overwrites everything it omits);
- ``parent`` is set at create only: a different live parent is a per-tenant conflict, not an update;
- prune deletes only inventory tenants that left the YAML, children first, never with cascade;
- guards refuse the whole plan (``Plan.blocked``) when it would delete too much, when the source
  lost too many tenants against the last applied revision, or when it declares none at all.
"""

from __future__ import annotations

__all__ = [
    "Action",
    "ActionKind",
    "Cause",
    "Conflict",
    "FieldChange",
    "Plan",
    "PlanPolicy",
    "make_plan",
    "plainly_unchanged",
    "update_action",
]

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import replace
from functools import partial
from typing import Final

from controller.core.cause import is_change
from controller.core.gc_pause import paused_gc
from controller.core.model import (
    SETTINGS_FIELDS,
    TENANT_FIELDS,
    DesiredState,
    DesiredTenant,
    JSONValue,
    LiveTenant,
    WritePath,
)
from controller.core.normalize import canonical, canonical_scalar, identical, live_value, wire_value
from controller.core.plan_prepared import (
    FIELD_ROLES,
    ROLE_ATTRIBUTES,
    ROLE_SKIP,
    ROLE_TOP,
    PreparedDesired,
)
from controller.core.plan_types import (
    Action,
    ActionKind,
    Cause,
    Conflict,
    FieldChange,
    Plan,
    PlanPolicy,
)
from controller.core.prune import delete_guards, prune_deletes, staged_deletes

DEFAULT_POLICY = PlanPolicy()


def make_plan(
    desired: DesiredState,
    live: Sequence[LiveTenant],
    *,
    inventory: Set[str] = frozenset(),
    live_settings: Mapping[str, Mapping[str, JSONValue]] | None = None,
    last_applied_count: int | None = None,
    policy: PlanPolicy = DEFAULT_POLICY,
    previous: DesiredState | None = None,
    inventory_known: bool = False,
    prepared: PreparedDesired | None = None,
    live_by_id: Mapping[str, LiveTenant] | None = None,
) -> Plan:
    """Decide what to change so that live equals desired, for the managed fields only.

    ``live_settings`` holds the live session settings of the tenants whose YAML has a
    ``settings`` block (the engine reads them); a tenant missing from it gets its settings written.
    ``previous`` is the desired state of the last applied revision: a difference in a field it
    already had is drift, any other a change (all changes when it is None). ``inventory_known``
    says the inventory is the controller's record (not an empty store in CI): only then is an
    update of a live tenant outside it shown as an adoption. ``prepared`` is ``prepare(desired)``
    kept from an earlier cycle of the same revision, and ``live_by_id`` the live tenants by id
    when the caller has them already; neither changes the plan, only its cost.
    """
    if prepared is None or prepared.desired is not desired:
        # one plan of this revision: comparing each tenant the full way costs less than preparing checks
        prepared = PreparedDesired(desired, desired.by_id(), (None,) * len(desired.tenants))
    with paused_gc():
        return _make_plan(
            prepared,
            live,
            {str(t.get("id")): t for t in live} if live_by_id is None else live_by_id,
            inventory=inventory,
            settings_by_id=live_settings or {},
            last_applied_count=last_applied_count,
            policy=policy,
            previous=previous,
            inventory_known=inventory_known,
        )


def _make_plan(
    prepared: PreparedDesired,
    live: Sequence[LiveTenant],
    live_by_id: Mapping[str, LiveTenant],
    *,
    inventory: Set[str],
    settings_by_id: Mapping[str, Mapping[str, JSONValue]],
    last_applied_count: int | None,
    policy: PlanPolicy,
    previous: DesiredState | None,
    inventory_known: bool,
) -> Plan:
    desired, desired_by_id = prepared.desired, prepared.by_id
    creates: list[Action] = []
    updates: list[Action] = []
    conflicts: list[Conflict] = []
    drift_fields: Counter[str] = Counter()
    drifted = changed = differing = 0
    before: Mapping[str, DesiredTenant] | None = None  # previous.by_id(), built when a tenant differs
    named: dict[str, str] | None = None  # live names, built at the first create

    tenants, checks = desired.tenants, prepared.checks
    for position in prepared.attention(live_by_id, inventory):  # the others are certainly unchanged
        tenant, check = tenants[position], checks[position]
        current = live_by_id.get(tenant.id)
        if current is None:
            if named is None:
                named = _live_names(live)
            refusal = _create_refusal(tenant, named, live_by_id, desired_by_id)
            if refusal is not None:
                conflicts.append(refusal)
            else:
                creates.append(_create_action(tenant))
            continue
        outside = tenant.id not in inventory  # live, and not (yet) this controller's
        if outside and not policy.adopt:
            conflicts.append(_not_adopted(tenant, current))
            continue
        # without prepared checks (a revision's first plan), the cheap test before the full comparison
        unchanged = (
            check.unchanged(current, settings_by_id.get(tenant.id)) if check else plainly_unchanged(tenant, current)
        )
        if unchanged:
            if inventory_known and outside:
                # nothing differs, but taking it over is a change of ownership (prune may delete it later)
                updates.append(Action(ActionKind.UPDATE, tenant.id, adopt=True, where=tenant.where))
            continue
        if before is None and previous is not None:
            before = previous.by_id()
        conflict = _parent_conflict(tenant, current)
        changes, action = _update_action(tenant, current, settings_by_id.get(tenant.id))
        changes = [replace(c, cause=_cause(c.field, tenant, before)) for c in changes]
        parent_drift = conflict is not None and not is_change("parent", tenant, before)
        drift = {c.top_field for c in changes if c.cause is Cause.DRIFT} | ({"parent"} if parent_drift else set())
        if changes or conflict:
            differing += 1
        if drift:
            drifted += 1
            drift_fields.update(drift)
        if any(c.cause is Cause.CHANGE for c in changes) or (conflict is not None and not parent_drift):
            changed += 1
        if conflict:
            # shown with the tenant's other changes, which wait with it until the parent is settled
            conflicts.append(replace(conflict, changes=tuple(changes)))
        elif action is not None:
            updates.append(replace(action, changes=tuple(changes), adopt=inventory_known and outside))
        elif inventory_known and outside:
            # nothing differs, but taking it over is a change of ownership (prune may delete it later)
            updates.append(Action(ActionKind.UPDATE, tenant.id, adopt=True, where=tenant.where))

    creates, conflicts = _without_children_of_refused(creates, conflicts, desired_by_id)
    deletes, orphaned, delete_conflicts = prune_deletes(desired_by_id, live_by_id, inventory, policy)
    conflicts.extend(delete_conflicts)

    managed = sum(map(live_by_id.__contains__, desired_by_id))  # ids are unique: the size of both's overlap
    unmanaged = len(live_by_id.keys() - desired_by_id.keys() - inventory)
    guards = delete_guards(desired, deletes, inventory, live_by_id, last_applied_count, policy)

    return Plan(
        actions=tuple(_staged_creates(creates, desired_by_id) + updates + staged_deletes(deletes, live_by_id)),
        conflicts=tuple(conflicts),
        blocked=tuple(message for _code, message in guards),
        blocked_codes=tuple(code for code, _message in guards),
        managed=managed,
        unmanaged=unmanaged,
        orphaned=tuple(sorted(orphaned)),
        drifted=drifted,
        drift_fields=dict(sorted(drift_fields.items())),
        changed=changed,
        differing=differing,
        live_source=partial(live_digest, live, settings_by_id),
    )


_SCALARS: Final = frozenset({str, bool, int, float, type(None)})
_STRINGS: Final = frozenset({str})


def plainly_unchanged(tenant: DesiredTenant, current: LiveTenant) -> bool:
    """True only when the full comparison would find no change and no parent conflict, tested the cheap way.

    The first plan of a revision has no prepared checks (``core.plan_prepared``) and compares every
    tenant; nearly all are unchanged, and for those equal values of equal types (or a field written as
    its default and absent live) are enough. Equal values of other types can still differ the
    planner's way (``True == 1``; ``[1] == [True]``), so those, and anything unusual, return False and
    are compared the full way.
    """
    for name, value in tenant.fields.items():
        role = FIELD_ROLES.get(name)  # settings are read apart from the record: compared the full way
        if role is ROLE_TOP:
            have = current.get(name)
            if have is None:  # Descope may leave out a field at its default
                if value or canonical(name, value) != canonical(name, None):
                    return False
            elif type(have) is not type(value) or have != value:
                return False
            elif type(value) is list:
                if not _STRINGS.issuperset(map(type, value)):
                    return False
            elif type(value) not in _SCALARS:
                return False
        elif role is ROLE_ATTRIBUTES:
            have = current.get(name)
            # only the keys written in YAML are compared; values equal, then of the same scalar types
            if type(have) is not dict or type(value) is not dict or not have.items() >= value.items():
                return False
            types = list(map(type, value.values()))
            if not _SCALARS.issuperset(types) or types != list(map(type, map(have.__getitem__, value))):
                return False
        elif role is not ROLE_SKIP:
            return False
    return True


def live_digest(live: Sequence[LiveTenant], live_settings: Mapping[str, Mapping[str, JSONValue]]) -> str:
    """A sha256 of the live tenants and the session settings a plan was computed from, in any order."""
    tenants = sorted(live, key=lambda t: str(t.get("id")))
    payload = json.dumps({"tenants": tenants, "settings": live_settings}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _live_names(live: Sequence[LiveTenant]) -> dict[str, str]:
    """Casefolded live name -> the id that holds it: Descope's tenant names are unique, ignoring case."""
    named: dict[str, str] = {}
    for tenant in live:
        name = tenant.get("name")
        if isinstance(name, str):
            named.setdefault(name.casefold(), str(tenant.get("id")))
    return named


def _create_refusal(
    tenant: DesiredTenant,
    named: Mapping[str, str],
    live_by_id: Mapping[str, LiveTenant],
    desired_by_id: Mapping[str, DesiredTenant],
) -> Conflict | None:
    """A create Descope would refuse, said before it is sent: its name is taken, or its parent exists nowhere."""
    name = tenant.fields.get("name")
    holder = named.get(name.casefold()) if isinstance(name, str) else None
    if holder is not None and holder != tenant.id:
        return Conflict(
            tenant.id,
            f"cannot be created: live tenant {holder!r} already has the name {name!r} (Descope tenant names are "
            f"unique, ignoring case); rename one of them",
            tenant.where,
        )
    parent = tenant.parent
    if parent and parent not in live_by_id and parent not in desired_by_id:
        return Conflict(
            tenant.id,
            f"cannot be created: its parent {parent!r} exists neither in Descope nor in tenants.yaml",
            tenant.where,
        )
    return None


def _without_children_of_refused(
    creates: list[Action], conflicts: list[Conflict], desired_by_id: Mapping[str, DesiredTenant]
) -> tuple[list[Action], list[Conflict]]:
    """A child whose parent's create is refused cannot be created either: say so instead of failing it."""
    refused = {c.tenant_id for c in conflicts}
    kept = list(creates)
    while True:
        blocked = [a for a in kept if desired_by_id[a.tenant_id].parent in refused]
        if not blocked:
            return kept, conflicts
        for action in blocked:
            parent = desired_by_id[action.tenant_id].parent
            conflicts = [
                *conflicts,
                Conflict(action.tenant_id, f"cannot be created: its parent {parent!r} cannot be created", action.where),
            ]
            refused.add(action.tenant_id)
        kept = [a for a in kept if a.tenant_id not in refused]


def _not_adopted(tenant: DesiredTenant, current: LiveTenant) -> Conflict:
    return Conflict(
        tenant.id,
        f"exists in Descope (as {current.get('name')!r}) but this controller did not create it, and "
        "[reconcile] adopt = false: it is not written or deleted; set adopt = true to take it over, or "
        "remove it from tenants.yaml",
        tenant.where,
    )


def _cause(field_name: str, tenant: DesiredTenant, before: Mapping[str, DesiredTenant] | None) -> Cause:
    return Cause.CHANGE if is_change(field_name, tenant, before) else Cause.DRIFT


def _create_action(tenant: DesiredTenant) -> Action:
    body: dict[str, JSONValue] = {"id": tenant.id}
    changes = []
    default_roles: tuple[str, ...] | None = None
    settings: dict[str, JSONValue] | None = None
    for name, value in tenant.fields.items():
        spec = TENANT_FIELDS[name]
        if spec.write is WritePath.SUBRESOURCE:
            continue  # roles, SSO, password policy: planned as their own resources
        wired = wire_value(name, value)
        changes.append(FieldChange(name, None, wired))
        if spec.write is WritePath.DEFAULT_ROLES:
            default_roles = tuple(wired)
        elif spec.write is WritePath.SETTINGS:
            settings = dict(wired)
        else:
            body[name] = wired
    return Action(
        ActionKind.CREATE,
        tenant.id,
        changes=tuple(changes),
        create_body=body,
        default_roles=default_roles,
        settings=settings,
        where=tenant.where,
    )


def _parent_conflict(tenant: DesiredTenant, current: LiveTenant) -> Conflict | None:
    if "parent" not in tenant.fields:
        return None
    want, have = (
        canonical("parent", tenant.fields["parent"]),
        canonical("parent", live_value(current, "parent")),
    )
    if want == have:
        return None
    return Conflict(
        tenant.id,
        f"parent is set at create only: Descope has parent {have or '(none)'!r}, the YAML says "
        f"{want or '(none)'!r}; restore the YAML value, or delete and recreate the tenant",
        tenant.where,
    )


def update_action(
    tenant: DesiredTenant, current: LiveTenant, current_settings: Mapping[str, JSONValue] | None
) -> Action | None:
    """The update that brings one live tenant's managed fields to ``tenant``; None when nothing differs."""
    return _update_action(tenant, current, current_settings)[1]


def _update_action(
    tenant: DesiredTenant, current: LiveTenant, current_settings: Mapping[str, JSONValue] | None
) -> tuple[list[FieldChange], Action | None]:
    changes: list[FieldChange] = []
    patch: dict[str, JSONValue] = {}
    default_roles: tuple[str, ...] | None = None
    settings: dict[str, JSONValue] | None = None
    for name, value in tenant.fields.items():
        spec = TENANT_FIELDS[name]
        if spec.write is WritePath.IMMUTABLE or spec.write is WritePath.SUBRESOURCE:
            continue
        if spec.write is WritePath.SETTINGS:
            # only session-settings keys: the settings GET also carries domains and SSO fields
            # that a patch in the same action may be changing
            have = (
                None
                if current_settings is None
                else {k: v for k, v in current_settings.items() if k in SETTINGS_FIELDS}
            )
            field_changes, _merged = _map_changes(name, value, have, missing_means_unknown=True)
            if field_changes:
                # only the managed keys: the client lays them over a fresh read at write time, so a
                # console edit made after this plan's read is not overwritten with a stale value
                settings = dict(value)
            changes.extend(field_changes)
            continue
        if name == "customAttributes":
            field_changes, merged = _map_changes(name, value, live_value(current, name))
            if merged is not None:
                patch[name] = merged
            changes.extend(field_changes)
            continue
        before = current.get(name)
        if before is None:
            before = spec.default
        if identical(value, before) or canonical(name, value) == canonical(name, before):
            continue
        wired = wire_value(name, value)
        changes.append(FieldChange(name, wire_value(name, before), wired))
        if spec.write is WritePath.DEFAULT_ROLES:
            default_roles = tuple(wired)
        else:
            patch[name] = wired
    if not changes:
        return changes, None
    action = Action(
        ActionKind.UPDATE,
        tenant.id,
        changes=tuple(changes),
        patch=patch or None,
        default_roles=default_roles,
        settings=settings,
        where=tenant.where,
    )
    return changes, action


def _map_changes(
    name: str,
    desired: JSONValue,
    current: Mapping[str, JSONValue] | None,
    *,
    missing_means_unknown: bool = False,
) -> tuple[list[FieldChange], dict[str, JSONValue] | None]:
    """Compare only the keys written in YAML; return the changes and the full map to write.

    The map to write is the live map with the managed keys laid over it, so that keys the YAML
    does not manage survive a write that replaces the whole map.
    """
    if current is not None and all(identical(v, current.get(k)) for k, v in desired.items()):
        return [], None  # the common case, without copying either map
    wanted = dict(desired)
    if current is None and missing_means_unknown:
        # not read: write what YAML says, and report it as an unknown-before change
        return [FieldChange(f"{name}.{k}", None, v) for k, v in wanted.items()], wanted
    have = dict(current or {})
    changes = [
        FieldChange(f"{name}.{key}", have.get(key), value)
        for key, value in wanted.items()
        if not identical(value, have.get(key)) and canonical_scalar(value) != canonical_scalar(have.get(key))
    ]
    if not changes:
        return [], None
    return changes, {**have, **wanted}


def _staged_creates(creates: list[Action], desired_by_id: Mapping[str, DesiredTenant]) -> list[Action]:
    """Parents before children: a create's stage is one more than its parent's create."""
    creating = {a.tenant_id for a in creates}
    depth: dict[str, int] = {}

    def stage_of(tid: str) -> int:
        # iterative walk up the parent chain; the loader has already refused cycles
        chain = []
        cur: str | None = tid
        while cur is not None and cur in creating and cur not in depth:
            chain.append(cur)
            parent = desired_by_id[cur].parent
            cur = parent if parent in creating and parent not in chain else None
        base = depth[cur] + 1 if cur is not None and cur in depth else 0
        for i, item in enumerate(reversed(chain)):
            depth[item] = base + i
        return depth[tid]

    staged = [replace(a, stage=stage_of(a.tenant_id)) for a in creates]
    return sorted(staged, key=lambda a: a.stage)
