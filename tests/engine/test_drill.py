"""Restore drills through the real store, restore engine and client, into an in-process sandbox."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.adapters.backup_store import BackupStore
from controller.adapters.descope import DescopeClient
from controller.cli import main
from controller.engine.drill import PLACEHOLDER_SECRET, DrillReport, ScratchNotEmpty, run_drill
from controller.errors import DescopeError
from controller.sandbox import SandboxServer

KEY = "drill-test-key"
HOLDING = {"id": "holding", "name": "Holding Co", "successors": ["acme"], "createdTime": 1}
ACME = {
    "id": "acme",
    "name": "ACME Corp",
    "parent": "holding",
    "selfProvisioningDomains": ["acme.com"],
    "customAttributes": {"plan": "enterprise", "seats": 50},
    "enforceSSO": True,
    "defaultRoles": ["viewer"],
    "createdTime": 2,
}
SETTINGS = {"acme": {"sessionTokenExpiration": 10, "sessionTokenExpirationUnit": "minutes", "enabled": True}}


@pytest.fixture
def scratch() -> Iterator[DescopeClient]:
    with SandboxServer(project_id="Pscratch", management_key=KEY) as sandbox, httpx.Client(timeout=10) as http:
        yield DescopeClient(http, project_id="Pscratch", management_key=KEY, base_url=sandbox.url)


def drill(tmp_path: Path, store: BackupStore, client: DescopeClient) -> DrillReport:
    return run_drill(store, client, BackupStore(tmp_path / "scratch-backups"))


def by_id(report: DrillReport) -> dict[str, Any]:
    return {o.tenant_id: o for o in report.outcomes}


def test_a_child_listed_before_its_parent_round_trips_with_every_field(tmp_path: Path, scratch: DescopeClient) -> None:
    store = BackupStore(tmp_path / "backups")
    store.save_snapshot([ACME, HOLDING], settings_by_id=SETTINGS)  # child first: the drill must reorder
    report = drill(tmp_path, store, scratch)
    assert report.passed, report
    assert sorted(by_id(report)) == ["acme", "holding"]
    assert scratch.load("acme")["parent"] == "holding"
    assert scratch.load_settings("acme")["sessionTokenExpiration"] == 10


def test_the_newest_snapshot_is_drilled_and_a_field_the_restore_cannot_set_is_named(
    tmp_path: Path, scratch: DescopeClient
) -> None:
    clock = iter([1000.0, 2000.0])
    store = BackupStore(tmp_path / "backups", clock=lambda: next(clock))
    store.save_snapshot([HOLDING])
    store.save_snapshot([HOLDING, {**ACME, "parent": "", "futureField": "on"}])
    report = drill(tmp_path, store, scratch)
    assert not report.passed
    assert report.snapshot is not None and report.snapshot.taken_at == 2000.0
    (failed,) = report.failed
    assert failed.tenant_id == "acme"
    assert [(d.field, d.recorded, d.settable) for d in failed.differences] == [("futureField", "on", False)]


def test_a_tenant_the_scratch_project_refuses_is_reported_not_restored(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "backups")
    store.save_snapshot([HOLDING, ACME], settings_by_id=SETTINGS)
    # the project no longer defines "seats": a real restore would be refused the same way
    attributes = [{"name": "plan", "type": "string"}]
    with (
        SandboxServer(project_id="Pscratch", management_key=KEY, attributes=attributes) as sandbox,
        httpx.Client(timeout=10) as http,
    ):
        client = DescopeClient(http, project_id="Pscratch", management_key=KEY, base_url=sandbox.url, max_retries=0)
        report = drill(tmp_path, store, client)
    assert not report.passed
    assert by_id(report)["holding"].ok
    assert "seats" in by_id(report)["acme"].error


def test_no_snapshot_and_an_unreadable_snapshot_file_fail_the_drill(tmp_path: Path, scratch: DescopeClient) -> None:
    store = BackupStore(tmp_path / "backups")
    empty = drill(tmp_path, store, scratch)
    assert not empty.passed and "no readable snapshot" in empty.problems[0]

    store.save_snapshot([HOLDING])
    newest = store.save_snapshot([HOLDING, {**ACME, "parent": ""}])
    newest.path.write_text(newest.path.read_text().replace('"format":2', '"format":9'))
    report = drill(tmp_path, store, scratch)
    assert not report.passed, "the older snapshot may be fine, but the newest cannot be read"
    assert any(str(newest.path) in problem and "unknown format version" in problem for problem in report.problems)


def test_a_target_that_holds_tenants_is_refused_before_anything_is_written(
    tmp_path: Path, scratch: DescopeClient
) -> None:
    store = BackupStore(tmp_path / "backups")
    store.save_snapshot([{**HOLDING, "name": "Holding from the snapshot"}])
    scratch.create({"id": "holding", "name": "Someone's real tenant"})
    with pytest.raises(ScratchNotEmpty):
        drill(tmp_path, store, scratch)
    assert scratch.load("holding")["name"] == "Someone's real tenant"


def test_the_command_names_tenant_and_field_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("DESCOPE_PROJECT_ID", "DESCOPE_MANAGEMENT_KEY", "DESCOPE_BASE_URI", "DESCOPE_GITOPS_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DESCOPE_GITOPS_STORE__DIR", str(tmp_path / "store"))
    store = BackupStore(tmp_path / "store" / "backups")
    store.save_snapshot([HOLDING, {**ACME, "futureField": "on"}], settings_by_id=SETTINGS)

    assert main(["backup", "verify", "--restore-drill"]) == 1
    out = capsys.readouterr().out
    assert "holding" not in out, "a tenant that round-tripped is only counted"
    assert "acme: 1 field(s) differ after the restore" in out
    assert 'futureField: snapshot "on", restored null  (the restore cannot set this field)' in out
    assert "restore drill FAILED: 1 of 2 tenants" in out and "(the other 1 did, every field equal)" in out


# sub-resources as Descope's loads return them (what a snapshot holds): the example tenant
CONFIG = {
    "acme": {
        "roles": [
            {"name": "Tenant Admin", "tenantId": "acme", "description": "Manages ACME's users"},
            {"name": "Member", "tenantId": "acme", "description": "a"},
        ],
        "sso": [
            {
                "ssoId": "okta",
                "displayName": "Okta",
                "tenant": {"id": "acme", "domains": ["acme.com"]},
                "saml": {
                    "idpMetadataUrl": "https://acme.okta.com/app/x/sso/saml/metadata",
                    "groupsMapping": [{"role": {"name": "Tenant Admin"}, "groups": ["acme-admins"]}],
                },
            },
            {
                "ssoId": "google",
                "displayName": "google",
                "oidc": {
                    "name": "Google",
                    "clientId": "123.apps.googleusercontent.com",
                    "issuer": "https://accounts.google.com",
                },
            },
        ],
        "passwordPolicy": {"minLength": 12, "lowercase": True, "number": True},
    }
}


class Scratch:
    """The scratch client, with what it sends recorded and a write that a broken project would lose or refuse."""

    def __init__(self, client: DescopeClient, *, lose: str = "", refuse_role: str = "") -> None:
        self.client, self.lose, self.refuse_role = client, lose, refuse_role
        self.oidc_secrets: list[object] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def configure_oidc(self, tenant_id: str, settings: Mapping[str, Any], **kwargs: Any) -> None:
        self.oidc_secrets.append(settings.get("clientSecret"))
        self.client.configure_oidc(tenant_id, settings, **kwargs)

    def update_password_settings(self, tenant_id: str, settings: Mapping[str, Any]) -> None:
        self.client.update_password_settings(tenant_id, {k: v for k, v in settings.items() if k != self.lose})

    def create_role(self, role: Mapping[str, Any]) -> None:
        if role.get("name") == self.refuse_role:
            raise DescopeError("the scratch project refused the role")
        self.client.create_role(role)


def test_roles_sso_and_password_policy_are_restored_with_a_placeholder_secret_and_compared(
    tmp_path: Path, scratch: DescopeClient
) -> None:
    store = BackupStore(tmp_path / "backups")
    store.save_snapshot([ACME, HOLDING], settings_by_id=SETTINGS, config_by_id=CONFIG)
    target = Scratch(scratch)
    report = run_drill(store, target, BackupStore(tmp_path / "scratch-backups"))
    assert report.passed, report
    assert report.compared() == {"roles": 2, "sso": 2, "passwordPolicy": 1}
    assert target.oidc_secrets == [PLACEHOLDER_SECRET], "the OIDC configuration is written with the placeholder"
    assert {r["name"] for r in scratch.load_roles(["acme"]) if r.get("tenantId") == "acme"} == {
        "Tenant Admin",
        "Member",
    }
    assert {s["ssoId"] for s in scratch.load_sso_all("acme")} == {"okta", "google"}


@pytest.mark.parametrize(
    ("target", "failed_lines"),
    [
        pytest.param(
            {"lose": "number"}, ["password_policy acme: number true → false"], id="a key the project does not keep"
        ),
        pytest.param(
            {"refuse_role": "Member"},
            ["- role acme/Member", "NOT RESTORED: role acme/Member: Descope: the scratch project refused the role"],
            id="a role the project refuses",
        ),
    ],
)
def test_a_sub_resource_that_does_not_round_trip_fails_the_drill_named(
    tmp_path: Path, scratch: DescopeClient, target: dict[str, str], failed_lines: list[str]
) -> None:
    store = BackupStore(tmp_path / "backups")
    store.save_snapshot([ACME, HOLDING], settings_by_id=SETTINGS, config_by_id=CONFIG)
    report = run_drill(store, Scratch(scratch, **target), BackupStore(tmp_path / "s"))
    assert not report.passed
    (failed,) = report.failed
    assert failed.tenant_id == "acme" and not failed.differences, "the tenant record itself round-tripped"
    lines = [d.line() for d in failed.sub_differences] + [f"NOT RESTORED: {e}" for e in failed.sub_errors]
    assert lines == failed_lines


def test_the_command_prints_a_sub_resource_difference_with_tenant_kind_key_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli.commands.backup import _print_drill
    from controller.core.config_roundtrip import SubDifference
    from controller.engine.drill import TenantOutcome

    meta = BackupStore(tmp_path / "backups").save_snapshot([ACME])
    outcome = TenantOutcome(
        "acme",
        sub_differences=(
            SubDifference("role", "acme", "Member", "description", "a", None),
            SubDifference("sso", "acme", "okta", before={"ssoId": "okta"}),
        ),
    )
    _print_drill(DrillReport(meta, [outcome]))
    out = capsys.readouterr().out
    assert "acme: roles, SSO or password policy differ after the restore" in out
    assert '    role acme/Member description: snapshot "a", restored null' in out
    assert "    sso acme/okta: in the snapshot, not restored" in out
    assert "restore drill FAILED: 1 of 1 tenants" in out
