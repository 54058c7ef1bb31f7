"""Attacks on a real controller: the e2e fixtures (sandbox, CLI subprocess, daemon world), plus a full disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import cli, cli_env, sandbox, world  # noqa: F401 - fixtures shared with the e2e tests

FULL_DISK_SHIM = Path(__file__).parent / "fulldisk"


def full_disk_env(store: Path, *, flag: Path | None = None, statvfs_only: bool = False) -> dict[str, str]:
    """Environment that makes the store's volume full for a ``descope-gitops`` subprocess (see fulldisk/)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("the full-disk shim finds files through /proc/self/fd (Linux)")
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(FULL_DISK_SHIM), os.environ.get("PYTHONPATH")])),
        "CHAOS_FULL_DISK_UNDER": str(store),
    }
    if flag is not None:
        env["CHAOS_FULL_DISK_FLAG"] = str(flag)
    if statvfs_only:
        env["CHAOS_FULL_DISK_STATVFS_ONLY"] = "1"
    return env
