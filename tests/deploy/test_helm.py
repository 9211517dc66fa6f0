"""The Helm chart (deploy/helm/dagy), linted and rendered by Helm itself (helm-python-sdk binds Helm's
Go SDK; no `helm` binary is needed), then read back into the `kubernetes` client's models.

Each rendered document must deserialize into its model and serialize back to itself (so no field is
misspelt or misplaced), and what it names of Dagy must exist: its commands and options (the typer
app), its variables (the settings), the health routes its probes call and the metric its autoscaler
reads (the app, through HTTP), and what the kubernetes executor does in the cluster (its own code,
against a Kubernetes API server on loopback).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from typing import Any

import helm_python
import pytest
import yaml
from fastapi.testclient import TestClient
from kubernetes import client as k8s
from prometheus_client.parser import text_string_to_metric_families

from dagy.server.executors.containers import ContainerRun
from dagy.server.executors.kubernetes import KubernetesBackend
from tests.deploy.operator_interface import (
    DEPLOY,
    ROOT,
    assert_known_variable,
    dockerfile_instructions,
    parse_invocation,
)
from tests.executors.k8s_peer import kubernetes_peer, terminated

CHART = DEPLOY / "helm" / "dagy"
RELEASE, NAMESPACE = "dagy", "prod"
DATABASE_URL = "postgresql+psycopg://dagy:pw@postgres.internal:5432/dagy"
MINIMAL: dict[str, Any] = {"database": {"url": DATABASE_URL}}
# Every optional part on: the kubernetes executor, the Ingress, the autoscaler, metrics, tracing.
FULL: dict[str, Any] = {
    "database": {"url": DATABASE_URL},
    "imagePullSecrets": [{"name": "registry"}],
    "secrets": {"metricsToken": "scrape-me", "redisUrl": "redis://redis.internal:6379/0"},
    "config": {"DAGY_SUPERADMIN_EMAILS": "ops@example.com", "DAGY_PUBLIC_URL": "https://dagy.example.com"},
    "api": {"replicas": 3, "processes": 2},
    "worker": {
        "autoscaling": {"enabled": True, "cpu": {"enabled": True}},
        "env": {"DAGY_SMTP_HOST": "smtp.internal"},
    },
    "kubernetesExecutor": {"enabled": True, "namespace": "dagy-runs"},
    "ingress": {"enabled": True, "className": "nginx", "tlsSecretName": "dagy-tls"},
    "metrics": {"serviceMonitor": {"enabled": True}},
    "tracing": {"enabled": True, "endpoint": "http://otel-collector.observability:4318"},
}
EXISTING_SECRETS: dict[str, Any] = {
    "database": {"existingSecret": "dagy-database", "existingSecretKey": "url"},
    "secrets": {"existingSecret": "dagy-keys"},
    "persistence": {"existingClaim": "dagy-home-nfs"},
}
VARIANTS = {"default": MINIMAL, "full": FULL, "existing-secrets": EXISTING_SECRETS}
MODELS = {
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job",
    ("v1", "Service"): "V1Service",
    ("v1", "Secret"): "V1Secret",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("networking.k8s.io/v1", "Ingress"): "V1Ingress",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
}
API = k8s.ApiClient()


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's documents as `helm install` would send them (hooks included)."""
    chart = helm_python.Chart.load(CHART)
    manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return [
        doc
        for path, text in sorted(manifests.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod_spec(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, kind, name)["spec"]["template"]["spec"]
    return spec


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc["metadata"]["name"], container


@pytest.fixture(scope="module", params=list(VARIANTS))
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(VARIANTS[request.param])


@pytest.fixture(scope="module")
def full() -> list[dict[str, Any]]:
    return render(FULL)


@pytest.fixture(scope="module")
def default() -> list[dict[str, Any]]:
    return render(MINIMAL)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_helm_lint_finds_nothing_to_fix(variant: str) -> None:
    report = helm_python.lint(CHART, VARIANTS[variant], strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert report["errors"] == [] and problems == []


def test_the_chart_refuses_to_render_without_a_database() -> None:
    with pytest.raises(helm_python.HelmRenderError, match=r"database\.url .* or database\.existingSecret"):
        render({})


def test_every_document_is_a_valid_kubernetes_object(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a prometheus-operator resource: the client has no model
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        model = API.deserialize(json.dumps(doc), MODELS[(doc["apiVersion"], doc["kind"])], "application/json")
        # Deserializing drops what the model does not know: a misspelt field would vanish here.
        assert API.sanitize_for_serialization(model) == doc, doc["metadata"]["name"]


def test_the_default_release_is_api_services_workers_and_migrations(default: list[dict[str, Any]]) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in default)
    assert kinds == [
        ("ConfigMap", "dagy"),
        ("Deployment", "dagy-api"),
        ("Deployment", "dagy-services"),
        ("Deployment", "dagy-worker"),
        ("Job", "dagy-migrate"),
        ("PersistentVolumeClaim", "dagy-home"),
        ("Secret", "dagy"),
        ("Service", "dagy-api"),
        ("ServiceAccount", "dagy"),
    ]


def test_the_optional_parts_can_be_left_out() -> None:
    bare = render(
        MINIMAL
        | {
            "worker": {"enabled": False},
            "persistence": {"enabled": False},
            "migrations": {"enabled": False},
            "serviceAccount": {"create": False},
        }
    )
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in bare)
    assert kinds == [
        ("ConfigMap", "dagy"),
        ("Deployment", "dagy-api"),
        ("Deployment", "dagy-services"),
        ("Secret", "dagy"),
        ("Service", "dagy-api"),
    ]
    # Without a fleet the installation's default executor stays Dagy's own (`local`) ...
    assert "DAGY_DEFAULT_EXECUTOR" not in one(bare, "ConfigMap", "dagy")["data"]
    assert pod_spec(bare, "Deployment", "dagy-api")["volumes"][0] == {"name": "home", "emptyDir": {}}
    assert pod_spec(bare, "Deployment", "dagy-services")["serviceAccountName"] == "default"
    # ... unless runs go to Jobs.
    jobs_only = render(MINIMAL | {"worker": {"enabled": False}, "kubernetesExecutor": {"enabled": True}})
    assert one(jobs_only, "ConfigMap", "dagy")["data"]["DAGY_DEFAULT_EXECUTOR"] == "kubernetes"


def test_every_container_runs_a_real_dagy_command(docs: list[dict[str, Any]]) -> None:
    commands = {}
    for owner, container in containers(docs):
        assert container["command"] == ["dagy"]
        path, params = parse_invocation(container["args"])
        commands[owner] = (path, params)
    assert commands["dagy-api"] == (["server"], commands["dagy-api"][1])
    assert commands["dagy-api"][1]["no_services"] and commands["dagy-api"][1]["no_worker"]
    assert commands["dagy-services"][0] == ["services"]
    assert commands["dagy-migrate"][0] == ["db", "upgrade"]
    assert commands["dagy-migrate"][1]["revision"] == "head"
    worker_path, worker = commands["dagy-worker"]
    assert worker_path == ["worker"] and worker["executor"] == "flow-executor" and worker["concurrency"] == 4


def test_api_processes_and_worker_options_come_from_values(full: list[dict[str, Any]]) -> None:
    [api] = pod_spec(full, "Deployment", "dagy-api")["containers"]
    assert parse_invocation(api["args"])[1]["processes"] == 2
    [worker] = pod_spec(full, "Deployment", "dagy-worker")["containers"]
    params = parse_invocation(worker["args"])[1]
    grace = pod_spec(full, "Deployment", "dagy-worker")["terminationGracePeriodSeconds"]
    assert grace > params["drain_seconds"]  # the drain ends before Kubernetes kills the pod


def test_every_variable_is_a_dagy_setting(docs: list[dict[str, Any]]) -> None:
    names = [env["name"] for _, c in containers(docs) for env in c.get("env", [])]
    names += [key for d in docs if d["kind"] == "ConfigMap" for key in d.get("data", {})]
    names += list(yaml.safe_load((CHART / "values.yaml").read_text())["config"])  # the empty ones too
    assert names
    for name in names:
        assert_known_variable(name)


def test_the_image_is_the_dockerfile_s_and_the_chart_s_version_dagy_s(default: list[dict[str, Any]]) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version
    assert {c["image"] for _, c in containers(default)} == {f"dagy:{version}"}
    # Port 8080 is where the image's `dagy server` listens (DAGY_PORT), and what the API exposes.
    env = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "ENV")
    assert "DAGY_PORT=8080" in env and "DAGY_HOST=0.0.0.0" in env
    [api] = pod_spec(default, "Deployment", "dagy-api")["containers"]
    assert api["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_probes_call_the_health_routes_and_they_answer(
    default: list[dict[str, Any]], client: TestClient
) -> None:
    [api] = pod_spec(default, "Deployment", "dagy-api")["containers"]
    assert api["livenessProbe"]["httpGet"] == {"path": "/v1/health/live", "port": "http"}
    assert api["startupProbe"]["httpGet"] == {"path": "/v1/health/live", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/v1/health/ready", "port": "http"}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        response = client.get(api[probe]["httpGet"]["path"])
        assert response.status_code == 200, (probe, response.text)


def test_services_run_twice_and_the_api_as_often_as_asked(
    default: list[dict[str, Any]], full: list[dict[str, Any]]
) -> None:
    assert one(default, "Deployment", "dagy-services")["spec"]["replicas"] == 2
    assert one(full, "Deployment", "dagy-services")["spec"]["replicas"] == 2
    assert one(default, "Deployment", "dagy-api")["spec"]["replicas"] == 2
    assert one(full, "Deployment", "dagy-api")["spec"]["replicas"] == FULL["api"]["replicas"]


def test_the_service_and_ingress_reach_the_api_pods(full: list[dict[str, Any]]) -> None:
    service = one(full, "Service", "dagy-api")
    api = one(full, "Deployment", "dagy-api")
    assert service["spec"]["selector"] == api["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    [rule] = one(full, "Ingress", "dagy")["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "dagy-api", "port": {"name": "http"}}
    monitor = one(full, "ServiceMonitor", "dagy")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["credentials"] == {"name": "dagy", "key": "metrics-token"}


def test_references_name_rendered_objects_or_the_user_s_own(docs: list[dict[str, Any]]) -> None:
    rendered = {d["metadata"]["name"]: set(d.get("data", {})) for d in docs if d["kind"] == "Secret"}
    for owner, container in containers(docs):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is None:
                continue
            if ref["name"] in rendered and not ref.get("optional"):
                assert ref["key"] in rendered[ref["name"]], (owner, env["name"])
            elif ref["name"] not in rendered:
                assert ref["name"] in ("dagy-database", "dagy-keys"), (owner, env["name"])
        for source in container.get("envFrom", []):
            assert any(
                d["kind"] == "ConfigMap" and d["metadata"]["name"] == source["configMapRef"]["name"]
                for d in docs
            )
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"} | {"dagy-home-nfs"}
    for owner in ("dagy-api", "dagy-services"):
        volumes = {v["name"]: v for v in pod_spec(docs, "Deployment", owner)["volumes"]}
        assert volumes["home"]["persistentVolumeClaim"]["claimName"] in claims, owner


def test_the_secret_exists_before_the_migrations_that_read_it(default: list[dict[str, Any]]) -> None:
    secret = one(default, "Secret", "dagy")["metadata"]["annotations"]
    job = one(default, "Job", "dagy-migrate")["metadata"]["annotations"]
    assert secret["helm.sh/hook"] == job["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(secret["helm.sh/hook-weight"]) < int(job["helm.sh/hook-weight"])
    data = one(default, "Secret", "dagy")["data"]
    assert set(data) == {"database-url", "secret-key", "worker-token"}


def test_workers_hold_the_worker_token_and_no_database_credentials(docs: list[dict[str, Any]]) -> None:
    spec = pod_spec(docs, "Deployment", "dagy-worker")
    [worker] = spec["containers"]
    names = {env["name"] for env in worker["env"]}
    assert "DAGY_WORKER_TOKEN" in names and "DAGY_WORKER_URL" in names
    assert not names & {"DAGY_DATABASE_URL", "DAGY_SECRET_KEY"} and "envFrom" not in worker
    assert spec["automountServiceAccountToken"] is False
    url = next(env["value"] for env in worker["env"] if env["name"] == "DAGY_WORKER_URL")
    assert url == "http://dagy-api.prod.svc:8080"


def test_the_worker_autoscaler_reads_the_queue_depth_dagy_exposes(
    full: list[dict[str, Any]], client: TestClient
) -> None:
    hpa = one(full, "HorizontalPodAutoscaler", "dagy-worker")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "dagy-worker"}
    assert "replicas" not in one(full, "Deployment", "dagy-worker")["spec"]  # the autoscaler's to set
    queue, cpu = hpa["metrics"]
    metric = queue["external"]["metric"]
    assert queue["type"] == "External" and cpu["type"] == "Resource"
    assert queue["external"]["target"] == {"type": "AverageValue", "averageValue": "4"}
    # The series the API pods' /metrics serve for the fleet's executor, whatever the queue holds.
    scraped = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
    }
    selector = tuple(sorted(metric["selector"]["matchLabels"].items()))
    assert (metric["name"], selector) in scraped
    assert selector == (("executor", "flow-executor"),)


def test_the_kubernetes_executor_is_configured_for_the_run_namespace(full: list[dict[str, Any]]) -> None:
    settings = one(full, "ConfigMap", "dagy")["data"]
    assert settings["DAGY_K8S_NAMESPACE"] == "dagy-runs"
    assert settings["DAGY_CONTAINER_IMAGE"] == "dagy:0.1.0"
    assert settings["DAGY_CONTAINER_API_URL"] == "http://dagy-api.prod.svc:8080"  # the Service, cluster-wide
    run_account = one(full, "ServiceAccount", settings["DAGY_K8S_SERVICE_ACCOUNT"])
    assert run_account["metadata"]["namespace"] == "dagy-runs"
    assert run_account["automountServiceAccountToken"] is False
    assert run_account["imagePullSecrets"] == [{"name": "registry"}]  # the run pods' pulls
    services = pod_spec(full, "Deployment", "dagy-services")
    binding = one(full, "RoleBinding", "dagy-kubernetes-executor")
    assert binding["metadata"]["namespace"] == "dagy-runs"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": services["serviceAccountName"], "namespace": NAMESPACE}
    ]
    assert services["automountServiceAccountToken"] is True  # in-cluster configuration
    assert binding["roleRef"]["name"] == one(full, "Role", "dagy-kubernetes-executor")["metadata"]["name"]
    assert pod_spec(full, "Deployment", "dagy-api")["automountServiceAccountToken"] is False


