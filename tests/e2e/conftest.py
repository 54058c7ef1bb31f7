"""End-to-end fixtures: a real sandbox on loopback and the real CLI run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.sandbox import SandboxServer

PROJECT_ID = "Pe2e"
MANAGEMENT_KEY = "K-e2e-very-secret-management-key"


@dataclass
class Sandbox:
    server: SandboxServer
    url: str

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A console-side change: the real API with the real key, as a human would make it."""
        headers = {"Authorization": f"Bearer {PROJECT_ID}:{MANAGEMENT_KEY}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)

    def tenants(self) -> dict[str, dict[str, Any]]:
        return {t["id"]: t for t in self.server.tenants()}

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_sandbox/stats", timeout=10).json()  # type: ignore[no-any-return]

    def reset_stats(self) -> None:
        httpx.post(f"{self.url}/_sandbox/stats/reset", timeout=10).raise_for_status()

    def configure(self, **knobs: Any) -> None:
        httpx.post(f"{self.url}/_sandbox/config", json=knobs, timeout=10).raise_for_status()

    def faults(self, *rules: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_sandbox/faults", json={"rules": list(rules)}, timeout=10).raise_for_status()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with SandboxServer(project_id=PROJECT_ID, management_key=MANAGEMENT_KEY) as server:
        yield Sandbox(server, server.url)


@pytest.fixture
def cli_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESCOPE_", "DESCOPE_GITOPS_"))}
    env.update(
        DESCOPE_PROJECT_ID=PROJECT_ID,
        DESCOPE_MANAGEMENT_KEY=MANAGEMENT_KEY,
        DESCOPE_BASE_URI=sandbox.url,
        DESCOPE_GITOPS_STORE__DIR=str(tmp_path / "store"),
        DESCOPE_GITOPS_DESCOPE__RATE_LIMIT="200",
    )
    return env


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Run:
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "controller", *args],
            env={**cli_env, **(env or {})},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        # a secret must never reach any output, whatever the command did
        assert MANAGEMENT_KEY not in result.stdout + result.stderr
        return result

    return run
