"""The `kubernetes` executor's backend against a real cluster (`make test-k8s`): real Jobs, run by a
real Job controller and kubelet, watched through `states()` until they succeed, exit with 3 and pass
their deadline, then removed.

It needs a cluster the kubeconfig's current context (or, in a pod, the pod's service account)
reaches, a namespace named by `DAGY_TEST_K8S_NAMESPACE` in which that identity may create, list,
get and delete Jobs, create, patch and delete Secrets, list Pods and get their logs, and an image
with `sh` (`DAGY_TEST_K8S_IMAGE`, default busybox:1.36). Without the namespace the tests are skipped.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dagy.server.executors.containers import PAYLOAD_DIR, PAYLOAD_FILE, ContainerRun, ContainerState
from dagy.server.executors.kubernetes import KubernetesBackend
from dagy.server.settings import Settings

NAMESPACE = os.environ.get("DAGY_TEST_K8S_NAMESPACE", "")
IMAGE = os.environ.get("DAGY_TEST_K8S_IMAGE", "busybox:1.36")
WAIT_SECONDS = 300.0  # an image pull on a cold node, then the 5 s deadline and its grace
POLL_SECONDS = 1.0  # states() is a poll of the API server by design; the services poll it too

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not NAMESPACE,
        reason="DAGY_TEST_K8S_NAMESPACE is not set: these tests run Jobs on a real cluster "
        "(the kubeconfig's current context) in that namespace; see `make test-k8s`",
    ),
]


def cluster_run(command: str, *, timeout_seconds: int = 120, probe: str = "") -> ContainerRun:
    run_id = str(uuid.uuid4())
    return ContainerRun(
        name=f"dagy-run-{run_id}-1",
        run_id=run_id,
        attempt=1,
        image=IMAGE,
        command=("sh", "-c", command),
        env={"DAGY_PROBE": probe},
        payload=f'{{"probe": "{probe}"}}'.encode(),
        memory_mb=64,
        cpu=0.1,
        timeout_seconds=timeout_seconds,
        labels={"dagy.dev/test": "cluster"},
    )


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend.from_settings(Settings(home=tmp_path / "home", k8s_namespace=NAMESPACE))
    yield backend
    backend.close()


def wait_for_ends(backend: KubernetesBackend, names: set[str]) -> dict[str, ContainerState]:
    """Each named Job's state once it has succeeded or failed; the phases seen on the way."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        states = {s.name: s for s in backend.states() if s.name in names}
        if all(s.phase in ("succeeded", "failed") for s in states.values()) and states.keys() == names:
            return states
        if time.monotonic() > deadline:
            pytest.fail(f"no end within {WAIT_SECONDS:.0f}s: {states}")
        time.sleep(POLL_SECONDS)


def wait_until_gone(backend: KubernetesBackend, names: set[str]) -> None:
    """Foreground deletion: the Jobs go once their pods have; the Secrets with them."""
    core = client.CoreV1Api(backend.api_client)
    deadline = time.monotonic() + 120
    while names & {s.name for s in backend.states()}:
        assert time.monotonic() < deadline, "the removed Jobs are still there after 120 s"
        time.sleep(POLL_SECONDS)
    for name in names:
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_secret(name, NAMESPACE)
        assert missing.value.status == 404


def test_real_jobs_succeed_exit_with_3_and_pass_their_deadline(backend: KubernetesBackend) -> None:
    probe = uuid.uuid4().hex
    payload = f"{PAYLOAD_DIR}/{PAYLOAD_FILE}"
    token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ok = cluster_run(f"test ! -e {token} && test -r {payload} && echo hello from dagy")
    exits = cluster_run(f'cat {payload}; echo; echo "env $DAGY_PROBE"; exit 3', probe=probe)
    late = cluster_run("echo sleeping; sleep 600", timeout_seconds=5)
    runs = {run.name: run for run in (ok, exits, late)}
    try:
        for run in runs.values():
            backend.launch(run)
        backend.launch(ok)  # again: not an error
        states = wait_for_ends(backend, set(runs))
    finally:
        for name in runs:
            backend.remove(name)

    assert states[ok.name] == ContainerState(ok.name, ok.run_id, 1, "succeeded", exit_code=0)
    failed = states[exits.name]
    assert (failed.phase, failed.reason, failed.exit_code) == ("failed", "Error", 3)
    assert failed.message is not None
    assert failed.message.startswith("The run container exited with code 3.\nLast log lines:\n")
    assert f'{{"probe": "{probe}"}}' in failed.message and f"env {probe}" in failed.message
    stopped = states[late.name]
    assert (stopped.phase, stopped.reason) == ("failed", "DeadlineExceeded")
    assert stopped.message is not None
    assert stopped.message.startswith(f"The run passed its deadline ({5} s)")

    wait_until_gone(backend, set(runs))
    backend.remove(ok.name)  # gone: not an error
