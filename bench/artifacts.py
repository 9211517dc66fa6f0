"""Artifact upload benchmark: deploying a 50 MB code-flow artifact through `/v1/artifacts`.

For each store — the local folder (the server receives the parts at its signed URLs) and S3
(moto's standalone server, `moto_server`, on loopback) — starts `dagy server --no-worker` in a
fresh DAGY_HOME and, per round: `POST /v1/artifacts/initiate` (8 MiB parts), the parts PUT by 4
parallel httpx connections, `POST /v1/artifacts/complete` (assembly, SHA-256, registration and the
deployment). Reports MB/s (10^6 bytes) of the whole deploy and of the PUT phase alone, median of
`--repeat` rounds.

    python bench/artifacts.py [--size-mb 50] [--repeat 5] [--parallel 4] [--stores local,s3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from run import SUPERADMIN, start_server, stop

PART_BYTES = 8 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def artifact(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bench/__init__.py", "")
        archive.writestr(
            "bench/flows.py", "from dagy import flow\n\n\n@flow\ndef main() -> int:\n    return 1\n"
        )
        archive.writestr("padding.bin", random.Random(0).randbytes(size), zipfile.ZIP_STORED)
    return buffer.getvalue()


@contextmanager
def moto() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`start_server` passes the benchmark's environment on to `dagy server`."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def deploy(
    base: str, headers: dict[str, str], data: bytes, parallel: int
) -> tuple[float, float, float]:
    """One deploy: (seconds in all, seconds of the PUT phase, seconds of the completion)."""
    flow = f"bench-{secrets.token_hex(4)}"
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=parallel)) as client:
        body = {
            "flow_name": flow,
            "flow_version": "1",
            "deployment_name": f"{flow}-prod",
            "file_size": len(data),
        }
        plan = (await client.post(f"{base}/v1/artifacts/initiate", json=body, headers=headers)).json()
        offsets = [0]
        for part in plan["parts"]:
            offsets.append(offsets[-1] + part["size"])
        gate = asyncio.Semaphore(parallel)

        async def put(index: int, part: dict[str, Any]) -> str:
            async with gate:
                chunk = data[offsets[index] : offsets[index + 1]]
                answer = await client.put(part["url"], content=chunk)
                answer.raise_for_status()
                return str(answer.headers["etag"])

        put_started = time.perf_counter()
        etags = await asyncio.gather(*(put(i, p) for i, p in enumerate(plan["parts"])))
        put_seconds = time.perf_counter() - put_started
        complete_started = time.perf_counter()
        done = await client.post(
            f"{base}/v1/artifacts/complete",
            headers=headers,
            json={
                "upload_id": plan["upload_id"],
                "artifact_key": plan["artifact_key"],
                "parts": [{"part_number": n, "etag": e} for n, e in enumerate(etags, start=1)],
                "deployment_name": f"{flow}-prod",
                "flow_name": flow,
                "flow_version": "1",
                "flow_spec": {"entrypoint": "bench.flows:main"},
            },
        )
        done.raise_for_status()
        complete_seconds = time.perf_counter() - complete_started
    return time.perf_counter() - started, put_seconds, complete_seconds


def measure(store: str, data: bytes, args: argparse.Namespace) -> dict[str, float]:
    extra: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as home, moto() if store == "s3" else _nothing() as s3_url:
        if s3_url:
            bucket = f"bench-{secrets.token_hex(4)}"
            credentials = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
            boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", **credentials).create_bucket(
                Bucket=bucket
            )
            extra = {
                "DAGY_S3_BUCKET": bucket,
                "DAGY_S3_ENDPOINT_URL": s3_url,
                "DAGY_S3_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
            }
        port = free_port()
        with environment(extra):
            server = start_server(Path(home), port, worker=False)
        try:
            base = f"http://127.0.0.1:{port}"
            token = httpx.post(f"{base}/v1/auth/login", json={"email": SUPERADMIN}).json()["access_token"]
            org = httpx.post(
                f"{base}/v1/orgs",
                json={"org_name": "bench", "plan": "enterprise"},
                headers={"Authorization": f"Bearer {token}"},
            )
            headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org.json()["org_id"]}
            rounds = [asyncio.run(deploy(base, headers, data, args.parallel)) for _ in range(args.repeat)]
        finally:
            stop(server)
    mb = len(data) / 1e6
    totals = [mb / total for total, _, _ in rounds]
    puts = [mb / put for _, put, _ in rounds]
    return {
        "deploy_mb_s": statistics.median(totals),
        "deploy_min": min(totals),
        "deploy_max": max(totals),
        "put_mb_s": statistics.median(puts),
        "seconds": statistics.median(total for total, _, _ in rounds),
        "complete_seconds": statistics.median(complete for _, _, complete in rounds),
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--stores", default="local,s3")
    args = parser.parse_args()
    data = artifact(int(args.size_mb * 1e6))
    print(
        f"artifact: {len(data) / 1e6:.1f} MB, {PART_BYTES // 2**20} MiB parts, {args.parallel} parallel PUTs"
    )
    print("| store | deploy MB/s (median, min-max) | PUT phase MB/s | deploy s | complete s |")
    print("|---|---:|---:|---:|---:|")
    for store in args.stores.split(","):
        r = measure(store, data, args)
        print(
            f"| {store} | {r['deploy_mb_s']:.0f} ({r['deploy_min']:.0f}-{r['deploy_max']:.0f}) "
            f"| {r['put_mb_s']:.0f} | {r['seconds']:.2f} | {r['complete_seconds']:.2f} |"
        )


if __name__ == "__main__":
    main()
