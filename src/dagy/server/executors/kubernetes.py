"""The `kubernetes` executor's orchestrator: each run attempt is one batch/v1 Job in one namespace.

`launch` makes a Secret holding the attempt's payload file and a Job of one pod that mounts it, then
makes the Job the Secret's owner, so that Kubernetes' garbage collector deletes the Secret with the
Job whoever deletes it (Dagy, `ttlSecondsAfterFinished`, an operator). The Job never retries
(`backoffLimit: 0`: Dagy's retry policy decides, with a new attempt and a new Job), stops its pod
at the run's deadline (`activeDeadlineSeconds`: the mode's wall time plus the services' grace), and
deletes itself an hour after it finished if Dagy has not (`ttlSecondsAfterFinished`). The pod gets
no service account token: `dagy execute-run` talks to Dagy's API with the attempt's token, never to
Kubernetes.

`states` maps each Job and its pod to a `ContainerState` (`classify`, a pure function of the two
objects); a failed one carries the reason (`DeadlineExceeded`, `OOMKilled`, `Error` with the exit
code, `ImagePullBackOff`...) and the last lines of the pod's log. A container that cannot be made
(image pull, configuration) keeps its pod pending for ever; once the pod is `STUCK_AFTER_SECONDS`
old with such a reason, the attempt counts as failed instead of waiting for the deadline.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from dagy.server.executors.containers import (
    LABEL_ATTEMPT,
    LABEL_EXECUTOR,
    LABEL_MANAGED,
    LABEL_RUN,
    MANAGED_BY,
    PAYLOAD_DIR,
    PAYLOAD_FILE,
    ContainerRun,
    ContainerState,
)

if TYPE_CHECKING:
    from dagy.server.settings import Settings

EXECUTOR = "kubernetes"
CONTAINER = "run"  # the pod's one container
PAYLOAD_VOLUME = "payload"
TTL_SECONDS_AFTER_FINISHED = 3600  # a backstop: the services remove the Jobs of ended runs
# Waiting reasons that say the container cannot be made; the kubelet retries them (pulls with a
# back-off of 10 s, 20 s, 40 s...), so they count as a failure only once the pod is this old.
STUCK_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
STUCK_AFTER_SECONDS = 120
# Seconds one call to the API server may take: a hung call would stall the services' loop.
REQUEST_TIMEOUT = 30
LOG_LINES = 20
LOG_BYTES = 64 * 1024
MESSAGE_CHARS = 4000
# Labels the Job controller puts on a Job's pods: the first since Kubernetes 1.27, the second before.
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
SELECTOR = f"{LABEL_MANAGED}={MANAGED_BY},{LABEL_EXECUTOR}={EXECUTOR}"

_T = TypeVar("_T")


def run_labels(run: ContainerRun) -> dict[str, str]:
    """The labels of the Secret, the Job and its pod: the run's own, then Dagy's (which win)."""
    return {
        **run.labels,
        LABEL_MANAGED: MANAGED_BY,
        LABEL_RUN: run.run_id,
        LABEL_ATTEMPT: str(run.attempt),
        LABEL_EXECUTOR: EXECUTOR,
    }


def build_secret(run: ContainerRun) -> client.V1Secret:
    """The Secret holding the attempt's payload file (the claim, its secrets and the token)."""
    return client.V1Secret(
        api_version="v1",
        kind="Secret",
        metadata=client.V1ObjectMeta(name=run.name, labels=run_labels(run)),
        type="Opaque",
        data={PAYLOAD_FILE: base64.b64encode(run.payload).decode("ascii")},
    )


def build_job(run: ContainerRun, *, service_account: str = "") -> client.V1Job:
    """The Job of one attempt: one pod, never retried, stopped past the deadline, payload mounted."""
    labels = run_labels(run)
    pod = client.V1PodSpec(
        restart_policy="Never",
        automount_service_account_token=False,
        service_account_name=service_account or None,
        enable_service_links=False,  # no environment variables for the namespace's Services
        containers=[_container(run)],
        volumes=[
            client.V1Volume(
                name=PAYLOAD_VOLUME,
                secret=client.V1SecretVolumeSource(
                    secret_name=run.name,
                    items=[client.V1KeyToPath(key=PAYLOAD_FILE, path=PAYLOAD_FILE)],
                    default_mode=0o444,  # the image's user, whichever it is, reads it
                ),
            )
        ],
    )
    return client.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=client.V1ObjectMeta(name=run.name, labels=labels),
        spec=client.V1JobSpec(
            backoff_limit=0,
            active_deadline_seconds=run.timeout_seconds,  # counted from the Job's start, pull included
            ttl_seconds_after_finished=TTL_SECONDS_AFTER_FINISHED,
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod),
        ),
    )


