"""The `kubernetes` executor's backend: the Job and Secret it builds, read back by the client's own
deserializer, and the backend driven over HTTP against a Kubernetes API server on loopback
(k8s_peer.py) that plays the Job controller and the kubelet at the test's command."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dagy.server.executors import kubernetes as k8s
from dagy.server.executors.containers import (
    LABEL_ATTEMPT,
    LABEL_EXECUTOR,
    LABEL_MANAGED,
    LABEL_RUN,
    PAYLOAD_DIR,
    ContainerRun,
    ContainerState,
)
from dagy.server.executors.kubernetes import KubernetesBackend, build_job, build_secret
from dagy.server.settings import Settings
from tests.executors.k8s_peer import KubernetesPeer, ago, kubernetes_peer, running, terminated, waiting

NS = "dagy-runs"
TOKEN = "dagy_at_" + "s3cr3t" * 6


def container_run(**changes: Any) -> ContainerRun:
    run_id = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "name": f"dagy-run-{run_id}-1",
        "run_id": run_id,
        "attempt": 1,
        "image": "registry.example.com/dagy-run:1.4",
        "command": ("dagy", "execute-run", run_id),
        "env": {"DAGY_API_URL": "https://dagy.example.com", "DAGY_RUN_ID": run_id},
        "payload": json.dumps({"token": TOKEN, "secrets": {"db": "hunter2"}}).encode(),
        "memory_mb": 512,
        "cpu": 0.5,
        "timeout_seconds": 600,
        "labels": {"dagy.dev/org": "acme"},
    }
    return ContainerRun(**(fields | changes))


def read_back(model: Any, kind: str) -> tuple[dict[str, Any], Any]:
    """The JSON the API server receives, and that JSON read by the client into its model."""
    api = client.ApiClient()
    text = json.dumps(api.sanitize_for_serialization(model))
    try:
        return json.loads(text), api.deserialize(text, kind, "application/json")
    except TypeError:  # clients before 37.0 deserialize a response object
        return json.loads(text), api.deserialize(SimpleNamespace(data=text), kind)


# --- the manifests -------------------------------------------------------------------------------


def test_the_job_runs_one_pod_once_within_the_deadline() -> None:
    run = container_run()
    wire, job = read_back(build_job(run, service_account="dagy-runner"), "V1Job")

    assert isinstance(job, client.V1Job)
    assert (wire["apiVersion"], wire["kind"], job.metadata.name) == ("batch/v1", "Job", run.name)
    assert wire["spec"]["backoffLimit"] == 0
    assert wire["spec"]["activeDeadlineSeconds"] == 600
    assert wire["spec"]["ttlSecondsAfterFinished"] == 3600
    pod = job.spec.template.spec
    assert pod.restart_policy == "Never"
    assert pod.automount_service_account_token is False
    assert pod.service_account_name == "dagy-runner"
    [container] = pod.containers
    assert container.name == "run"
    assert container.image == "registry.example.com/dagy-run:1.4"
    assert container.command == ["dagy", "execute-run", run.run_id]
    assert {e.name: e.value for e in container.env} == run.env
    assert container.resources.requests == container.resources.limits == {"memory": "512Mi", "cpu": "500m"}


def test_the_payload_is_a_secret_mounted_read_only_and_never_in_the_job() -> None:
    run = container_run()
    wire, job = read_back(build_job(run), "V1Job")
    secret_wire, secret = read_back(build_secret(run), "V1Secret")

    pod = job.spec.template.spec
    [mount] = pod.containers[0].volume_mounts
    [volume] = pod.volumes
    assert (mount.mount_path, mount.read_only, mount.name) == (PAYLOAD_DIR, True, volume.name)
    assert volume.secret.secret_name == run.name
    assert [(i.key, i.path) for i in volume.secret.items] == [("payload.json", "payload.json")]
    assert "serviceAccountName" not in wire["spec"]["template"]["spec"]
    # Neither the token nor a secret of the payload is anywhere in the Job (env, labels, command).
    assert TOKEN not in json.dumps(wire) and "hunter2" not in json.dumps(wire)

    assert isinstance(secret, client.V1Secret)
    assert (secret_wire["kind"], secret.metadata.name, secret.type) == ("Secret", run.name, "Opaque")
    assert base64.b64decode(secret.data["payload.json"]) == run.payload


def test_dagy_labels_are_on_the_job_its_pods_and_the_secret_and_win_over_the_runs() -> None:
    run = container_run(labels={"dagy.dev/org": "acme", LABEL_MANAGED: "someone-else"}, attempt=3)
    _, job = read_back(build_job(run), "V1Job")
    _, secret = read_back(build_secret(run), "V1Secret")

    expected = {
        "dagy.dev/org": "acme",
        LABEL_MANAGED: "dagy",
        LABEL_RUN: run.run_id,
        LABEL_ATTEMPT: "3",
        LABEL_EXECUTOR: "kubernetes",
    }
    assert job.metadata.labels == job.spec.template.metadata.labels == secret.metadata.labels == expected


@pytest.mark.parametrize(("cpu", "quantity"), [(0.25, "250m"), (2, "2000m"), (1.5, "1500m")])
def test_cpu_is_asked_in_millicores(cpu: float, quantity: str) -> None:
    _, job = read_back(build_job(container_run(cpu=cpu, memory_mb=2048)), "V1Job")
    resources = job.spec.template.spec.containers[0].resources
    assert resources.limits == resources.requests == {"cpu": quantity, "memory": "2048Mi"}


# --- against the API server on loopback ----------------------------------------------------------


@pytest.fixture
def peer() -> Iterator[KubernetesPeer]:
    with kubernetes_peer() as peer:
        yield peer


@pytest.fixture
def backend(peer: KubernetesPeer) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(NS, api_client=client.ApiClient(client.Configuration(host=peer.url)))
    yield backend
    backend.close()


def state_of(backend: KubernetesBackend, run: ContainerRun) -> ContainerState:
    [state] = [s for s in backend.states() if s.name == run.name]
    return state


def test_launch_makes_the_secret_then_the_job_which_then_owns_the_secret(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    backend.launch(run)

    job, secret = peer.get("jobs", NS, run.name), peer.get("secrets", NS, run.name)
    assert job is not None and secret is not None
    assert secret["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": run.name, "uid": job["metadata"]["uid"]}
    ]
    assert [(r.method, r.path) for r in peer.requests] == [
        ("POST", f"/api/v1/namespaces/{NS}/secrets"),
        ("POST", f"/apis/batch/v1/namespaces/{NS}/jobs"),
        ("PATCH", f"/api/v1/namespaces/{NS}/secrets/{run.name}"),
    ]
    assert peer.requests[2].content_type == "application/strategic-merge-patch+json"
    assert base64.b64decode(secret["data"]["payload.json"]) == run.payload


def test_launching_again_is_not_an_error_and_the_new_payload_wins(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    backend.launch(run)
    again = ContainerRun(**{**run.__dict__, "payload": b'{"token": "minted-again"}'})
    backend.launch(again)

    assert peer.names("jobs", NS) == peer.names("secrets", NS) == [run.name]
    secret = peer.get("secrets", NS, run.name)
    assert secret is not None
    assert base64.b64decode(secret["data"]["payload.json"]) == b'{"token": "minted-again"}'
    assert len(secret["metadata"]["ownerReferences"]) == 1
    assert [r.method for r in peer.requests_to("GET", f"/jobs/{run.name}")] == ["GET"]  # the Job's uid


def test_a_job_the_cluster_refuses_leaves_no_payload_behind(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    peer.refuse[("POST", "jobs")] = 403  # a service account without the right to create Jobs
    run = container_run()

    with pytest.raises(ApiException) as refused:
        backend.launch(run)

    assert refused.value.status == 403
    assert peer.names("secrets", NS) == [] and peer.names("jobs", NS) == []


def test_states_follow_a_job_from_pending_to_succeeded(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run(attempt=2)
    backend.launch(run)

    state = state_of(backend, run)
    assert (state.phase, state.run_id, state.attempt) == ("pending", run.run_id, 2)

    pod = peer.start_pod(NS, run.name)  # ContainerCreating
    assert state_of(backend, run).phase == "pending"

    peer.set_pod(NS, pod, phase="Running", container=running())
    assert state_of(backend, run).phase == "running"

    peer.set_pod(NS, pod, phase="Succeeded", container=terminated(0, "Completed"), log="done\n")
    assert state_of(backend, run).phase == "succeeded"  # before the Job controller's verdict
    peer.set_job_condition(NS, run.name, "Complete", "CompletionsReached")
    assert state_of(backend, run) == ContainerState(run.name, run.run_id, 2, "succeeded", exit_code=0)
    assert peer.requests_to("GET", "/log") == []  # logs are read for failed containers only


def test_an_oom_kill_fails_with_the_limit_and_the_last_log_lines(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    backend.launch(run)
    pod = peer.start_pod(NS, run.name, phase="Running", container=running())
    log = "".join(f"line {n}\n" for n in range(1, 31))
    peer.set_pod(NS, pod, phase="Failed", container=terminated(137, "OOMKilled"), log=log)
    peer.set_job_condition(
        NS, run.name, "Failed", "BackoffLimitExceeded", "Job has reached the backoff limit"
    )

    state = state_of(backend, run)

    assert (state.phase, state.reason, state.exit_code) == ("failed", "OOMKilled", 137)
    assert state.message is not None
    assert state.message.startswith("The run container ran out of memory (limit 512Mi)")
    assert "line 11\n" in state.message and state.message.endswith("line 30")
    assert "line 10\n" not in state.message  # the last 20 lines only
    [request] = peer.requests_to("GET", f"/pods/{pod}/log")
    assert request.query["container"] == ["run"] and request.query["tailLines"] == ["20"]


@pytest.mark.parametrize(
    "case",
    [
        ("FailureTarget", "Running", running(), None),  # Kubernetes 1.31+: said while the pod is stopped
        ("Failed", "Failed", terminated(143, "Error"), 143),  # the deadline beats the exit code it caused
    ],
    ids=["failure-target", "failed"],
)
def test_a_job_past_its_deadline_fails_as_deadline_exceeded(
    peer: KubernetesPeer, backend: KubernetesBackend, case: tuple[str, str, dict[str, Any], int | None]
) -> None:
    verdict, phase, container, exit_code = case
    run = container_run(timeout_seconds=5)
    backend.launch(run)
    pod = peer.start_pod(NS, run.name, phase="Running", container=running())
    peer.set_pod(NS, pod, phase=phase, container=container, log="sleeping\n")
    peer.set_job_condition(
        NS, run.name, verdict, "DeadlineExceeded", "Job was active longer than specified deadline"
    )

    state = state_of(backend, run)

    assert (state.phase, state.reason, state.exit_code) == ("failed", "DeadlineExceeded", exit_code)
    deadline = 5
    assert (
        state.message
        == f"The run passed its deadline ({deadline} s) and was stopped.\nLast log lines:\nsleeping"
    )


def test_a_deadline_without_a_pod_still_fails(peer: KubernetesPeer, backend: KubernetesBackend) -> None:
    run = container_run()
    backend.launch(run)
    peer.set_job_condition(
        NS, run.name, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"
    )

    state = state_of(backend, run)

    assert (state.phase, state.reason, state.exit_code) == ("failed", "DeadlineExceeded", None)
    assert peer.requests_to("GET", "/log") == []


def test_an_exit_code_fails_as_error_before_the_jobs_verdict(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    backend.launch(run)
    pod = peer.start_pod(NS, run.name, phase="Running", container=running())
    # Logs that read as JSON stay text (the client would otherwise parse them into a dict).
    peer.set_pod(
        NS, pod, phase="Failed", container=terminated(3, "Error"), log='{"level": "error", "msg": "boom"}\n'
    )

    state = state_of(backend, run)

    assert (state.phase, state.reason, state.exit_code) == ("failed", "Error", 3)
    assert (
        state.message
        == 'The run container exited with code 3.\nLast log lines:\n{"level": "error", "msg": "boom"}'
    )


def test_without_the_log_the_message_keeps_what_the_kubelet_kept(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    backend.launch(run)
    pod = peer.start_pod(NS, run.name, phase="Running", container=running())
    peer.set_pod(NS, pod, phase="Failed", container=terminated(1, "Error", "Traceback...\nValueError: x"))
    peer.logs_unavailable = True  # the node is gone

    state = state_of(backend, run)

    assert (state.phase, state.reason, state.exit_code) == ("failed", "Error", 1)
    assert (
        state.message == "The run container exited with code 1.\nLast log lines:\nTraceback...\nValueError: x"
    )


def test_an_evicted_pod_fails_with_the_kubelets_reason(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    backend.launch(run)
    pod = peer.start_pod(NS, run.name, phase="Running", container=running())
    evicted = "The node was low on resource: ephemeral-storage."
    peer.set_pod(
        NS,
        pod,
        phase="Failed",
        container=terminated(137, "ContainerStatusUnknown"),
        reason="Evicted",
        message=evicted,
    )

    state = state_of(backend, run)

    assert (state.phase, state.reason, state.exit_code, state.message) == ("failed", "Evicted", 137, evicted)


def test_an_image_that_cannot_be_pulled_fails_once_the_pod_is_stuck(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    fresh, stuck = container_run(), container_run()
    backend.launch(fresh)
    backend.launch(stuck)
    why = 'Back-off pulling image "registry.example.com/dagy-run:1.4"'
    peer.start_pod(NS, fresh.name, container=waiting("ImagePullBackOff", why))
    peer.start_pod(
        NS, stuck.name, container=waiting("ImagePullBackOff", why), created=ago(k8s.STUCK_AFTER_SECONDS + 5)
    )

    young, old = state_of(backend, fresh), state_of(backend, stuck)

    assert (young.phase, young.reason) == ("pending", None)
    assert young.message == f"Waiting: ImagePullBackOff. {why}"
    assert (old.phase, old.reason, old.exit_code) == ("failed", "ImagePullBackOff", None)
    assert old.message == f"The run container could not start (ImagePullBackOff): {why}"


def test_an_unschedulable_pod_stays_pending_with_the_schedulers_word(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    backend.launch(run)
    pod = peer.start_pod(NS, run.name, created=ago(3600))
    why = "0/3 nodes are available: 3 Insufficient memory."
    condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": why}
    peer.set_pod(NS, pod, phase="Pending", conditions=[condition])

    state = state_of(backend, run)

    assert (state.phase, state.message) == ("pending", f"Waiting: Unschedulable. {why}")


def test_states_list_only_this_executors_jobs_in_its_namespace(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    ours = container_run()
    backend.launch(ours)
    batch = client.BatchV1Api(backend.api_client)
    theirs = build_job(container_run())
    theirs.metadata.labels = {"app": "nightly-report"}  # someone else's Job
    docker_labelled = build_job(container_run())
    docker_labelled.metadata.labels = {**docker_labelled.metadata.labels, LABEL_EXECUTOR: "docker"}
    batch.create_namespaced_job(NS, theirs)
    batch.create_namespaced_job(NS, docker_labelled)
    KubernetesBackend("elsewhere", api_client=backend.api_client).launch(container_run())

    assert [s.name for s in backend.states()] == [ours.name]
    [listed] = peer.requests_to("GET", f"/namespaces/{NS}/jobs")
    assert listed.query["labelSelector"] == ["app.kubernetes.io/managed-by=dagy,dagy.dev/executor=kubernetes"]


def test_remove_deletes_the_job_in_the_foreground_and_the_secret(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run, other = container_run(), container_run()
    backend.launch(run)
    backend.launch(other)
    peer.start_pod(NS, run.name, phase="Running", container=running())

    backend.remove(run.name)

    [delete] = peer.requests_to("DELETE", f"/jobs/{run.name}")
    assert delete.body["propagationPolicy"] == "Foreground"
    assert peer.names("jobs", NS) == peer.names("secrets", NS) == [other.name]
    assert peer.names("pods", NS) == []  # the Job's pod went with it
    assert [s.name for s in backend.states()] == [other.name]

    backend.remove(run.name)  # gone already: not an error
    assert len(peer.requests_to("DELETE", f"/jobs/{run.name}")) == 2


def test_remove_deletes_a_secret_left_without_its_job(
    peer: KubernetesPeer, backend: KubernetesBackend
) -> None:
    run = container_run()
    client.CoreV1Api(backend.api_client).create_namespaced_secret(NS, build_secret(run))  # a launch cut short

    backend.remove(run.name)

    assert peer.names("secrets", NS) == []


def test_from_settings_falls_back_to_the_kubeconfig(
    peer: KubernetesPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "loopback", "cluster": {"server": peer.url}}],
        "users": [{"name": "dagy", "user": {"token": "kubeconfig-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "loopback", "user": "dagy"}}],
        "current-context": "test",
    }
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(json.dumps(kubeconfig))  # JSON is YAML
    # The client reads KUBECONFIG when it is imported; its default, ~/.kube/config, when it loads.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # not in a pod
    settings = Settings(home=tmp_path / "home", k8s_namespace=NS, k8s_service_account="dagy-runner")

    backend = KubernetesBackend.from_settings(settings)
    try:
        run = container_run()
        backend.launch(run)
        assert [s.name for s in backend.states()] == [run.name]
    finally:
        backend.close()

    job = peer.get("jobs", NS, run.name)
    assert job is not None and job["spec"]["template"]["spec"]["serviceAccountName"] == "dagy-runner"
    assert {r.authorization for r in peer.requests} == {"Bearer kubeconfig-token"}
    assert backend.executor == "kubernetes"
    with pytest.raises(ValueError, match="DAGY_K8S_NAMESPACE"):
        KubernetesBackend.from_settings(settings.model_copy(update={"k8s_namespace": ""}))
