"""Suite-wide test rules: tests that need an outside tool skip without it, except in CI where they fail."""

from __future__ import annotations

import os
import shutil

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