def _container(run: ContainerRun) -> client.V1Container:
    quantities = {"memory": f"{run.memory_mb}Mi", "cpu": f"{round(run.cpu * 1000)}m"}
    return client.V1Container(
        name=CONTAINER,
        image=run.image,
        command=list(run.command),
        env=[client.V1EnvVar(name=name, value=value) for name, value in sorted(run.env.items())],
        resources=client.V1ResourceRequirements(requests=dict(quantities), limits=dict(quantities)),
        volume_mounts=[client.V1VolumeMount(name=PAYLOAD_VOLUME, mount_path=PAYLOAD_DIR, read_only=True)],
        # A failed container's last log lines land in its status too, for when the log is gone.
        termination_message_policy="FallbackToLogsOnError",
    )


def owner_reference(job: client.V1Job) -> client.V1OwnerReference:
    """A reference to the Job, so that deleting the Job deletes what it owns (the Secret)."""
    metadata = job.metadata or client.V1ObjectMeta()
    return client.V1OwnerReference(
        api_version="batch/v1", kind="Job", name=metadata.name or "", uid=metadata.uid or ""
    )


class KubernetesBackend:
    """Runs each attempt as a Job in `namespace` (see the module's docstring)."""

    executor = EXECUTOR

    def __init__(
        self, namespace: str, *, service_account: str = "", api_client: client.ApiClient | None = None
    ) -> None:
        self.namespace = namespace
        self.service_account = service_account
        self.api_client = api_client or client.ApiClient()
        self._batch = client.BatchV1Api(self.api_client)
        self._core = client.CoreV1Api(self.api_client)

    @classmethod
    def from_settings(cls, settings: Settings) -> KubernetesBackend:
        """The in-cluster configuration (Dagy's services run in a pod), else the kubeconfig's."""
        if not settings.k8s_namespace:
            raise ValueError("DAGY_K8S_NAMESPACE is not set: the kubernetes executor is off")
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            # The current context of $KUBECONFIG or ~/.kube/config, which Dagy never writes back to.
            config.load_kube_config(client_configuration=configuration, persist_config=False)
        return cls(
            settings.k8s_namespace,
            service_account=settings.k8s_service_account,
            api_client=client.ApiClient(configuration),
        )

    def launch(self, run: ContainerRun) -> None:
        secret_existed = _exists_already(
            lambda: self._core.create_namespaced_secret(
                self.namespace, build_secret(run), _request_timeout=REQUEST_TIMEOUT
            )
        )
        try:
            job = self._create_job(build_job(run, service_account=self.service_account))
        except ApiException:
            self._delete_secret(run.name)
            raise
        patch: dict[str, Any] = {
            "metadata": {
                "ownerReferences": [self.api_client.sanitize_for_serialization(owner_reference(job))]
            }
        }
        if secret_existed:  # launched again (the services restarted): this launch's payload wins
            patch["data"] = build_secret(run).data
        self._core.patch_namespaced_secret(run.name, self.namespace, patch, _request_timeout=REQUEST_TIMEOUT)

    def _create_job(self, job: client.V1Job) -> client.V1Job:
        try:
            return self._batch.create_namespaced_job(self.namespace, job, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as error:
            if error.status != 409:
                raise
        name = (job.metadata or client.V1ObjectMeta()).name or ""
        return self._batch.read_namespaced_job(name, self.namespace, _request_timeout=REQUEST_TIMEOUT)

    def states(self) -> list[ContainerState]:
        jobs = self._batch.list_namespaced_job(
            self.namespace, label_selector=SELECTOR, _request_timeout=REQUEST_TIMEOUT
        ).items
        if not jobs:
            return []
        pods = self._core.list_namespaced_pod(
            self.namespace, label_selector=SELECTOR, _request_timeout=REQUEST_TIMEOUT
        ).items
        newest = _newest_pod_per_job(pods)
        now = datetime.now(UTC)
        states = []
        for job in jobs:
            pod = newest.get((job.metadata or client.V1ObjectMeta()).name or "")
            state = classify(job, pod, now=now)
            if state.phase == "failed" and pod is not None:
                state = dataclasses.replace(state, message=_with_log(state.message, self._log_tail(pod)))
            states.append(state)
        return states

    def _log_tail(self, pod: client.V1Pod) -> str | None:
        """The pod's last log lines; else what the kubelet kept of them in the container's status."""
        name = (pod.metadata or client.V1ObjectMeta()).name or ""
        try:
            # Raw bytes: clients before 37.0 parse a log that reads as JSON and answer a dict's repr.
            response = cast(
                Any,
                self._core.read_namespaced_pod_log(
                    name,
                    self.namespace,
                    container=CONTAINER,
                    tail_lines=LOG_LINES,
                    limit_bytes=LOG_BYTES,
                    _preload_content=False,
                    _request_timeout=REQUEST_TIMEOUT,
                ),
            )
            text = bytes(response.data).decode("utf-8", "replace").strip()
        except ApiException:
            text = ""
        if text:
            return text
        terminated = _terminated(pod)
        return (terminated.message if terminated is not None else None) or None

    def remove(self, name: str) -> None:
        # Foreground: the Job stays (with a deletion timestamp) until its pod is gone.
        options = client.V1DeleteOptions(propagation_policy="Foreground")
        _unless_missing(
            lambda: self._batch.delete_namespaced_job(
                name, self.namespace, body=options, _request_timeout=REQUEST_TIMEOUT
            )
        )
        # The garbage collector deletes an owned Secret; this one may have no owner yet.
        self._delete_secret(name)

    def _delete_secret(self, name: str) -> None:
        _unless_missing(
            lambda: self._core.delete_namespaced_secret(
                name, self.namespace, _request_timeout=REQUEST_TIMEOUT
            )
        )

    def close(self) -> None:
        self.api_client.close()


def _exists_already(create: Callable[[], object]) -> bool:
    """Create; True when the object existed (409 AlreadyExists)."""
    try:
        create()
    except ApiException as error:
        if error.status == 409:
            return True
        raise
    return False


def _unless_missing(delete: Callable[[], _T]) -> _T | None:
    try:
        return delete()
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def _newest_pod_per_job(pods: Iterable[client.V1Pod]) -> dict[str, client.V1Pod]:
    newest: dict[str, client.V1Pod] = {}
    for pod in sorted(pods, key=_created_at):
        labels = (pod.metadata or client.V1ObjectMeta()).labels or {}
        job_name = next((labels[key] for key in JOB_NAME_LABELS if key in labels), None)
        if job_name:
            newest[job_name] = pod
    return newest


def _created_at(pod: client.V1Pod) -> datetime:
    created = (pod.metadata or client.V1ObjectMeta()).creation_timestamp
    return created or datetime.min.replace(tzinfo=UTC)


def _with_log(message: str | None, log: str | None) -> str | None:
    if not log:
        return message
    head = f"{message}\n" if message else ""
    room = max(MESSAGE_CHARS - len(head) - len("Last log lines:\n"), 0)
    return f"{head}Last log lines:\n{log[-room:]}"


# --- Job and pod → ContainerState --------------------------------------------------------------


def classify(job: client.V1Job, pod: client.V1Pod | None, *, now: datetime) -> ContainerState:
    """The Job's phase: its terminal condition if it has one, else its pod's.

    `FailureTarget` and `SuccessCriteriaMet` (Kubernetes 1.31+) come before `Failed` and `Complete`,
    which wait for the pod to be gone; the outcome is known from the first.
    """
    metadata = job.metadata or client.V1ObjectMeta()
    labels = metadata.labels or {}
    attempt = labels.get(LABEL_ATTEMPT, "")
    state = ContainerState(
        name=metadata.name or "",
        run_id=labels.get(LABEL_RUN, ""),
        attempt=int(attempt) if attempt.isdigit() else 0,
        phase="pending",
    )
    true = {c.type: c for c in ((job.status and job.status.conditions) or []) if c.status == "True"}
    failed = true.get("Failed") or true.get("FailureTarget")
    if failed is not None:
        return _failed(state, job, pod, job_reason=failed.reason, job_message=failed.message)
    if "Complete" in true or "SuccessCriteriaMet" in true:
        return dataclasses.replace(state, phase="succeeded", exit_code=0)
    if pod is None:
        return dataclasses.replace(state, message="Waiting for the Job's pod.")
    return _from_pod(state, job, pod, now=now)


def _from_pod(
    state: ContainerState, job: client.V1Job, pod: client.V1Pod, *, now: datetime
) -> ContainerState:
    phase = (pod.status and pod.status.phase) or "Pending"
    if phase == "Succeeded":
        return dataclasses.replace(state, phase="succeeded", exit_code=0)
    if phase == "Failed":
        return _failed(state, job, pod, job_reason=None, job_message=None)
    if phase != "Pending":  # Running, or Unknown (its node is unreachable: the Job controller decides)
        return dataclasses.replace(state, phase="running")
    waiting = _waiting(pod)
    reason = waiting.reason if waiting is not None else None
    detail = (waiting.message if waiting is not None else None) or ""
    if reason in STUCK_REASONS and (now - _created_at(pod)).total_seconds() >= STUCK_AFTER_SECONDS:
        return dataclasses.replace(
            state, phase="failed", reason=reason, message=_could_not_start(reason, detail)
        )
    if reason:
        return dataclasses.replace(state, message=f"Waiting: {reason}. {detail}".strip())
    return dataclasses.replace(state, message=_unscheduled(pod) or "Waiting for the pod to start.")


def _failed(
    state: ContainerState,
    job: client.V1Job,
    pod: client.V1Pod | None,
    *,
    job_reason: str | None,
    job_message: str | None,
) -> ContainerState:
    """The best explanation first: the Job's deadline (it killed the container, whatever the exit),
    the kernel's OOM kill, the pod's own reason (evicted), the container's exit, a container that
    never started, then the Job controller's reason."""
    terminated = _terminated(pod)
    exit_code = terminated.exit_code if terminated is not None else None
    reason, message = _explain(job, pod, terminated, job_reason=job_reason, job_message=job_message)
    return dataclasses.replace(state, phase="failed", reason=reason, message=message, exit_code=exit_code)


def _explain(
    job: client.V1Job,
    pod: client.V1Pod | None,
    terminated: client.V1ContainerStateTerminated | None,
    *,
    job_reason: str | None,
    job_message: str | None,
) -> tuple[str, str]:
    spec = job.spec or client.V1JobSpec(template=client.V1PodTemplateSpec())
    if job_reason == "DeadlineExceeded":
        return job_reason, f"The run passed its deadline ({spec.active_deadline_seconds} s) and was stopped."
    if terminated is not None and terminated.reason == "OOMKilled":
        return (
            "OOMKilled",
            f"The run container ran out of memory (limit {_memory_limit(spec)}) and was killed.",
        )
    pod_status = pod.status if pod is not None else None
    if pod_status is not None and pod_status.reason:
        return pod_status.reason, pod_status.message or f"The run's pod failed ({pod_status.reason})."
    if terminated is not None:
        return terminated.reason or "Error", f"The run container exited with code {terminated.exit_code}."
    waiting = _waiting(pod)
    if waiting is not None and waiting.reason:
        return waiting.reason, _could_not_start(waiting.reason, waiting.message)
    return job_reason or "Failed", job_message or "The run's Job failed."


def _container_status(pod: client.V1Pod | None) -> client.V1ContainerState | None:
    """The state of the pod's run container, or None."""
    statuses = (pod is not None and pod.status and pod.status.container_statuses) or []
    return next((s.state for s in statuses if s.name == CONTAINER), None)


def _terminated(pod: client.V1Pod | None) -> client.V1ContainerStateTerminated | None:
    state = _container_status(pod)
    return state.terminated if state is not None else None


def _waiting(pod: client.V1Pod | None) -> client.V1ContainerStateWaiting | None:
    state = _container_status(pod)
    return state.waiting if state is not None else None


def _could_not_start(reason: str, detail: str | None) -> str:
    return f"The run container could not start ({reason})" + (f": {detail}" if detail else ".")


def _memory_limit(spec: client.V1JobSpec) -> str:
    containers = (spec.template.spec.containers if spec.template.spec else None) or []
    limits = (containers[0].resources.limits if containers and containers[0].resources else None) or {}
    return limits.get("memory", "unknown")


def _unscheduled(pod: client.V1Pod) -> str | None:
    """The scheduler's word when it cannot place the pod (the cluster may grow; the deadline stops it)."""
    for condition in (pod.status and pod.status.conditions) or []:
        if condition.type == "PodScheduled" and condition.status == "False" and condition.reason:
            return f"Waiting: {condition.reason}. {condition.message or ''}".strip()
    return None
