"""State store: round trip, atomic writes, corrupt files kept aside with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.adapters.state_store import ControllerState, CycleRecord, StateStore
from controller.errors import StoreCorrupt, StoreSymlink, StoreWriteFailed


def test_fresh_store_reads_empty_state_without_creating_anything(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    assert store.load() == ControllerState()
    assert not (tmp_path / "state").exists()


def test_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = ControllerState(
        inventory={"b", "a"},
        last_applied_revision="abc",
        last_applied_count=2,
        last_cycle=CycleRecord("c1", "abc", 1.5, 2.5, "succeeded", "digest", 3, 0),
        applied_settings={"a": {"enabled": True}},
    )
    store.save(state)
    assert store.load() == state
    assert json.loads((tmp_path / "state.json").read_text())["inventory"] == ["a", "b"]
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp files left behind


def test_each_save_writes_the_inventory_as_it_is_then(tmp_path: Path) -> None:
    """The same set, changed between two saves by the same store, is written as changed (and sorted)."""
    store = StateStore(tmp_path)
    state = ControllerState(inventory={"b", "a"})
    store.save(state)
    store.save(state)
    assert json.loads((tmp_path / "state.json").read_bytes())["inventory"] == ["a", "b"]
    state.inventory.add("c")
    state.inventory.discard("a")
    store.save(state)
    assert json.loads((tmp_path / "state.json").read_bytes())["inventory"] == ["b", "c"]
    assert StateStore(tmp_path).load().inventory == {"b", "c"}
    store.save(ControllerState())
    assert store.load().inventory == set()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "Expecting property name"),
        (b'{"version": 99}', "unknown format version 99"),
        (b'{"version": 1, "inventory": "x"}', "inventory is not a list"),
        (b"[]", "top level is not an object"),
    ],
)
def test_corrupt_file_is_kept_aside_and_reported(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "state.json").write_bytes(content)
    with pytest.raises(StoreCorrupt) as info:
        StateStore(tmp_path).load()
    assert reason in str(info.value)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes() == content
    assert str(kept[0]) in str(info.value)


def test_write_failure_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreWriteFailed) as info:
        StateStore(blocker / "sub").save(ControllerState())  # parent is a file: cannot mkdir
    assert "state.json" in str(info.value)
    assert info.value.retryable


def test_a_version_1_file_is_migrated_not_discarded(tmp_path: Path) -> None:
    v1 = {
        "version": 1,
        "inventory": ["a", "b"],
        "last_applied_revision": "sha256:abc",
        "last_applied_count": 2,
        "last_cycle": {
            "cycle_id": "c1",
            "revision": "sha256:abc",
            "started": 1.0,
            "finished": 2.0,
            "status": "succeeded",
        },
        "applied_settings": {"a": {"enabled": True}},
    }
    (tmp_path / "state.json").write_text(json.dumps(v1))
    state = StateStore(tmp_path).load()
    assert state.inventory == {"a", "b"}
    assert state.last_applied_count == 2
    assert state.applied_settings == {"a": {"enabled": True}}
    assert state.last_cycle is not None and state.last_cycle.status == "succeeded"
    assert [h.cycle_id for h in state.history] == ["c1"]
    StateStore(tmp_path).save(state)
    assert json.loads((tmp_path / "state.json").read_text())["version"] == 2


def test_journal_survives_a_torn_last_line_and_reports_progress(tmp_path: Path) -> None:
    from controller.adapters.journal import Journal

    journal = Journal(tmp_path)
    actions = [{"kind": "create", "tenant_id": t} for t in ("a", "b", "c")]
    journal.begin(cycle_id="c", revision="r", plan_digest="d", started=1.0, actions=actions)
    journal.record("create", "a")
    journal.record("create", "b", error="Descope tenant.create HTTP 400: bad")
    journal.close()
    with (tmp_path / "journal.jsonl").open("ab") as handle:
        handle.write(b'{"kind": "cre')
    found = Journal(tmp_path).read_open()
    assert found is not None
    assert found.progress() == {
        "cycle_id": "c",
        "revision": "r",
        "total": 3,
        "done": 1,
        "failed": 1,
        "remaining": 1,
        "errors": {"create b": "Descope tenant.create HTTP 400: bad"},
    }
    Journal(tmp_path).finish()
    assert Journal(tmp_path).read_open() is None


def test_a_journal_with_a_broken_header_is_kept_aside(tmp_path: Path) -> None:
    from controller.adapters.journal import Journal

    (tmp_path / "journal.jsonl").write_text("garbage\n")
    with pytest.raises(StoreCorrupt, match="unreadable header"):
        Journal(tmp_path).read_open()
    assert [p.name.startswith("journal.jsonl.corrupt-") for p in tmp_path.iterdir()] == [True]


def test_a_second_broken_journal_does_not_overwrite_the_first_one_kept_aside(tmp_path: Path) -> None:
    from controller.adapters.journal import Journal

    # in a container the daemon is pid 1 after every restart: the kept-aside name must not repeat
    for content in ("first garbage\n", "second garbage\n"):
        (tmp_path / "journal.jsonl").write_text(content)
        with pytest.raises(StoreCorrupt, match="unreadable header"):
            Journal(tmp_path).read_open()
    kept = sorted(p.read_text() for p in tmp_path.glob("journal.jsonl.corrupt-*"))
    assert kept == ["first garbage\n", "second garbage\n"]


def test_an_unreadable_suspend_flag_keeps_the_controller_suspended_and_stays_put(tmp_path: Path) -> None:
    (tmp_path / "suspend.json").write_text("{broken")
    store = StateStore(tmp_path)
    for _ in range(2):  # every tick sees the same refusal: the file is not moved away
        with pytest.raises(StoreCorrupt, match="stays suspended"):
            store.suspend_flag()
    assert (tmp_path / "suspend.json").read_text() == "{broken"


def test_readers_do_not_move_a_corrupt_state_file(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{broken")
    with pytest.raises(StoreCorrupt):
        StateStore(tmp_path).load(keep_aside=False)
    assert (tmp_path / "state.json").exists()


# -- symlinks: never read, written or moved through ---------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside.json"
    target.write_text('{"version": 2, "inventory": ["someone-elses"]}')
    return target


def test_a_symlinked_state_file_is_refused_not_read_and_not_moved(tmp_path: Path, outside: Path) -> None:
    store = StateStore(tmp_path / "store")
    store.directory.mkdir()
    store.path.symlink_to(outside)

    for attempt in (store.load, lambda: store.save(ControllerState())):
        with pytest.raises(StoreSymlink, match=f"^{store.path} is a symlink \\(to {outside}\\)"):
            attempt()
    assert store.path.is_symlink() and outside.read_text() == '{"version": 2, "inventory": ["someone-elses"]}'
    assert sorted(p.name for p in store.directory.iterdir()) == ["state.json"]  # nothing kept aside, no temp


def test_a_symlinked_suspend_flag_keeps_reading_as_unusable(tmp_path: Path, outside: Path) -> None:
    from controller.adapters.state_store import SuspendFlag

    store = StateStore(tmp_path)
    store.suspend_path.symlink_to(outside)
    with pytest.raises(StoreSymlink):
        store.suspend_flag()  # the daemon reads any StoreError here as "suspended"
    with pytest.raises(StoreSymlink):
        store.set_suspend(SuspendFlag(True))
    assert outside.read_text().startswith('{"version": 2')


def test_a_symlinked_journal_is_never_appended_through(tmp_path: Path, outside: Path) -> None:
    from controller.adapters.journal import Journal

    journal = Journal(tmp_path)
    journal.path.symlink_to(outside)
    before = outside.read_text()

    with pytest.raises(StoreSymlink):
        journal.read_open()
    with pytest.raises(StoreSymlink):
        journal.begin(cycle_id="c", revision="r", plan_digest="d", started=1.0, actions=[])
    assert outside.read_text() == before
