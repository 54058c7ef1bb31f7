"""``descope-gitops demo``: the real daemon end to end on one machine, with nothing to configure.

Starts the bundled Descope sandbox on loopback and a sample Git repository in a temporary
directory, runs ``descope-gitops run`` as a real process against them, then does what a platform
team does: merges a change (the push webhook triggers the sync at once), watches a console edit
get reverted, and reads ``status``. Everything is real: Git over file://, HTTP to the sandbox,
the daemon's own process, signals and store.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from controller.adapters.http_server import sign
from controller.cli.exit_codes import ExitCode
from controller.sandbox import SandboxServer

PROJECT_ID = "Pdemo"

SAMPLE = """\
# tenants.yaml: the desired state of the Descope project's tenants
tenants:
  - id: holding-co
    name: Holding Co
    customAttributes: {plan: enterprise}

  - id: acme-corp
    name: ACME Corp
    parent: holding-co
    selfProvisioningDomains: [acme.com]
    customAttributes: {plan: enterprise, seats: 50}
    defaultRoles: [viewer]
    settings:
      sessionTokenExpiration: 10
      sessionTokenExpirationUnit: minutes

  - id: globex
    name: Globex
    selfProvisioningDomains: [globex.example]
    enforceSSO: false
"""

NEW_TENANT = """
  - id: initech
    name: Initech
    selfProvisioningDomains: [initech.example]
    customAttributes: {plan: starter}
"""


def _step(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 76 - len(title)), flush=True)


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Platform Team", "GIT_AUTHOR_EMAIL": "platform@example.com"}
    env |= {"GIT_COMMITTER_NAME": "Platform Team", "GIT_COMMITTER_EMAIL": "platform@example.com"}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip()


def _commit(repo: Path, text: str, message: str) -> str:
    (repo / "tenants.yaml").write_text(text, encoding="utf-8")
    _git(repo, "add", "tenants.yaml")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _show_tenants(sandbox: SandboxServer) -> None:
    for tenant in sorted(sandbox.tenants(), key=lambda t: t["id"]):
        attrs = json.dumps(tenant.get("customAttributes") or {}, sort_keys=True)
        parent = f" parent={tenant['parent']}" if tenant.get("parent") else ""
        sso = " enforceSSO" if tenant.get("enforceSSO") else ""
        print(f"  {tenant['id']:<11} {tenant['name']:<12} {attrs}{parent}{sso}")


def run_demo(*, keep: bool = False) -> int:
    if shutil.which("git") is None:
        print("error: the demo needs the git command on PATH", file=sys.stderr)
        return ExitCode.ERROR
    workdir = Path(tempfile.mkdtemp(prefix="descope-gitops-demo-"))
    repo, store = workdir / "repo", workdir / "store"
    repo.mkdir()
    key, webhook_secret, port = secrets.token_urlsafe(24), secrets.token_urlsafe(16), _free_port()
    daemon: subprocess.Popen[bytes] | None = None
    log_path = workdir / "daemon.log"
    try:
        _git(repo, "init", "-q", "-b", "main")
        _commit(repo, SAMPLE, "Add the first tenants")
        with SandboxServer(project_id=PROJECT_ID, management_key=key) as sandbox:
            config = workdir / "config.toml"
            config.write_text(
                f'[descope]\nproject_id = "{PROJECT_ID}"\nbase_url = "{sandbox.url}"\n'
                f'[source]\nkind = "git"\nurl = "{repo.as_uri()}"\nref = "main"\npath = "tenants.yaml"\n'
                f'interval = 30\n[store]\ndir = "{store}"\n[http]\nlisten = "127.0.0.1:{port}"\n'
                '[log]\nlevel = "INFO"\nformat = "text"\n',
                encoding="utf-8",
            )
            env = {
                **os.environ,
                "DESCOPE_MANAGEMENT_KEY": key,
                "DESCOPE_GITOPS_HTTP__WEBHOOK_SECRET": webhook_secret,
            }
            base = f"http://127.0.0.1:{port}"
            print(f"Descope sandbox: {sandbox.url}   Git repository: {repo.as_uri()}")
            _step("1. start the controller: descope-gitops run --config config.toml")
            with log_path.open("wb") as log:
                daemon = subprocess.Popen(
                    [sys.executable, "-m", "controller", "run", "--config", str(config)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

            def ready() -> bool:
                try:
                    return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return daemon is not None and daemon.poll() is not None  # died: stop waiting

            _wait(ready, 30, "the daemon's first cycle")
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited with {daemon.returncode}")
            print("first cycle done; Descope now has:")
            _show_tenants(sandbox)

            _step("2. a platform engineer merges: acme-corp gets 75 seats, initech is added")
            sha = _commit(repo, SAMPLE.replace("seats: 50", "seats: 75") + NEW_TENANT, "ACME to 75 seats; add Initech")
            body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
            started = time.monotonic()
            answer = httpx.post(
                f"{base}/hooks/git",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "push",
                    "X-Hub-Signature-256": sign(webhook_secret, body),
                },
                timeout=5,
            )
            print(f"GitHub-style push webhook for {sha[:12]} -> HTTP {answer.status_code} {answer.text.strip()}")

            def applied() -> bool:
                tenants = {t["id"]: t for t in sandbox.tenants()}
                acme = tenants.get("acme-corp", {})
                return "initech" in tenants and (acme.get("customAttributes") or {}).get("seats") == 75

            _wait(applied, 30, "the merged change")
            print(f"applied {time.monotonic() - started:.2f}s after the push; Descope now has:")
            _show_tenants(sandbox)

            _step("3. someone turns on enforceSSO for globex in the Descope console")
            httpx.request(
                "PATCH",
                f"{sandbox.url}/v1/mgmt/tenant/patch",
                json={"id": "globex", "enforceSSO": True},
                headers={"Authorization": f"Bearer {PROJECT_ID}:{key}"},
                timeout=5,
            ).raise_for_status()
            print("drift made; asking for a cycle now with SIGHUP (the next tick would do the same)")
            daemon.send_signal(signal.SIGHUP)
            _wait(lambda: not {t["id"]: t for t in sandbox.tenants()}["globex"].get("enforceSSO"), 30, "the revert")
            print("reverted: globex has enforceSSO=false again, as tenants.yaml says")

            _step("4. descope-gitops status")
            status_env = {**env, "DESCOPE_GITOPS_STORE__DIR": str(store)}
            time.sleep(0.3)
            status = subprocess.run(
                [sys.executable, "-m", "controller", "status"],
                env=status_env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            print(status.stdout.rstrip())

            _step("5. stop the controller with SIGTERM")
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=30)
            print(f"daemon exited with {code}. Its log (cycle lines):")
            for line in log_path.read_text(errors="replace").splitlines():
                if " cycle " in line or "cycle requested" in line or "started" in line:
                    print("  " + line)
            print("\nDemo " + ("succeeded." if code == 0 else "FAILED."))
            return ExitCode.OK if code == ExitCode.OK else ExitCode.ERROR
    except (TimeoutError, RuntimeError, subprocess.CalledProcessError, httpx.HTTPError) as exc:
        print(f"\nDemo FAILED: {exc}", file=sys.stderr)
        if log_path.exists():
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
        return ExitCode.ERROR
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
