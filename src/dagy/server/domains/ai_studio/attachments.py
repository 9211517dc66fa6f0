"""A session's attachments: a single-part upload to a signed URL, then parsing, then removal.

Initiate checks the file's name, type and size and the session's limit, begins an upload in the
artifact store (the local folder or S3) and answers one URL to PUT the whole file to: on the local
store the server's own signed part URL (`PUT /v1/artifacts/uploads/{id}/parts/1`, as for
artifacts), on S3 a presigned PUT. Complete (`uploads.py` runs its steps) assembles the upload,
reads the bytes and parses them (`documents.py`) outside any transaction, then stores the text,
schema and samples with the session; the bytes themselves are removed once read. The object key
is the server's: `ai-studio/<org_id>/<session_id>/<attachment_id>`.

An upload whose URL expired without being completed is removed at the session's next initiate,
before the limit is counted; a file that does not parse leaves its
attachment pending (400), to be deleted or left to expire.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import AiStudioAttachment
from dagy.server.domains.ai_studio import documents, ownership, views
from dagy.server.domains.ai_studio import repository as repo
from dagy.server.domains.ai_studio.schemas import (
    AttachmentInitiate,
    AttachmentRead,
    AttachmentUpload,
)
from dagy.server.domains.ai_studio.tiers import tier_named
from dagy.server.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from dagy.server.identity import Actor
from dagy.server.settings import Settings
from dagy.storage import ArtifactStore, PartSpec, StorageError

log = logging.getLogger("dagy.server.ai_studio")

KEY_ROOT = "ai-studio"


@dataclass(frozen=True)
class Upload:
    """What completing an upload needs from its row, read before the store is asked (`uploads.py`)."""

    attachment_id: str
    key: str
    backend_id: str | None
    size: int
    kind: str


def initiate_attachment(
    session: Session,
    *,
    actor: Actor,
    session_id: str,
    data: AttachmentInitiate,
    settings: Settings,
    store: ArtifactStore,
    base_url: str,
) -> AttachmentUpload:
    """Check the file and the session's limit (429), begin the upload and sign its URL."""
    row = ownership.own_session(session, actor, session_id, for_update=True)
    ownership.check_active(row)
    kind = documents.attachment_kind(data.filename, data.content_type)
    tier = tier_named(row.tier)
    if data.size > tier.max_attachment_bytes:
        raise InvalidInput(
            "The file is too large.", details={"size": f"at most {tier.max_attachment_bytes} bytes"}
        )
    now = utcnow()
    _remove_expired(session, store, row.id, now)
    if repo.count_attachments(session, row.id) >= tier.attachments_per_session:
        raise QuotaExceeded(
            f"A session on the {tier.tier_id} tier holds at most {tier.attachments_per_session} attachments.",
            details={"attachments": f"at most {tier.attachments_per_session} per session on this tier"},
        )
    attachment_id = new_id("aiatt")
    attachment = AiStudioAttachment(
        id=attachment_id,
        org_id=actor.org_id,
        session_id=row.id,
        filename=data.filename,
        content_type=data.content_type,
        kind=kind,
        size=data.size,
        status=repo.PENDING,
        object_key=f"{KEY_ROOT}/{actor.org_id}/{row.id}/{attachment_id}",
        expires_at=now + timedelta(seconds=settings.artifact_upload_url_seconds),
        text_truncated=False,
        created_at=now,
    )
    attachment.backend_upload_id = store.create_multipart(upload_id=attachment_id, key=attachment.object_key)
    discard_open_uploads_after_rollback(session, store, [attachment])
    repo.add(session, attachment)
    url = store.part_url(
        upload_id=attachment_id,
        backend_id=attachment.backend_upload_id,
        key=attachment.object_key,
        part_number=1,
        size=data.size,
        expires_at=attachment.expires_at,
        base_url=base_url,
    )
    return AttachmentUpload(
        attachment_id=attachment_id, upload_url=url, size=data.size, expires_at=attachment.expires_at
    )


def delete_attachment(
    session: Session, *, actor: Actor, session_id: str, attachment_id: str, store: ArtifactStore
) -> None:
    """Remove the attachment (pending or ready); an upload still open is discarded once committed."""
    row = ownership.own_session(session, actor, session_id)
    attachment = _attachment(session, row.id, attachment_id, for_update=True)
    discard_open_uploads_after_commit(session, store, [attachment])
    repo.delete_row(session, attachment)


