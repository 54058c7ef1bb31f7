"""What an SRE scrapes: /metrics of a running daemon, checked by value and by promtool."""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import BASE, MANAGEMENT_KEY, WEBHOOK_SECRET, World, live, wait_until

pytestmark = pytest.mark.e2e


def scrape(world: World) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    text = httpx.get(f"{world.url}/metrics", timeout=5).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change_drift_and_throttling(world: World) -> tuple[str, str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """A merge, a console edit corrected and one 429, then a scrape: (revision, text, samples)."""
    sha = world.repo.commit({"tenants.yaml": BASE + "  - id: globex\n    name: Globex\n"})
    world.sandbox.api("POST", "/v1/mgmt/tenant/create", json={"id": "console", "name": "Console"})
    world.sandbox.faults({"path": "/v1/mgmt/tenant/create", "status": 429, "count": 1, "retry_after": 1})
    daemon = world.daemon(interval=2)
    wait_until(lambda: {"acme", "globex"} <= set(world.sandbox.tenants()), timeout=20, what="applied\n" + daemon.log)
    wait_until(world.ready, what="ready")
    world.sandbox.api("PATCH", "/v1/mgmt/tenant/patch", json={"id": "acme", "name": "Drifted"}).raise_for_status()
    wait_until(lambda: live(world.sandbox, "acme", "name")() == "ACME Corp", what="drift corrected\n" + daemon.log)
    time.sleep(0.5)

    text, samples = scrape(world)
    return sha, text, samples


def test_metrics_after_a_change_drift_and_throttling_are_right(world: World) -> None:
    sha, text, samples = change_drift_and_throttling(world)
    assert value(samples, "descope_gitops_reconcile_total", result="succeeded") >= 2
    assert value(samples, "descope_gitops_actions_total", action="create", result="succeeded") == 2
    assert value(samples, "descope_gitops_actions_total", action="update", result="succeeded") == 1
    assert value(samples, "descope_gitops_descope_rate_limited_total") == 1
    assert value(samples, "descope_gitops_descope_requests_total", operation="tenant.create", code="429") == 1
    assert value(samples, "descope_gitops_descope_requests_total", operation="tenant.create", code="200") == 2
    assert value(samples, "descope_gitops_source_revision_info", revision=sha) == 1
    assert value(samples, "descope_gitops_config_valid") == 1
    assert value(samples, "descope_gitops_tenants", state="managed") == 2
    assert value(samples, "descope_gitops_tenants", state="unmanaged") == 1
    assert value(samples, "descope_gitops_reconcile_interval_seconds") == 2
    assert value(samples, "descope_gitops_commit_to_applied_seconds_count") == 1
    assert value(samples, "descope_gitops_git_fetch_total", result="success") >= 1
    assert value(samples, "descope_gitops_backups_total", kind="pre-image", result="success") == 1
    assert time.time() - value(samples, "descope_gitops_last_success_timestamp_seconds") < 10
    assert value(samples, "descope_gitops_build_info", version="0.1.0") == 1
    assert "acme" not in text and MANAGEMENT_KEY not in text and WEBHOOK_SECRET not in text  # bounded labels

    from tests.deploy.test_alerts_and_dashboard import EXPORTED_METRICS

    families = {f.name for f in text_string_to_metric_families(text) if f.name.startswith("descope_gitops_")}
    exported = {name.removesuffix("_total") if name.endswith("_total") else name for name in EXPORTED_METRICS}
    assert families == exported  # the alerts and the dashboard are written against exactly these


@pytest.mark.promtool
def test_metrics_of_a_busy_daemon_pass_promtool(world: World) -> None:
    _sha, text, _samples = change_drift_and_throttling(world)
    promtool = shutil.which("promtool")
    assert promtool is not None
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_drift_under_report_policy_and_an_invalid_revision_show_in_metrics(world: World) -> None:
    world.sandbox.api("POST", "/v1/mgmt/tenant/create", json={"id": "acme", "name": "Console Name"})
    world.repo.commit({"tenants.yaml": BASE})
    daemon = world.daemon(interval=1, drift_policy="report")
    wait_until(
        lambda: value(scrape(world)[1], "descope_gitops_tenants", state="drifted") == 1 if world.ready() else False,
        what="drift measured\n" + daemon.log,
    )
    _text, samples = scrape(world)
    assert value(samples, "descope_gitops_drift_fields", field="name") == 1
    assert value(samples, "descope_gitops_drift_policy_report") == 1
    assert value(samples, "descope_gitops_planned_actions", action="update", cause="drift") == 1
    world.repo.commit({"tenants.yaml": "tenants:\n  - id: acme\n    nme: x\n"})
    wait_until(lambda: value(scrape(world)[1], "descope_gitops_config_valid") == 0, what="config invalid")
    assert value(scrape(world)[1], "descope_gitops_reconcile_total", result="invalid") >= 1


def test_freshness_survives_a_restart(world: World) -> None:
    world.repo.commit({"tenants.yaml": BASE})
    first = world.daemon(interval=600)
    wait_until(world.ready, what="ready\n" + first.log)
    before = value(scrape(world)[1], "descope_gitops_last_success_timestamp_seconds")
    first.stop()
    world.sandbox.configure(latency_ms=1500)  # the first cycle after the restart is slow
    world.daemon(interval=600)
    wait_until(
        lambda: httpx.get(f"{world.url}/metrics", timeout=5).status_code == 200 if _up(world) else False,
        what="restarted",
    )
    assert value(scrape(world)[1], "descope_gitops_last_success_timestamp_seconds") == pytest.approx(before)


def _up(world: World) -> bool:
    try:
        httpx.get(f"{world.url}/healthz", timeout=1)
        return True
    except httpx.HTTPError:
        return False


def test_management_key_and_git_token_never_reach_logs_metrics_or_errors(world: World, cli: object) -> None:
    token = "ghp_E2eSecretGitToken0123456789"
    config = world.tmp_path / "secret.toml"
    config.write_text(
        f'[source]\nkind = "git"\nurl = "https://bot:{token}@127.0.0.1:9/org/tenants.git"\ninterval = 1\ntimeout = 2\n'
        f'[store]\ndir = "{world.store}"\n[http]\nlisten = "127.0.0.1:{world.port}"\n'
        f'webhook_secret = "{WEBHOOK_SECRET}"\n[log]\nlevel = "DEBUG"\nformat = "json"\n'
    )
    from tests.e2e.conftest import DaemonProcess

    env = {k: v for k, v in world.env.items() if k != "DESCOPE_GITOPS_STORE__DIR"}
    daemon = DaemonProcess(config, env, world.tmp_path / "secret.log").start()
    world.daemons.append(daemon)
    wait_until(lambda: "cannot read the source" in daemon.log, timeout=20, what="a failed fetch\n" + daemon.log)
    metrics = httpx.get(f"{world.url}/metrics", timeout=5).text
    status = subprocess.run(
        [__import__("sys").executable, "-m", "controller", "status", "--format", "json"],
        env={**env, "DESCOPE_GITOPS_STORE__DIR": str(world.store)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    daemon.stop()
    state = (world.store / "state.json").read_text() if (world.store / "state.json").exists() else ""
    everything = daemon.log + metrics + status.stdout + status.stderr + state
    assert "https://***@127.0.0.1:9" in daemon.log  # the URL is named, its credentials are not
    for secret in (token, MANAGEMENT_KEY, WEBHOOK_SECRET):
        assert secret not in everything
