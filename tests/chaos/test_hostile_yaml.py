"""Attack: hostile tenants.yaml revisions. Each is refused as an invalid revision with file:line, the
last good revision stays enforced (console drift is still corrected), and no command prints a traceback."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import BASE, Run, World, live, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

HUGE = "1" + "0" * 5000
HOSTILE = {
    "5000-digit-integer": BASE + f"    settings: {{sessionTokenExpiration: {HUGE}}}\n",
    "hex-beyond-64-bits": BASE.replace("plan: free", "plan: free, seats: 0x" + "f" * 40),
    "deep-nesting": "tenants: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    + "tenants: *i\n",
    "confusable-ids": BASE + "  - id: \u0430cme\n    name: Other\n",
    "mixed-script-name": BASE + "  - id: other\n    name: P\u0430yPal\n",
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_validate_refuses_hostile_yaml_with_a_line_not_a_traceback(cli: Run, tmp_path: Path, text: str) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    result = cli("validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "tenants.yaml:" in result.stdout + result.stderr


def test_the_daemon_refuses_a_5000_digit_integer_and_keeps_the_last_good_revision(world: World) -> None:
    world.repo.commit({"tenants.yaml": BASE})
    daemon = world.daemon(interval=1)
    wait_until(lambda: "acme" in world.sandbox.tenants(), what="first apply\n" + daemon.log)
    world.repo.commit({"tenants.yaml": HOSTILE["5000-digit-integer"]})
    wait_until(lambda: _invalid(world), what="the revision refused\n" + daemon.log)
    world.sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "acme", "name": "Console Edit"})
    wait_until(lambda: live(world.sandbox, "acme", "name")() == "ACME Corp", what="drift corrected\n" + daemon.log)
    metrics = httpx.get(f"{world.url}/metrics", timeout=5).text
    assert "descope_gitops_config_valid 0.0" in metrics
    assert 'descope_gitops_reconcile_total{result="failed"} 0.0' in metrics
    assert 'descope_gitops_reconcile_total{result="invalid"} 0.0' not in metrics
    assert "tenants.yaml:5: " in daemon.log and "too large to read" in daemon.log


def _invalid(world: World) -> bool:
    try:
        text = httpx.get(f"{world.url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return False
    return 'descope_gitops_reconcile_total{result="invalid"} 0.0' not in text and 'result="invalid"}' in text
