"""Completing an attachment's upload: the upload is read in one transaction, assembled, read and
parsed outside any (a 25 MB PDF takes a while, and holds no lock meanwhile), and what was read is
stored in a second one (`attachments.py` has the steps)."""

from __future__ import annotations

import anyio.to_thread

from dagy.server.api.deps import UnitOfWork
from dagy.server.domains.ai_studio import attachments
from dagy.server.domains.ai_studio.schemas import AttachmentComplete, AttachmentRead
from dagy.server.identity import Actor
from dagy.storage import ArtifactStore


async def complete_attachment(
    tx: UnitOfWork, *, actor: Actor, session_id: str, data: AttachmentComplete, store: ArtifactStore
) -> AttachmentRead:
    upload = await tx.read(
        attachments.pending_upload, actor=actor, session_id=session_id, attachment_id=data.attachment_id
    )
    parsed = await anyio.to_thread.run_sync(attachments.read_upload, store, upload, data.etag)
    return await tx.write(
        attachments.store_parsed, actor=actor, session_id=session_id, upload=upload, parsed=parsed
    )
