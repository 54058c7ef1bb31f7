"""Pre-images and snapshots hold a tenant's roles, SSO configurations and password policy (issue 16).

The real client and reconciler against the in-process sandbox, with a real backup store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.adapters.backup_store import BackupStore
from controller.adapters.descope import DescopeClient
from controller.adapters.source import LocalSource
from controller.adapters.state_store import StateStore
from controller.core.plan import PlanPolicy
from controller.engine.backups import take_snapshot
from controller.engine.cycle import CycleOptions
from controller.engine.reconciler import Reconciler
from controller.errors import DescopeServerError, StoreWriteFailed
from controller.sandbox import SandboxServer

KEY = "K-config-backups"
SECRET = "oidc-secret-never-in-a-backup"
APPLY = CycleOptions(apply=True)


def yaml(acme_name: str = "ACME", admin: str = "Manages users", beta_role: str = "B") -> str:
    return f"""\
tenants:
  - id: acme
    name: {acme_name}
    roles:
      - name: Tenant Admin
        description: {admin}
    sso:
      - ssoId: okta
        displayName: Okta
        saml:
          idpMetadataUrl: https://acme.okta.example/metadata
          roleMappings: [{{groups: [admins], roleName: Tenant Admin}}]
      - ssoId: google
        oidc:
          name: Google
          clientId: "123"
          clientSecret: {{env: ACME_SECRET}}
    passwordPolicy: {{minLength: 12}}
  - id: beta
    name: Beta
    roles:
      - name: Reader
        description: {beta_role}
