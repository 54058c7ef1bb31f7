"""The optional webhook Ingress (deploy/kubernetes/ingress/, a kustomize Component), held to the daemon.

The component adds an Ingress that routes POST /hooks/git and nothing else, over TLS, with the proxy's body
limit equal to the daemon's, and patches the NetworkPolicy so that only the monitoring namespace and the
ingress controller may open the port. Both are validated offline against the Kubernetes schemas, as the other
manifests are; the patch is applied here as kustomize applies it (a JSON patch), and once more by
``kubectl kustomize`` itself when kubectl is on PATH. Who may connect is then worked out from the policy's
rules, so a rule that lets everyone in, or shuts the ingress controller out, fails.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from controller.adapters.http_server import DEFAULT_MAX_BODY_BYTES, Health, HttpEndpoints
from tests.deploy.test_manifests import K8S, NAME_LABEL, NAMESPACE, _kubernetes_versions, _listen_port, _one

COMPONENT = K8S / "ingress"
WEBHOOK_PATH = "/hooks/git"
BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size"
NS_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace

Manifest = dict[str, Any]


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _component() -> Manifest:
    data: Manifest = _yaml(COMPONENT / "kustomization.yaml")
    return data


def _ingress() -> Manifest:
    (doc,) = [d for d in yaml.safe_load_all((COMPONENT / "ingress.yaml").read_text(encoding="utf-8")) if d]
    assert doc["kind"] == "Ingress"
    return doc  # type: ignore[no-any-return]


def _json_patch(document: Manifest, operations: list[Manifest]) -> Manifest:
    """RFC 6902 as kustomize applies it, for the operations a patch here may use (add, replace, remove)."""
    result = copy.deepcopy(document)
    for op in operations:
        assert op["op"] in {"add", "replace", "remove"}, f"unsupported op {op['op']}"
        *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in op["path"].split("/")[1:]]
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) and last != "-" else last
        if op["op"] == "remove":
            del node[key]
        elif op["op"] == "replace":
            assert (key < len(node)) if isinstance(node, list) else (key in node), f"replace: no {op['path']}"
            node[key] = copy.deepcopy(op["value"])
        elif isinstance(node, list):
            node.insert(len(node) if key == "-" else key, copy.deepcopy(op["value"]))
        else:
            node[key] = copy.deepcopy(op["value"])
    return result


def _patched_policy() -> Manifest:
    (patch,) = _component()["patches"]
    return _json_patch(_one("NetworkPolicy"), _yaml(COMPONENT / patch["path"]))


def _admits(policy: Manifest, *, namespace: str, pod: dict[str, str], port: int, protocol: str = "TCP") -> bool:
    """Whether the policy's ingress rules let a pod with these labels, in this namespace, open the port.

    The subset of NetworkPolicy semantics the manifests use: rules are ORed; a rule without ``from`` admits
    every source; a ``from`` peer with namespaceSelector and podSelector needs both (matchLabels only); a
    peer with podSelector alone means the policy's own namespace; a rule without ``ports`` admits all ports."""
    spec = policy["spec"]
    assert "Ingress" in spec["policyTypes"]
    namespace_labels = {NS_LABEL: namespace}

    def matches(selector: Manifest | None, labels: dict[str, str]) -> bool:
        if selector is None:
            return True
        assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are understood here"
        return bool(selector.get("matchLabels", {}).items() <= labels.items())

    def peer_admits(peer: Manifest) -> bool:
        assert set(peer) <= {"namespaceSelector", "podSelector"}, f"peer kind not understood here: {peer}"
        if "namespaceSelector" not in peer and namespace != policy["metadata"]["namespace"]:
            return False
        return matches(peer.get("namespaceSelector"), namespace_labels) and matches(peer.get("podSelector"), pod)

    for rule in spec.get("ingress", []):
        ports = rule.get("ports")
        if ports is not None and not any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports):
            continue
        if "from" not in rule or any(peer_admits(peer) for peer in rule["from"]):
            return True
    return False


