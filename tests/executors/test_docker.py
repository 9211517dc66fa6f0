"""The `docker` executor's backend on a real engine (Podman's Docker-compatible service, conftest.py):
what a run's container is made with, what `states()` says of it as it ends, its payload file, its
deadline, and that launching and removing may be repeated."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException, NotFound

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
from dagy.server.executors.docker import LABEL_DEADLINE, LOG_LINES, DockerBackend
from dagy.server.settings import Settings
from tests.executors.conftest import PodmanEngine
from tests.factories import unique

PAYLOAD = f"{PAYLOAD_DIR}/{PAYLOAD_FILE}"
# A shell that stops at once on SIGTERM (as PID 1 it would otherwise ignore it).
SLEEPER = ["/bin/sh", "-c", "trap 'echo stopping; exit 143' TERM; echo started; sleep 300 & wait"]
Launch = Callable[[ContainerRun], ContainerRun]


def container_run(image: str, command: list[str], **changes: object) -> ContainerRun:
    run_id = unique("run")
    run = ContainerRun(
        name=f"dagy-{run_id}-1",
        run_id=run_id,
        attempt=1,
        image=image,
        command=tuple(command),
        env={"PYTHONUNBUFFERED": "1"},
        payload=b"{}",
        memory_mb=256,
        cpu=0.5,
        timeout_seconds=600,
    )
    return replace(run, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine(podman_engine: PodmanEngine) -> Iterator[docker.DockerClient]:
    """The engine itself, to look at what the backend made (and to make what it did not). One for the
    module: Podman answers the version query every client starts with in most of a second."""
    client = docker.DockerClient(base_url=podman_engine.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def backend(podman_engine: PodmanEngine) -> Iterator[DockerBackend]:
    backend = DockerBackend(podman_engine.url, volumes=podman_engine.volumes)
    yield backend
    backend.close()


@pytest.fixture
def launch(backend: DockerBackend, engine: docker.DockerClient) -> Iterator[Launch]:
    """`backend.launch`, the containers removed after the test whatever it did."""
    names: list[str] = []

    def launch(run: ContainerRun) -> ContainerRun:
        names.append(run.name)
        backend.launch(run)
        return run

    yield launch
    for name in names:
        with contextlib.suppress(NotFound):
            engine.api.remove_container(name, force=True)


def state_of(backend: DockerBackend, name: str) -> ContainerState | None:
    return next((state for state in backend.states() if state.name == name), None)


def ended(backend: DockerBackend, engine: docker.DockerClient, run: ContainerRun) -> ContainerState:
    """The container's state once the engine says its process is over."""
    engine.api.wait(run.name, timeout=60)
    state = state_of(backend, run.name)
    assert state is not None
    return state


