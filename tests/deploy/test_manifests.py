"""What an operator ships: the Dockerfile and deploy/kubernetes, held to the code they run.

Every Kubernetes manifest is validated offline against the Kubernetes OpenAPI schemas (kubernetes-validate
bundles them). The Prometheus Operator's ServiceMonitor and PrometheusRule are custom resources that
library cannot know, so their structure is checked by hand here, and the rule groups must equal
deploy/prometheus/alerts.yaml (``python -m tests.deploy.test_manifests`` copies them again).
Then the manifests are tied to the code: the port, probe paths, environment variables, secret keys,
store directory and image version are the ones the daemon and the package really use.
One slow test installs the package into a fresh virtualenv from the Docker build context.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import BaseModel

from controller.adapters.http_server import Health, HttpEndpoints, PushEvent
from controller.settings import DESCOPE_ENV, ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

NAMESPACE = "descope-gitops"
NAME_LABEL = {"app.kubernetes.io/name": "descope-gitops"}
KUSTOMIZATION = "kustomization.yaml"
RESTORE_JOB = "restore-job.yaml"  # a template applied by hand: not a kustomize resource
CUSTOM_RESOURCES = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
SECRET_KEYS = {"management-key", "git-token", "webhook-secret"}
UID = 10001
# the command's own variable (read by the CLI, not the settings model)
CLI_ENV = {"DESCOPE_GITOPS_CONFIG"}
MIN_KUBERNETES = (1, 28)  # the oldest Kubernetes the manifests are validated against (with the newest bundled)

Manifest = dict[str, Any]


# ------------------------------------------------------------------------------------------- loading


def _load_all(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


@functools.cache
def _manifest_files() -> dict[str, list[Manifest]]:
    return {p.name: _load_all(p) for p in sorted(K8S.glob("*.yaml")) if p.name != KUSTOMIZATION}


def _all_manifests() -> list[tuple[str, Manifest]]:
    return [(name, doc) for name, docs in _manifest_files().items() for doc in docs]


def _one(kind: str, file: str | None = None) -> Manifest:
    found = [doc for name, doc in _all_manifests() if doc["kind"] == kind and (file is None or name == file)]
    assert len(found) == 1, f"expected one {kind} in deploy/kubernetes, found {len(found)}"
    return found[0]


def _kustomization() -> Manifest:
    data = yaml.safe_load((K8S / KUSTOMIZATION).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _pod_spec(kind: str) -> Manifest:
    spec: Manifest = _one(kind)["spec"]["template"]["spec"]
    return spec


def _container(kind: str) -> Manifest:
    containers = _pod_spec(kind)["containers"]
    assert len(containers) == 1, f"{kind}: one container expected"
    container: Manifest = containers[0]
    return container


def _config_toml() -> dict[str, Any]:
    return tomllib.loads(_one("ConfigMap")["data"]["config.toml"])


def _listen_port() -> int:
    return int(_config_toml()["http"]["listen"].rpartition(":")[2])


def _shutdown_timeout() -> float:
    timeout = _config_toml().get("reconcile", {}).get("shutdown_timeout")
    return float(timeout if timeout is not None else Settings().reconcile.shutdown_timeout)


def _package_version() -> str:
    version: str = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    return version


def _mount_path(kind: str, volume: str) -> str:
    mounts = {m["name"]: m for m in _container(kind)["volumeMounts"]}
    assert volume in mounts, f"{kind}: volume {volume!r} is not mounted"
    path: str = mounts[volume]["mountPath"]
    return path


def _volume(kind: str, name: str) -> Manifest:
    volumes: dict[str, Manifest] = {v["name"]: v for v in _pod_spec(kind)["volumes"]}
    assert name in volumes, f"{kind}: no volume {name!r}"
    return volumes[name]


# ------------------------------------------------------------------------------------------- Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def _docker(keyword: str) -> list[str]:
    return [rest for kw, rest in _dockerfile_instructions() if kw == keyword]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    return instructions[last_from:]


def _docker_key_values(text: str) -> dict[str, str]:
    """``KEY=value KEY2="v a l"`` (ENV, LABEL, ARG) as a dict."""
    pairs: dict[str, str] = {}
    for token in shlex.split(text):
        key, sep, value = token.partition("=")
        pairs[key] = value if sep else ""
    return pairs


def _docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for kw, rest in _final_stage():
        if kw == "ENV":
            env.update(_docker_key_values(rest))
    return env


def _healthcheck_argv() -> list[str]:
    (healthcheck,) = _docker("HEALTHCHECK")
    _options, sep, command = healthcheck.partition("CMD ")
    assert sep, "HEALTHCHECK has no CMD"
    argv = json.loads(command)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), "HEALTHCHECK CMD: use the exec form"
    return argv


# ------------------------------------------------------------------------------------------- PrometheusRule

RULE_HEADER = """\
# Generated from deploy/prometheus/alerts.yaml: `python -m tests.deploy.test_manifests` copies the groups
# again, and tests/deploy/test_manifests.py fails while they differ. Edit alerts.yaml, not this file.
# The Prometheus Operator loads these rules; without it, load alerts.yaml with `rule_files`.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: descope-gitops
  namespace: descope-gitops
  labels:
    app.kubernetes.io/name: descope-gitops
