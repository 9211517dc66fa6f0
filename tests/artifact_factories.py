"""Multipart artifact uploads for tests: a code flow's zip of a given size, and the three phases
over HTTP (`/v1/artifacts/...`)."""

from __future__ import annotations

import io
import random
import zipfile
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.factories import Caller

MIB = 1024 * 1024
ENTRYPOINT = "etl.flows:daily"
MODULE = """from dagy import flow


@flow(name="daily")
def daily(day: str = "today") -> dict:
    return {"day": day}
"""


def code_zip(min_bytes: int, seed: int = 0) -> bytes:
    """A code flow's artifact (`etl.flows:daily`) padded with incompressible bytes to `min_bytes`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("etl/__init__.py", "")
        archive.writestr("etl/flows.py", MODULE)
        archive.writestr("padding.bin", random.Random(seed).randbytes(min_bytes), zipfile.ZIP_STORED)
    return buffer.getvalue()


def initiate(
    client: TestClient, caller: Caller, flow: str, size: int, *, version: str = "1", **extra: Any
) -> httpx.Response:
    body = {"flow_name": flow, "flow_version": version, "deployment_name": f"{flow}-prod", "file_size": size}
    return client.post("/v1/artifacts/initiate", headers=caller.headers, json=body | extra)


def slices(data: bytes, plan: dict[str, Any]) -> list[bytes]:
    """The artifact cut as the upload's parts plan says."""
    out, offset = [], 0
    for part in plan["parts"]:
        out.append(data[offset : offset + part["size"]])
        offset += part["size"]
    return out


def complete_body(plan: dict[str, Any], flow: str, etags: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "upload_id": plan["upload_id"],
        "artifact_key": plan["artifact_key"],
        "parts": [{"part_number": n, "etag": etag} for n, etag in enumerate(etags, start=1)],
        "deployment_name": f"{flow}-prod",
        "flow_name": flow,
        "flow_version": plan["artifact_key"].split("/")[-2],
        "flow_spec": {"entrypoint": ENTRYPOINT},
    } | extra
