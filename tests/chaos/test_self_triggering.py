"""Attack: the store (and the log) live in the folder the local source watches. The daemon must not
trigger itself: a cycle writes its checkpoint, and a watcher that saw that would start the next cycle,
forever (135 to 180 `GET /tenant/all` in 20 s were seen against Descope's 100 per 60 s)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import BASE, DaemonProcess, World, live, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

LIST_ALL = "GET /v1/mgmt/tenant/all"


def test_the_store_beside_the_tenants_file_does_not_start_cycle_after_cycle(world: World) -> None:
    folder = world.tmp_path / "ops"
    folder.mkdir()
    tenants = folder / "tenants.yaml"
    tenants.write_text(BASE)
    (folder / "notes.txt").write_text("not a tenants file")
    config = folder / "config.toml"
    config.write_text(
        '[source]\nkind = "local"\npath = "tenants.yaml"\ninterval = 600\n'
        '[store]\ndir = "state"\n'  # relative: inside the watched folder, as with the default
        f'[http]\nlisten = "127.0.0.1:{world.port}"\n[log]\nlevel = "INFO"\n'
    )
    env = {k: v for k, v in world.env.items() if k != "DESCOPE_GITOPS_STORE__DIR"}
    daemon = DaemonProcess(config, env, folder / "daemon.log", cwd=folder).start()
    world.daemons.append(daemon)
    wait_until(lambda: "acme" in world.sandbox.tenants(), what="first apply\n" + daemon.log)
    wait_until(world.ready, what="ready")
    assert (folder / "state" / "state.json").is_file(), "the store is inside the watched folder"

    world.sandbox.reset_stats()
    time.sleep(4)  # the store and the log were written: a self-triggering watcher would cycle again and again
    (folder / "notes.txt").write_text("edited, still not a tenants file")
    time.sleep(2)
    idle = world.sandbox.stats()["requests"].get(LIST_ALL, 0)
    assert idle == 0, f"{idle} cycles with nothing changed and a 600 s interval\n{daemon.log}"

    for value in ("pro", "team", "enterprise"):  # a burst of saves
        tenants.write_text(BASE.replace("free", value))
    wait_until(
        lambda: live(world.sandbox, "acme", "customAttributes")() == {"plan": "enterprise"},
        timeout=15,
        what="the last save applied\n" + daemon.log,
    )
    time.sleep(3)
    cycles = world.sandbox.stats()["requests"].get(LIST_ALL, 0)
    assert 1 <= cycles <= 2, f"a burst of saves ran {cycles} cycles (at most one extra)\n{daemon.log}"
