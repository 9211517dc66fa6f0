"""Receiving a part of the local store at its signed URL: the body is streamed to disk in chunks of
about a megabyte (hashed as written, each write on a worker thread), never held whole in memory.
A body of another size than the URL's is refused and nothing of it kept."""

from __future__ import annotations

import time

import anyio.to_thread
from starlette.requests import Request

from dagy.server.errors import InvalidInput, NotFound, PermissionDenied
from dagy.storage import LocalStore, PartSink
from dagy.storage.base import CHUNK_BYTES


async def receive_part(
    request: Request,
    store: LocalStore,
    *,
    upload_id: str,
    part_number: int,
    size: int,
    expires: int,
    signature: str,
) -> str:
    """Check the URL's signature (403), then store the body as the part; answers its ETag."""
    if not store.signer.valid(
        upload_id, part_number, size=size, expires=expires, signature=signature, now=time.time()
    ):
        raise PermissionDenied(
            "The part URL's signature is not valid or has expired.",
            details={"signature": "invalid or expired"},
            code="invalid_signature",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) != size:
        raise _wrong_size(size)
    if not store.receiving(upload_id):
        raise NotFound("Upload not found.", details={"upload_id": "no such upload, or it is finished"})
    sink = await anyio.to_thread.run_sync(store.part_sink, upload_id, part_number)
    try:
        await _stream(request, sink, size)
        if sink.size != size:
            raise _wrong_size(size)
        return await anyio.to_thread.run_sync(sink.commit)
    except BaseException:
        await anyio.to_thread.run_sync(sink.discard)
        raise


async def _stream(request: Request, sink: PartSink, size: int) -> None:
    buffer = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > size:
            raise _wrong_size(size)
        buffer += chunk
        if len(buffer) >= CHUNK_BYTES:
            data, buffer = bytes(buffer), bytearray()
            await anyio.to_thread.run_sync(sink.write, data)
    if buffer:
        await anyio.to_thread.run_sync(sink.write, bytes(buffer))


def _wrong_size(size: int) -> InvalidInput:
    return InvalidInput(f"This part holds exactly {size} bytes.", details={"body": f"must be {size} bytes"})