def discard_open_uploads_after_commit(
    session: Session, store: ArtifactStore, attachments: Sequence[AiStudioAttachment]
) -> None:
    """Once the transaction commits, discard what the store holds of these attachments' uploads."""
    staged = _staged(attachments)
    if staged:
        event.listen(session, "after_commit", lambda _s: _discard(store, staged), once=True)


def discard_open_uploads_after_rollback(
    session: Session, store: ArtifactStore, attachments: Sequence[AiStudioAttachment]
) -> None:
    staged = _staged(attachments)
    event.listen(session, "after_rollback", lambda _s: _discard(store, staged), once=True)


def pending_upload(session: Session, *, actor: Actor, session_id: str, attachment_id: str) -> Upload:
    row = ownership.own_session(session, actor, session_id)
    ownership.check_active(row)
    attachment = _attachment(session, row.id, attachment_id)
    _check_pending(attachment)
    return Upload(
        attachment.id, attachment.object_key, attachment.backend_upload_id, attachment.size, attachment.kind
    )


def read_upload(store: ArtifactStore, upload: Upload, etag: str) -> documents.ParsedDocument:
    """In a worker thread: assemble the one part, read it, remove what the store holds, parse."""
    try:
        stored = store.complete(
            upload_id=upload.attachment_id,
            backend_id=upload.backend_id,
            key=upload.key,
            parts=[PartSpec(1, etag, upload.size)],
        )
    except StorageError as exc:  # not uploaded, another ETag, another size: the client may retry
        raise InvalidInput(exc.message, details=_renamed(exc.details)) from exc
    try:
        data = b"".join(store.chunks(stored.key))
    finally:
        _discard(store, [(upload.attachment_id, upload.backend_id, upload.key)])
    return documents.parse_document(upload.kind, data)


def store_parsed(
    session: Session, *, actor: Actor, session_id: str, upload: Upload, parsed: documents.ParsedDocument
) -> AttachmentRead:
    row = ownership.own_session(session, actor, session_id)
    attachment = _attachment(session, row.id, upload.attachment_id, for_update=True)
    _check_pending(attachment)
    attachment.text = parsed.text
    attachment.text_truncated = parsed.text_truncated
    attachment.inferred_schema = parsed.schema
    attachment.samples = parsed.samples if parsed.schema is not None else None
    attachment.status = repo.READY
    attachment.completed_at = row.updated_at = utcnow()
    session.flush()
    return views.attachment_read(attachment)


def _attachment(
    session: Session, session_id: str, attachment_id: str, *, for_update: bool = False
) -> AiStudioAttachment:
    attachment = repo.get_attachment(session, session_id, attachment_id, for_update=for_update)
    if attachment is None:
        raise NotFound("Attachment not found.", details={"attachment_id": "no such attachment"})
    return attachment


def _check_pending(attachment: AiStudioAttachment) -> None:
    if attachment.status != repo.PENDING:
        raise Conflict("The attachment is completed already.", details={"attachment_id": "completed"})


def _remove_expired(session: Session, store: ArtifactStore, session_id: str, now: datetime) -> None:
    expired = repo.expired_pending_attachments(session, session_id, now)
    if expired:
        discard_open_uploads_after_commit(session, store, expired)
        repo.delete_attachments(session, [attachment.id for attachment in expired])


def _renamed(details: dict[str, str]) -> dict[str, str]:
    """The store names the part (`parts.1`) and the key; here they are the upload's file and ETag."""
    return {
        ("etag" if field.startswith("parts") else "attachment_id"): problem
        for field, problem in details.items()
    }


def _staged(attachments: Sequence[AiStudioAttachment]) -> list[tuple[str, str | None, str]]:
    return [(a.id, a.backend_upload_id, a.object_key) for a in attachments if a.status == repo.PENDING]


def _discard(store: ArtifactStore, staged: Sequence[tuple[str, str | None, str]]) -> None:
    for attachment_id, backend_id, key in staged:
        try:
            store.discard_parts(upload_id=attachment_id, backend_id=backend_id, key=key)
            store.remove(key)
        except Exception:  # the store is unreachable: the parts stay until the store's own expiry
            log.exception("could not remove the upload of attachment %s", attachment_id)
