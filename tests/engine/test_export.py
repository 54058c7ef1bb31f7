"""The export's reading half against a fake client: selection with ancestors, settings read or named unreadable."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from controller.engine.export import ExportRequest, export_project, read_live
from controller.errors import DescopeAuthError, DescopeServerError, UsageError

TENANTS = [
    {"id": "root", "name": "Root"},
    {"id": "mid", "name": "Mid", "parent": "root"},
    {"id": "leaf", "name": "Leaf", "parent": "mid"},
    {"id": "other", "name": "Other"},
]


class FakeClient:
    project_id = "Pfake"

    def __init__(self, failing: dict[str, Exception] | None = None) -> None:
        self.failing = failing or {}
        self.settings_reads: list[str] = []
        self.lock = threading.Lock()

    def load_all(self) -> list[dict[str, Any]]:
        return [dict(t) for t in TENANTS]

    def load_settings(self, tenant_id: str) -> dict[str, Any]:
        with self.lock:
            self.settings_reads.append(tenant_id)
        if tenant_id in self.failing:
            raise self.failing[tenant_id]
        return {"tenantId": tenant_id, "enabled": tenant_id == "leaf"}

    def load_roles(self, tenant_ids: Any, *, include_project_roles: bool = False) -> list[dict[str, Any]]:
        return []

    def load_sso_all(self, tenant_id: str) -> list[dict[str, Any]]:
        return []

    def load_password_settings(self, tenant_id: str) -> dict[str, Any]:
        return {"minLength": 8}


def test_a_selected_tenant_brings_its_ancestors() -> None:
    live = read_live(FakeClient(), tenant_ids=["leaf"], include_settings=False)
    assert [t["id"] for t in live.tenants] == ["leaf", "mid", "root"]
    assert live.added_ancestors == ("mid", "root")
    assert live.settings_by_id is None


def test_an_unknown_tenant_is_refused() -> None:
    with pytest.raises(UsageError, match="no tenant with id 'nope'"):
        read_live(FakeClient(), tenant_ids=["nope"])


def test_settings_are_read_once_per_tenant_with_progress() -> None:
    client = FakeClient()
    seen: list[tuple[int, int]] = []
    live = read_live(client, max_concurrency=3, on_progress=lambda done, total: seen.append((done, total)))
    assert sorted(client.settings_reads) == sorted(t["id"] for t in TENANTS)
    assert live.settings_by_id is not None and set(live.settings_by_id) == {t["id"] for t in TENANTS}
    assert seen[0] == (0, 4) and max(seen) == (4, 4)


def test_unreadable_settings_are_named_and_the_export_is_partial() -> None:
    client = FakeClient({"mid": DescopeServerError("HTTP 503 from Descope")})
    outcome = export_project(client, ExportRequest())
    assert outcome.live.unreadable == {"mid": "Descope: HTTP 503 from Descope"}
    assert outcome.export.partial
    text = outcome.export.files["tenants.yaml"]
    assert "# not exported: settings: not read from Descope: Descope: HTTP 503 from Descope" in text
    assert "      enabled: true" in text  # leaf's settings were read


def test_a_refused_key_stops_the_export() -> None:
    with pytest.raises(DescopeAuthError):
        read_live(FakeClient({"other": DescopeAuthError("HTTP 401")}))
