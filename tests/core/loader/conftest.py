"""A test that takes ``backend`` runs once per YAML parser: libyaml's when PyYAML has it, and the pure-Python one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from controller.core import yaml_events

BACKENDS = ["libyaml", "python"] if yaml.__with_libyaml__ else ["python"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test once per YAML parser the loader can use."""
    if request.param == "python":
        monkeypatch.setattr(yaml_events, "_LOADER", yaml.SafeLoader)
    yield request.param
