"""The Kubernetes manifests (deploy/k8s), checked offline: every object of the base
and of each overlay as rendered validates against Kubernetes' own schemas; the
processes run as non-root with limits and probes; secrets only from the Secret;
only Rasa and the API reachable from outside; the overlays' replicas, autoscalers
and disruption budgets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import kubernetes_validate
import pytest
import yaml

from tests.deploy.kustomize import containers, load_all, render
from tests.deploy.rules import (
    K8S,
    KNOWN,
    OVERLAYS,
    ROOT,
    SECRET_NAME,
    STORE_VARIABLES,
    URL_WITH_PASSWORD,
    is_secret,
    secrets_example,
)

# The oldest and the newest Kubernetes minor versions we claim (strict: an unknown
# or misspelt field is an error, as `kubectl apply --validate=strict` makes it).
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
OUR_IMAGES = ("bilingual-assistant/",)
PROCESSES = {"rasa", "action-server", "api", "worker", "llm"}
EDGE = {"rasa", "api"}
MONITORING = "monitoring"


def rendered(name: str) -> List[Dict[str, Any]]:
    return render(K8S / "base" if name == "base" else K8S / "overlays" / name)


RENDERED = {name: rendered(name) for name in ("base", *OVERLAYS)}


def by_kind(objects: List[Dict[str, Any]], kind: str) -> Dict[str, Dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: List[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    return (o for o in objects if o["kind"] in ("Deployment", "StatefulSet"))


def ours(container: Dict[str, Any]) -> bool:
    return any(prefix in container["image"] for prefix in OUR_IMAGES)


def manifest_files() -> List[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_every_rendered_object_validates_against_the_kubernetes_schema(name):
    objects = RENDERED[name]
    assert len(objects) >= 20
    for version in KUBERNETES_VERSIONS:
        for item in objects:
            kubernetes_validate.validate(item, version, strict=True)


def test_every_whole_manifest_file_validates_too():
    # Patches are partial objects; every other file holds whole ones.
    patches = {K8S / "overlays" / o / p["path"] for o in OVERLAYS
               for p in load_all(K8S / "overlays" / o / "kustomization.yaml")[0]
               .get("patches", [])}
    checked = 0
    for path in manifest_files():
        if path in patches:
            continue
        for item in load_all(path):
            kubernetes_validate.validate(item, KUBERNETES_VERSIONS[-1], strict=True)
            checked += 1
    assert checked >= 25


def test_the_validator_refuses_a_misspelt_field():
    deployment = next(o for o in RENDERED["base"] if o["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def kustomize_command() -> List[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return []


@pytest.mark.skipif(not kustomize_command(), reason="no kustomize or kubectl here: "
                    "the overlays are rendered by tests/deploy/kustomize.py only")
@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_the_renderer_agrees_with_kustomize(name):
    folder = K8S / "base" if name == "base" else K8S / "overlays" / name
    result = subprocess.run([*kustomize_command(), str(folder)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr

    def key(item: Dict[str, Any]) -> Tuple[str, str]:
        return item["kind"], item["metadata"]["name"]

    theirs = {key(o): o for o in yaml.safe_load_all(result.stdout) if o}
    mine = {key(o): o for o in RENDERED[name]}
    assert mine == theirs


def hardening_problems(objects: List[Dict[str, Any]]) -> List[Any]:
    """Pods and containers that could run as root, escalate, write their image's
    files, run without requests and limits, or without liveness and readiness probes."""
    problems: List[Any] = []
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        context = pod.get("securityContext", {})
        user = context.get("runAsUser")
        if not (context.get("runAsNonRoot") is True and isinstance(user, int) and user > 0
                and context.get("seccompProfile") == {"type": "RuntimeDefault"}
                and pod.get("automountServiceAccountToken") is False
                and not pod.get("hostNetwork")):
            problems.append((name, "pod"))
        for container in pod.get("initContainers", []) + pod["containers"]:
            security = container.get("securityContext", {})
            capabilities = security.get("capabilities", {})
            if not (security.get("allowPrivilegeEscalation") is False
                    and security.get("readOnlyRootFilesystem") is True
                    and capabilities.get("drop") == ["ALL"] and "add" not in capabilities
                    and not security.get("privileged")
                    and security.get("runAsUser", 1) != 0):
                problems.append((name, container["name"], "securityContext"))
            resources = container.get("resources", {})
            if any(set(resources.get(kind, {})) != {"cpu", "memory"}
                   for kind in ("requests", "limits")):
                problems.append((name, container["name"], "resources"))
            if container in pod.get("initContainers", []):
                continue
            if not (container.get("livenessProbe") and container.get("readinessProbe")):
                problems.append((name, container["name"], "probes"))
            ports = {p["name"] for p in container.get("ports", [])} | {
                p["containerPort"] for p in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                action = container.get(probe, {})
                target = action.get("httpGet") or action.get("tcpSocket")
                if target and target["port"] not in ports:
                    problems.append((name, container["name"], probe))
    return problems


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_container_runs_as_non_root_with_limits_and_probes(name):
    assert hardening_problems(RENDERED[name]) == []


def test_the_hardening_check_catches_a_root_or_unbounded_container():
    objects = rendered("single-node")
    sets = by_kind(objects, "StatefulSet")
    sets["postgres"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
    redis = sets["redis"]["spec"]["template"]["spec"]["containers"][0]
    del redis["resources"]["limits"]
    del redis["readinessProbe"]
    worker = by_kind(objects, "Deployment")["worker"]["spec"]["template"]["spec"]
    worker["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    worker["containers"][0]["livenessProbe"]["tcpSocket"]["port"] = 1234
    assert hardening_problems(objects) == [
        ("worker", "worker", "securityContext"), ("worker", "worker", "livenessProbe"),
        ("postgres", "pod"), ("redis", "redis", "resources"),
        ("redis", "redis", "probes")]


def quantity(text: Any) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    text = str(text)
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.mark.parametrize("name", OVERLAYS)
def test_requests_fit_in_their_limits(name):
    for container in containers(RENDERED[name]):
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            assert (quantity(resources["requests"][resource])
                    <= quantity(resources["limits"][resource])), container["name"]


def probe_paths(objects: List[Dict[str, Any]], process: str) -> Dict[str, str]:
    container = by_kind(objects, "Deployment")[process]["spec"]["template"]["spec"][
        "containers"][0]
    return {probe: container[probe]["httpGet"]["path"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe")
            if "httpGet" in container.get(probe, {})}


def test_the_probes_use_the_processes_own_health_routes():
    from apps.action_server.http import OPEN_PATHS
    from apps.api.routes.health import router as api_health

    objects = RENDERED["base"]
    assert probe_paths(objects, "action-server") == {
        "startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/health"}
    assert "/health" in OPEN_PATHS  # answered without ACTION_SERVER_TOKEN
    assert {"/v1/health", "/v1/ready"} <= {route.path for route in api_health.routes}
    assert probe_paths(objects, "api") == {"startupProbe": "/v1/health",
                                           "livenessProbe": "/v1/health",
                                           "readinessProbe": "/v1/ready"}
    rest = (ROOT / "channels/rest.py").read_text(encoding="utf-8")
    assert "`GET /webhooks/rest/` (health)" in rest
    assert probe_paths(objects, "rasa") == {"startupProbe": "/", "livenessProbe": "/",
                                            "readinessProbe": "/webhooks/rest/"}


def secret_problems(objects: List[Dict[str, Any]]) -> List[Any]:
    """Secrets not taken from the Secret by name, and literal credentials."""
    problems: List[Any] = [("a Secret object", o["metadata"]["name"]) for o in objects
                           if o["kind"] == "Secret"]
    example = secrets_example()
    for container in containers(objects):
        for variable in container.get("env", []):
            where = (container["name"], variable["name"])
            if is_secret(variable["name"]):
                reference = variable.get("valueFrom", {}).get("secretKeyRef", {})
                if ("value" in variable or reference.get("name") != SECRET_NAME
                        or reference.get("key") not in example):
                    problems.append(where)
            elif URL_WITH_PASSWORD.search(str(variable.get("value", ""))):
                problems.append(where)
    for config in by_kind(objects, "ConfigMap").values():
        for key, value in config["data"].items():
            if is_secret(key) or URL_WITH_PASSWORD.search(value):
                problems.append((config["metadata"]["name"], key))
    return problems


@pytest.mark.parametrize("name", OVERLAYS)
def test_secrets_come_only_from_the_secret(name):
    assert secret_problems(RENDERED[name]) == []


def test_the_secret_check_catches_literal_secrets():
    objects = rendered("scaled")
    rasa = by_kind(objects, "Deployment")["rasa"]["spec"]["template"]["spec"]
    env = rasa["containers"][0]["env"]
    env[0] = {"name": "RASA_AUTH_TOKEN", "value": "s3cret"}
    env.append({"name": "API_RASA_URL", "value": "http://user:pw@rasa:5005"})
    by_kind(objects, "ConfigMap")["assistant-config"]["data"]["LLM_API_KEY"] = "k"
    objects.append({"kind": "Secret", "metadata": {"name": "leaked"}})
    assert secret_problems(objects) == [
        ("a Secret object", "leaked"), ("rasa", "RASA_AUTH_TOKEN"),
        ("rasa", "API_RASA_URL"), ("assistant-config", "LLM_API_KEY")]


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_variable_is_a_declared_setting(name):
    objects = RENDERED[name]
    for container in containers(objects):
        names = {v["name"] for v in container.get("env", [])}
        allowed = KNOWN if ours(container) else KNOWN | STORE_VARIABLES
        assert names <= allowed, (container["name"], names - allowed)
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] == "assistant-config"
    config = by_kind(objects, "ConfigMap")["assistant-config"]["data"]
    assert set(config) <= KNOWN, set(config) - KNOWN
    example = set(secrets_example())
    assert example <= KNOWN | STORE_VARIABLES, example - KNOWN - STORE_VARIABLES


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_configuration_is_valid_for_the_processes(name):
    from bilingual_assistant.config import load_settings

    config = by_kind(RENDERED[name], "ConfigMap")["assistant-config"]["data"]
    settings = load_settings(config)  # a bad value raises ConfigurationError
    # The API listens on 0.0.0.0, which it refuses in the single-user local mode.
    assert settings.api.host == "0.0.0.0" and settings.api.local_user is False
    assert settings.rasa.action_server_url == "http://action-server:5055/webhook"
    assert settings.knowledge.milvus_uri == "http://milvus:19530"
    services = set(by_kind(RENDERED[name], "Service"))
    for url in (settings.rasa.action_server_url, settings.api.rasa_url,
                settings.llm.base_url, settings.knowledge.milvus_uri):
        assert url.split("//")[1].split(":")[0] in services, url


def policies_for(objects: List[Dict[str, Any]], labels: Dict[str, str]):
    for policy in by_kind(objects, "NetworkPolicy").values():
        if "Ingress" in policy["spec"]["policyTypes"] and selects(
                policy["spec"]["podSelector"], labels):
            yield policy


def selects(selector: Dict[str, Any], labels: Dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        if expression["operator"] != "In":
            raise NotImplementedError(expression)
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def outside_peers(policy: Dict[str, Any]) -> Iterator[Tuple[str, Any]]:
    """Who from outside the namespace each rule lets in, with the ports."""
    for rule in policy["spec"].get("ingress", []):
        ports = {p["port"] for p in rule.get("ports", [])} or {"any"}
        peers = rule.get("from")
        if not peers:
            yield "anyone", ports
            continue
        for peer in peers:
            if "ipBlock" in peer:
                yield "anyone", ports
            elif "namespaceSelector" in peer:
                names = peer["namespaceSelector"].get("matchLabels", {}).get(
                    "kubernetes.io/metadata.name", "any namespace")
                yield names, ports


def reachable_from_outside(objects: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Process -> who from outside the namespace may connect, on which ports;
    Prometheus's namespace on the metrics port only is left out."""
    reachable: Dict[str, Any] = {}
    for workload in workloads(objects):
        template = workload["spec"]["template"]
        labels = template["metadata"]["labels"]
        metrics_port = template["metadata"].get("annotations", {}).get(
            "prometheus.io/port")
        for policy in policies_for(objects, labels):
            for source, ports in outside_peers(policy):
                if source == MONITORING and metrics_port and ports == {int(metrics_port)}:
                    continue
                reachable.setdefault(labels["app.kubernetes.io/name"], set()).add(
                    (source, tuple(sorted(map(str, ports)))))
    return reachable


