"""A run's isolation boundary, entered by its process before any of the run's code is loaded.

The worker describes the boundary (`Boundary`: what the run may read, where it may write, who it
runs as, how many tasks it may have); the run's process enters it first thing, before it reads its
payload. With namespaces (`Boundary.namespaces`) the run's process is the init (pid 1) of a PID
namespace of its own: the template forks it into one (`fork_into_pid_namespace`); a fresh
`python -m dagy.runtime` makes one and forks the run's process into it, then waits for it. The
run's process unshares mount, IPC and UTS namespaces, builds its root and pivots into it, then
drops its privileges:

- **Filesystem.** The run's root is an empty read-only tmpfs into which only what a run needs is
  bound read-only (system folders, the interpreter, its packages), plus the run's scratch folder
  (read-write; `$TMPDIR` is inside it), small fresh tmpfs as `/tmp` and `/dev/shm`, and the
  folders the worker grants (the org's objects on the embedded worker). Everything else
  (`DAGY_HOME`, keys, the worker token, databases, other runs' scratch) is not in the run's file
  system at all; a path the worker names as hidden that lies inside a bound folder is covered by
  an empty tmpfs (a file: by `/dev/null`).
- **Processes.** `/proc` is the run's PID namespace's: it shows the run's processes only, and the
  run cannot see, signal or trace the worker or other runs. When the run's process (the
  namespace's init) ends, the kernel kills everything left in the namespace.
- **Privileges.** The run has its own unprivileged uid (`uid_base` + the host's pid of its
  process, so concurrent runs never share one) and the workers' run group, no capabilities (bounding set
  dropped), `no_new_privs`, `RLIMIT_NPROC` at `max_processes`, and a seccomp filter (libseccomp,
  through pyseccomp) that answers EPERM to ptrace, mounts, new namespaces, kernel modules, keyrings
  and the other calls listed in `BLOCKED_SYSCALLS`.

Without namespaces (`best` on a host that has none), the run keeps the privilege part that the host
allows. Which parts a host offers is measured by `probe()`, which enters a boundary for real.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import platform
import resource
import signal
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWCGROUP = 0x02000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_NEWCGROUP,
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 22, 24, 38
SECCOMP_MODE_FILTER = 2
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

# The system calls a run never needs and that would let it out (or attack the kernel): tracing and
# reading other processes, mounts and namespaces, kernel modules and keyrings, the kernel's own
# switches. Answered with EPERM. `clone` with a namespace flag is refused too, and `clone3` answers
# ENOSYS so that libc falls back to `clone`, whose flags the filter can read.
BLOCKED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "unshare", "setns",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "add_key", "request_key", "keyctl",
    "bpf", "perf_event_open", "userfaultfd", "open_by_handle_at", "name_to_handle_at",
    "reboot", "swapon", "swapoff", "syslog", "acct", "quotactl", "lookup_dcookie",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm",
    "personality", "vhangup", "nfsservctl",
)  # fmt: skip
SYSTEM_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/sys/devices/system/cpu",
)
DEVICES = ("null", "zero", "full", "random", "urandom")


class BoundaryError(OSError):
    """The boundary could not be entered: the run must not start."""


@dataclass(frozen=True)
class Boundary:
    """What a run may see and do; made by the worker, entered by the run's process."""

    scratch: str  # the per-attempt folder: the only writable place of its own ($HOME, $TMPDIR)
    root: str = ""  # an empty folder the run's root is mounted on (namespaces only)
    read_only: tuple[str, ...] = SYSTEM_PATHS  # bound read-only at the same path
    writable: tuple[str, ...] = ()  # bound read-write at the same path (the org's objects)
    hidden: tuple[str, ...] = ()  # never visible, even inside a bound folder
    namespaces: bool = True  # mount, PID, IPC and UTS namespaces with the run's own root
    uid_base: int | None = None  # the run's uid is uid_base + the host's pid of its process; None: keep it
    gid: int | None = None  # the run's group (shared folders are group-writable)
    max_processes: int = 0  # RLIMIT_NPROC (processes and threads); 0: unlimited
    seccomp: bool = True
    tmpfs_mb: int = 64  # size of the run's /tmp and /dev/shm (memory: counted against the run's)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Boundary:
        data = json.loads(text)
        for key in ("read_only", "writable", "hidden"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc  # noqa: PLW0603 - loaded once per process
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise BoundaryError(number, f"{what}: {os.strerror(number)}")


def unshare(flags: int) -> None:
    _check(_c().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def b(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    _check(_c().mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data)), f"mount {target}")


def prctl(option: int, value: int) -> None:
    _check(_c().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def _pivot_root_here() -> None:
    """Make the current folder the root and detach the old one (pivot_root(".", ".") idiom)."""
    number = _PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise BoundaryError(errno.ENOSYS, f"pivot_root: unknown architecture {platform.machine()}")
    _check(_c().syscall(number, b".", b"."), "pivot_root")
    _check(_c().umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def enter(boundary: Boundary) -> None:
    """Enter the boundary. A process the template forked into a PID namespace of its own
    (`fork_into_pid_namespace`) is that namespace's init already; a fresh `python -m dagy.runtime`
    makes the namespace and forks its init, and returns only there (it waits for it and ends as it
    did). The run's process enters before it reads its payload: nothing of the run has been
    loaded yet, and the work is done while the worker prepares the payload."""
    if boundary.namespaces and os.getpid() != 1:
        unshare(CLONE_NEWPID)
        init = os.fork()
        if init:
            _relay(init)
    uid = None if boundary.uid_base is None else boundary.uid_base + _host_pid()
    _prepare_folders(boundary, uid)
    if boundary.namespaces:
        unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)
        _build_root(boundary)
        _as_init()
    os.chdir(boundary.scratch)
    _drop_privileges(boundary, uid)


def fork_into_pid_namespace() -> int:
    """`os.fork()` with the child as pid 1 of a new PID namespace (the template's way: it saves the
    run a process). The caller's own children stay in its namespace. OSError where the caller may
    not make namespaces (then `enter` makes one itself)."""
    global _own_pid_namespace  # noqa: PLW0603 - opened once per process
    if _own_pid_namespace is None:
        _own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    unshare(CLONE_NEWPID)
    try:
        return os.fork()
    finally:
        if os.getpid() != 1:  # the parent: its next children are its own namespace's again
            _check(_c().setns(_own_pid_namespace, CLONE_NEWPID), "setns")


_own_pid_namespace: int | None = None


def _host_pid() -> int:
    """This process's pid as the host sees it (while /proc is still the host's): unique among the
    host's live processes, unlike its pid in its own namespace."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def _prepare_folders(boundary: Boundary, uid: int | None) -> None:
    """The scratch folder (with its `tmp`, $TMPDIR) belongs to the run's uid; the granted writable
    folders exist and are writable by the runs' group. (What the worker puts in the scratch folder
    later, a code flow's artifact, is readable by all.)"""
    tmp = os.path.join(boundary.scratch, "tmp")
    os.makedirs(tmp, exist_ok=True)
    for folder in boundary.writable:
        os.makedirs(folder, exist_ok=True)
        if uid is not None and boundary.gid is not None:  # shared with the org's other runs
            os.chown(folder, -1, boundary.gid)
            os.chmod(folder, 0o2775)  # noqa: S103 - group-writable for the org's runs, setgid keeps the group
    if uid is not None:
        gid = boundary.gid if boundary.gid is not None else uid
        os.chown(boundary.scratch, uid, gid)
        os.chown(tmp, uid, gid)


def _relay(child: int) -> None:
    """The run's outer process: wait for the namespace's init and end as it did."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # the run itself gets the worker's signals (same group)
    _, status = os.waitpid(child, 0)
    os._exit(_exit_code(status))


def _as_init() -> None:
    """The run's process is its PID namespace's init, to which the kernel delivers a signal from
    outside only when a handler is set: the worker's SIGTERM (cancel, limits) and SIGHUP end it as
    they end any process. When it ends, the kernel kills whatever else is left in the namespace.
    (Processes the run leaves behind when their parent ends are its children then; they are
    reaped when the run ends.)"""
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, _end_at_signal)


def _end_at_signal(signum: int, _frame: object) -> None:
    os._exit(128 + signum)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _build_root(boundary: Boundary) -> None:
    """Mount the run's root on `boundary.root` and make it `/` (in the run's mount namespace)."""
    root = boundary.root
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    _make_dev(root, boundary)
    # A fresh tmpfs for paths written as /tmp (TMPDIR is in the scratch folder).
    tmp_mount = root + "/tmp"  # noqa: S108 - the run's own /tmp, inside its new root
    os.makedirs(tmp_mount)
    mount("tmpfs", tmp_mount, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={boundary.tmpfs_mb}m")
    binds = [(path, "ro") for path in boundary.read_only] + [(path, "rw") for path in boundary.writable]
    binds.append((boundary.scratch, "rw"))
    # A hidden path matters where it lies inside a bound folder; it is covered before the grants
    # that lie inside it are bound (parents first).
    binds += [(path, "hide") for path in boundary.hidden if any(_inside(path, bound) for bound, _ in binds)]
    for path, kind in sorted(binds, key=lambda bind: bind[0].rstrip("/").count("/")):
        if kind == "hide":
            _hide(root, path)
        else:
            _bind(root, path, path, writable=kind == "rw")
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(root)
    _pivot_root_here()


def _bind(root: str, source: str, target: str, *, writable: bool) -> None:
    """`source` at `target` in the new root, read-only unless `writable`; a symlink is copied as one;
    a path the host does not have is skipped."""
    inside = root + target
    if os.path.islink(source) and source == target:
        os.makedirs(os.path.dirname(inside), exist_ok=True)
        if not os.path.lexists(inside):
            os.symlink(os.readlink(source), inside)
        return
    if not os.path.exists(source):
        return
    if os.path.isdir(source):
        os.makedirs(inside, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(inside), exist_ok=True)
        if not os.path.exists(inside):
            with open(inside, "w"):
                pass
    mount(source, inside, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    mount(None, inside, None, flags)


def _make_dev(root: str, boundary: Boundary) -> None:
    dev = root + "/dev"
    os.makedirs(dev, exist_ok=True)
    for name in DEVICES:
        with open(f"{dev}/{name}", "w"):
            pass
        mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{dev}/{name}")
    os.makedirs(dev + "/shm", exist_ok=True)
    mount(
        "tmpfs",
        dev + "/shm",
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"mode=1777,size={boundary.tmpfs_mb}m",
    )


def _inside(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder.rstrip("/") + "/")


def _hide(root: str, path: str) -> None:
    """Cover `path` (inside a bound folder) in the new root: a folder by an empty tmpfs that only
    the boundary's own processes may write (grants inside it are bound next), a file by /dev/null."""
    inside = root + path
    if not os.path.lexists(inside) or os.path.islink(inside):
        return
    if os.path.isdir(inside):
        mount("tmpfs", inside, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755")
    else:
        mount("/dev/null", inside, None, MS_BIND)


def _drop_privileges(boundary: Boundary, uid: int | None) -> None:
    os.umask(0o002)
    if uid is not None:
        for cap in range(_last_capability() + 1):
            with contextlib.suppress(BoundaryError):  # a capability this kernel does not know
                prctl(PR_CAPBSET_DROP, cap)
        gid = boundary.gid if boundary.gid is not None else uid
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # from root to another uid: every capability is gone
        prctl(PR_SET_DUMPABLE, 1)  # its own /proc/self files are the run's again (uid changes clear it)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if boundary.max_processes > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (boundary.max_processes, boundary.max_processes))
    if boundary.seccomp:
        _load_seccomp(seccomp_program())


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _load_seccomp(program: bytes) -> None:
    """Install a compiled BPF program (struct sock_filter, 8 bytes an instruction) as this
    process's seccomp filter; every thread and child started later inherits it."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    _check(_c().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 63


_program: bytes | None = None


def seccomp_program() -> bytes:
    """The runs' seccomp filter as BPF, compiled by libseccomp (through pyseccomp) once per process:
    a template compiles it before it forks, so that each run only loads it."""
    global _program  # noqa: PLW0603 - compiled once, loaded by every forked run
    if _program is not None:
        return _program
    try:
        import pyseccomp as seccomp  # noqa: PLC0415 - a worker dependency; loads libseccomp
    except (ImportError, OSError) as exc:
        raise BoundaryError(errno.ENOSYS, f"seccomp: libseccomp is not available ({exc})") from exc
    built = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    refuse = seccomp.ERRNO(errno.EPERM)
    for name in BLOCKED_SYSCALLS:
        with contextlib.suppress(RuntimeError, ValueError):  # not a call of this architecture
            built.add_rule(refuse, name)
    for flag in NAMESPACE_FLAGS:
        built.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with contextlib.suppress(RuntimeError, ValueError):
        built.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as exported:
        built.export_bpf(exported)
        exported.seek(0)
        _program = exported.read()
    return _program


def probe(boundary: Boundary) -> dict[str, Any]:
    """Enter `boundary` in a child process and check from inside what holds: {"ok": bool, "error"}."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read_end)
        report: dict[str, Any]
        try:
            enter(boundary)
            report = {"ok": True, "uid": os.getuid(), "pid": os.getpid()}
        except BaseException as exc:
            report = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    try:
        result: dict[str, Any] = json.loads(data or b"{}")
    except ValueError:
        result = {}
    return result or {"ok": False, "error": "the probe ended without a report"}


if __name__ == "__main__":  # pragma: no cover - `python -m dagy.runtime.sandbox BOUNDARY_JSON`
    print(json.dumps(probe(Boundary.from_json(sys.argv[1]))))