def test_without_the_executor_nothing_may_touch_the_cluster(default: list[dict[str, Any]]) -> None:
    assert not [d for d in default if d["kind"] in ("Role", "RoleBinding")]
    assert pod_spec(default, "Deployment", "dagy-services")["automountServiceAccountToken"] is False
    assert not [k for k in one(default, "ConfigMap", "dagy")["data"] if k.startswith("DAGY_K8S")]


def test_the_role_grants_exactly_what_the_kubernetes_executor_does(full: list[dict[str, Any]]) -> None:
    role = one(full, "Role", "dagy-kubernetes-executor")
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    with kubernetes_peer() as peer:
        configuration = k8s.Configuration(host=peer.url)
        backend = KubernetesBackend(
            "dagy-runs", service_account="dagy-run", api_client=k8s.ApiClient(configuration)
        )
        run = ContainerRun(
            name="dagy-run-01jf3-1",
            run_id="01jf3",
            attempt=1,
            image="dagy:0.1.0",
            command=("dagy", "execute-run", "01jf3"),
            env={},
            payload=b"{}",
            memory_mb=256,
            cpu=0.5,
            timeout_seconds=60,
        )
        backend.launch(run)
        backend.launch(run)  # launched again after a restart of the services: both exist already
        pod = peer.start_pod("dagy-runs", run.name)
        peer.set_pod(
            "dagy-runs", pod, phase="Failed", container=terminated(1, "Error"), log="the run's code failed"
        )
        [state] = backend.states()  # a failed pod: its log is read too
        backend.remove(run.name)
        backend.close()
    assert state.phase == "failed" and "the run's code failed" in (state.message or "")
    assert not any(peer.objects.values())
    assert peer.rbac_used() == granted
