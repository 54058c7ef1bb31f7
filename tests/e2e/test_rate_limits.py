"""Rate limits in Descope's form, end to end: the CLI under "N/Ws" against a sandbox that enforces the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import PROJECT_ID, Run, Sandbox, wait_until
from tests.support import free_port

pytestmark = pytest.mark.e2e


def test_sync_under_20_per_4s_applies_60_creates_without_a_single_429(
    cli: Run, cli_env: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n" + "".join(f"  - id: t{i:02d}\n    name: Tenant {i:02d}\n" for i in range(60)))
    config = tmp_path / "config.toml"
    config.write_text('[descope]\nrate_limit = "20/4s"\n')
    del cli_env["DESCOPE_GITOPS_DESCOPE__RATE_LIMIT"]  # the fixture's own limit would override the file
    sandbox.configure(rate_limit="20/4s")  # as Descope: 429 and blocked for 4 s on the 21st request in 4 s
    result = cli("sync", str(tenants), "--apply", "--config", str(config), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(sandbox.tenants()) == 60
    stats = sandbox.stats()
    assert stats["rate_limited"] == 0
    assert stats["writes"] == 60  # nothing sent twice
    assert stats["total"] > 20  # more than one window's budget, so the client's limiter did the pacing


def test_sandbox_command_takes_descopes_form_and_blocks_for_the_window(cli: Run, tmp_path: Path) -> None:
    refused = cli("sandbox", "--rate-limit", "100/0s")
    assert refused.returncode == 2
    assert "--rate-limit" in refused.stderr and "window must be longer than 0 seconds" in refused.stderr

    port = free_port()
    key = "K-sandbox-cli"
    args = ["sandbox", "--port", str(port), "--project-id", PROJECT_ID, "--management-key", key]
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", *args, "--rate-limit", "2/30s"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def config() -> dict[str, object] | None:
            try:
                return httpx.get(f"{url}/_sandbox/config", timeout=2).json()  # type: ignore[no-any-return]
            except httpx.HTTPError:
                return None

        assert wait_until(config, what="the sandbox to listen")["rate_limit"] == "2/30s"
        headers = {"Authorization": f"Bearer {PROJECT_ID}:{key}"}
        answers = [httpx.get(f"{url}/v1/mgmt/tenant/all", headers=headers, timeout=5) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 429, 429]
        assert int(answers[2].headers["Retry-After"]) == 30  # blocked for the whole window ...
        assert 28 <= int(answers[3].headers["Retry-After"]) <= 30  # ... counted from the first refusal
    finally:
        proc.terminate()
        proc.wait(timeout=20)
