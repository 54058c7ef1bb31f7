"""Executes a plan through the Descope client: stage by stage, tenants isolated, a result each.

Actions of one stage run with bounded concurrency (the client's rate limiter keeps the pace);
a stage starts when the one before it is done, which is how parents exist before their children
and children are gone before their parents. One tenant's failure never stops the others, except
an authentication failure, which would fail every call and so stops the run.

Two seams for later layers: ``WriteHooks.before_write`` runs before any write of an action and
may raise to block it (the pre-image backup, fail closed); ``after_action`` sees every result
(the checkpoint journal).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby
from typing import Final, Protocol

from controller.core.model import LiveTenant
from controller.core.outcome import CycleStatus
from controller.core.plan import Action, ActionKind, Plan
from controller.errors import DescopeAuthError, DescopeConflict, DescopeGitopsError, DescopeNotFound, ShuttingDown


class TenantWriter(Protocol):
    """The part of DescopeClient that apply needs (a test may pass any object with these)."""

    def create(self, body: Mapping[str, object]) -> str: ...
    def find(self, tenant_id: str) -> Mapping[str, object] | None: ...
    def patch(self, tenant_id: str, fields: Mapping[str, object]) -> None: ...
    def delete(self, tenant_id: str, *, cascade: bool = False) -> bool: ...
    def update_settings(self, tenant_id: str, settings: Mapping[str, object]) -> None: ...
    def update_default_roles(self, tenant_id: str, roles: Sequence[str]) -> None: ...


class WriteHooks:
    """No-op hooks; subclasses back up before writes and journal after them."""

    def before_write(self, action: Action, live: LiveTenant | None) -> None:
        """Raise to block the write (e.g. the backup could not be written)."""

    def after_action(self, result: ActionResult) -> None:
        """Called once per action, in completion order, from worker threads (serialised)."""


NOT_ATTEMPTED_STOPPING: Final = "not attempted: shutting down"  # no failure of the tenant's: the next run does it


@dataclass(frozen=True)
class ActionResult:
    action: Action
    ok: bool
    error: str = ""
    retryable: bool = False
    skipped: bool = False  # not attempted (parent failed, auth failed, already done)
    error_type: type[Exception] | None = None  # what was raised, so callers can tell causes apart


@dataclass(frozen=True)
class ApplyResult:
    results: tuple[ActionResult, ...]
    conflicts: int = 0

    @property
    def failed(self) -> tuple[ActionResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def succeeded(self) -> tuple[ActionResult, ...]:
        return tuple(r for r in self.results if r.ok)

    @property
    def cut_by_shutdown(self) -> tuple[ActionResult, ...]:
        """Actions not started, or not sent, because the process is stopping: no failure of the tenant's."""
        return tuple(r for r in self.results if not r.ok and r.error == NOT_ATTEMPTED_STOPPING)

    @property
    def failed_writes(self) -> tuple[ActionResult, ...]:
        """``failed`` without the actions a shutdown cut off."""
        return tuple(r for r in self.results if not r.ok and r.error != NOT_ATTEMPTED_STOPPING)

    @property
    def status(self) -> CycleStatus:
        """``succeeded`` | ``partial`` | ``failed``, counting planning conflicts as failures."""
        failures = len(self.failed) + self.conflicts
        if failures == 0:
            return CycleStatus.SUCCEEDED
        if self.results and not self.succeeded:
            return CycleStatus.FAILED
        return CycleStatus.PARTIAL

    @property
    def auth_failed(self) -> bool:
        """Descope refused the project id or management key: no action can succeed until a human acts."""
        return any(r.error_type is not None and issubclass(r.error_type, DescopeAuthError) for r in self.failed)

    @property
    def retryable(self) -> bool:
        """Would trying the failed actions again soon help? (a 5xx or a timeout, not a 400 or a 401)"""
        return any(r.retryable for r in self.failed if not r.skipped)


_KIND_ORDER = {ActionKind.CREATE: 0, ActionKind.UPDATE: 1, ActionKind.DELETE: 2}


