"""End-to-end fixtures: a real sandbox on loopback and the real CLI run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.adapters.http_server import sign
from controller.sandbox import SandboxServer
from tests.support import GitRepo, free_port

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

    def settings(self, tenant_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.api("GET", "/v1/mgmt/tenant/settings", params={"id": tenant_id}).json()
        return answer

    def edit_settings(self, tenant_id: str, **changes: Any) -> None:
        """A console edit of settings: the console saves every setting (Descope's POST overwrites)."""
        body = {**self.settings(tenant_id), **changes, "tenantId": tenant_id}
        self.api("POST", "/v1/mgmt/tenant/settings", json=body).raise_for_status()

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


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test with ``what`` on timeout."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class DaemonProcess:
    """``descope-gitops run`` as a real process, with its log kept for the assertion messages."""

    def __init__(self, config: Path, env: dict[str, str], log: Path, *, cwd: Path | None = None) -> None:
        self.config, self.env, self.log_path, self.cwd = config, env, log, cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        handle = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller", "run", "--config", str(self.config)],
            env=self.env,
            cwd=self.cwd,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


WEBHOOK_SECRET = "whsec-e2e-0123456789"
BASE = "tenants:\n  - id: acme\n    name: ACME Corp\n    customAttributes: {plan: free}\n"


class World:
    def __init__(self, tmp_path: Path, sandbox: Sandbox, cli_env: dict[str, str]) -> None:
        self.tmp_path, self.sandbox, self.env = tmp_path, sandbox, cli_env
        self.repo = GitRepo(tmp_path / "repo")
        self.port = free_port()
        self.store = tmp_path / "store"
        self.daemons: list[DaemonProcess] = []

    def config(self, *, interval: float = 1.0, drift_policy: str = "correct", max_concurrency: int = 4) -> Path:
        path = self.tmp_path / "config.toml"
        path.write_text(
            f"""
[descope]
rate_limit = 200
max_concurrency = {max_concurrency}
timeout = 10
[source]
kind = "git"
url = "{self.repo.url}"
ref = "main"
path = "tenants.yaml"
interval = {interval}
timeout = 20
[reconcile]
drift_policy = "{drift_policy}"
shutdown_timeout = 15
[store]
dir = "{self.store}"
[http]
listen = "127.0.0.1:{self.port}"
webhook_secret = "{WEBHOOK_SECRET}"
[log]
level = "INFO"
format = "text"
"""
        )
        return path

    def daemon(self, **config: Any) -> DaemonProcess:
        env = {k: v for k, v in self.env.items() if k != "DESCOPE_GITOPS_STORE__DIR"}
        proc = DaemonProcess(self.config(**config), env, self.tmp_path / f"daemon-{len(self.daemons)}.log")
        self.daemons.append(proc)
        return proc.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def state(self) -> dict[str, Any]:
        return json.loads((self.store / "state.json").read_text())  # type: ignore[no-any-return]

    def push(self, sha: str, *, secret: str = WEBHOOK_SECRET, delivery: str | None = None) -> httpx.Response:
        """A GitHub push delivery; each one has a fresh delivery id unless ``delivery`` replays one."""
        body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(secret, body),
        }
        return httpx.post(f"{self.url}/hooks/git", content=body, headers=headers, timeout=5)


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox, cli_env: dict[str, str]) -> Iterator[World]:
    w = World(tmp_path, sandbox, cli_env)
    yield w
    for proc in w.daemons:
        proc.stop()


def live(sandbox: Sandbox, tenant_id: str, key: str) -> Callable[[], Any]:
    return lambda: sandbox.tenants().get(tenant_id, {}).get(key)