def test_a_container_that_exits_0_succeeds(
    backend: DockerBackend, engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    run = launch(container_run(podman_engine.image, ["/bin/sh", "-c", "echo one; echo two"]))
    assert ended(backend, engine, run) == ContainerState(
        name=run.name, run_id=run.run_id, attempt=1, phase="succeeded", exit_code=0
    )


def test_a_failed_container_says_its_exit_code_and_last_lines(
    backend: DockerBackend, engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    script = "for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 3"
    run = launch(container_run(podman_engine.image, ["/bin/sh", "-c", script]))
    state = ended(backend, engine, run)
    assert (state.phase, state.reason, state.exit_code) == ("failed", "Error", 3)
    assert state.message is not None
    sentence, *lines = state.message.splitlines()
    assert sentence == "The container exited with code 3. Its last lines:"
    assert lines == [f"line {i}" for i in range(31 - LOG_LINES + 1, 31)] + ["oops"]


def test_a_container_past_its_memory_limit_is_killed(
    backend: DockerBackend, engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    """The limit is enforced (the kernel kills the process at 32 MB). Whether the engine says
    `OOMKilled` is its own: Podman 4.3 with conmon 2.1 on cgroup v1 never does (conmon writes its
    OOM marker where Podman does not look), so there the reason is `Error`, exit code 137."""
    hog = (  # one write a line: the engine's log may reorder the pieces of a line written in several
        "import sys\nchunks = []\nwhile True:\n    chunks.append(bytearray(4 << 20))\n"
        "    sys.stdout.write(f'{len(chunks) * 4} MB\\n')"
    )
    run = launch(container_run(podman_engine.image, ["python3", "-c", hog], memory_mb=32))
    state = ended(backend, engine, run)
    info = engine.api.inspect_container(run.name)
    assert info["HostConfig"]["Memory"] == 32 * 2**20
    assert (state.phase, state.exit_code) == ("failed", 137)
    assert state.message is not None
    reached = [int(line.split()[0]) for line in state.message.splitlines() if line.endswith(" MB")]
    assert reached and max(reached) < 32  # stopped at the limit, not by anything else
    if info["State"]["OOMKilled"]:
        assert state.reason == "OOMKilled"
        assert state.message.startswith("The container was stopped at its memory limit (32 MB).")
    else:
        assert state.reason == "Error"


@pytest.mark.parametrize("var_run", ["folder", "link"])
def test_the_payload_file_is_in_the_container_with_its_exact_bytes(
    backend: DockerBackend,
    engine: docker.DockerClient,
    launch: Launch,
    podman_engine: PodmanEngine,
    var_run: str,
) -> None:
    """Also in an image whose /var/run links to /run (Debian's, Python's), which is kept a link."""
    image = podman_engine.image if var_run == "folder" else var_run_link_image(engine, podman_engine.image)
    payload = '{"token": "sécret", "text": "two\\nlines"}\n\x00end'.encode()
    script = f"sha256sum {PAYLOAD}; stat -c '%a %u' {PAYLOAD}; stat -c %F /var/run"
    run = launch(container_run(image, ["/bin/sh", "-c", script], payload=payload))
    assert ended(backend, engine, run).phase == "succeeded"
    output = engine.api.logs(run.name).decode().split("\n")
    kind = "directory" if var_run == "folder" else "symbolic link"
    assert output[:3] == [f"{hashlib.sha256(payload).hexdigest()}  {PAYLOAD}", "444 0", kind]


def var_run_link_image(engine: docker.DockerClient, base: str) -> str:
    """An image of /run and /var/run -> ../run only (with `base`'s PATH); the host's binds bring the rest."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in ("run", "var"):
            folder = tarfile.TarInfo(name)
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(folder)
        link = tarfile.TarInfo("var/run")
        link.type, link.linkname = tarfile.SYMTYPE, "../run"
        archive.addfile(link)
    env = engine.images.get(base).attrs["Config"]["Env"]
    response = engine.api.import_image_from_data(buffer.getvalue(), changes=[f"ENV {e}" for e in env])
    return str(json.loads(str(response).strip().splitlines()[-1])["status"])  # the image's id


def test_a_container_past_its_deadline_is_stopped_and_said_so(
    backend: DockerBackend, engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    late = launch(container_run(podman_engine.image, SLEEPER, timeout_seconds=0))
    on_time = launch(container_run(podman_engine.image, SLEEPER, timeout_seconds=3600))
    states = {state.name: state for state in backend.states()}
    assert states[on_time.name].phase == "running"
    assert engine.api.inspect_container(on_time.name)["State"]["Running"]
    state = states[late.name]
    assert (state.phase, state.reason) == ("failed", "DeadlineExceeded")
    assert state.message is not None and "ran past its deadline" in state.message
    assert not engine.api.inspect_container(late.name)["State"]["Running"]
    # Stopped, it is still said to be past its deadline rather than a failure of its own.
    again = state_of(backend, late.name)
    assert again is not None and (again.phase, again.reason) == ("failed", "DeadlineExceeded")
    assert again.exit_code in (137, 143)


def test_remove_deletes_the_container_and_may_be_repeated(
    backend: DockerBackend, engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    run = launch(container_run(podman_engine.image, SLEEPER))
    assert state_of(backend, run.name) is not None
    backend.remove(run.name)
    assert state_of(backend, run.name) is None
    with pytest.raises(NotFound):
        engine.api.inspect_container(run.name)
    backend.remove(run.name)
    backend.remove(unique("dagy-run-never"))


def test_launching_again_leaves_the_container_as_it_is(
    backend: DockerBackend, engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    run = launch(container_run(podman_engine.image, ["/bin/sh", "-c", "echo once"]))
    engine.api.wait(run.name, timeout=60)
    before = engine.api.inspect_container(run.name)
    launch(run)
    after = engine.api.inspect_container(run.name)
    assert (after["Id"], after["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])
    assert [s.name for s in backend.states()].count(run.name) == 1
    assert engine.api.logs(run.name).decode().split() == ["once"]


def test_launching_again_finishes_a_container_that_never_started(
    backend: DockerBackend, engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    """A launch cut short after the container was made (the services stopped): made, not started."""
    run = container_run(podman_engine.image, ["/bin/cat", PAYLOAD], payload=b'{"run": 1}')
    engine.containers.create(
        run.image, list(run.command), name=run.name, labels=dagy_labels(run), volumes=podman_engine.volumes
    )
    state = state_of(backend, run.name)
    assert state is not None and state.phase == "pending"
    launch(run)
    assert ended(backend, engine, run).phase == "succeeded"
    assert engine.api.logs(run.name) == b'{"run": 1}'


def dagy_labels(run: ContainerRun, executor: str = "docker") -> dict[str, str]:
    return {
        LABEL_MANAGED: MANAGED_BY,
        LABEL_EXECUTOR: executor,
        LABEL_RUN: run.run_id,
        LABEL_ATTEMPT: str(run.attempt),
    }


def test_only_this_executors_containers_are_listed(
    backend: DockerBackend, engine: docker.DockerClient, podman_engine: PodmanEngine
) -> None:
    run = container_run(podman_engine.image, ["/bin/true"])
    others = {
        "unlabelled": {},
        "kubernetes": dagy_labels(run, executor="kubernetes"),
        "someone-else": {**dagy_labels(run), LABEL_MANAGED: "someone-else"},
        "no-run": {LABEL_MANAGED: MANAGED_BY, LABEL_EXECUTOR: "docker"},
        "ours": dagy_labels(run),
    }
    names = {key: unique(f"dagy-{key}") for key in others}
    try:
        for key, labels in others.items():
            engine.containers.create(podman_engine.image, ["/bin/true"], name=names[key], labels=labels)
        listed = {state.name for state in backend.states()}
        assert {key for key, name in names.items() if name in listed} == {"ours"}
    finally:
        for name in names.values():
            engine.api.remove_container(name, force=True)


def test_the_container_is_made_as_the_run_says(
    engine: docker.DockerClient, launch: Launch, podman_engine: PodmanEngine
) -> None:
    """`dagy` runs in it (as the services' containers run `dagy execute-run`), on the host's network,
    with the run's limits, environment, binds and labels, the deadline among them."""
    backend = DockerBackend(podman_engine.url, network="host", volumes=podman_engine.volumes)
    run = container_run(
        podman_engine.image, ["dagy", "--help"], env={"DAGY_X": "1"}, cpu=0.25, labels={"team": "data"}
    )
    launched_at = time.time()
    try:
        backend.launch(run)
        assert ended(backend, engine, run).phase == "succeeded"
        info = engine.api.inspect_container(run.name)
        assert "Usage: dagy" in engine.api.logs(run.name).decode()
    finally:
        backend.remove(run.name)
        backend.close()
    host, config = info["HostConfig"], info["Config"]
    assert (host["NetworkMode"], host["Memory"], host["NanoCpus"]) == ("host", 256 * 2**20, 250_000_000)
    assert {bind.split(",")[0] for bind in host["Binds"]} == set(podman_engine.volumes)
    assert "DAGY_X=1" in config["Env"]
    labels = config["Labels"]
    assert {k: labels[k] for k in (*dagy_labels(run), "team")} == {**dagy_labels(run), "team": "data"}
    assert launched_at + 600 - 1 <= int(labels[LABEL_DEADLINE]) <= time.time() + 600


def test_an_image_that_cannot_be_pulled_fails_the_launch(
    backend: DockerBackend, engine: docker.DockerClient, podman_engine: PodmanEngine
) -> None:
    run = container_run("localhost/dagy-missing:none", ["/bin/true"])
    with pytest.raises(DockerException, match="could not be pulled"):
        backend.launch(run)
    with pytest.raises(NotFound):
        engine.api.inspect_container(run.name)


def test_settings_make_the_backend(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        docker_url="unix:///run/podman/podman.sock",
        docker_network="runs",
        docker_volumes="/srv/cache:/cache, /etc/ssl/certs:/etc/ssl/certs:ro",
    )
    backend = DockerBackend.from_settings(settings)
    assert (backend.executor, backend.url, backend.network) == ("docker", settings.docker_url, "runs")
    assert backend.volumes == ["/srv/cache:/cache", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    with pytest.raises(ValueError, match="host:container"):
        DockerBackend("unix:///x.sock", volumes=["/cache"])
