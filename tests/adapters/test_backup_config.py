"""Backups hold a tenant's roles, SSO configurations and password policy (format 2), never a secret; format 1 reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.backup_store import BackupStore
from controller.errors import StoreCorrupt

T0 = 1763785812.123456

CONFIG: dict[str, Any] = {
    "roles": [{"name": "Tenant Admin", "tenantId": "acme", "permissionNames": ["users.manage"], "id": "r1"}],
    "sso": [
        {"ssoId": "okta", "displayName": "Okta", "saml": {"idpMetadataUrl": "https://idp.example/m"}},
        {"ssoId": "google", "oidc": {"name": "Google", "clientId": "123", "issuer": "https://accounts.google.com"}},
    ],
    "passwordPolicy": {"minLength": 12, "lowercase": True},
}


def make_store(tmp_path: Path) -> BackupStore:
    return BackupStore(tmp_path / "backups", clock=lambda: T0)


def test_pre_image_and_snapshot_keep_the_sub_resources_as_read(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    pre = store.save_pre_image({"id": "acme", "name": "ACME"}, operation="update", config=CONFIG)
    snap = store.save_snapshot(
        [{"id": "acme", "name": "ACME"}, {"id": "other", "name": "O"}], config_by_id={"acme": CONFIG, "gone": CONFIG}
    )
    assert store.tenant_in(pre.id, "acme").config == CONFIG
    by_id = {str(b.tenant["id"]): b for b in store.tenants_in(snap.id)}
    assert by_id["acme"].config == CONFIG
    assert by_id["other"].config is None  # nothing read for it: a restore leaves its sub-resources alone
    assert json.loads(snap.path.read_bytes())["content"]["config"] == {"acme": CONFIG}  # no tenant it does not hold
    assert store.verify() == []


@pytest.mark.parametrize(
    "config",
    [
        {"sso": [{"ssoId": "g", "oidc": {"clientId": "1", "clientSecret": "s3cret"}}]},
        {"sso": [{"ssoId": "g", "oidc": {"clientId": "1", "client_secret": ""}}]},
    ],
)
def test_a_secret_is_never_written_to_a_backup(tmp_path: Path, config: dict[str, Any]) -> None:
    store = make_store(tmp_path)
    with pytest.raises(ValueError, match="named like a secret") as info:
        store.save_pre_image({"id": "acme"}, operation="update", config=config)
    assert "s3cret" not in str(info.value)
    assert not (tmp_path / "backups" / "pre-images").exists() or store.metas() == []


def test_a_file_edited_to_hold_a_secret_is_unusable(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    meta = store.save_pre_image({"id": "acme"}, operation="update", config=CONFIG)
    document = json.loads(meta.path.read_bytes())
    document["content"]["config"]["acme"]["sso"][1]["oidc"]["clientSecret"] = "x"
    document["sha256"] = _sha(document["content"])
    meta.path.write_text(json.dumps(document))
    with pytest.raises(StoreCorrupt, match="named like a secret"):
        store.tenant_in(meta.id, "acme")


def _sha(content: Any) -> str:
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


# A pre-image exactly as format 1 (before sub-resources were backed up) wrote it.
OLD_ID = "20251122T043012.123456Z-0000a1b2-pre"
OLD_CONTENT = {"tenants": [{"id": "acme", "name": "ACME"}], "settings": {"acme": {"sessionTokenExpiration": 10}}}
OLD_BODY = json.dumps(OLD_CONTENT, sort_keys=True, separators=(",", ":"))
OLD_FILE = (
    f'{{"format":1,"meta":{{"id":"{OLD_ID}","kind":"pre-image","operation":"update","taken_at":{T0!r},'
    f'"tenant_ids":["acme"],"revision":"abc","cycle_id":"c-1"}},"sha256":"{_sha(OLD_CONTENT)}","content":{OLD_BODY}}}\n'
)


def test_format_1_backups_are_still_read_as_backups_without_sub_resources(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    path = store.directory / "pre-images" / "acme" / f"{OLD_ID}.json"
    path.parent.mkdir(parents=True)
    path.write_text(OLD_FILE)
    [meta] = store.metas(tenant_id="acme")
    assert meta.id == OLD_ID and meta.revision == "abc"
    found = store.tenant_at("acme")
    assert found is not None
    assert found.tenant == {"id": "acme", "name": "ACME"} and found.settings == {"sessionTokenExpiration": 10}
    assert found.config is None
    assert store.verify() == []
    newer = store.save_pre_image({"id": "acme", "name": "ACME 2"}, operation="update", config=CONFIG)
    assert json.loads(newer.path.read_bytes())["format"] == 2
    assert [m.id for m in store.metas(tenant_id="acme")] == [OLD_ID, newer.id]
