"""The pieces the benchmark scenarios share: a sandbox process, a Git repo, a daemon process, test data.

Every process started here is registered in ``Processes`` and stopped by ``Processes.stop_all()``
(the runner calls it in a ``finally``), and every wait has a deadline, so a run always ends by itself
and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support import GitRepo, free_port

PROJECT_ID = "Pbench"
MANAGEMENT_KEY = "K-bench-management-key-0123456789"
WEBHOOK_SECRET = "whsec-bench-0123456789"
ROOT = Path(__file__).resolve().parents[2]

# the API paths the benchmarks count (sandbox stats keys are "METHOD path")
CREATE = "POST /v1/mgmt/tenant/create"
PATCH = "PATCH /v1/mgmt/tenant/patch"
LOAD_ALL = "GET /v1/mgmt/tenant/all"
LOAD_SETTINGS = "GET /v1/mgmt/tenant/settings"
WRITE_PATHS = (
    CREATE,
    PATCH,
    "POST /v1/mgmt/tenant/update",
    "POST /v1/mgmt/tenant/delete",
    "POST /v1/mgmt/tenant/settings",
    "POST /v1/mgmt/tenant/updateDefaultRoles",
)


class BenchTimeout(Exception):
    """A wait passed its deadline."""


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchTimeout(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any DESCOPE_* setting (so a developer's own settings never leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESCOPE_")}
    env.update(extra)
    return env


# ----- processes ------------------------------------------------------------------------------------------
class Processes:
    """Every child process the run started; ``stop_all`` ends those still alive (TERM, then KILL)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: list[str], *, env: dict[str, str], log: Path, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        handle = log.open("ab")
        try:
            proc = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd)
        finally:
            handle.close()
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], *, timeout: float = 20) -> int | None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            try:
                self.stop(proc, timeout=10)
            except Exception:
                proc.kill()


# ----- the sandbox, as its own process (its CPU must not share our GIL) -----------------------------------
class Sandbox:
    """``descope-gitops sandbox`` in a subprocess, driven through its control API."""

    def __init__(self, processes: Processes, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"sandbox-{self.port}.log"
        self.proc = processes.start(
            [
                sys.executable,
                "-m",
                "controller",
                "sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--project-id",
                PROJECT_ID,
                "--management-key",
                MANAGEMENT_KEY,
            ],
            env=clean_env(),
            log=self.log,
            cwd=ROOT,
        )
        self._http = httpx.Client(base_url=self.url, timeout=300)
        wait_until(self._up, timeout=30, interval=0.1, what="the sandbox to listen")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {self.proc.returncode}; see {self.log}")
        try:
            return self._http.get("/_sandbox/config", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def configure(self, **knobs: Any) -> dict[str, Any]:
        response = self._http.post("/_sandbox/config", json=knobs)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def seed(self, tenants: list[dict[str, Any]], *, replace: bool = True) -> None:
        body = json.dumps({"tenants": tenants, "replace": replace}).encode()
        response = self._http.post("/_sandbox/tenants", content=body, headers={"Content-Type": "application/json"})
        response.raise_for_status()

    def tenants(self) -> list[dict[str, Any]]:
        response = self._http.get("/_sandbox/tenants")
        response.raise_for_status()
        return response.json()["tenants"]  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        response = self._http.get("/_sandbox/stats")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def reset_stats(self) -> None:
        self._http.post("/_sandbox/stats/reset").raise_for_status()

    def quiet(self, seconds: float = 1.2) -> None:
        """Let the client's window (R = 50/1s) empty too, so the next scenario starts with a full budget."""
        time.sleep(seconds)

    def close(self) -> None:
        self._http.close()
        Processes.stop(self.proc)


# ----- a Git repository read over file://, and the daemon ------------------------------------------------
class Daemon:
    """``descope-gitops run`` over a git repo (file://) against the sandbox."""

    def __init__(
        self,
        processes: Processes,
        workdir: Path,
        *,
        sandbox: Sandbox,
        repo: GitRepo,
        rate_limit: float | str,
        max_concurrency: int = 4,
        interval: float = 3600.0,
    ) -> None:
        self.processes = processes
        self.workdir = workdir
        self.port = free_port()
        self.store = workdir / "store"
        self.config = workdir / "config.toml"
        self.config.write_text(
            f"""
[descope]
rate_limit = "{rate_limit}"
max_concurrency = {max_concurrency}
timeout = 10
[source]
kind = "git"
url = "{repo.url}"
ref = "main"
path = "tenants.yaml"
interval = {interval}
timeout = 30
[reconcile]
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
        self.env = clean_env(
            DESCOPE_PROJECT_ID=PROJECT_ID, DESCOPE_MANAGEMENT_KEY=MANAGEMENT_KEY, DESCOPE_BASE_URI=sandbox.url
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        self.starts += 1
        self.proc = self.processes.start(
            [sys.executable, "-m", "controller", "run", "--config", str(self.config)],
            env=self.env,
            log=self.workdir / f"daemon-{self.starts}.log",
            cwd=self.workdir,
        )
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        return Processes.stop(self.proc) if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"the daemon exited with {self.proc.returncode if self.proc else None}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def state(self) -> dict[str, Any]:
        try:
            return json.loads((self.store / "state.json").read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}

    def push(self, sha: str) -> httpx.Response:
        from controller.adapters.http_server import sign

        body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"bench-{sha[:12]}",
            "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
        }
        return httpx.post(f"{self.url}/hooks/git", content=body, headers=headers, timeout=10)

    def log_text(self) -> str:
        return "".join(
            (self.workdir / f"daemon-{i}.log").read_text(errors="replace") for i in range(1, self.starts + 1)
        )


# ----- test data -----------------------------------------------------------------------------------------
def tenant_id(i: int) -> str:
    return f"t{i:06d}"


def tenant_fields(i: int, *, plan: str | None = None) -> dict[str, Any]:
    """The managed fields of tenant ``i``, the same in the YAML and in the seeded live record."""
    return {
        "name": f"Tenant {i:06d}",
        "selfProvisioningDomains": [f"{tenant_id(i)}.example.com"],
        "customAttributes": {"plan": plan or ("pro" if i % 3 == 0 else "free"), "seats": i % 50},
    }


# the sandbox's defaults for a tenant never configured: declaring them is a no-change for a seeded tenant
SETTINGS_YAML = "    settings: {sessionTokenExpiration: 10, sessionTokenExpirationUnit: minutes}\n"


def yaml_tenant(i: int, *, plan: str | None = None, name: str | None = None, settings: bool = False) -> str:
    f = tenant_fields(i, plan=plan)
    return (
        f"  - id: {tenant_id(i)}\n"
        f"    name: {name or f['name']}\n"
        f"    selfProvisioningDomains: [{f['selfProvisioningDomains'][0]}]\n"
        f"    customAttributes: {{plan: {f['customAttributes']['plan']}, seats: {f['customAttributes']['seats']}}}\n"
    ) + (SETTINGS_YAML if settings else "")


def tenants_yaml(
    indices: Iterable[int], *, plan_for: Callable[[int], str | None] = lambda i: None, settings: bool = False
) -> bytes:
    return ("tenants:\n" + "".join(yaml_tenant(i, plan=plan_for(i), settings=settings) for i in indices)).encode()


def live_record(i: int, *, plan: str | None = None) -> dict[str, Any]:
    return {"id": tenant_id(i), **tenant_fields(i, plan=plan)}


# ----- the machine -------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    import yaml

    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "memory_total_mb": _mem_total_mb(),
    }
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        info["git_dirty"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _mem_total_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None
