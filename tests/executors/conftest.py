"""A real container engine for the container executors' tests: Podman's Docker-compatible service.

`podman_engine` (one per test session, so one per xdist worker) starts `podman system service` on a
socket of its own, with its own storage, run and temporary folders and its own `CONTAINERS_CONF`,
so it shares nothing with the host's Podman. This host needs, and the configuration says: the runc
runtime (crun fails on the hybrid cgroup hierarchy), the cgroupfs cgroup manager (no systemd), default
ulimits of 4096 open files and processes (Podman's default of 1048576 open files is above the host's
hard limit, and a process limit above the 32768 the service itself runs with is refused), and the
file events logger (no journald).

Its image, `localhost/dagy-host:test`, is empty: a run container sees the host's system and Dagy's
installation through read-only binds (`volumes`): /usr, /lib, /lib64, /bin, /etc, the Python
installation (`sys.base_prefix`), the virtual environment (`sys.prefix`) and, for an editable install,
Dagy's source folder. The image's PATH starts with the environment's bin/, so `dagy` is on it, as in
a real run image. The tests are skipped, with the reason, where Podman cannot run a container.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException

import dagy

IMAGE = "localhost/dagy-host:test"
READY_SECONDS = 30.0
# Open files and processes a test container may have: what a run needs, within any host's limits.
ULIMIT = 4096


@dataclass(frozen=True)
class PodmanEngine:
    """A running Podman service: its Docker API `url`, the `image` to run, the binds it needs."""

    url: str  # unix:///.../podman.sock
    image: str
    volumes: list[str]  # host:container:ro, for DockerBackend(volumes=...)


def host_binds() -> list[str]:
    """Read-only binds that let an empty image run this host's Python and Dagy, outermost first."""
    package_root = Path(dagy.__file__).resolve().parent.parent  # src/ of an editable install
    candidates = [Path(p) for p in ("/usr", "/lib", "/lib64", "/bin", "/etc")]
    candidates += [Path(sys.base_prefix).resolve(), Path(sys.prefix), package_root]
    kept: list[Path] = []
    for path in candidates:
        if path.exists() and not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return [f"{path}:{path}:ro" for path in kept]


def _ulimit(kind: int, name: str) -> str:
    """`name=N:N`, N = ULIMIT capped at the host's hard limit: Podman's defaults (1048576 open files)
    are above this host's, and the service lowers its own process limit below the host's (to 32768)."""
    hard = resource.getrlimit(kind)[1]
    value = ULIMIT if hard == resource.RLIM_INFINITY else min(ULIMIT, hard)
    return f'"{name}={value}:{value}"'


def _containers_conf(tmp: Path) -> str:
    runtime = 'runtime = "runc"' if shutil.which("runc") else ""
    ulimits = ", ".join([_ulimit(resource.RLIMIT_NOFILE, "nofile"), _ulimit(resource.RLIMIT_NPROC, "nproc")])
    return (
        f"[containers]\ndefault_ulimits = [{ulimits}]\n\n"
        f'[engine]\n{runtime}\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\ntmp_dir = "{tmp}"\n'
    )


def _empty_image(folder: Path) -> Path:
    path = folder / "empty.tar"
    with tarfile.open(path, "w"):
        pass
    return path


class _Service:
    """`podman system service` on a private socket and private storage, and the CLI on the same."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "podman.sock"
        tmp = folder / "tmp"
        conf = folder / "containers.conf"
        conf.write_text(_containers_conf(tmp))
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.podman = [
            shutil.which("podman") or "podman",
            *("--root", str(folder / "storage"), "--runroot", str(folder / "run"), "--tmpdir", str(tmp)),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.podman, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )

    def start(self) -> None:
        with (self.folder / "service.log").open("wb") as log:
            self.process = subprocess.Popen(
                [*self.podman, "system", "service", "--time=0", f"unix://{self.socket}"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                start_new_session=True,
            )

    def log_tail(self) -> str:
        path = self.folder / "service.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _connect(service: _Service) -> docker.DockerClient | str:
    """A client once the service answers (the client asks the API version as it is made); else why not."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        assert service.process is not None
        if service.process.poll() is not None:
            return f"podman system service exited ({service.process.returncode}): {service.log_tail()}"
        try:
            return docker.DockerClient(base_url=f"unix://{service.socket}", timeout=120)
        except DockerException:
            time.sleep(0.05)  # not listening yet: the service tells no one when it is
    return f"podman system service did not answer within {READY_SECONDS:.0f}s: {service.log_tail()}"


def _probe(client: docker.DockerClient, volumes: list[str]) -> str | None:
    """None when a container of IMAGE runs `dagy --help` here; else why it does not."""
    try:
        container = client.containers.run(
            IMAGE, ["dagy", "--help"], volumes=volumes, network_mode="host", detach=True
        )
        try:
            code = container.wait(timeout=60)["StatusCode"]
            output = container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)
    except Exception as exc:  # any refusal is a reason to skip, told as it is
        return f"podman cannot run a container here: {exc}"
    return None if code == 0 else f"`dagy --help` in a container exited with {code}: {output[-1000:]}"


@pytest.fixture(scope="session")
def podman_engine() -> Iterator[PodmanEngine]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/test.sh installs it with runc when run as root)")
    # A short folder of its own: Podman refuses a run root of more than 50 characters.
    service = _Service(Path(tempfile.mkdtemp(prefix="dagy-podman-")))
    path = f"PATH={sys.prefix}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    try:
        imported = service.cli("import", "--change", f"ENV {path}", str(_empty_image(service.folder)), IMAGE)
        if imported.returncode != 0:
            pytest.skip(f"podman cannot import an image here: {imported.stderr.strip()[-1000:]}")
        service.start()
        client = _connect(service)
        if isinstance(client, str):
            pytest.skip(client)
        volumes = host_binds()
        reason = _probe(client, volumes)
        client.close()
        if reason is not None:
            pytest.skip(reason)
        yield PodmanEngine(url=f"unix://{service.socket}", image=IMAGE, volumes=volumes)
    finally:
        service.cli("rm", "--all", "--force", "--time", "0")
        service.stop()
        service.cli("rmi", "--all", "--force")
        shutil.rmtree(service.folder, ignore_errors=True)
