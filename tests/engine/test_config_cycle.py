"""The engine's part for roles, SSO and password policy: what it reads (call counts) and how it fingerprints secrets."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from controller.core.config_plan import make_config_plan
from controller.core.config_types import SubKind, SubOp
from controller.engine.config_cycle import apply_config, read_live, write_line
from controller.engine.config_secrets import KEY_FILE, fingerprint, fingerprint_key, resolve, resolve_all, with_secret


class Recorder:
    """A fake client: records every call, answers empty reads."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            if name == "load_roles":
                return [{"name": "viewer"}, {"name": "Admin", "tenantId": "acme"}, {"name": "X", "tenantId": "zzz"}]
            if name == "load_password_settings":
                return {"minLength": 8}
            return [] if name.startswith("load") else None

        return call

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


def test_no_tenant_managing_a_kind_reads_nothing() -> None:
    client = Recorder()
    live = read_live(client, {}, {"acme", "globex"}, [])
    assert client.calls == [] and not live.roles and not live.sso and not live.password


def test_one_role_read_for_all_tenants_and_one_read_per_tenant_for_sso_and_policy() -> None:
    client = Recorder()
    config: dict[str, dict[str, Any]] = {
        "acme": {"roles": [], "sso": [], "passwordPolicy": {"minLength": 12}},
        "globex": {"roles": []},
        "initech": {"sso": []},
        "new": {"roles": [], "sso": [], "passwordPolicy": {}},  # being created: nothing to read
    }
    live = read_live(client, config, {"acme", "globex", "initech"}, [])
    assert client.names().count("load_roles") == 1
    assert client.calls[0] == ("load_roles", (["acme", "globex", "initech"],))
    assert sorted(a for n, a in client.calls if n == "load_sso_all") == [("acme",), ("initech",)]
    assert [a for n, a in client.calls if n == "load_password_settings"] == [("acme",)]
    assert live.project_roles == frozenset({"viewer"})
    assert set(live.roles) == {"acme"}  # a role of a tenant not asked for is ignored
    assert live.password == {"acme": {"minLength": 8}}


def test_fingerprints_are_keyed_stable_and_hide_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = fingerprint_key(tmp_path)
    assert key is not None  # a writing cycle (create defaults to True) always gets one
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600
    assert fingerprint_key(tmp_path) == key  # created once, then read
    missing = tmp_path / "no-store-yet"  # `plan` before the first apply: a key for this run, nothing created
    run_only = fingerprint_key(missing)
    assert run_only is not None and len(run_only) == len(key) and not missing.exists()
    assert fingerprint(key, "s3cret") == fingerprint(key, "s3cret") != fingerprint(key, "other")
    assert fingerprint(key, "s3cret") != fingerprint(os.urandom(32), "s3cret")  # keyed, not a bare hash
    assert "s3cret" not in fingerprint(key, "s3cret")

    monkeypatch.setenv("ACME_SECRET", "s3cret")
    (tmp_path / "secret.txt").write_text("from-file\n")
    assert resolve({"env": "ACME_SECRET"}) == "s3cret"
    assert resolve({"file": str(tmp_path / "secret.txt")}) == "from-file"
    assert resolve({"env": "NOT_SET_ANYWHERE_X"}) is None
    config = {
        "acme": {
            "sso": [
                {"ssoId": "google", "oidc": {"clientSecret": {"env": "ACME_SECRET"}}},
                {"ssoId": "gone", "oidc": {"clientSecret": {"env": "NOT_SET_ANYWHERE_X"}}},
            ]
        }
    }
    prints, values = resolve_all(config, lambda: key, {("acme", "google"): "old"})
    assert prints.wanted == {("acme", "google"): fingerprint(key, "s3cret")}
    assert prints.written == {("acme", "google"): "old"}
    assert values == {("acme", "google"): "s3cret"}
    assert with_secret({"clientId": "c", "clientSecret": {"env": "ACME_SECRET"}}, "s3cret")["clientSecret"] == "s3cret"