@pytest.mark.parametrize("name", OVERLAYS)
def test_only_rasa_and_the_api_are_reachable_from_outside(name):
    objects = RENDERED[name]
    deny = by_kind(objects, "NetworkPolicy")["default-deny-ingress"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert reachable_from_outside(objects) == {
        "rasa": {("ingress-nginx", ("5005",))}, "api": {("ingress-nginx", ("8000",))}}
    for service in by_kind(objects, "Service").values():
        assert service["spec"].get("type", "ClusterIP") in ("ClusterIP", "ExternalName")
    ingress = by_kind(objects, "Ingress")["assistant"]
    routes = {(p["path"], p["backend"]["service"]["name"])
              for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert {service for _, service in routes} == EDGE
    assert {path for path, service in routes if service == "rasa"} == {
        "/webhooks/", "/socket.io/"}
    assert not any("metrics" in path for path, _ in routes)


def test_the_reachability_check_notices_an_open_policy():
    objects = rendered("single-node")
    policies = by_kind(objects, "NetworkPolicy")
    policies["llm-from-action-server"]["spec"]["ingress"][0]["from"].append(
        {"ipBlock": {"cidr": "0.0.0.0/0"}})
    policies["worker-from-monitoring"]["spec"]["ingress"][0]["ports"].append(
        {"protocol": "TCP", "port": 8080})
    del policies["stores-from-the-processes"]["spec"]["ingress"][0]["from"]
    found = reachable_from_outside(objects)
    assert found["llm"] == {("anyone", ("8088",))}
    assert found["worker"] == {("monitoring", ("8080", "9464"))}
    assert found["postgres"] == found["redis"] == {("anyone", ("5432", "6379"))}


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_service_and_reference_finds_its_target(name):
    objects = RENDERED[name]
    templates = {w["metadata"]["name"]: w["spec"]["template"] for w in workloads(objects)}
    for service in by_kind(objects, "Service").values():
        if service["spec"].get("type") == "ExternalName":
            continue
        matching = [t for t in templates.values()
                    if selects({"matchLabels": service["spec"]["selector"]},
                               t["metadata"]["labels"])]
        assert matching, service["metadata"]["name"]
        ports = {p["name"] for t in matching for c in t["spec"]["containers"]
                 for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, service["metadata"]["name"]
    claims = set(by_kind(objects, "PersistentVolumeClaim"))
    for template in templates.values():
        for volume in template["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
    for workload in workloads(objects):
        spec = workload["spec"]
        assert selects(spec["selector"], spec["template"]["metadata"]["labels"])
    deployments = by_kind(objects, "Deployment")
    assert set(deployments) == PROCESSES
    for budget in by_kind(objects, "PodDisruptionBudget").values():
        assert any(selects(budget["spec"]["selector"], t["metadata"]["labels"])
                   for t in templates.values())
    for scaler in by_kind(objects, "HorizontalPodAutoscaler").values():
        assert scaler["spec"]["scaleTargetRef"]["name"] in deployments


def test_the_single_node_overlay_runs_one_of_each_with_the_stores_inside():
    objects = RENDERED["single-node"]
    assert {n: d["spec"]["replicas"] for n, d in by_kind(objects, "Deployment").items()} \
        == {p: 1 for p in PROCESSES}
    assert set(by_kind(objects, "StatefulSet")) == {"postgres", "redis", "milvus"}
    services = by_kind(objects, "Service")
    for store in ("postgres", "redis", "milvus"):
        assert services[store]["spec"]["type"] == "ClusterIP"
        assert "externalName" not in services[store]["spec"]
    assert not by_kind(objects, "HorizontalPodAutoscaler")
    assert not by_kind(objects, "PodDisruptionBudget")


def test_the_scaled_overlay_runs_several_rasa_replicas_kept_up_in_drains():
    objects = RENDERED["scaled"]
    deployments = by_kind(objects, "Deployment")
    assert deployments["rasa"]["spec"]["replicas"] >= 3
    scalers = by_kind(objects, "HorizontalPodAutoscaler")
    assert scalers["rasa"]["spec"]["minReplicas"] >= 3
    assert scalers["rasa"]["spec"]["maxReplicas"] > scalers["rasa"]["spec"]["minReplicas"]
    assert scalers["action-server"]["spec"]["minReplicas"] >= 2
    budget = by_kind(objects, "PodDisruptionBudget")["rasa"]["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"] == {"app.kubernetes.io/name": "rasa"}
    assert not by_kind(objects, "StatefulSet")
    for store in ("postgres", "redis", "milvus"):
        assert by_kind(objects, "Service")[store]["spec"]["type"] == "ExternalName"
    claim = by_kind(objects, "PersistentVolumeClaim")["knowledge"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    # Rasa's replicas share the conversations and their locks.
    env = {v["name"] for v in deployments["rasa"]["spec"]["template"]["spec"][
        "containers"][0]["env"]}
    assert {"CONVERSATIONS_DB_URL", "REDIS_URL", "CONVERSATION_KEYS"} <= env
    for container in containers(objects):
        assert container["image"].startswith("registry.example.com/"), container["image"]


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_metrics_ports_are_annotated_for_prometheus(name):
    expected = {"rasa": "5005", "action-server": "5055", "api": "8000", "worker": "9464"}
    for process, deployment in by_kind(RENDERED[name], "Deployment").items():
        template = deployment["spec"]["template"]
        annotations = template["metadata"].get("annotations", {})
        if process not in expected:
            assert "prometheus.io/scrape" not in annotations
            continue
        assert annotations == {"prometheus.io/scrape": "true",
                               "prometheus.io/port": expected[process],
                               "prometheus.io/path": "/metrics"}
        ports = {str(p["containerPort"]) for c in template["spec"]["containers"]
                 for p in c["ports"]}
        assert expected[process] in ports
