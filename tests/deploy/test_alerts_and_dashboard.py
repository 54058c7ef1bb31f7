"""What an SRE installs from deploy/: the Prometheus alerts (checked and unit-tested by promtool) and the
Grafana dashboard, both held to the metrics the daemon exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "descope-gitops.json"
README = ROOT / "README.md"
DOCKERFILE = ROOT / "Dockerfile"

# The metric contract: every family the daemon exports (counters with their _total suffix, histograms
# by their base name). Alerts and the dashboard may use nothing else, and must use all of it;
# tests/e2e check the exporter's /metrics against this same list.
EXPORTED_METRICS = frozenset(
    {
        "descope_gitops_reconcile_total",
        "descope_gitops_reconcile_duration_seconds",
        "descope_gitops_last_reconcile_timestamp_seconds",
        "descope_gitops_last_success_timestamp_seconds",
        "descope_gitops_reconcile_interval_seconds",
        "descope_gitops_source_revision_info",
        "descope_gitops_commit_to_applied_seconds",
        "descope_gitops_config_valid",
        "descope_gitops_suspended",
        "descope_gitops_drift_policy_report",
        "descope_gitops_tenants",
        "descope_gitops_drift_fields",
        "descope_gitops_planned_actions",
        "descope_gitops_actions_total",
        "descope_gitops_guard_blocked_total",
        "descope_gitops_config_drifted",
        "descope_gitops_config_planned_actions",
        "descope_gitops_config_actions_total",
        "descope_gitops_descope_requests_total",
        "descope_gitops_descope_request_duration_seconds",
        "descope_gitops_descope_rate_limited_total",
        "descope_gitops_git_fetch_total",
        "descope_gitops_checkpoint_resumes_total",
        "descope_gitops_backups_total",
        "descope_gitops_backup_last_success_timestamp_seconds",
        "descope_gitops_backup_store_bytes",
        "descope_gitops_backup_store_files",
        "descope_gitops_restores_total",
        "descope_gitops_restore_drill_last_run_timestamp_seconds",
        "descope_gitops_restore_drill_success",
        "descope_gitops_build_info",
        "descope_gitops_webhook_deliveries_total",
        "descope_gitops_http_deadline_exceeded_total",
    }
)
HISTOGRAMS = frozenset(
    {
        "descope_gitops_reconcile_duration_seconds",
        "descope_gitops_commit_to_applied_seconds",
        "descope_gitops_descope_request_duration_seconds",
    }
)

EXPECTED_ALERTS = frozenset(
    {
        "DescopeGitopsDown",
        "SyncStale",
        "CyclesFailing",
        "ConfigInvalid",
        "DriftPersisting",
        "ConfigDriftPersisting",
        "GuardBlocking",
        "TenantFlapping",
        "DescopeThrottling",
        "DescopeErrors",
        "BackupsStale",
        "BackupsFailing",
        "SuspendedForLong",
        "RestoreDrillFailed",
        "RestoreDrillStale",
    }
)
SEVERITIES = frozenset({"critical", "warning", "info"})
DATASOURCE_REFS = frozenset({"${datasource}", "$datasource"})

_METRIC = re.compile(r"descope_gitops_[a-z_]+")
_HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")


def metric_families(expr: str) -> set[str]:
    """The exported families an expression reads (histogram series named by their family)."""
    return {_HISTOGRAM_SERIES.sub("", name) for name in _METRIC.findall(expr)}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path is not None, "tests that run promtool carry @pytest.mark.promtool (skipped or failed without it)"
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, check=False)


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    groups = doc["groups"]
    assert [g["name"] for g in groups] == ["descope-gitops"]
    found: list[dict[str, Any]] = groups[0]["rules"]
    return found


def unit_tests() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    assert doc["rule_files"] == [ALERTS.name]
    found: list[dict[str, Any]] = doc["tests"]
    return found


def dashboard() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return found


def panel_targets(board: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(panel, target) for panel in board["panels"] for target in panel.get("targets", [])]


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced, so promtool can parse it."""
    for variable, value in (
        ("$__rate_interval", "5m"),
        ("$__range", "6h"),
        ("$__interval", "1m"),
        ("$job", ".*"),
        ("$instance", ".*"),
    ):
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