class Writer(Recorder):
    def __init__(self, fail_on: str = "") -> None:
        super().__init__()
        self.fail_on = fail_on
        self.sent: dict[str, Any] = {}

    def configure_oidc(self, tenant_id: str, settings: Mapping[str, Any], **kw: Any) -> None:
        self.calls.append(("configure_oidc", (tenant_id,)))
        self.sent = dict(settings)

    def create_role(self, role: Mapping[str, Any]) -> None:
        self.calls.append(("create_role", (role["name"],)))
        if role["name"] == self.fail_on:
            raise RuntimeError("boom")

    def update_password_settings(self, tenant_id: str, settings: Mapping[str, Any]) -> None:
        self.calls.append(("update_password_settings", (tenant_id,)))

    def new_sso(self, tenant_id: str, sso_id: str, display_name: str) -> dict[str, Any]:
        self.calls.append(("new_sso", (tenant_id, sso_id)))
        return {}

    def load_roles(self, tenant_ids: Sequence[str], *, include_project_roles: bool = False) -> list[dict[str, Any]]:
        return []


def test_apply_sends_the_secret_only_in_the_oidc_call_isolates_failures_and_skips_held_tenants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("G_SECRET", "v4lue")
    config: dict[str, dict[str, Any]] = {
        "acme": {
            "roles": [{"name": "A"}, {"name": "B"}],
            "sso": [{"ssoId": "google", "oidc": {"clientId": "c", "clientSecret": {"env": "G_SECRET"}}}],
        },
        "held": {"passwordPolicy": {"minLength": 10}},
    }
    prints, values = resolve_all(config, lambda: fingerprint_key(tmp_path), {})
    from controller.core.config_plan import LiveConfig

    plan = make_config_plan(config, LiveConfig(), secrets=prints)
    assert "v4lue" not in str(plan.as_dict())
    client = Writer(fail_on="A")
    results = apply_config(plan, client, secrets=values, held={"held"})
    by = {(r.action.kind, r.action.key): r for r in results}
    assert not by[(SubKind.ROLE, "A")].ok and by[(SubKind.ROLE, "B")].ok  # one failure, the rest go on
    assert by[(SubKind.SSO, "google")].ok and client.sent["clientSecret"] == "v4lue"
    assert by[(SubKind.PASSWORD_POLICY, "")].skipped
    assert "update_password_settings" not in client.names()
    sso = by[(SubKind.SSO, "google")].action
    assert sso.op is SubOp.CREATE and "v4lue" not in write_line(sso)
    assert write_line(by[(SubKind.ROLE, "B")].action) == "created role acme/B"


# -- the operations side (issue 16): key file, concurrency, backoff, guard ------------------------------------

TENANT_WITH_SECRET = """\
tenants:
  - id: acme
    name: ACME
    sso:
      - ssoId: google
        oidc: {clientId: c, clientSecret: {env: G_SECRET}}
"""


def config_step(tmp_path: Path, text: str = TENANT_WITH_SECRET) -> tuple[Any, Any]:
    from controller.adapters.state_store import ControllerState
    from controller.core.loader import parse_tenant_files
    from controller.engine.config_cycle import ConfigStep

    return ConfigStep(Recorder(), tmp_path), (parse_tenant_files({"tenants.yaml": text.encode()}), ControllerState())


def test_plan_never_creates_the_fingerprint_key_and_says_an_unwritten_secret_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from controller.core.plan_types import PlanPolicy

    monkeypatch.setenv("G_SECRET", "v4lue")
    step, (desired, state) = config_step(tmp_path)
    cycle = step.plan(desired, None, {"acme"}, state, PlanPolicy(), [], writes=False)
    assert not (tmp_path / KEY_FILE).exists()  # a plan leaves the store as it found it
    (action,) = cycle.plan.actions
    assert any("is sent: unknown" in n for n in action.notes)
    assert "oidc.clientSecret" in [c.field for c in action.changes]

    # a fingerprint is stored (an earlier apply) but the key is gone: without the key it cannot be compared,
    # so the plan does not claim the secret changed
    state.secret_fingerprints = {"acme": {"google": "hmac-sha256:abc"}}
    step, _ = config_step(tmp_path)
    again = step.plan(desired, None, {"acme"}, state, PlanPolicy(), [], writes=False)
    (create,) = again.plan.actions
    assert "oidc.clientSecret" not in [c.field for c in create.changes]
    assert not any("re-sent" in n or "is sent: unknown" in n for n in create.notes)
    assert not (tmp_path / KEY_FILE).exists()

    step, _ = config_step(tmp_path)
    step.plan(desired, None, {"acme"}, state, PlanPolicy(), [], writes=True)
    assert (tmp_path / KEY_FILE).exists()  # the first writing cycle makes it


