"""State store: round trip, atomic writes, corrupt files kept aside with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.adapters.state_store import ControllerState, CycleRecord, StateStore
from controller.errors import StoreCorrupt, StoreWriteFailed


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
