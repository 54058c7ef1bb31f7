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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from controller import testing
from controller.cli.exit_codes import ExitCode

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


def _show_tenants(sandbox: testing.Sandbox) -> None:
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
    key, webhook_secret, port = secrets.token_urlsafe(24), secrets.token_urlsafe(16), testing.free_port()
    daemon: testing.Daemon | None = None
    log_path = workdir / "daemon.log"
    try:
        _git(repo, "init", "-q", "-b", "main")
        _commit(repo, SAMPLE, "Add the first tenants")
        with testing.run_sandbox(project_id=PROJECT_ID, management_key=key) as sandbox:
            config = testing.write_config(
                workdir / "config.toml",
                {
                    "descope": {"project_id": PROJECT_ID, "base_url": sandbox.url},
                    "source": {
                        "kind": "git",
                        "url": repo.as_uri(),
                        "ref": "main",
                        "path": "tenants.yaml",
                        "interval": 30,
                    },
                    "store": {"dir": str(store)},
                    "http": {"listen": f"127.0.0.1:{port}"},
                    "log": {"level": "INFO", "format": "text"},
                },
            )
            env = {
                **os.environ,
                "DESCOPE_MANAGEMENT_KEY": key,
                "DESCOPE_GITOPS_HTTP__WEBHOOK_SECRET": webhook_secret,
            }
            daemon = testing.Daemon(
                config, env, log_path, url=f"http://127.0.0.1:{port}", store=store, webhook_secret=webhook_secret
            )
            print(f"Descope sandbox: {sandbox.url}   Git repository: {repo.as_uri()}")
            _step("1. start the controller: descope-gitops run --config config.toml")
            daemon.start()
            daemon.wait_ready(timeout=30, what="the daemon's first cycle")
            print("first cycle done; Descope now has:")
            _show_tenants(sandbox)

            _step("2. a platform engineer merges: acme-corp gets 75 seats, initech is added")
            sha = _commit(repo, SAMPLE.replace("seats: 50", "seats: 75") + NEW_TENANT, "ACME to 75 seats; add Initech")
            started = time.monotonic()
            answer = daemon.push(sha)
            print(f"GitHub-style push webhook for {sha[:12]} -> HTTP {answer.status_code} {answer.text.strip()}")

            def applied() -> bool:
                tenants = {t["id"]: t for t in sandbox.tenants()}
                acme = tenants.get("acme-corp", {})
                return "initech" in tenants and (acme.get("customAttributes") or {}).get("seats") == 75

            testing.wait_until(applied, timeout=30, what="the merged change")
            print(f"applied {time.monotonic() - started:.2f}s after the push; Descope now has:")
            _show_tenants(sandbox)

            _step("3. someone turns on enforceSSO for globex in the Descope console")
            sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "globex", "enforceSSO": True}).raise_for_status()
            print("drift made; asking for a cycle now with SIGHUP (the next tick would do the same)")
            daemon.signal(signal.SIGHUP)
            testing.wait_until(
                lambda: not {t["id"]: t for t in sandbox.tenants()}["globex"].get("enforceSSO"),
                timeout=30,
                what="the revert",
            )
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
            daemon.signal(signal.SIGTERM)
            code = daemon.wait(timeout=30)
            print(f"daemon exited with {code}. Its log (cycles and each write, with its cause):")
            for line in log_path.read_text(errors="replace").splitlines():
                writes = ("created ", "applied change on", "corrected drift on", "adopted ", "deleted ")
                if (
                    " cycle " in line
                    or "cycle requested" in line
                    or "started" in line
                    or any(w in line for w in writes)
                ):
                    print("  " + line)
            print("\nDemo " + ("succeeded." if code == 0 else "FAILED."))
            return ExitCode.OK if code == ExitCode.OK else ExitCode.ERROR
    except (testing.WaitTimeout, RuntimeError, subprocess.CalledProcessError, httpx.HTTPError) as exc:
        print(f"\nDemo FAILED: {exc}", file=sys.stderr)
        if log_path.exists():
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
        return ExitCode.ERROR
    finally:
        if daemon is not None and daemon.alive():
            daemon.kill()
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
