"""Loopback ports for the servers tests start (`dagy server`, moto, SMTP) and for "nothing listens
here" probes.

Such a server is started on a port chosen beforehand, so a port is free when it is chosen and must
still be free when the server binds it a moment later. Asking the kernel (`bind(("127.0.0.1", 0))`)
leaves that moment open: the kernel hands the same ephemeral ports to the other test processes
(pytest-xdist workers) and to every outgoing connection. So each test process takes its ports from
a band of its own below the kernel's ephemeral range, from a random start, and skips those it
cannot bind (held by anything else on the host). Servers that bind port 0 themselves and keep the
socket (`ThreadingHTTPServer(("127.0.0.1", 0), ...)`) need none of this.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path

FIRST = 20_000  # above the ports services usually listen on
BAND = 500  # ports per test process


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _band() -> range:
    """This process's band: the controller or a serial run has the first one, xdist's worker `gwN`
    the (N + 1)th, wrapping around if there are more workers than bands."""
    bands = max(1, (_ephemeral_start() - FIRST) // BAND)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = FIRST + (index % bands) * BAND
    return range(start, start + BAND)


def _cycle() -> Iterator[int]:
    band = _band()
    offset = random.randrange(len(band))  # another run on the same host starts elsewhere in the band
    return itertools.cycle([*band[offset:], *band[:offset]])


_ports: Iterator[int] | None = None


def free_port() -> int:
    """A loopback port nothing listens on, which no other test process of this run hands out."""
    global _ports  # noqa: PLW0603 - one cursor per process, made once the xdist worker id is known
    if _ports is None:
        _ports = _cycle()
    for port in itertools.islice(_ports, BAND):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {_band()}")