def test_a_tenants_file_without_secrets_never_makes_a_key(tmp_path: Path) -> None:
    from controller.core.plan_types import PlanPolicy

    step, (desired, state) = config_step(tmp_path, "tenants:\n  - id: acme\n    name: ACME\n    roles: [{name: A}]\n")
    step.plan(desired, None, {"acme"}, state, PlanPolicy(), [], writes=True)
    assert not (tmp_path / KEY_FILE).exists()


class Concurrent(Writer):
    """Role creates meet at a barrier: they pass only if they run at the same time."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        import threading

        self.barrier = threading.Barrier(parties, timeout=30)
        self.order: list[str] = []

    def create_role(self, role: Mapping[str, Any]) -> None:
        self.barrier.wait()
        self.order.append(f"role {role['name']}")

    def new_sso(self, tenant_id: str, sso_id: str, display_name: str) -> dict[str, Any]:
        self.order.append(f"sso {sso_id}")
        return {}

    def configure_saml(self, tenant_id: str, settings: Mapping[str, Any], **kw: Any) -> None:
        pass


def test_sub_actions_of_a_stage_run_together_and_stages_stay_in_order() -> None:
    from controller.core.config_plan import LiveConfig

    config: dict[str, dict[str, Any]] = {
        t: {"roles": [{"name": f"{t}-role"}], "sso": [{"ssoId": f"{t}-sso", "saml": {"idpUrl": "https://i"}}]}
        for t in ("acme", "globex", "initech")
    }
    plan = make_config_plan(config, LiveConfig())
    client = Concurrent(parties=3)
    results = apply_config(plan, client, secrets={}, held=set(), max_concurrency=3)
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.action for r in results] == list(plan.actions)  # one result per action, in plan order
    assert [o.split()[0] for o in client.order] == ["role"] * 3 + ["sso"] * 3  # roles before the SSO naming them


def test_a_failing_sub_write_backs_the_tenant_off_and_success_clears_it() -> None:
    from controller.adapters.state_store import ControllerState, TenantFailure
    from controller.core.config_types import SubAction
    from controller.engine.config_cycle import SubResult, remember_failures

    role = SubAction(SubKind.ROLE, SubOp.CREATE, "acme", "A", body={"name": "A"})
    policy = SubAction(SubKind.PASSWORD_POLICY, SubOp.UPDATE, "globex", "", body={})
    state = ControllerState()
    failed = [SubResult(role, ok=False, error="boom"), SubResult(policy, ok=False, error="x", skipped=True)]
    remember_failures(state, failed, set(), first=60, now=1000)
    assert set(state.tenant_failures) == {"acme"}  # a skipped action is not a failure of its own
    first = state.tenant_failures["acme"]
    assert first.count == 1 and first.next_attempt >= 1060 and "role acme/A: boom" in first.error
    remember_failures(state, failed[:1], set(), first=60, now=2000)
    assert state.tenant_failures["acme"].count == 2 and state.tenant_failures["acme"].next_attempt >= 2120

    state.tenant_failures["globex"] = TenantFailure(1, 0, "its own update failed")
    done = [SubResult(role, ok=True), SubResult(policy, ok=True)]
    remember_failures(state, done, {"globex"}, first=60, now=3000)
    assert set(state.tenant_failures) == {"globex"}  # cleared, except a tenant whose own action failed now


def test_a_tripped_sub_resource_guard_blocks_and_names_the_guard() -> None:
    from controller.core.config_plan import LiveConfig
    from controller.core.config_types import ConfigPolicy
    from controller.engine.config_cycle import ConfigCycle, ConfigStep

    managed = {("role", "acme", f"R{i}") for i in range(4)}
    live = LiveConfig(roles={"acme": [{"name": f"R{i}", "tenantId": "acme"} for i in range(4)]})
    plan = make_config_plan({"acme": {"roles": []}}, live, managed=managed, inventory_known=True,
                            policy=ConfigPolicy(prune=True, max_deletes=2))  # fmt: skip
    said: list[str] = []

    class Log:
        def error(self, message: str, *args: Any) -> None:
            said.append(message.format(*args))

    cycle = ConfigCycle(plan)
    client = Recorder()
    assert ConfigStep.blocked(cycle, Log()) is True
    assert any("max_deletes=2" in line and line.startswith("guard (roles and SSO)") for line in said)
    from controller.core.plan import Plan
    from controller.engine.cycle import CycleOptions

    ConfigStep(client, None).apply(cycle, Plan(), set(), Log(), lambda: False, CycleOptions())
    assert client.calls == [] and cycle.results == []  # nothing of a blocked plan is written