"""


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[DescopeClient]:
    monkeypatch.setenv("ACME_SECRET", SECRET)
    with SandboxServer(project_id="Ptest", management_key=KEY) as server, httpx.Client(timeout=5) as http:
        yield DescopeClient(http, project_id="Ptest", management_key=KEY, base_url=server.url, max_retries=0)


class World:
    def __init__(self, tmp_path: Path, client: DescopeClient, backups: BackupStore | None = None) -> None:
        self.file = tmp_path / "tenants.yaml"
        (tmp_path / "store").mkdir(exist_ok=True)
        self.store = StateStore(tmp_path / "store")
        self.backups = backups or BackupStore(tmp_path / "store" / "backups")
        self.client = client

    def sync(self, text: str) -> Any:
        self.file.write_text(text)
        reconciler = Reconciler(LocalSource(self.file), self.client, self.store, backups=self.backups)
        return reconciler.run_cycle(APPLY)


def role(client: DescopeClient, tenant_id: str, name: str) -> dict[str, Any]:
    return next(r for r in client.load_roles([tenant_id]) if r["name"] == name and r.get("tenantId") == tenant_id)


def test_a_sub_resource_write_is_preceded_by_one_pre_image_holding_what_was_read(
    tmp_path: Path, client: DescopeClient
) -> None:
    world = World(tmp_path, client)
    assert world.sync(yaml()).status == "succeeded"
    assert world.backups.metas() == []  # everything was created: nothing existed that could be lost

    report = world.sync(yaml(acme_name="ACME Corp", admin="Manages ACME's users"))
    assert report.status == "succeeded"
    assert role(client, "acme", "Tenant Admin")["description"] == "Manages ACME's users"
    [pre] = world.backups.metas(tenant_id="acme")  # one per tenant per cycle: the rename and the role write share it
    backup = world.backups.tenant_in(pre.id, "acme")
    assert backup.tenant["name"] == "ACME"
    assert backup.config is not None
    assert [r["description"] for r in backup.config["roles"]] == ["Manages users"]
    assert sorted(e["ssoId"] for e in backup.config["sso"]) == ["google", "okta"]
    assert backup.config["passwordPolicy"]["minLength"] == 12
    assert SECRET.encode() not in pre.path.read_bytes() and b"clientSecret" not in pre.path.read_bytes()


def test_a_failed_pre_image_blocks_only_the_write_it_protects(tmp_path: Path, client: DescopeClient) -> None:
    class FailsForAcme(BackupStore):
        def save_pre_image(self, tenant: Any, **kwargs: Any) -> Any:
            if tenant["id"] == "acme":
                raise StoreWriteFailed("disk full")
            return super().save_pre_image(tenant, **kwargs)

    world = World(tmp_path, client, FailsForAcme(tmp_path / "store" / "backups"))
    world.sync(yaml())
    report = world.sync(yaml(admin="changed", beta_role="changed too"))

    assert report.status == "partial"
    assert role(client, "acme", "Tenant Admin")["description"] == "Manages users"  # not written without a backup
    assert role(client, "beta", "Reader")["description"] == "changed too"
    assert report.config is not None
    [failed] = report.config.failed
    assert failed.action.label() == "role acme/Tenant Admin"
    assert "backup of acme failed, so role acme/Tenant Admin was not changed: disk full" in failed.error
    [beta_pre] = world.backups.metas(tenant_id="beta")
    held = world.backups.tenant_in(beta_pre.id, "beta").config
    assert held is not None and [r["description"] for r in held["roles"]] == ["B"]


def test_a_snapshot_holds_the_managed_kinds_of_the_managed_tenants(tmp_path: Path, client: DescopeClient) -> None:
    world = World(tmp_path, client)
    world.sync(yaml())
    client.create({"id": "plain", "name": "Plain"})
    state = world.store.load()
    meta = take_snapshot(client, world.backups, inventory=state.config_inventory)
    assert meta is not None
    by_id = {str(b.tenant["id"]): b for b in world.backups.tenants_in(meta.id)}
    assert set(by_id) == {"acme", "beta", "plain"}
    acme = by_id["acme"].config
    assert acme is not None and set(acme) == {"roles", "sso", "passwordPolicy"}
    beta = by_id["beta"].config
    assert beta is not None and set(beta) == {"roles"}  # beta manages only roles: no SSO or password calls for it
    assert by_id["plain"].config is None
    content = json.loads(meta.path.read_bytes())["content"]
    assert SECRET not in json.dumps(content) and "clientSecret" not in json.dumps(content)


def test_a_restore_of_sub_resources_is_undoable(tmp_path: Path, client: DescopeClient) -> None:
    from controller.engine.restore import Restorer, select_from

    world = World(tmp_path, client)
    world.sync(yaml())
    state = world.store.load()
    snapshot = take_snapshot(client, world.backups, inventory=state.config_inventory)
    assert snapshot is not None
    broken = {**role(client, "acme", "Tenant Admin"), "description": "broken"}
    client.update_role("Tenant Admin", {k: broken[k] for k in ("name", "tenantId", "description")})

    chosen = select_from(world.backups, ["acme"], snapshot.id)
    report = Restorer(client, world.backups).run(chosen.restored, chosen.origins, enforced=None, dry_run=False)
    assert report.status == "restored"  # the OIDC configuration matches live: no secret needed
    assert report.config is not None and not report.config.failed
    assert [a.line() for a in report.config.plan.actions] == ["~ role acme/Tenant Admin description"]
    assert role(client, "acme", "Tenant Admin")["description"] == "Manages users"
    undo = world.backups.tenant_in(report.undo_backups["acme"], "acme")
    assert undo.meta.operation == "restore" and undo.config is not None
    assert [r["description"] for r in undo.config["roles"]] == ["broken"]


PRUNE = CycleOptions(apply=True, policy=PlanPolicy(prune=True, allow_deletes=1))
ONLY_BETA = "tenants:\n  - id: beta\n    name: Beta\n"


def test_a_pruned_tenant_is_backed_up_with_its_sub_resources(tmp_path: Path, client: DescopeClient) -> None:
    world = World(tmp_path, client)
    world.sync(yaml())
    world.file.write_text(ONLY_BETA)
    report = Reconciler(LocalSource(world.file), client, world.store, backups=world.backups).run_cycle(PRUNE)
    assert report.status == "succeeded", report
    assert "acme" not in {t["id"] for t in client.load_all()}
    [pre] = world.backups.metas(tenant_id="acme")
    backup = world.backups.tenant_in(pre.id, "acme")
    assert pre.operation == "delete" and backup.config is not None
    assert [r["name"] for r in backup.config["roles"]] == ["Tenant Admin"]
    assert sorted(e["ssoId"] for e in backup.config["sso"]) == ["google", "okta"]
    assert backup.config["passwordPolicy"]["minLength"] == 12


def test_a_delete_whose_sub_resources_cannot_be_read_is_not_made(
    tmp_path: Path, client: DescopeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(tenant_id: str) -> list[dict[str, Any]]:
        raise DescopeServerError("HTTP 503 from sso/settings/all")

    world = World(tmp_path, client)
    world.sync(yaml())
    monkeypatch.setattr(client, "load_sso_all", unreadable)
    world.file.write_text(ONLY_BETA)
    report = Reconciler(LocalSource(world.file), client, world.store, backups=world.backups).run_cycle(PRUNE)
    assert report.applied is not None
    [failed] = report.applied.failed
    assert failed.action.tenant_id == "acme"
    assert (
        "backup of acme failed, so it was not changed: the roles, SSO and password policy of acme could not be read"
        in (failed.error)
    )
    assert "HTTP 503" in failed.error
    assert "acme" in {t["id"] for t in client.load_all()}
    assert world.backups.metas(tenant_id="acme") == []