spec:
"""


def render_prometheus_rule(alerts_text: str) -> str:
    """A PrometheusRule whose spec is alerts.yaml's ``groups:`` block verbatim (comments kept), indented."""
    lines = alerts_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    body = "\n".join(f"  {line}" if line.strip() else "" for line in lines[start:])
    return RULE_HEADER + body.rstrip() + "\n"


# ================================================================================= schema validation


def _kubernetes_versions() -> list[str]:
    """The oldest bundled Kubernetes at or above MIN_KUBERNETES, and the newest."""

    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    available = sorted(set(kubernetes_validate.utils.all_versions()), key=key)
    oldest = next((v for v in available if key(v)[:2] >= MIN_KUBERNETES), available[0])
    return sorted({oldest, available[-1]}, key=key)


@pytest.mark.parametrize("version", _kubernetes_versions())
@pytest.mark.parametrize(
    ("file", "index"),
    [
        (name, i)
        for name, docs in _manifest_files().items()
        for i, doc in enumerate(docs)
        if (doc.get("apiVersion"), doc.get("kind")) not in CUSTOM_RESOURCES
    ],
)
def test_manifest_is_valid_kubernetes(file: str, index: int, version: str) -> None:
    doc = _manifest_files()[file][index]
    try:
        kubernetes_validate.validate(doc, version, strict=True)  # strict: an unknown (misspelt) field fails
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)  # a jsonschema.ValidationError
        pytest.fail(f"{file}: {doc['kind']} is not valid for Kubernetes {version} at {path}: {exc.message}")


def test_every_manifest_file_holds_known_resources() -> None:
    kinds = sorted(doc["kind"] for _, doc in _all_manifests())
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Job",
            "Namespace",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "PrometheusRule",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
        ]
    )
    for name, doc in _all_manifests():
        metadata = doc["metadata"]
        assert metadata.get("labels", {}).items() >= NAME_LABEL.items(), f"{name}: no {NAME_LABEL} label"
        if doc["kind"] == "Namespace":
            assert metadata["name"] == NAMESPACE
        else:
            assert metadata.get("namespace") == NAMESPACE, f"{name}: namespace must be {NAMESPACE}"


# ================================================================================= custom resources


def test_service_monitor_structure_and_job_label_match_the_alerts() -> None:
    monitor = _one("ServiceMonitor")
    service = _one("Service")
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    spec = monitor["spec"]
    assert set(spec) <= {"jobLabel", "selector", "endpoints", "namespaceSelector", "targetLabels", "podTargetLabels"}
    assert isinstance(spec["selector"]["matchLabels"], dict) and set(spec["selector"]) == {"matchLabels"}
    assert service["metadata"]["labels"].items() >= spec["selector"]["matchLabels"].items(), "selects no Service"

    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels", "relabelings"}
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}, "a port name of the Service"
    assert endpoint["path"] == "/metrics"
    for key in ("interval", "scrapeTimeout"):
        assert re.fullmatch(r"\d+[smh]", endpoint[key]), f"{key}: a Prometheus duration"

    # the operator names the job after the Service's `jobLabel` label (else the Service's name)
    job = service["metadata"]["labels"][spec["jobLabel"]] if "jobLabel" in spec else service["metadata"]["name"]
    alert_jobs = set(re.findall(r'job="([^"]*)"', ALERTS.read_text(encoding="utf-8")))
    assert alert_jobs == {job}, f"alerts.yaml selects job {alert_jobs}, the ServiceMonitor scrapes job {job!r}"