def apply_plan(
    plan: Plan,
    client: TenantWriter,
    *,
    live_by_id: Mapping[str, LiveTenant],
    max_concurrency: int = 4,
    hooks: WriteHooks | None = None,
    skip: Callable[[Action], bool] = lambda _action: False,
    should_stop: Callable[[], bool] = lambda: False,
    before_deletes: Callable[[Set[str]], None] | None = None,
) -> ApplyResult:
    """Apply every action of ``plan``; ``skip`` marks actions already done (resume).

    ``before_deletes`` runs once, after the creates and updates and before the first delete (or at the end),
    with the ids of the tenants whose actions failed: the sub-resource writes (``engine.config_cycle``).
    """
    hooks = hooks or WriteHooks()
    lock = threading.Lock()
    results: list[ActionResult] = []
    failed_ids: set[str] = set()
    auth_failed = threading.Event()

    def record(result: ActionResult) -> None:
        with lock:
            results.append(result)
            if not result.ok:
                failed_ids.add(result.action.tenant_id)
            hooks.after_action(result)

    def run_one(action: Action) -> None:
        blocker = _blocker(action, live_by_id, failed_ids, auth_failed, should_stop)
        if blocker:
            record(ActionResult(action, ok=False, error=blocker, skipped=True, retryable=True))
            return
        try:
            hooks.before_write(action, live_by_id.get(action.tenant_id))
            _execute(action, client)
        except DescopeAuthError as exc:
            auth_failed.set()
            record(ActionResult(action, ok=False, error=str(exc), error_type=type(exc)))
        except ShuttingDown:  # never sent: like an action not started, it is no failure of the tenant's
            record(ActionResult(action, ok=False, error=NOT_ATTEMPTED_STOPPING, skipped=True, retryable=True))
        except DescopeGitopsError as exc:
            record(ActionResult(action, ok=False, error=str(exc), retryable=exc.retryable, error_type=type(exc)))
        except Exception as exc:  # isolation: a bug on one tenant must not lose the others' results
            error = f"unexpected {type(exc).__name__}: {exc}"
            record(ActionResult(action, ok=False, error=error, error_type=type(exc)))
        else:
            record(ActionResult(action, ok=True))

    todo = [a for a in plan.actions if not skip(a)]
    ordered = sorted(todo, key=lambda a: (_KIND_ORDER[a.kind], a.stage))
    pending = [before_deletes] if before_deletes is not None else []
    with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="apply") as pool:
        for (order, _stage), group in groupby(ordered, key=lambda a: (_KIND_ORDER[a.kind], a.stage)):
            if order == _KIND_ORDER[ActionKind.DELETE] and pending:
                pending.pop()(set(failed_ids))
            list(pool.map(run_one, list(group)))  # a stage finishes before the next starts
    if pending:
        pending.pop()(set(failed_ids))
    return ApplyResult(tuple(results), conflicts=len(plan.conflicts))


def _blocker(
    action: Action,
    live_by_id: Mapping[str, LiveTenant],
    failed_ids: set[str],
    auth_failed: threading.Event,
    should_stop: Callable[[], bool],
) -> str:
    if auth_failed.is_set():
        return "not attempted: Descope refused the management key"
    if should_stop():
        return NOT_ATTEMPTED_STOPPING
    if action.kind is ActionKind.CREATE and action.create_body:
        parent = str(action.create_body.get("parent") or "")
        if parent and parent in failed_ids:
            return f"not attempted: parent tenant {parent!r} was not created"
    if action.kind is ActionKind.DELETE:
        children = {str(c) for c in (live_by_id.get(action.tenant_id, {}).get("successors") or [])}
        stuck = sorted(children & failed_ids)
        if stuck:
            return f"not attempted: child tenants {', '.join(stuck)} were not deleted"
    return ""


def _already_created(action: Action, client: TenantWriter) -> bool:
    """A create refused as a duplicate may be our own, landed late (e.g. in flight at a crash)."""
    if action.create_body is None:
        return False
    found = client.find(action.tenant_id)
    return found is not None and found.get("name") == action.create_body.get("name")


def _execute(action: Action, client: TenantWriter) -> None:
    if action.kind is ActionKind.DELETE:
        with contextlib.suppress(DescopeNotFound):  # already gone: the goal of a delete is reached
            client.delete(action.tenant_id, cascade=action.cascade)
        return
    if action.kind is ActionKind.CREATE:
        assert action.create_body is not None
        try:
            client.create(action.create_body)
        except DescopeConflict:
            if not _already_created(action, client):
                raise
    elif action.patch:
        client.patch(action.tenant_id, action.patch)
    if action.default_roles is not None:
        client.update_default_roles(action.tenant_id, action.default_roles)
    if action.settings is not None:
        client.update_settings(action.tenant_id, action.settings)
