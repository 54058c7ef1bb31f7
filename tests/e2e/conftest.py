"""End-to-end fixtures: a real sandbox on loopback and the real CLI run as a subprocess (controller.testing)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller import testing
from controller.testing import Daemon as DaemonProcess  # the name the e2e and chaos tests use
from tests.support import GitRepo, free_port

PROJECT_ID = "Pe2e"
MANAGEMENT_KEY = "K-e2e-very-secret-management-key"


class Sandbox:
    """The sandbox as the tests see it: ``controller.testing``'s handle, tenants by id, console-side edits."""

    def __init__(self, handle: testing.Sandbox) -> None:
        self.handle = handle
        self.url = handle.url

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A console-side change: the real API with the real key, as a human would make it."""
        return self.handle.api(method, path, **kwargs)

    def settings(self, tenant_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.api("GET", "/v1/mgmt/tenant/settings", params={"id": tenant_id}).json()
        return answer

    def edit_settings(self, tenant_id: str, **changes: Any) -> None:
        """A console edit of settings: the console saves every setting (Descope's POST overwrites)."""
        body = {**self.settings(tenant_id), **changes, "tenantId": tenant_id}
        self.api("POST", "/v1/mgmt/tenant/settings", json=body).raise_for_status()

    def tenants(self) -> dict[str, dict[str, Any]]:
        return {t["id"]: t for t in self.handle.tenants()}

    def stats(self) -> dict[str, Any]:
        return self.handle.stats()

    def reset_stats(self) -> None:
        self.handle.reset_stats()

    def configure(self, **knobs: Any) -> None:
        self.handle.configure(**knobs)

    def faults(self, *rules: dict[str, Any]) -> None:
        self.handle.faults(*rules)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with testing.run_sandbox(project_id=PROJECT_ID, management_key=MANAGEMENT_KEY) as handle:
        yield Sandbox(handle)


@pytest.fixture
def cli_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return testing.clean_env(
        DESCOPE_PROJECT_ID=PROJECT_ID,
        DESCOPE_MANAGEMENT_KEY=MANAGEMENT_KEY,
        DESCOPE_BASE_URI=sandbox.url,
        DESCOPE_GITOPS_STORE__DIR=str(tmp_path / "store"),
        DESCOPE_GITOPS_DESCOPE__RATE_LIMIT="200",
    )


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


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test with ``what`` on timeout."""
    return testing.wait_until(predicate, timeout=timeout, interval=interval, what=what or str(predicate))


WEBHOOK_SECRET = "whsec-e2e-0123456789"
BASE = "tenants:\n  - id: acme\n    name: ACME Corp\n    customAttributes: {plan: free}\n"


class World:
    def __init__(self, tmp_path: Path, sandbox: Sandbox, cli_env: dict[str, str]) -> None:
        self.tmp_path, self.sandbox, self.env = tmp_path, sandbox, cli_env
        self.repo = GitRepo(tmp_path / "repo")
        self.port = free_port()
        self.store = tmp_path / "store"
        self.daemons: list[DaemonProcess] = []

    def config(
        self,
        *,
        interval: float = 1.0,
        drift_policy: str = "correct",
        max_concurrency: int = 4,
        rate_limit: int | str = 200,
    ) -> Path:
        return testing.write_config(
            self.tmp_path / "config.toml",
            {
                "descope": {"rate_limit": rate_limit, "max_concurrency": max_concurrency, "timeout": 10},
                "source": {
                    "kind": "git",
                    "url": self.repo.url,
                    "ref": "main",
                    "path": "tenants.yaml",
                    "interval": interval,
                    "timeout": 20,
                },
                "reconcile": {"drift_policy": drift_policy, "shutdown_timeout": 15},
                "store": {"dir": str(self.store)},
                "http": {"listen": f"127.0.0.1:{self.port}", "webhook_secret": WEBHOOK_SECRET},
                "log": {"level": "INFO", "format": "text"},
            },
        )

    def daemon(self, **config: Any) -> DaemonProcess:
        env = {k: v for k, v in self.env.items() if k != "DESCOPE_GITOPS_STORE__DIR"}
        if "rate_limit" in config:  # the environment would win over the config file
            env.pop("DESCOPE_GITOPS_DESCOPE__RATE_LIMIT", None)
        log = self.tmp_path / f"daemon-{len(self.daemons)}.log"
        proc = DaemonProcess(
            self.config(**config), env, log, url=self.url, store=self.store, webhook_secret=WEBHOOK_SECRET
        )
        self.daemons.append(proc)
        return proc.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        return testing.is_ready(self.url)

    def state(self) -> dict[str, Any]:
        """The store's state.json; ``{}`` until the daemon's first cycle has written it (a log line can come first)."""
        path = self.store / "state.json"
        if not path.exists():
            return {}
        return json.loads(path.read_text())  # type: ignore[no-any-return]

    def push(self, sha: str, *, secret: str = WEBHOOK_SECRET, delivery: str | None = None) -> httpx.Response:
        """A GitHub push delivery; each one has a fresh delivery id unless ``delivery`` replays one."""
        return testing.push(self.url, sha, secret=secret, delivery=delivery or str(uuid.uuid4()))


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox, cli_env: dict[str, str]) -> Iterator[World]:
    w = World(tmp_path, sandbox, cli_env)
    yield w
    for proc in w.daemons:
        proc.stop()


def live(sandbox: Sandbox, tenant_id: str, key: str) -> Callable[[], Any]:
    return lambda: sandbox.tenants().get(tenant_id, {}).get(key)
