"""Suite-wide test rules: tests that need an outside tool skip without it, except in CI where they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ["pytester"]  # tests/test_outside_tools.py runs pytest on a scratch suite

PROMTOOL_HINT = (
    "promtool not on PATH: install Debian's `prometheus` package "
    "(apt-get install --no-install-recommends prometheus) or put a Prometheus release's promtool on PATH"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("promtool") is None or shutil.which("promtool") is not None:
        return
    if in_ci():
        pytest.fail(f"{PROMTOOL_HINT}; CI=true requires it (.ci/run installs it)", pytrace=False)
    pytest.skip(PROMTOOL_HINT)


@pytest.fixture
def yaml_rs_texts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts the loader's fast path gives yaml-rs: which tenant items a load parsed again."""
    import yaml_rs

    texts: list[str] = []
    real = yaml_rs.loads

    def spy(text: str, **kwargs: Any) -> Any:
        texts.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(yaml_rs, "loads", spy)
    yield texts
