"""Attack: Descope answers 503 to one request in five, under a rate limit. A storm must cost time, not a
second run: one `sync --apply` creates every tenant exactly once and converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Run, Sandbox

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

TENANTS = 150


def test_a_503_storm_under_a_rate_limit_costs_time_not_a_second_run(cli: Run, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n"
        + "".join(
            f"  - id: t{i:03d}\n    name: Tenant {i}\n    customAttributes: {{n: {i}}}\n"
            f"    settings: {{sessionTokenExpiration: {i % 50 + 1}}}\n"
            for i in range(TENANTS)
        )
    )
    sandbox.configure(fail_rate=0.2, fail_status=503, rate_limit="200/2s")
    env = {"DESCOPE_GITOPS_DESCOPE__RATE_LIMIT": "200/2s"}

    applied = cli("sync", str(path), "--apply", env=env, timeout=300)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    live = sandbox.tenants()
    assert len(live) == TENANTS
    assert all(live[f"t{i:03d}"]["customAttributes"] == {"n": i} for i in range(TENANTS))
    assert all(live[f"t{i:03d}"]["settings"]["sessionTokenExpiration"] == i % 50 + 1 for i in range(TENANTS))
    stats = sandbox.stats()
    assert stats["faults"] > TENANTS // 5, "the storm happened"
    assert stats["rate_limited"] == 0
    assert stats["status"].get("409", 0) == 0, "no create was sent twice"

    sandbox.configure(fail_rate=0.0)
    again = cli("plan", str(path), env=env)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
