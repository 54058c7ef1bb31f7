"""The flapping record in state.json: it round-trips, and a file written before it existed reads as none."""

from __future__ import annotations

import json
from pathlib import Path

from controller.adapters.state_store import ControllerState, StateStore
from controller.core.flapping import Hold, Revert


def test_holds_and_corrections_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = ControllerState(
        inventory={"acme"},
        corrections={"acme": (Revert("customAttributes.plan", "enterprise", "free", 1.5),)},
        flapping={"acme": Hold("selfProvisioningDomains", ["acme.com"], [], 3, 1.0, 2.0)},
    )
    store.save(state)
    loaded = store.load()
    assert loaded.flapping == {"acme": Hold("selfProvisioningDomains", ["acme.com"], [], 3, 1.0, 2.0)}
    assert loaded.corrections == state.corrections
    assert json.loads((tmp_path / "state.json").read_text())["version"] == 2


def test_a_state_file_from_before_flapping_reads_as_nothing_held(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"version": 2, "inventory": ["acme"], "history": []}))
    state = StateStore(tmp_path).load()
    assert state.inventory == {"acme"}
    assert state.flapping == {} and state.corrections == {}