def _bytes(size: str) -> int:
    """An nginx size (``client_max_body_size``): bytes, or k/m/g in units of 1024."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", size)
    assert match, f"not an nginx size: {size!r}"
    exponent = " kmg".index((match[2] or " ").lower())
    return int(match[1]) << (10 * exponent)


# ================================================================================= the component


def test_the_ingress_is_an_optional_component() -> None:
    component = _component()
    assert component["apiVersion"] == "kustomize.config.k8s.io/v1alpha1" and component["kind"] == "Component"
    assert component["resources"] == ["ingress.yaml"]
    (patch,) = component["patches"]
    assert patch["target"] == {
        "group": "networking.k8s.io",
        "version": "v1",
        "kind": "NetworkPolicy",
        "name": _one("NetworkPolicy")["metadata"]["name"],
    }
    used = {"kustomization.yaml", *component["resources"], patch["path"]}
    assert {p.name for p in COMPONENT.iterdir()} == used, "every file of the component is used, and only those"
    base = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert "components" not in base, "optional: the base applies without an Ingress"
    assert "#   - ingress" in (K8S / "kustomization.yaml").read_text(encoding="utf-8"), "say how to turn it on"


@pytest.mark.parametrize("version", _kubernetes_versions())
def test_ingress_and_patched_network_policy_are_valid_kubernetes(version: str) -> None:
    for doc in (_ingress(), _patched_policy()):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{doc['kind']} is not valid for Kubernetes {version} at {path}: {exc.message}")
    ingress = _ingress()
    assert ingress["metadata"]["namespace"] == NAMESPACE
    assert ingress["metadata"]["labels"].items() >= NAME_LABEL.items()


# ================================================================================= the Ingress


def test_ingress_exposes_only_the_webhook_path_exactly() -> None:
    spec = _ingress()["spec"]
    assert "defaultBackend" not in spec, "a default backend would route every other path to someone"
    service = _one("Service")
    port_names = {p["name"] for p in service["spec"]["ports"]}
    routes = []
    for rule in spec["rules"]:
        assert rule.get("host"), "a rule without host answers for every host name"
        for path in rule["http"]["paths"]:
            routes.append((path["path"], path["pathType"]))
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"].get("name") in port_names or backend["port"].get("number") == _listen_port()
    assert routes == [(WEBHOOK_PATH, "Exact")], "only /hooks/git, exactly (Prefix would match /hooks/git/…)"
    assert not any(p in str(spec) for p in ("/metrics", "/healthz", "/readyz")), "metrics and probes stay internal"


def test_ingress_terminates_tls_for_every_host() -> None:
    spec = _ingress()["spec"]
    hosts = {rule["host"] for rule in spec["rules"]}
    covered = {host for entry in spec["tls"] for host in entry["hosts"]}
    assert hosts <= covered
    assert all(entry.get("secretName") for entry in spec["tls"])
    assert _ingress()["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"


def test_ingress_body_limit_is_the_daemons() -> None:
    annotations = _ingress()["metadata"]["annotations"]
    assert _bytes(annotations[BODY_SIZE]) == DEFAULT_MAX_BODY_BYTES, (
        "the proxy's body limit must equal the daemon's (controller/adapters/http_server.py)"
    )
    assert "1 MiB" in (COMPONENT / "ingress.yaml").read_text(encoding="utf-8"), "the comment names the limit"
    assert _bytes("1m") == 1_048_576 and _bytes("512k") == 524_288 and _bytes("100") == 100  # the parser itself


def test_the_routed_path_is_the_daemons_webhook() -> None:
    """The one path the Ingress routes answers as the webhook (401 unsigned); a path next to it is a 404."""
    endpoints = HttpEndpoints(
        liveness=lambda: Health(ok=True),
        readiness=lambda: Health(ok=True),
        on_push=lambda event: None,
        webhook_secret="s3cret-for-the-ingress-test",
    )
    ((path, _),) = [(p["path"], p["pathType"]) for r in _ingress()["spec"]["rules"] for p in r["http"]["paths"]]

    def status(route: str) -> int:
        request = urllib.request.Request(f"{endpoints.url}{route}", data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    with endpoints:
        assert status(path) == 401, "the Ingress' path is the signed webhook"
        assert status(path + "/x") == 404


# ================================================================================= the NetworkPolicy


def test_network_policy_admits_the_ingress_controller_and_monitoring_only() -> None:
    port = _listen_port()
    policy = _patched_policy()
    controller_pod = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    assert _admits(policy, namespace="ingress-nginx", pod=controller_pod, port=port), "webhooks could not arrive"
    assert _admits(policy, namespace="monitoring", pod=prometheus, port=port), "Prometheus could not scrape"
    assert not _admits(policy, namespace="ingress-nginx", pod={"app": "other"}, port=port)
    assert not _admits(policy, namespace="default", pod=controller_pod, port=port)
    assert not _admits(policy, namespace="default", pod={"app": "curl"}, port=port)
    assert not _admits(policy, namespace=NAMESPACE, pod={"app": "curl"}, port=port)
    assert not _admits(policy, namespace="monitoring", pod=prometheus, port=port + 1)
    for rule in policy["spec"]["ingress"]:
        assert "from" in rule and [(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]] == [(port, "TCP")]
    # the patch changes who may connect, nothing else
    base = _one("NetworkPolicy")
    assert {k: v for k, v in policy["spec"].items() if k != "ingress"} == {
        k: v for k, v in base["spec"].items() if k != "ingress"
    }
    # the base alone admits anyone on the port (the check itself can tell the two apart)
    assert _admits(base, namespace="default", pod={"app": "curl"}, port=port)
    text = (COMPONENT / "networkpolicy-patch.yaml").read_text(encoding="utf-8")
    assert "ports, not" in text and "/metrics" in text, "say that a NetworkPolicy cannot tell paths apart"


def test_kustomize_builds_the_base_with_the_component(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH (its kustomize builds the base with the component)")
    tree = tmp_path / "kubernetes"
    shutil.copytree(K8S, tree)
    kustomization = tree / "kustomization.yaml"
    kustomization.write_text(
        kustomization.read_text(encoding="utf-8").replace("# components:\n#   - ingress", "components:\n  - ingress"),
        encoding="utf-8",
    )
    built = subprocess.run([kubectl, "kustomize", str(tree)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built.stdout) if d}
    ingress = docs[("Ingress", _ingress()["metadata"]["name"])]
    assert ingress["metadata"]["namespace"] == NAMESPACE
    assert ingress["spec"] == _ingress()["spec"]
    policy = docs[("NetworkPolicy", _one("NetworkPolicy")["metadata"]["name"])]
    assert policy["spec"] == _patched_policy()["spec"], "kustomize patches the policy as this test does"
