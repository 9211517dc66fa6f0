"""The artifact upload of `dagy deploy`: initiate, the parts in parallel, complete (or abort).

`POST /v1/artifacts/initiate` answers one URL per part: the server's own (its local object store)
or presigned S3 URLs. Each part's bytes are PUT to its URL by one of `PARALLEL_PARTS` threads, tried
up to `PART_ATTEMPTS` times, and its `ETag` kept for `POST /v1/artifacts/complete`, which registers
the flow version and points the deployment at it. Any failure aborts the upload.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dagy.cli import output
from dagy.cli.exits import CliError

if TYPE_CHECKING:
    import httpx
    from rich.progress import Progress, TaskID

    from dagy.cli.context import Api

PARALLEL_PARTS = 4
PART_ATTEMPTS = 3
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def upload_artifact(
    api: Api, data: bytes, *, target: dict[str, str], registration: dict[str, Any]
) -> dict[str, Any]:
    """Upload `data` for `target` (flow_name, flow_version, deployment_name) and register it with
    `registration` (the rest of the complete body); the complete answer."""
    initiated = api.call("POST", "/artifacts/initiate", json={**target, "file_size": len(data)})
    handle = {"upload_id": initiated["upload_id"], "artifact_key": initiated["artifact_key"]}
    try:
        etags = _send_parts(api, data, initiated["parts"])
        parts = [{"part_number": number, "etag": etag} for number, etag in sorted(etags.items())]
        answer: dict[str, Any] = api.call(
            "POST", "/artifacts/complete", json={**handle, **target, **registration, "parts": parts}
        )
    except BaseException:
        _abort(api, handle)
        raise
    return answer


def _abort(api: Api, handle: dict[str, str]) -> None:
    try:
        api.call("POST", "/artifacts/abort", json=handle)
        output.note("[yellow]the upload was aborted[/yellow]")
    except Exception as exc:  # the original failure is what the user must see
        output.note(f"[yellow]the upload could not be aborted either: {exc}[/yellow]")


def _slices(data: bytes, parts: list[dict[str, Any]]) -> list[tuple[int, str, bytes]]:
    chunks: list[tuple[int, str, bytes]] = []
    offset = 0
    for part in sorted(parts, key=lambda p: int(p["part_number"])):
        size = int(part["size"])
        chunks.append((int(part["part_number"]), str(part["url"]), data[offset : offset + size]))
        offset += size
    if offset != len(data):
        raise CliError(f"the server's parts cover {offset} bytes of {len(data)}")
    return chunks


def _send_parts(api: Api, data: bytes, parts: list[dict[str, Any]]) -> dict[int, str]:
    import httpx
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    chunks = _slices(data, parts)
    api_origin = _origin(api.base_url)
    auth = {"Authorization": f"Bearer {api.credentials.token}", **api.headers}
    columns = (
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    etags: dict[int, str] = {}
    with (
        httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as http,
        Progress(*columns, console=output.err, transient=True) as progress,
        ThreadPoolExecutor(max_workers=PARALLEL_PARTS, thread_name_prefix="dagy-upload") as pool,
    ):
        bar = progress.add_task("upload", total=len(data))
        futures = {
            pool.submit(
                _put_part,
                http,
                url,
                body,
                headers=auth if _origin(url) == api_origin else {},
                progress=progress,
                bar=bar,
            ): number
            for number, url, body in chunks
        }
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in done:
            etags[futures[future]] = future.result()  # raises the first failure
    return etags


def _put_part(
    http: httpx.Client,
    url: str,
    body: bytes,
    *,
    headers: dict[str, str],
    progress: Progress,
    bar: TaskID,
) -> str:
    """PUT one part, tried up to PART_ATTEMPTS times; its ETag."""
    import httpx

    from dagy.client.errors import raise_for_error

    for attempt in range(1, PART_ATTEMPTS + 1):
        try:
            response = http.put(url, content=body, headers=headers)
        except httpx.TransportError:
            if attempt == PART_ATTEMPTS:
                raise
        else:
            if response.status_code not in RETRY_STATUSES or attempt == PART_ATTEMPTS:
                raise_for_error(response)
                etag = str(response.headers.get("ETag") or "")
                if not etag:
                    raise CliError(f"the part upload to {urlsplit(url).path} answered no ETag")
                progress.advance(bar, len(body))
                return etag
        time.sleep(0.5 * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
