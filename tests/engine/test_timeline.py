"""Which recorded state a restore picks: the tenant as it was at T, for every interleaving of writes,
console drift and snapshots; the history on-call chooses from; the last write and the last restore."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.backup_store import BackupStore
from controller.engine.restore import select_at, select_before_last_write
from controller.engine.timeline import cause, timeline
from controller.errors import BackupNotFound

BASE = 1_800_000_000.0
STEP = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> float:
        return self.now


def tenant(seats: int) -> dict[str, Any]:
    return {"id": "acme", "name": "ACME", "customAttributes": {"seats": seats}, "createdTime": int(BASE - 3600)}


def simulate(store: BackupStore, clock: Clock, events: tuple[str, ...]) -> list[tuple[float, int]]:
    """Play the events one STEP apart; return the true seats over time as (from time, value)."""
    seats = 500
    truth = [(0.0, seats)]
    for index, event in enumerate(events, start=1):
        clock.now = BASE + index * STEP
        if event == "write":  # the controller backs up, then writes
            store.save_pre_image(tenant(seats), operation="update", revision="r" * 40, cycle_id=f"c{index}")
            seats += 1
        elif event == "drift":  # a console edit: nothing is recorded
            seats += 1
        elif event == "snapshot":
            store.save_snapshot([tenant(seats)])
        truth.append((clock.now, seats))
    return truth


def true_value(truth: list[tuple[float, int]], at: float) -> int:
    return [value for since, value in truth if since <= at][-1]


EVENTS = ("write", "write", "drift", "snapshot", "snapshot")


@pytest.mark.parametrize("order", sorted(set(permutations(EVENTS))), ids="-".join)
def test_at_t_gives_the_state_at_t_whatever_the_order_of_backups(tmp_path: Path, order: tuple[str, ...]) -> None:
    clock = Clock()
    store = BackupStore(tmp_path / "backups", clock=clock)
    truth = simulate(store, clock, order)
    backup_times = [BASE + i * STEP for i, event in enumerate(order, start=1) if event != "drift"]
    drift_times = [BASE + i * STEP for i, event in enumerate(order, start=1) if event == "drift"]
    for at in [BASE + STEP / 2 + i * STEP for i in range(len(order) + 1)]:
        after = [t for t in backup_times if t > at]
        chosen = select_at(store, ["acme"], at)
        if not after:
            assert chosen.unchanged and not chosen.restored, f"nothing after {at}: live is the state"
            continue
        if any(at < d < after[0] for d in drift_times):
            continue  # a console edit before anything recorded it: no backup can know the state at T
        (restored,) = chosen.restored
        assert restored.fields["customAttributes"] == {"seats": true_value(truth, at)}, (order, at)


def test_the_reported_bad_case_picks_650_not_500(tmp_path: Path) -> None:
    """seats 500 → 650 at 10:00, → 5 at 10:30 (bad), snapshot at 11:00; --at 10:15 is 650."""
    clock = Clock()
    store = BackupStore(tmp_path / "backups", clock=clock)
    for at, before in ((BASE, 500), (BASE + 1800, 650)):
        clock.now = at
        store.save_pre_image(tenant(before), operation="update", revision="a" * 40, cycle_id="c")
    clock.now = BASE + 3600
    store.save_snapshot([tenant(5)])
    (restored,) = select_at(store, ["acme"], BASE + 900).restored
    assert restored.fields["customAttributes"] == {"seats": 650}
    assert "the earliest backup after" in select_at(store, ["acme"], BASE + 900).origins["acme"]
    assert select_at(store, ["acme"], BASE + 4000).unchanged, "after the snapshot: live"
    before_last = select_before_last_write(store, ["acme"], restores_only=False)
    assert before_last.restored[0].fields["customAttributes"] == {"seats": 650}
    assert select_before_last_write(store, ["acme"], restores_only=True).missing, "no restore to undo yet"


def test_a_tenant_created_after_t_did_not_exist_then(tmp_path: Path) -> None:
    clock = Clock()
    store = BackupStore(tmp_path / "backups", clock=clock)
    store.save_pre_image(tenant(1), operation="update")
    chosen = select_at(store, ["acme"], BASE - 7200)
    assert not chosen.restored and "did not exist then" in chosen.missing["acme"]
    assert "no backup holds this tenant" in select_at(store, ["ghost"], BASE).missing["ghost"]


def test_history_is_newest_first_with_what_changed_after_each_version(tmp_path: Path) -> None:
    clock = Clock()
    store = BackupStore(tmp_path / "backups", clock=clock)
    simulate(store, clock, ("write", "drift", "snapshot", "write"))
    versions = timeline([store.tenant_in(m.id, "acme") for m in store.metas(tenant_id="acme")])
    assert [v.meta.kind for v in versions] == ["pre-image", "snapshot", "pre-image"]
    assert versions[0].changed_after is None
    _newest_write, snapshot, first_write = versions
    assert [(c.field, c.before, c.after) for c in snapshot.changed_after or ()] == []
    assert [(c.field, c.before, c.after) for c in first_write.changed_after or ()] == [
        ("customAttributes.seats", 500, 502)
    ]
    assert cause(first_write.meta) == f"before a write by cycle c1 at revision {'r' * 12}"
    assert cause(snapshot.meta) == "scheduled snapshot"


def test_backup_ids_accept_a_unique_prefix(tmp_path: Path) -> None:
    clock = Clock()
    store = BackupStore(tmp_path / "backups", clock=clock)
    first = store.save_pre_image(tenant(1), operation="update")
    clock.now += 86400 * 40  # another day: the ids differ early
    second = store.save_snapshot([tenant(2)])
    assert store.resolve_id(first.id[:8]) == first.id
    assert store.tenant_in(second.id[:10], "acme").tenant["customAttributes"] == {"seats": 2}
    with pytest.raises(BackupNotFound, match="is ambiguous"):
        store.resolve_id("20")
    with pytest.raises(BackupNotFound, match="no backup id starts with"):
        store.resolve_id("1999")
    with pytest.raises(BackupNotFound, match="ids look like"):
        store.resolve_id("../etc")


MEMBER = {"id": "r1", "name": "Member", "tenantId": "acme", "createdTime": 1, "description": "a"}
OKTA = {
    "ssoId": "okta",
    "displayName": "Okta",
    "tenant": {"id": "acme", "domains": ["acme.com"], "authType": "saml"},
    "saml": {"idpMetadataUrl": "https://acme.okta.com/metadata"},
}
GOOGLE = {"ssoId": "google", "displayName": "google", "oidc": {"name": "Google", "clientId": "123"}}


def test_history_shows_role_sso_and_password_policy_changes_between_backups(tmp_path: Path) -> None:
    from controller.cli.commands.backup import render_timeline

    clock = Clock()
    store = BackupStore(tmp_path / "backups", clock=clock)
    older = {"roles": [MEMBER, {**MEMBER, "name": "Old"}], "sso": [GOOGLE], "passwordPolicy": {"minLength": 8}}
    newer = {"roles": [{**MEMBER, "description": "b"}], "sso": [GOOGLE, OKTA], "passwordPolicy": {"minLength": 12}}
    store.save_snapshot([tenant(500)], config_by_id={"acme": older})
    clock.now += STEP
    store.save_snapshot([tenant(500)], config_by_id={"acme": newer})
    clock.now += STEP
    store.save_snapshot([tenant(500)])  # sub-resources not backed up: nothing to compare, not "all deleted"
    versions = timeline([store.tenant_in(m.id, "acme") for m in store.metas(tenant_id="acme")])
    _newest, middle, oldest = versions
    assert middle.config_changed_after == ()
    assert [d.line() for d in oldest.config_changed_after] == [
        'role acme/Member: description "a" → "b"',
        "- role acme/Old",
        "+ sso acme/okta",
        "password_policy acme: minLength 8 → 12",
    ]
    text = render_timeline("acme", versions)
    assert '      then: role acme/Member: description "a" → "b"' in text
    assert "      then: + sso acme/okta" in text
    assert text.count("then: no managed field changed") == 1  # the middle version only
