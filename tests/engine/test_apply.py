"""Apply: stages in order, one tenant's failure isolated, auth failure stops the run, hooks can block."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from controller.core.model import DesiredState, DesiredTenant
from controller.core.plan import Action, PlanPolicy, make_plan
from controller.engine.apply import ActionResult, WriteHooks, apply_plan
from controller.errors import DescopeAuthError, DescopeNotFound, DescopeServerError, DescopeValidationError


class RecordingWriter:
    """Records calls; ``fail`` maps a tenant id to the exception its first write raises."""

    def __init__(self, fail: Mapping[str, Exception] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = dict(fail or {})
        self.lock = threading.Lock()

    def _call(self, op: str, tenant_id: str) -> None:
        with self.lock:
            self.calls.append((op, tenant_id))
        if tenant_id in self.fail:
            raise self.fail[tenant_id]

    def create(self, body: Mapping[str, object]) -> str:
        self._call("create", str(body["id"]))
        return str(body["id"])

    def patch(self, tenant_id: str, fields: Mapping[str, object]) -> None:
        self._call("patch", tenant_id)

    def delete(self, tenant_id: str, *, cascade: bool = False) -> bool:
        self._call("delete", tenant_id)
        return True

    def find(self, tenant_id: str) -> Mapping[str, object] | None:
        return None  # nothing exists unless a test says otherwise

    def update_settings(self, tenant_id: str, settings: Mapping[str, object]) -> None:
        self._call("settings", tenant_id)

    def update_default_roles(self, tenant_id: str, roles: Sequence[str]) -> None:
        self._call("roles", tenant_id)


def state(*tenants: dict[str, Any]) -> DesiredState:
    return DesiredState(tuple(DesiredTenant(t["id"], {k: v for k, v in t.items() if k != "id"}) for t in tenants))


def test_parents_created_before_children_and_follow_up_calls_made() -> None:
    plan = make_plan(
        state(
            {"id": "child", "name": "C", "parent": "root", "defaultRoles": ["viewer"]},
            {"id": "root", "name": "R", "settings": {"enabled": True}},
        ),
        [],
    )
    writer = RecordingWriter()
    result = apply_plan(plan, writer, live_by_id={}, max_concurrency=4)
    assert result.status == "succeeded"
    assert writer.calls == [("create", "root"), ("settings", "root"), ("create", "child"), ("roles", "child")]


def test_one_failure_does_not_stop_the_others_and_children_of_a_failed_parent_wait() -> None:
    plan = make_plan(
        state(
            {"id": "root", "name": "R"},
            {"id": "child", "name": "C", "parent": "root"},
            {"id": "a", "name": "A"},
            {"id": "b", "name": "B"},
        ),
        [],
    )
    writer = RecordingWriter({"root": DescopeValidationError("name taken", operation="tenant.create", status=400)})
    result = apply_plan(plan, writer, live_by_id={})
    assert result.status == "partial"
    by_id = {r.action.tenant_id: r for r in result.results}
    assert by_id["a"].ok and by_id["b"].ok
    assert not by_id["root"].ok and "name taken" in by_id["root"].error
    assert by_id["child"].skipped and "parent tenant 'root' was not created" in by_id["child"].error
    assert ("create", "child") not in writer.calls


def test_auth_failure_stops_the_run() -> None:
    plan = make_plan(state(*({"id": f"t{i}", "name": f"T{i}"} for i in range(5))), [])
    writer = RecordingWriter({f"t{i}": DescopeAuthError("bad key", status=401) for i in range(5)})
    result = apply_plan(plan, writer, live_by_id={}, max_concurrency=1)
    assert result.status == "failed"
    assert len(writer.calls) == 1
    assert sum(r.skipped for r in result.results) == 4


def test_delete_of_a_tenant_already_gone_counts_as_done() -> None:
    live = [{"id": f"t{i}", "name": f"T{i}"} for i in range(10)]
    plan = make_plan(state(*live[1:]), live, inventory={t["id"] for t in live}, policy=PlanPolicy(prune=True))
    writer = RecordingWriter({"t0": DescopeNotFound("gone", status=404)})
    result = apply_plan(plan, writer, live_by_id={t["id"]: t for t in live})
    assert result.status == "succeeded"


def test_before_write_hook_blocks_the_write_fail_closed() -> None:
    class NoBackup(WriteHooks):
        def __init__(self) -> None:
            self.seen: list[ActionResult] = []

        def before_write(self, action: Action, live: Mapping[str, Any] | None) -> None:
            if action.tenant_id == "a":
                raise DescopeServerError("backup store is full")  # stands for any refusal

        def after_action(self, result: ActionResult) -> None:
            self.seen.append(result)

    live = [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]
    plan = make_plan(state({"id": "a", "name": "A2"}, {"id": "b", "name": "B2"}), live)
    hooks = NoBackup()
    writer = RecordingWriter()
    result = apply_plan(plan, writer, live_by_id={t["id"]: t for t in live}, hooks=hooks)
    assert writer.calls == [("patch", "b")]
    assert result.status == "partial"
    assert sorted(r.action.tenant_id for r in hooks.seen) == ["a", "b"]


def test_unexpected_exception_is_isolated_and_reported() -> None:
    plan = make_plan(state({"id": "a", "name": "A"}, {"id": "b", "name": "B"}), [])
    writer = RecordingWriter({"a": RuntimeError("boom")})
    result = apply_plan(plan, writer, live_by_id={})
    assert result.status == "partial"
    assert any("unexpected RuntimeError: boom" in r.error for r in result.failed)


@pytest.mark.parametrize("workers", [1, 8])
def test_skip_marks_already_done_actions(workers: int) -> None:
    plan = make_plan(state(*({"id": f"t{i}", "name": f"T{i}"} for i in range(6))), [])
    writer = RecordingWriter()
    apply_plan(plan, writer, live_by_id={}, max_concurrency=workers, skip=lambda a: a.tenant_id in {"t0", "t1"})
    assert sorted(t for _, t in writer.calls) == ["t2", "t3", "t4", "t5"]


def test_a_duplicate_create_that_is_our_own_late_create_counts_as_done() -> None:
    from controller.errors import DescopeConflict

    class LateWriter(RecordingWriter):
        def __init__(self, existing: dict[str, dict[str, Any]]) -> None:
            super().__init__()
            self.existing = existing

        def create(self, body: Mapping[str, object]) -> str:
            self._call("create", str(body["id"]))
            raise DescopeConflict("exists", status=409)  # every id is taken already

        def find(self, tenant_id: str) -> dict[str, Any] | None:
            return self.existing.get(tenant_id)

    plan = make_plan(state({"id": "a", "name": "A", "defaultRoles": ["viewer"]}, {"id": "b", "name": "B"}), [])
    writer = LateWriter({"a": {"id": "a", "name": "A"}, "b": {"id": "b", "name": "Someone else's"}})
    result = apply_plan(plan, writer, live_by_id={})
    by_id = {r.action.tenant_id: r for r in result.results}
    assert by_id["a"].ok and ("roles", "a") in writer.calls  # ours: the follow-up calls still happen
    assert not by_id["b"].ok and "exists" in by_id["b"].error  # a real conflict stays a conflict


def test_a_write_cut_off_by_shutdown_is_not_attempted_not_failed() -> None:
    """A request still waiting for the rate limit at SIGTERM is not sent: no failure, so no tenant backoff."""
    from controller.errors import ShuttingDown

    plan = make_plan(state({"id": "a", "name": "A"}, {"id": "b", "name": "B"}), [])
    writer = RecordingWriter({"a": ShuttingDown()})
    result = apply_plan(plan, writer, live_by_id={}, max_concurrency=1)
    by_id = {r.action.tenant_id: r for r in result.results}
    assert by_id["a"].skipped and by_id["a"].error == "not attempted: shutting down"
    assert by_id["b"].ok
