"""The `docker` executor: each run attempt as one container on a Docker or Podman engine.

It speaks the Docker Engine API (the `docker` SDK, `dagy[docker]`), which Podman's service speaks too,
so one backend serves both. A run's container is made with the attempt's image, command, environment,
memory limit (no swap beyond it), CPU quota, network and binds, and Dagy's labels; among them the
attempt's deadline (epoch seconds), since an engine has no wall-time limit of its own: `states()` stops
a container found running past it. The payload file is copied into the container before it starts
(PAYLOAD_DIR/PAYLOAD_FILE, mode 0444): it lives in the container's own layer on the engine's host and
is deleted with it, so no host path or volume is shared and a remote engine works the same. Containers
are kept after they exit, for their exit code and last lines; the services remove them once the
attempt is over.
"""

from __future__ import annotations

import io
import logging
import tarfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import parse_repository_tag

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

log = logging.getLogger("dagy.server.executors")

# The attempt's deadline, epoch seconds: past it the container is stopped and reported DeadlineExceeded.
LABEL_DEADLINE = "dagy.dev/deadline"
# What a container is given between SIGTERM and SIGKILL when it is stopped (deadline, removal).
STOP_SECONDS = 5
# The end of a failed container's output that its state's message carries.
LOG_LINES = 20
LOG_MAX_CHARS = 4000
# Network values that are a mode of the container rather than the name of a network to join.
NETWORK_MODES = ("host", "none", "bridge", "default")
# Engine states of a container that has not started, and of one that has ended.
_PENDING = ("created", "configured", "initialized")
_ENDED = ("exited", "stopped", "dead")