def test_prometheus_rule_structure_and_groups_equal_alerts_yaml() -> None:
    rule = _one("PrometheusRule")
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    assert set(rule["spec"]) == {"groups"}
    groups = rule["spec"]["groups"]
    assert groups == yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"], (
        "deploy/kubernetes/prometheusrule.yaml differs from deploy/prometheus/alerts.yaml: "
        "run `python -m tests.deploy.test_manifests` to copy the groups"
    )
    for group in groups:
        assert set(group) <= {"name", "interval", "rules", "limit"} and group["rules"]
        for item in group["rules"]:
            assert set(item) <= {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
            assert ("alert" in item) != ("record" in item) and isinstance(item["expr"], str)
            if "for" in item:
                assert re.fullmatch(r"(\d+[smhdwy])+", item["for"]), f"{item.get('alert')}: for"
            assert all(isinstance(v, str) for v in item.get("labels", {}).values())
            assert all(isinstance(v, str) for v in item.get("annotations", {}).values())


# ================================================================================= kustomize


def test_kustomization_lists_every_manifest_except_the_restore_job_and_the_secret_example() -> None:
    kustomization = _kustomization()
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == NAMESPACE
    # the Secret is an example to copy: applying it would overwrite the real one with placeholders
    expected = {p.name for p in K8S.glob("*.yaml")} - {KUSTOMIZATION, RESTORE_JOB, "secret.yaml"}
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a resource is listed twice"
    assert set(resources) == expected
    text = (K8S / KUSTOMIZATION).read_text(encoding="utf-8")
    assert RESTORE_JOB in text, "say why restore-job.yaml is left out"
    assert "secret.yaml is an example only" in text, "say why secret.yaml is left out"
    assert any(entry["pairs"].items() >= NAME_LABEL.items() for entry in kustomization["labels"])


# ================================================================================= tied to the code


def test_http_port_is_the_same_everywhere() -> None:
    port = _listen_port()
    assert _config_toml()["http"]["listen"] == "0.0.0.0:9464"
    container_ports = {p["name"]: p["containerPort"] for p in _container("Deployment")["ports"]}
    assert container_ports == {"http": port}

    (service_port,) = _one("Service")["spec"]["ports"]
    target = service_port["targetPort"]
    assert (container_ports[target] if isinstance(target, str) else target) == port
    assert service_port["name"] == "http" and service_port["port"] == port

    for probe in ("livenessProbe", "readinessProbe"):
        probe_port = _container("Deployment")[probe]["httpGet"]["port"]
        assert (container_ports[probe_port] if isinstance(probe_port, str) else probe_port) == port
    (ingress,) = _one("NetworkPolicy")["spec"]["ingress"]
    assert [p["port"] for p in ingress["ports"]] == [port]
    assert _docker("EXPOSE") == [str(port)]


def test_probe_and_scrape_paths_are_served_by_the_daemon() -> None:
    from prometheus_client import CollectorRegistry, make_wsgi_app

    container = _container("Deployment")
    paths = {
        "liveness": container["livenessProbe"]["httpGet"]["path"],
        "readiness": container["readinessProbe"]["httpGet"]["path"],
        "scrape": _one("ServiceMonitor")["spec"]["endpoints"][0]["path"],
    }
    assert paths == {"liveness": "/healthz", "readiness": "/readyz", "scrape": "/metrics"}
    called: list[str] = []

    def health(name: str) -> Health:
        called.append(name)
        return Health(ok=True)

    def on_push(event: PushEvent) -> None:
        raise AssertionError("no push expected")

    endpoints = HttpEndpoints(
        listen="127.0.0.1:0",
        liveness=lambda: health("liveness"),
        readiness=lambda: health("readiness"),
        on_push=on_push,
        webhook_secret=None,
        metrics_app=make_wsgi_app(CollectorRegistry()),
    )
    with endpoints:
        for path in paths.values():
            with urllib.request.urlopen(f"{endpoints.url}{path}", timeout=5) as response:
                assert response.status == 200, path
    assert called == ["liveness", "readiness"], "each probe reaches its own callback"


def test_dockerfile_healthcheck_probes_the_liveness_endpoint() -> None:
    argv = _healthcheck_argv()
    assert argv[0] == "python" and "/healthz" in " ".join(argv)
    assert not {"curl", "wget"} & set(re.split(r"\W+", " ".join(argv))), "the slim image has neither"
    endpoints = HttpEndpoints(
        listen="127.0.0.1:0",
        liveness=lambda: Health(ok=True),
        readiness=lambda: Health(ok=False),
        on_push=lambda event: None,
        webhook_secret=None,
    )
    command = [sys.executable, *argv[1:]]
    with endpoints:
        env = {**os.environ, "DESCOPE_GITOPS_HTTP__LISTEN": f"0.0.0.0:{endpoints.port}"}
        assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0
    # nothing listening any more: unhealthy
    assert subprocess.run(command, env=env, capture_output=True, timeout=30).returncode != 0


def _setting_for(variable: str) -> str | None:
    """The dotted setting a DESCOPE_GITOPS_<SECTION>__<KEY> variable sets, or None when there is none."""
    if not variable.startswith(ENV_PREFIX):
        return None
    section, sep, key = variable[len(ENV_PREFIX) :].lower().partition("__")
    field = Settings.model_fields.get(section)
    if not sep or field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
        return None
    return f"{section}.{key}" if key in field.annotation.model_fields else None


def _setting_keys() -> set[str]:
    keys: set[str] = set()
    for section, field in Settings.model_fields.items():
        assert isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        keys |= {f"{section}.{key}" for key in field.annotation.model_fields}
    return keys


def test_every_environment_variable_is_a_real_setting() -> None:
    variables = {
        "Deployment": [e["name"] for e in _container("Deployment")["env"]],
        "Job": [e["name"] for e in _container("Job")["env"]],
        "Dockerfile": [name for name in _docker_env() if name.startswith("DESCOPE")],
    }
    for where, names in variables.items():
        for name in names:
            assert name in CLI_ENV or name in DESCOPE_ENV or _setting_for(name), f"{where}: {name} sets nothing"
    assert "DESCOPE_GITOPS_CONFIG" in variables["Deployment"] and "DESCOPE_GITOPS_CONFIG" in variables["Job"]
    for kind in ("Deployment", "Job"):
        # the Service "descope-gitops" would otherwise inject DESCOPE_GITOPS_SERVICE_HOST, DESCOPE_GITOPS_PORT, ...
        assert _pod_spec(kind)["enableServiceLinks"] is False, kind
    assert _setting_for("DESCOPE_GITOPS_SOURCE__NOPE") is None  # the check itself can fail


def test_config_path_is_the_mounted_config_map() -> None:
    for kind in ("Deployment", "Job"):
        env = {e["name"]: e["value"] for e in _container(kind)["env"]}
        config = PurePosixPath(env["DESCOPE_GITOPS_CONFIG"])
        volume = _volume(kind, "config")
        assert volume["configMap"]["name"] == _one("ConfigMap")["metadata"]["name"]
        assert str(config.parent) == _mount_path(kind, "config")
        assert config.name in _one("ConfigMap")["data"]


def test_secret_files_are_read_only_mounts_of_the_secret_example() -> None:
    secret = _one("Secret")
    assert set(secret["stringData"]) == SECRET_KEYS
    assert set(secret["stringData"].values()) == {"REPLACE_ME"}, "the example holds placeholders only"
    assert "kubectl" in (K8S / "secret.yaml").read_text(encoding="utf-8"), "say how to create it with kubectl"
    for kind in ("Deployment", "Job"):
        container = _container(kind)
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        file_variables = {e["name"]: e["value"] for e in container["env"] if e["name"].endswith("_FILE")}
        assert "DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY_FILE" in file_variables
        for name, value in file_variables.items():
            path = PurePosixPath(value)
            assert str(path.parent) in mounts, f"{kind}: {name}={value} is not in a mounted directory"
            mount = mounts[str(path.parent)]
            assert mount.get("readOnly") is True, f"{kind}: {mount['name']} must be mounted read-only"
            source = _volume(kind, mount["name"])["secret"]
            assert source["secretName"] == secret["metadata"]["name"]
            items = {item["path"]: item["key"] for item in source["items"]}
            assert path.name in items, f"{kind}: {value} is not a file of volume {mount['name']}"
            assert items[path.name] in SECRET_KEYS
        for volume in _pod_spec(kind)["volumes"]:
            if "secret" in volume:
                assert {item["key"] for item in volume["secret"]["items"]} <= SECRET_KEYS, volume["name"]
    deployment_env = {e["name"] for e in _container("Deployment")["env"]}
    assert {
        "DESCOPE_GITOPS_DESCOPE__MANAGEMENT_KEY_FILE",
        "DESCOPE_GITOPS_SOURCE__TOKEN_FILE",
        "DESCOPE_GITOPS_HTTP__WEBHOOK_SECRET_FILE",
    } <= deployment_env


def test_config_map_is_valid_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith("DESCOPE"):
            monkeypatch.delenv(variable)
    data = _config_toml()
    keys = {f"{section}.{key}" for section, values in data.items() for key in values}
    assert keys <= _setting_keys(), f"unknown settings: {sorted(keys - _setting_keys())}"
    assert not {k for k in keys if k.endswith(("management_key", "token", "webhook_secret"))}, "secrets go in files"
    config = tmp_path / "config.toml"
    config.write_text(_one("ConfigMap")["data"]["config.toml"], encoding="utf-8")
    settings = load_settings(config)
    assert settings.source.kind == "git" and settings.source.url.startswith("https://")
    assert settings.http.listen == "0.0.0.0:9464"
    assert settings.log.format == "json", "one JSON object per line for the cluster's log pipeline"


def test_store_dir_is_the_store_volume_everywhere() -> None:
    store_dir = _config_toml()["store"]["dir"]
    claim = _one("PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "descope-gitops-store"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    for kind in ("Deployment", "Job"):
        assert _volume(kind, "store")["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        assert _mount_path(kind, "store") == store_dir
        # read-only root: the store and an emptyDir /tmp are the only writable places
        assert "emptyDir" in _volume(kind, "tmp") and _mount_path(kind, "tmp") == "/tmp"
        writable = {m["mountPath"] for m in _container(kind)["volumeMounts"] if not m.get("readOnly")}
        assert writable == {store_dir, "/tmp"}, kind
    assert _docker_env()["DESCOPE_GITOPS_STORE__DIR"] == store_dir


def test_deployment_runs_one_replica_that_shuts_down_cleanly() -> None:
    deployment = _one("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}, "the store lock is exclusive: never two pods at once"
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > _shutdown_timeout()
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    container = _container("Deployment")
    assert container.get("args", ["run"]) == ["run"] and "command" not in container, "the image's entrypoint, run"
    for name in ("livenessProbe", "readinessProbe"):
        probe = container[name]
        assert probe["periodSeconds"] >= 5 and probe["timeoutSeconds"] >= 1 and probe["failureThreshold"] >= 3
        assert probe["initialDelaySeconds"] >= 5
    for section in ("requests", "limits"):
        assert set(container["resources"][section]) == {"cpu", "memory"}, section


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_pods_meet_the_restricted_pod_security_standard(kind: str) -> None:
    pod = _pod_spec(kind)
    container = _container(kind)
    pod_context, context = pod["securityContext"], container["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["runAsUser"] == UID and pod_context["fsGroup"] == UID
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context.get("runAsUser", UID) == UID and context.get("runAsNonRoot", True) is True
    assert context.get("privileged", False) is False
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == _one("ServiceAccount")["metadata"]["name"]
    assert _one("ServiceAccount")["automountServiceAccountToken"] is False
    (user,) = [rest for kw, rest in _final_stage() if kw == "USER"]
    assert user.split(":")[0] == str(UID), "the image runs as the uid the pods expect"
    labels = _one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_images_are_the_package_version() -> None:
    version = _package_version()
    image = f"descope-gitops:{version}"
    assert _container("Deployment")["image"] == image
    assert _container("Job")["image"] == image
    (entry,) = _kustomization()["images"]
    assert entry["name"] == "descope-gitops" and str(entry["newTag"]) == version
    args = {}
    for rest in _docker("ARG"):
        args.update(_docker_key_values(rest))
    assert args["VERSION"] == version, "Dockerfile ARG VERSION is the version in pyproject.toml"


def test_service_and_network_policy_select_the_right_pods() -> None:
    daemon_labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    restore_labels = _one("Job")["spec"]["template"]["metadata"]["labels"]
    selector = _one("Service")["spec"]["selector"]
    assert selector.items() <= daemon_labels.items()
    assert not selector.items() <= restore_labels.items(), "a restore Job must not receive webhooks"

    policy = _one("NetworkPolicy")["spec"]
    for labels in (daemon_labels, restore_labels):
        assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    egress = {(p["port"], p.get("protocol", "TCP")) for rule in policy["egress"] for p in rule["ports"]}
    assert egress == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (22, "TCP")}


def test_restore_job_is_a_template_that_mirrors_the_daemon() -> None:
    job = _one("Job")
    assert "generateName" in job["metadata"] and job["spec"]["backoffLimit"] == 0
    assert _pod_spec("Job")["restartPolicy"] == "Never"
    daemon_env = {e["name"]: e["value"] for e in _container("Deployment")["env"]}
    for variable in _container("Job")["env"]:
        assert daemon_env.get(variable["name"]) == variable["value"], variable["name"]
    for volume in _pod_spec("Job")["volumes"]:
        assert volume == _volume("Deployment", volume["name"]), f"volume {volume['name']} differs from the daemon's"
        assert _mount_path("Job", volume["name"]) == _mount_path("Deployment", volume["name"])
    args = _container("Job")["args"]
    assert args[0] == "restore" and "--dry-run" in args, "the template starts with a dry run"
    from controller.cli import build_parser

    build_parser().parse_args(args)


def test_restore_job_lands_on_the_store_volumes_node_or_fails_in_time() -> None:
    """The store is ReadWriteOnce: the Job must run where the daemon's pod has it attached, and never hang."""
    assert _one("PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteOnce"]
    affinity = _pod_spec("Job")["affinity"]
    assert set(affinity) == {"podAffinity"}
    pod_affinity = affinity["podAffinity"]
    assert set(pod_affinity) == {"requiredDuringSchedulingIgnoredDuringExecution"}, "required, not preferred"
    (term,) = pod_affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname", "the same node, not just the same zone"
    assert "namespaces" not in term and "namespaceSelector" not in term, "the daemon in the Job's own namespace"
    selector = term["labelSelector"]
    assert set(selector) == {"matchLabels"}
    daemon_labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    own_labels = _one("Job")["spec"]["template"]["metadata"]["labels"]
    assert selector["matchLabels"].items() <= daemon_labels.items(), "selects the daemon's pod"
    assert not selector["matchLabels"].items() <= own_labels.items(), "never satisfied by another restore Job"
    deadline = _one("Job")["spec"]["activeDeadlineSeconds"]
    # counted from the Job's start, Pending included: a Job whose affinity cannot be met fails instead of hanging
    assert isinstance(deadline, int) and 0 < deadline <= 6 * 3600


# ================================================================================= Dockerfile


def test_dockerfile_builds_a_pinned_multi_stage_non_root_image() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = _docker("FROM")
    assert len(froms) >= 2, "multi-stage: build the wheel, install it in the final stage"
    for line in froms:
        image = line.split()[0]
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image), f"pin an exact slim tag, not {image}"
    assert len({line.split()[0] for line in froms}) == 1, "the wheels are built on the image they run on"
    assert [word.lower() for word in froms[0].split()[1:]] == ["as", "build"]
    assert ":latest" not in text
    assert "[test]" not in text and "pytest" not in text, "no test extras in the image"

    runs = [rest for kw, rest in _final_stage() if kw == "RUN"]
    (apt,) = [run for run in runs if "apt-get install" in run]
    assert "--no-install-recommends" in apt
    assert {"git", "openssh-client"} <= set(apt.split())
    assert "rm -rf /var/lib/apt/lists/*" in apt, "apt lists are removed in the same layer"
    (install,) = [run for run in runs if "pip install" in run]
    assert "--no-index" in install and "from=build" in install, "installs the wheels built in the build stage"
    (wheel,) = [rest for kw, rest in _dockerfile_instructions() if kw == "RUN" and "pip wheel" in rest]
    assert "--constraint constraints.txt" in wheel, "the image is built from the tested versions"
    assert ["deploy/constraints.txt", "./constraints.txt"] in [
        rest.split() for kw, rest in _dockerfile_instructions() if kw == "COPY"
    ]

    (user,) = [rest for kw, rest in _final_stage() if kw == "USER"]
    assert user.split(":")[0] not in {"root", "0"}

    env = _docker_env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"].startswith("/tmp")
    assert env["DESCOPE_GITOPS_STORE__DIR"] == "/var/lib/descope-gitops"

    scripts = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["scripts"]
    assert [json.loads(e) for e in _docker("ENTRYPOINT")] == [list(scripts)] == [["descope-gitops"]]
    assert [json.loads(c) for c in _docker("CMD")] == [["run"]]

    labels: dict[str, str] = {}
    for rest in _docker("LABEL"):
        labels.update(_docker_key_values(rest))
    prefix = "org.opencontainers.image."
    assert {f"{prefix}{key}" for key in ("title", "source", "version", "licenses")} <= set(labels)
    assert labels[f"{prefix}title"] == "descope-gitops"
    assert labels[f"{prefix}version"] == "${VERSION}"
    assert labels[f"{prefix}licenses"] == tomllib.loads(PYPROJECT.read_text())["project"]["license"]["text"]


def _dockerignore_excludes(path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context (last matching pattern wins; a pattern
    that matches a parent directory matches everything under it)."""
    excluded = False
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_only_the_sources_in_the_context() -> None:
    kept = ["pyproject.toml", "README.md", "controller/cli/app.py", "controller/sandbox/server.py"]
    for path in kept:
        assert not _dockerignore_excludes(path), path
    for copied in (rest.split()[:-1] for kw, rest in _dockerfile_instructions() if kw == "COPY"):
        for source in copied:
            if not source.startswith("--"):
                assert not _dockerignore_excludes(source), f"COPY {source} is excluded from the context"
    left_out = [
        ".git/HEAD",
        ".venv/bin/python",
        "venv/lib/site.py",
        ".ci/.venv/bin/python",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/content",
        ".pytest_cache/v/cache",
        ".hypothesis/examples/x",
        "controller/__pycache__/cli.cpython-311.pyc",
        "controller/cli.pyc",
        "tests/test_settings.py",
        "descope_gitops.egg-info/PKG-INFO",
        "build/lib/controller/cli.py",
        "dist/descope_gitops-0.1.0-py3-none-any.whl",
        "descope-gitops-state/store.lock",
        "deploy/kubernetes/secret.yaml",
    ]
    for path in left_out:
        assert _dockerignore_excludes(path), path


# ================================================================================= the package installs


def _ignored(directory: str, names: list[str]) -> list[str]:
    relative = Path(directory).relative_to(ROOT).as_posix()
    return [name for name in names if _dockerignore_excludes(f"{relative}/{name}")]


def _build_context(destination: Path) -> Path:
    """The files the Dockerfile copies into its build stage, as the .dockerignore'd context has them."""
    destination.mkdir(parents=True)
    for *sources, target in (rest.split() for kw, rest in _dockerfile_instructions() if kw == "COPY"):
        for source in sources:
            src = ROOT / source
            into = destination / target / src.name if target.endswith("/") else destination / target
            if src.is_dir():
                shutil.copytree(src, into, ignore=_ignored)
            else:
                shutil.copy2(src, into)
    return destination


@pytest.fixture(scope="session")
def installed_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with ``pip install -c constraints.txt .`` of the Docker build context, as the image
    build does (slow: done once a session)."""
    base = tmp_path_factory.mktemp("install")
    context = _build_context(base / "context")
    environment = base / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    # the machine's pip configuration (index, certificates) applies; pip's cache stays on, so reruns are fast
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [
            str(environment / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--constraint",
            "constraints.txt",
            ".",
        ],
        cwd=context,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pip install . failed:\n{result.stdout}\n{result.stderr}"
    yield environment


def test_pip_install_gives_a_working_command(installed_package: Path, tmp_path: Path) -> None:
    command = installed_package / "bin" / "descope-gitops"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([str(command), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for sub in ("run", "validate", "plan", "sync", "status", "backup", "restore", "suspend", "resume", "demo"):
        assert sub in result.stdout
    result = subprocess.run(
        [str(command), "--version"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == f"descope-gitops {_package_version()}"
    python = installed_package / "bin" / "python"
    probe = "import importlib.util as u; print(u.find_spec('pytest') is None, u.find_spec('respx') is None)"
    extras = subprocess.run([str(python), "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert extras.stdout.split() == ["True", "True"], "the runtime install pulls no test extras"


if __name__ == "__main__":  # copy the alert groups into the PrometheusRule
    target = K8S / "prometheusrule.yaml"
    target.write_text(render_prometheus_rule(ALERTS.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)}")