# -- alerts ------------------------------------------------------------------------------------


@pytest.mark.promtool
def test_promtool_accepts_the_rule_file() -> None:
    checked = run_promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in checked.stdout


@pytest.mark.promtool
def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    tested = run_promtool("test", "rules", str(ALERT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_severity_and_a_summary_description_and_runbook() -> None:
    found = rules()
    names = [r.get("alert") for r in found]
    assert len(names) == len(set(names)), f"duplicate alerts: {names}"
    assert set(names) == EXPECTED_ALERTS
    headings = {
        line.lstrip("#").strip() for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("#")
    }
    for rule in found:
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        for key in ("summary", "description", "runbook"):
            assert str(annotations.get(key, "")).strip(), f"{name}: no {key}"
        runbook = annotations["runbook"]
        assert "\n" not in runbook, f"{name}: the runbook is one line"
        # "README: <section> — <what to run>": the section exists and a command is named
        match = re.fullmatch(r"README: (.+?) — (.+)", runbook)
        assert match, f"{name}: runbook {runbook!r} does not name a README section"
        assert match.group(1) in headings, f"{name}: README has no section {match.group(1)!r}"
        assert "`" in match.group(2), f"{name}: runbook names no command"
    severity = {r["alert"]: r["labels"]["severity"] for r in found}
    assert severity["DescopeGitopsDown"] == "critical"
    assert severity["SuspendedForLong"] == "info"


def readme_anchors() -> list[str]:
    """The anchors GitHub gives the README's headings (code blocks left out; a repeated one gets -1, -2, ...)."""
    text = re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    anchors: list[str] = []
    times: dict[str, int] = {}
    for line in text.splitlines():
        heading = re.fullmatch(r"#{1,6} +(.+?) *#*", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        anchors.append(f"{slug}-{times[slug]}" if slug in times else slug)
        times[slug] = times.get(slug, 0) + 1
    return anchors


def source_url() -> str:
    """The repository the image names (Dockerfile ``ARG SOURCE_URL``): the one base of every link to the docs."""
    (url,) = re.findall(r"^ARG SOURCE_URL=(\S+)$", DOCKERFILE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return url


def test_every_alert_links_its_own_runbook_entry_in_the_readme() -> None:
    anchors = readme_anchors()
    assert "backups-and-restore-on-call" in anchors, "GitHub's rules: lower case, punctuation dropped, - for spaces"
    base = f"{source_url()}/blob/main/README.md#"
    seen: dict[str, str] = {}
    for rule in rules():
        name = rule["alert"]
        url = rule["annotations"].get("runbook_url", "")
        assert url.startswith(base), f"{name}: runbook_url {url!r} does not start with {base!r}"
        anchor = url.removeprefix(base)
        assert anchor in anchors, f"{name}: README.md has no heading with anchor #{anchor}"
        assert anchor not in seen, f"{name} and {seen.get(anchor)} share the runbook entry #{anchor}"
        seen[anchor] = name
        # the entry is the alert's own: its heading is the alert's name
        assert anchor == name.lower(), f"{name}: runbook_url points at #{anchor}, not at the alert's own entry"


def test_stale_threshold_comes_from_the_exported_interval() -> None:
    expr = {r["alert"]: r["expr"] for r in rules()}["SyncStale"]
    assert "descope_gitops_reconcile_interval_seconds" in expr
    assert "descope_gitops_last_success_timestamp_seconds" in expr


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_quiet() -> None:
    severity = {r["alert"]: r["labels"]["severity"] for r in rules()}
    fires: set[str] = set()
    quiet: set[str] = set()
    for group in unit_tests():
        for case in group.get("alert_rule_test", []):
            name = case["alertname"]
            assert name in severity, f"test of an unknown alert {name!r} in {group.get('name')!r}"
            expected = case.get("exp_alerts") or []
            if not expected:
                quiet.add(name)
            for alert in expected:
                fires.add(name)
                assert alert["exp_labels"]["severity"] == severity[name], name
                assert set(alert["exp_annotations"]) >= {"summary", "description", "runbook", "runbook_url"}, name
    assert sorted(EXPECTED_ALERTS - fires) == [], "alerts never tested firing"
    assert sorted(EXPECTED_ALERTS - quiet) == [], "alerts never tested quiet"


# -- dashboard ---------------------------------------------------------------------------------


def test_dashboard_is_a_grafana_dashboard_on_a_datasource_variable() -> None:
    board = dashboard()
    assert board["title"] == "descope-gitops"
    assert board["uid"] == "descope-gitops"
    assert board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] in DATASOURCE_REFS, variable["name"]

    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert all(isinstance(pos[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["title"].strip()
        assert panel["datasource"]["uid"] in DATASOURCE_REFS, panel["title"]
        assert panel["targets"], f"{panel['title']!r} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] in DATASOURCE_REFS, panel["title"]


def test_dashboard_shows_what_an_sre_needs() -> None:
    titles = " | ".join(p["title"].lower() for p in dashboard()["panels"])
    for words in (
        "last cycle result",
        "config",
        "suspended",
        "time since last success",
        "commit to applied",
        "drift by field",
        "sub-resource drift by kind",
        "tenants by state",
        "planned actions",
        "action results",
        "latency p95 by operation",
        "requests by code",
        "throttling",
        "git fetches",
        "backup age",
        "backup store size",
        "backup store files",
        "restores",
        "resumed cycles",
        "last restore drill",
        "time since last restore drill",
    ):
        assert words in titles, f"no panel about {words!r}"


@pytest.mark.promtool
def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    board = dashboard()
    exprs = [grafana_to_promql(t["expr"]) for _, t in panel_targets(board)]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            selector = re.fullmatch(r"label_values\((.+), *[a-z_]+\)", variable["query"]["query"])
            assert selector, f"variable {variable['name']}: not label_values(selector, label)"
            exprs.append(grafana_to_promql(selector.group(1)))
    recording = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    path = tmp_path / "dashboard_queries.yaml"
    path.write_text(yaml.safe_dump(recording), encoding="utf-8")
    checked = run_promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- the metric contract -------------------------------------------------------------------------


def test_metric_names_are_read_by_family() -> None:
    assert metric_families(
        "histogram_quantile(0.95, sum by (le) (rate(descope_gitops_descope_request_duration_seconds_bucket[5m])))"
        " / descope_gitops_reconcile_total"
    ) == {"descope_gitops_descope_request_duration_seconds", "descope_gitops_reconcile_total"}


def test_alerts_and_dashboard_use_exactly_the_exported_metrics() -> None:
    board = dashboard()
    used_by: dict[str, set[str]] = {}
    for rule in rules():
        for name in metric_families(rule["expr"]):
            used_by.setdefault(name, set()).add(f"alert {rule['alert']}")
    for panel, target in panel_targets(board):
        for name in metric_families(target["expr"]):
            used_by.setdefault(name, set()).add(f"panel {panel['title']!r}")
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            for name in metric_families(variable["query"]["query"]):
                used_by.setdefault(name, set()).add(f"variable {variable['name']}")

    unknown = {name: sorted(where) for name, where in used_by.items() if name not in EXPORTED_METRICS}
    assert unknown == {}, "metrics the daemon does not export"
    unused = sorted(EXPORTED_METRICS - used_by.keys())
    assert unused == [], "exported metrics no panel or alert shows"
    # histograms are read through their series, never by the bare family name
    raw = " ".join([r["expr"] for r in rules()] + [t["expr"] for _, t in panel_targets(board)])
    for name in HISTOGRAMS:
        assert re.search(rf"{name}(?![a-z_])", raw) is None, f"{name} used without _bucket/_sum/_count"
