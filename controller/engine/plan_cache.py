"""Keeps the planner's per-revision preparation between cycles, so an idle cycle compares and does not prepare."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from controller.adapters.state_store import ControllerState
from controller.core.model import DesiredState, DesiredTenant, JSONValue, LiveTenant
from controller.core.plan import Plan, make_plan
from controller.core.plan_prepared import PreparedDesired, prepare, revise

if TYPE_CHECKING:  # engine.cycle imports config_cycle, which keeps a RevisionConfig
    from controller.engine.cycle import CycleOptions


class PlanCache:
    """``core.plan_prepared.prepare`` of the revision being planned, kept while it is planned again.

    The first revision a process plans is compared the full way at its first plan, which costs less
    than preparing it (a one-shot command plans once); at its second plan the prepared form is built
    and reused until another revision is planned. A later revision is prepared at its first plan from
    the one before (``revise``): only its edited tenants are prepared, so the plan after a one-tenant
    commit costs about what an idle cycle's does. Keyed by identity: the reconciler hands the same
    ``DesiredState`` object for as long as a revision is enforced.
    """

    def __init__(self) -> None:
        self._desired: DesiredState | None = None
        self._prepared: PreparedDesired | None = None
        self._settings: tuple[DesiredState | None, tuple[DesiredTenant, ...]] = (None, ())

    def get(self, desired: DesiredState) -> PreparedDesired | None:
        """The prepared form of ``desired``; None at the first plan of the first revision (plan it the full way)."""
        if self._desired is not desired:
            before, self._desired = self._prepared, desired
            self._prepared = None if before is None else revise(before, desired)
            return self._prepared
        if self._prepared is None:
            self._prepared = prepare(desired)
        return self._prepared

    def with_settings(self, desired: DesiredState) -> tuple[DesiredTenant, ...]:
        """The tenants of ``desired`` that manage session settings, in file order; found once per revision."""
        if self._settings[0] is not desired:
            self._settings = (desired, tuple(t for t in desired.tenants if "settings" in t.fields))
        return self._settings[1]

    def by_id(self, desired: DesiredState) -> Mapping[str, DesiredTenant]:
        """``desired.by_id()``, taken from the prepared form when ``desired`` is the revision it was built for."""
        if self._desired is desired and self._prepared is not None:
            return self._prepared.by_id
        return desired.by_id()

    def plan(
        self,
        desired: DesiredState,
        live: Sequence[LiveTenant],
        live_by_id: Mapping[str, LiveTenant],
        live_settings: Mapping[str, Mapping[str, JSONValue]],
        previous: DesiredState | None,
        state: ControllerState,
        options: CycleOptions,
    ) -> Plan:
        """``core.plan.make_plan`` as a reconcile cycle calls it, with this revision's prepared form."""
        return make_plan(
            desired,
            live,
            inventory=state.inventory,
            live_settings=live_settings,
            last_applied_count=state.last_applied_count,
            policy=options.policy,
            previous=previous,
            inventory_known=state.last_applied_revision is not None,
            prepared=self.get(desired),
            live_by_id=live_by_id,
        )


Config = dict[str, dict[str, Any]]


class RevisionConfig:
    """``engine.config_cycle.desired_config`` of the two revisions last asked (enforced and previous), kept.

    Walking every tenant for its sub-resources each idle cycle costs 0.05 s at 100k tenants. Keyed by
    identity, like ``PlanCache``; each call returns a fresh copy of the per-tenant maps, because reading
    the live side drops from them the kinds it could not read.
    """

    def __init__(self, compute: Callable[[DesiredState], Config]) -> None:
        self._compute = compute
        self._kept: list[tuple[DesiredState, Config]] = []

    def __call__(self, desired: DesiredState) -> Config:
        found = next((config for state, config in self._kept if state is desired), None)
        if found is None:
            found = self._compute(desired)
            self._kept = [*self._kept[-1:], (desired, found)]
        return {tenant_id: dict(kinds) for tenant_id, kinds in found.items()}