class DockerBackend:
    """Run containers on one Docker or Podman engine (a `ContainerBackend`)."""

    executor = "docker"

    def __init__(self, url: str, *, network: str = "", volumes: Sequence[str] = ()) -> None:
        self.url = url
        self.network = network
        self.volumes = [_checked_bind(spec) for spec in volumes]
        self._client: docker.DockerClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DockerBackend:
        return cls(settings.docker_url, network=settings.docker_network, volumes=settings.docker_volumes)

    @property
    def client(self) -> docker.DockerClient:
        """Made on first use (it asks the engine its API version): an engine that is away when the
        services start fails their passes, which are retried, rather than the services."""
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.url)
        return self._client

    def launch(self, run: ContainerRun) -> None:
        """Create the container, copy the payload file into it, start it. A name in use is this
        launch repeated: a container that never started is finished, any other is left as it is."""
        try:
            self._create(run)
        except APIError:
            # Docker answers a name in use with 409, Podman 4 with 500: the container says which.
            status = self._status(run.name)
            if status is None:
                raise
            if status not in _PENDING:
                return
        self.client.api.put_archive(run.name, "/", payload_archive(run.payload))
        self.client.api.start(run.name)

    def states(self) -> list[ContainerState]:
        """Every container of this executor, exited ones included; one running past its deadline
        is stopped on the way."""
        wanted = {LABEL_MANAGED: MANAGED_BY, LABEL_EXECUTOR: self.executor}
        listed = self.client.api.containers(
            all=True, filters={"label": [f"{key}={value}" for key, value in wanted.items()]}
        )
        states: list[ContainerState] = []
        for summary in listed:
            labels = summary.get("Labels") or {}
            if any(labels.get(key) != value for key, value in wanted.items()):
                continue
            state = self._state(summary, labels)
            if state is not None:
                states.append(state)
        return states

    def remove(self, name: str) -> None:
        """Stop the container (STOP_SECONDS of grace), then delete it with its payload file."""
        api = self.client.api
        try:
            api.stop(name, timeout=STOP_SECONDS)
        except NotFound:
            return
        except APIError as exc:  # the forced removal below kills it anyway
            log.debug("docker: stopping %s: %s", name, exc)
        try:
            api.remove_container(name, v=True, force=True)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # 409: its removal is already under way
                raise

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _create(self, run: ContainerRun) -> None:
        """Create the container, pulling its image first when the engine does not have it."""
        deadline = int(time.time()) + run.timeout_seconds
        labels = {
            **run.labels,
            LABEL_MANAGED: MANAGED_BY,
            LABEL_EXECUTOR: self.executor,
            LABEL_RUN: run.run_id,
            LABEL_ATTEMPT: str(run.attempt),
            LABEL_DEADLINE: str(deadline),
        }
        memory = run.memory_mb * 1024 * 1024
        options: dict[str, Any] = {
            "name": run.name,
            "command": list(run.command),
            "environment": dict(run.env),
            "labels": labels,
            "mem_limit": memory,
            "memswap_limit": memory,  # no swap beyond the limit, as on Kubernetes
            "volumes": list(self.volumes),
            **self._network_options(),
        }
        if run.cpu > 0:
            options["nano_cpus"] = int(run.cpu * 1e9)
        try:
            self.client.containers.create(run.image, **options)
        except ImageNotFound:
            self._pull(run.image)
            self.client.containers.create(run.image, **options)

    def _pull(self, image: str) -> None:
        """Pull an image, raising with the engine's own words when it cannot (the stream says so)."""
        log.info("docker: pulling %s", image)
        repository, tag = parse_repository_tag(image)
        for event in self.client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if isinstance(event, dict) and event.get("error"):
                raise DockerException(f"the image {image} could not be pulled: {event['error']}")

    def _network_options(self) -> dict[str, str]:
        if not self.network:
            return {}
        if self.network in NETWORK_MODES or self.network.startswith("container:"):
            return {"network_mode": self.network}
        return {"network": self.network}

    def _status(self, name: str) -> str | None:
        try:
            return str(self.client.api.inspect_container(name)["State"]["Status"])
        except NotFound:
            return None

    def _state(self, summary: dict[str, Any], labels: dict[str, str]) -> ContainerState | None:
        names = summary.get("Names") or [summary.get("Id", "")]
        name = str(names[0]).lstrip("/")
        run_id = labels.get(LABEL_RUN, "")
        attempt = _number(labels.get(LABEL_ATTEMPT))
        status = str(summary.get("State", ""))
        if not run_id or attempt is None or status == "removing":
            return None  # labelled by hand rather than made by this executor, or going already
        found = ContainerState(name=name, run_id=run_id, attempt=int(attempt), phase="running")
        deadline = _number(labels.get(LABEL_DEADLINE))
        if status in _ENDED:
            return self._ended(found, deadline)
        if deadline is not None and time.time() > deadline:
            self._stop_late(name)
            sentence = f"The container ran past its deadline ({_iso(deadline)}) and was stopped."
            message = self._message(sentence, name)
            return replace(found, phase="failed", reason="DeadlineExceeded", message=message)
        return replace(found, phase="pending") if status in _PENDING else found

    def _ended(self, found: ContainerState, deadline: float | None) -> ContainerState | None:
        try:
            info = self.client.api.inspect_container(found.name)
        except NotFound:
            return None
        state = info.get("State") or {}
        code = int(state.get("ExitCode") or 0)
        if code == 0 and state.get("Status") != "dead":
            return replace(found, phase="succeeded", exit_code=0)
        memory_mb = int((info.get("HostConfig") or {}).get("Memory") or 0) // (1024 * 1024)
        finished = _epoch(str(state.get("FinishedAt", "")))
        if state.get("OOMKilled"):
            reason, sentence = "OOMKilled", f"The container was stopped at its memory limit ({memory_mb} MB)."
        elif deadline is not None and finished is not None and finished >= deadline:
            reason = "DeadlineExceeded"
            sentence = f"The container ran past its deadline ({_iso(deadline)}) and was stopped."
        else:
            reason, sentence = "Error", f"The container exited with code {code}."
        message = self._message(sentence, found.name)
        return replace(found, phase="failed", reason=reason, message=message, exit_code=code)

    def _stop_late(self, name: str) -> None:
        try:
            self.client.api.stop(name, timeout=STOP_SECONDS)
        except APIError as exc:  # reported failed, the services remove it: that stops it too
            log.warning("docker: stopping %s past its deadline: %s", name, exc)

    def _message(self, sentence: str, name: str) -> str:
        """The sentence, then the container's last LOG_LINES lines (stdout and stderr)."""
        try:
            raw = self.client.api.logs(name, stdout=True, stderr=True, tail=LOG_LINES)
        except APIError:
            return sentence
        text = (raw if isinstance(raw, bytes) else b"").decode("utf-8", "replace").strip()
        if not text:
            return sentence
        return f"{sentence} Its last lines:\n{text[-LOG_MAX_CHARS:]}"


def payload_archive(payload: bytes) -> bytes:
    """A tar of PAYLOAD_DIR (0755) and the payload file in it (0444, root's), to extract at `/`.
    Parents such as /var/run are not in it, so an image's own (a link to /run) are kept."""
    now = time.time()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        folder = tarfile.TarInfo(PAYLOAD_DIR.strip("/"))
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, now
        archive.addfile(folder)
        entry = tarfile.TarInfo(f"{folder.name}/{PAYLOAD_FILE}")
        entry.size, entry.mode, entry.mtime = len(payload), 0o444, now
        archive.addfile(entry, io.BytesIO(payload))
    return buffer.getvalue()


def _checked_bind(spec: str) -> str:
    """`host:container[:options]`, the host side a path or a named volume, the container side a path."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
        raise ValueError(f"docker volume {spec!r}: expected host:container[:ro], the container path absolute")
    return spec


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _epoch(text: str) -> float | None:
    """An engine's RFC 3339 time (nanoseconds, `Z`) as epoch seconds; None when unset or unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.year > 1 else None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
