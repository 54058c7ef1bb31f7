"""The pieces the benchmark scenarios share: a sandbox process, a Git repo, a daemon process, test data.

The sandbox and the daemon are ``controller.testing``'s. Every process started here is registered in
``Processes`` and stopped by ``Processes.stop_all()`` (the runner calls it in a ``finally``), and every
wait has a deadline, so a run always ends by itself and leaves nothing behind.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller import testing
from controller.testing import Processes, Sandbox, clean_env, wait_until
from controller.testing import WaitTimeout as BenchTimeout
from tests.support import GitRepo, free_port

__all__ = ["BenchTimeout", "GitRepo", "Processes", "Sandbox", "wait_until"]

PROJECT_ID = "Pbench"
MANAGEMENT_KEY = "K-bench-management-key-0123456789"
WEBHOOK_SECRET = "whsec-bench-0123456789"
ROOT = Path(__file__).resolve().parents[2]
MAX_CONCURRENCY = 4  # the default [descope] max_concurrency

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


@dataclass
class Row:
    scenario: str
    name: str
    value: float | int | str | None
    unit: str = ""
    target: str = "—"
    met: bool | None = None  # None: no target (informative)
    details: dict[str, Any] = field(default_factory=dict)

    def shown_value(self) -> str:
        if self.value is None:
            return "n/a"
        if isinstance(self.value, float):
            text = f"{self.value:.3f}" if abs(self.value) < 10 else f"{self.value:.1f}"
        else:
            text = str(self.value)
        return f"{text} {self.unit}".strip()

    def shown_met(self) -> str:
        return {True: "yes", False: "NO", None: "—"}[self.met]


# ----- the sandbox, as its own process (its CPU must not share our GIL) -----------------------------------
def sandbox(processes: Processes, workdir: Path) -> AbstractContextManager[Sandbox]:
    """``descope-gitops sandbox`` in a subprocess, driven through its control API."""
    return testing.run_sandbox(
        project_id=PROJECT_ID,
        management_key=MANAGEMENT_KEY,
        process=True,
        log_dir=workdir,
        cwd=ROOT,
        processes=processes,
        timeout=300,
    )


def quiet(seconds: float = 1.2) -> None:
    """Let the client's window (R = 50/1s) empty too, so the next scenario starts with a full budget."""
    time.sleep(seconds)


# ----- a Git repository read over file://, and the daemon ------------------------------------------------
def daemon(
    processes: Processes,
    workdir: Path,
    *,
    sandbox: Sandbox,
    repo: GitRepo,
    rate_limit: float | str,
    max_concurrency: int = 4,
    interval: float = 3600.0,
) -> testing.Daemon:
    """``descope-gitops run`` over a git repo (file://) against the sandbox; each start logs to daemon-N.log."""
    port = free_port()
    store = workdir / "store"
    config = testing.write_config(
        workdir / "config.toml",
        {
            "descope": {"rate_limit": str(rate_limit), "max_concurrency": max_concurrency, "timeout": 10},
            "source": {
                "kind": "git",
                "url": repo.url,
                "ref": "main",
                "path": "tenants.yaml",
                "interval": interval,
                "timeout": 30,
            },
            "reconcile": {"shutdown_timeout": 15},
            "store": {"dir": str(store)},
            "http": {"listen": f"127.0.0.1:{port}", "webhook_secret": WEBHOOK_SECRET},
            "log": {"level": "INFO", "format": "text"},
        },
    )
    env = clean_env(DESCOPE_PROJECT_ID=PROJECT_ID, DESCOPE_MANAGEMENT_KEY=MANAGEMENT_KEY, DESCOPE_BASE_URI=sandbox.url)
    return testing.Daemon(
        config,
        env,
        workdir / "daemon-1.log",
        cwd=workdir,
        url=f"http://127.0.0.1:{port}",
        store=store,
        webhook_secret=WEBHOOK_SECRET,
        processes=processes,
    )


def start(daemon: testing.Daemon) -> testing.Daemon:
    """Start ``daemon`` again, logging to the next daemon-N.log."""
    return daemon.start(log=daemon.log_path.with_name(f"daemon-{daemon.starts + 1}.log"))


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
