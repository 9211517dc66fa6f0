"""Multipart artifact uploads (docs/artifacts.md): initiate (plan the parts, sign their URLs),
complete (assemble, verify, then register the flow version and place the deployment in the same
transaction as the upload's change of status), abort, and the clean-up of abandoned uploads.

The key is the server's: `dagy/flows/<org_id>/<flow_name>/<flow_version>/artifact.zip`. A client
names it back on completion and abort; a key with `..` or one that differs from the upload's is a
400, one outside the caller's org a 403. A completion that fails at any step registers nothing, and
the assembled object is removed (the local store keeps the parts: the completion may be retried).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import ArtifactUpload
from dagy.server.domains.artifacts import repository as repo
from dagy.server.domains.artifacts.schemas import (
    MAX_PARTS,
    ArtifactUploadAbort,
    ArtifactUploadComplete,
    ArtifactUploadCompleted,
    ArtifactUploadCreate,
    ArtifactUploadInitiated,
    UploadPart,
)
from dagy.server.domains.deployments import service as deployments
from dagy.server.domains.deployments.schemas import DeploymentCreate
from dagy.server.domains.flows import service as flows
from dagy.server.domains.flows.registration import register_flow_version
from dagy.server.domains.flows.schemas import FlowCreate
from dagy.server.domains.flows.service import ARTIFACTS_ROOT, artifact_prefix
from dagy.server.domains.schedules import service as schedules
from dagy.server.domains.schedules.deployment_sync import deployment_schedule_id
from dagy.server.domains.schedules.schemas import ScheduleUpdate
from dagy.server.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, PermissionDenied
from dagy.server.identity import Actor
from dagy.server.settings import Settings
from dagy.storage import ArtifactStore, ObjectExists, PartProblem, PartSpec, StorageError, StoredObject

log = logging.getLogger("dagy.server.artifacts")

ARTIFACT_NAME = "artifact.zip"
ABANDONED_AFTER = timedelta(hours=24)
COMPLETED, ABORTED = "completed", "aborted"


def initiate_upload(
    session: Session,
    *,
    actor: Actor,
    data: ArtifactUploadCreate,
    settings: Settings,
    store: ArtifactStore,
    base_url: str,
) -> ArtifactUploadInitiated:
    """Plan the parts, begin the store's upload and sign one URL per part."""
    sizes = _part_sizes(data.file_size, data.part_size, settings.artifact_max_bytes)
    version = str(data.flow_version)
    _check_version_is_new(session, actor.org_id, data.flow_name, version)
    key = f"{artifact_prefix(actor.org_id, data.flow_name)}{version}/{ARTIFACT_NAME}"
    now = utcnow()
    upload = ArtifactUpload(
        id=new_id("upl"),
        org_id=actor.org_id,
        artifact_key=key,
        flow_name=data.flow_name,
        flow_version=version,
        deployment_name=data.deployment_name,
        file_size=data.file_size,
        part_size=data.part_size,
        part_count=len(sizes),
        created_by=actor.email or actor.user_id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.artifact_upload_url_seconds),
        status=repo.PENDING,
    )
    upload.backend_upload_id = store.create_multipart(upload_id=upload.id, key=key)
    staged = (upload.id, upload.backend_upload_id, key)
    event.listen(session, "after_rollback", lambda _s: _discard_parts(store, *staged), once=True)
    repo.add(session, upload)
    parts = [
        UploadPart(
            part_number=number,
            size=size,
            url=store.part_url(
                upload_id=upload.id,
                backend_id=upload.backend_upload_id,
                key=key,
                part_number=number,
                size=size,
                expires_at=upload.expires_at,
                base_url=base_url,
            ),
        )
        for number, size in enumerate(sizes, start=1)
    ]
    return ArtifactUploadInitiated(
        upload_id=upload.id, artifact_key=key, parts=parts, expires_at=upload.expires_at
    )


def complete_upload(
    session: Session,
    *,
    actor: Actor,
    data: ArtifactUploadComplete,
    settings: Settings,
    store: ArtifactStore,
) -> ArtifactUploadCompleted:
    """Assemble the parts and register what they make; all of it or nothing."""
    upload = _pending_upload(session, actor.org_id, data.upload_id, data.artifact_key)
    _check_same_target(upload, data)
    stored = _assemble(store, upload, _listed_parts(upload, data))
    try:
        _check_assembled(upload, stored, data.code_hash)
        completed = _register(session, actor=actor, data=data, settings=settings, stored=stored)
    except BaseException:
        store.remove(stored.key)
        raise
    # A failed commit leaves no object; a committed completion leaves no staged parts.
    event.listen(session, "after_rollback", lambda _s: store.remove(stored.key), once=True)
    staged = (upload.id, upload.backend_upload_id, upload.artifact_key)
    event.listen(session, "after_commit", lambda _s: _discard_parts(store, *staged), once=True)
    upload.status = COMPLETED
    return completed


def abort_upload(session: Session, *, actor: Actor, data: ArtifactUploadAbort, store: ArtifactStore) -> None:
    """Remove the staged parts; aborting an aborted upload changes nothing, a completed one is a 409."""
    upload = _upload(session, actor.org_id, data.upload_id, data.artifact_key)
    if upload.status == COMPLETED:
        raise Conflict("The upload is completed; it cannot be aborted.", details={"upload_id": "completed"})
    _discard_parts(store, upload.id, upload.backend_upload_id, upload.artifact_key)
    upload.status = ABORTED


def abort_abandoned_uploads(session: Session, *, store: ArtifactStore, now: datetime, limit: int) -> int:
    """Abort up to `limit` uploads still pending `ABANDONED_AFTER` after they began; answers how many."""
    uploads = repo.abandoned(session, created_before=now - ABANDONED_AFTER, limit=limit)
    for upload in uploads:
        _discard_parts(store, upload.id, upload.backend_upload_id, upload.artifact_key)
        upload.status = ABORTED
    return len(uploads)


def _part_sizes(file_size: int, part_size: int, max_bytes: int) -> list[int]:
    if file_size > max_bytes:
        raise PayloadTooLarge(
            f"An artifact may hold at most {max_bytes} bytes.",
            details={"file_size": f"at most {max_bytes} bytes"},
            code="artifact_too_large",
        )
    count = math.ceil(file_size / part_size)
    if count > MAX_PARTS:
        raise InvalidInput(
            f"{file_size} bytes in parts of {part_size} make {count} parts; at most {MAX_PARTS}.",
            details={"part_size": f"at least {math.ceil(file_size / MAX_PARTS)} for this file_size"},
        )
    return [part_size] * (count - 1) + [file_size - part_size * (count - 1)]


def _check_version_is_new(session: Session, org_id: str, flow_name: str, version: str) -> None:
    try:
        flow = flows.flow_named(session, org_id=org_id, flow_name=flow_name)
        flows.version_for_deployment(session, org_id=org_id, flow_id=flow.id, label=version)
    except NotFound:
        return
    raise Conflict(
        f"Flow {flow_name} already has a version {version}.", details={"flow_version": "already exists"}
    )


def _upload(session: Session, org_id: str, upload_id: str, artifact_key: str) -> ArtifactUpload:
    """The org's upload, locked; its key must be the one the client names back."""
    key_root = f"{ARTIFACTS_ROOT}/{org_id}/"
    if ".." in artifact_key.split("/") or "\\" in artifact_key:
        raise InvalidInput("Not an artifact key.", details={"artifact_key": "must not contain .."})
    if not artifact_key.startswith(key_root):
        raise PermissionDenied(
            "The key is outside your organization's artifacts.",
            details={"artifact_key": f"must start with {key_root}"},
        )
    upload = repo.get(session, org_id, upload_id, for_update=True)
    if upload is None:
        raise NotFound("Upload not found.", details={"upload_id": "no such upload"})
    if upload.artifact_key != artifact_key:
        raise InvalidInput(
            "The key is not this upload's.", details={"artifact_key": f"must be {upload.artifact_key}"}
        )
    return upload


def _pending_upload(session: Session, org_id: str, upload_id: str, artifact_key: str) -> ArtifactUpload:
    upload = _upload(session, org_id, upload_id, artifact_key)
    if upload.status != repo.PENDING:
        raise Conflict(f"The upload is {upload.status}.", details={"upload_id": upload.status})
    return upload


def _check_same_target(upload: ArtifactUpload, data: ArtifactUploadComplete) -> None:
    """A completion registers what the upload was begun for."""
    given = {
        "flow_name": data.flow_name,
        "flow_version": str(data.flow_version),
        "deployment_name": data.deployment_name,
    }
    problems = {
        field: f"must be {getattr(upload, field)}, as initiated"
        for field, value in given.items()
        if value != getattr(upload, field)
    }
    if problems:
        raise InvalidInput("The completion names another target than the upload.", details=problems)


def _listed_parts(upload: ArtifactUpload, data: ArtifactUploadComplete) -> list[PartSpec]:
    """Every planned part, each once, in order, with its planned size."""
    etags: dict[int, str] = {}
    problems: dict[str, str] = {}
    for part in data.parts:
        if part.part_number in etags or part.part_number > upload.part_count:
            problems[f"parts.{part.part_number}"] = (
                "listed twice" if part.part_number in etags else "no such part"
            )
        etags[part.part_number] = part.etag
    missing = [n for n in range(1, upload.part_count + 1) if n not in etags]
    if missing:
        problems["parts"] = f"missing part(s) {', '.join(map(str, missing[:20]))} of {upload.part_count}"
    if problems:
        raise InvalidInput("The parts do not make the artifact.", details=problems)
    last = upload.file_size - upload.part_size * (upload.part_count - 1)
    return [
        PartSpec(number, etags[number], upload.part_size if number < upload.part_count else last)
        for number in range(1, upload.part_count + 1)
    ]


def _assemble(store: ArtifactStore, upload: ArtifactUpload, parts: list[PartSpec]) -> StoredObject:
    try:
        return store.complete(
            upload_id=upload.id, backend_id=upload.backend_upload_id, key=upload.artifact_key, parts=parts
        )
    except PartProblem as exc:
        raise InvalidInput(exc.message, details=exc.details) from exc
    except ObjectExists as exc:
        raise Conflict(exc.message, details=exc.details) from exc
    except StorageError as exc:
        raise InvalidInput(exc.message, details=exc.details) from exc


def _check_assembled(upload: ArtifactUpload, stored: StoredObject, code_hash: str | None) -> None:
    if stored.size != upload.file_size:
        raise InvalidInput(
            "The parts do not add up to file_size.",
            details={"file_size": f"the parts hold {stored.size} bytes"},
        )
    if code_hash is not None and code_hash.lower() != stored.sha256:
        raise InvalidInput(
            "code_hash is not the artifact's SHA-256.",
            details={"code_hash": f"the artifact's is {stored.sha256}"},
        )


def _register(
    session: Session, *, actor: Actor, data: ArtifactUploadComplete, settings: Settings, stored: StoredObject
) -> ArtifactUploadCompleted:
    """The flow version (registration's checks, the artifact's hash), then its deployment with every
    setting the completion gives, and the time zone of the deployment's schedule."""
    version = str(data.flow_version)
    flow_fields: dict[str, Any] = {
        "flow_name": data.flow_name,
        "flow_version": version,
        "flow_spec": data.flow_spec,
        "artifact_s3_uri": stored.uri,
        "status": data.status,
        "schedule": data.schedule,
        "default_executor": data.default_executor,
        "namespace": data.namespace,
        "tags": data.tags,
    }
    register_flow_version(
        session, actor=actor, data=FlowCreate(**flow_fields), settings=settings, artifact_hash=stored.sha256
    )
    deployment_fields = {
        field: getattr(data, field)
        for field in ("environment", "schedule", "default_executor", "execution_mode")
        if getattr(data, field) is not None
    }
    saved = deployments.save_deployment(
        session,
        actor=actor,
        data=DeploymentCreate(
            name=data.deployment_name, flow_name=data.flow_name, flow_version=version, **deployment_fields
        ),
        settings=settings,
    )
    if data.timezone is not None:
        if not saved.deployment.schedule:
            raise InvalidInput("A time zone needs a schedule.", details={"timezone": "give schedule too"})
        schedules.update_schedule(
            session,
            actor=actor,
            schedule_id=deployment_schedule_id(data.deployment_name),
            data=ScheduleUpdate(timezone=data.timezone),
        )
    read = flows.get_flow_version(session, actor=actor, flow_name=data.flow_name, flow_version=version)
    return ArtifactUploadCompleted(
        artifact_s3_uri=stored.uri,
        flow_name=data.flow_name,
        flow_version=version,
        deployment_name=data.deployment_name,
        deployment_version=read.deployment_version,
        environment=saved.deployment.environment,
        code_hash=read.code_hash,
    )


def _discard_parts(store: ArtifactStore, upload_id: str, backend_id: str | None, key: str) -> None:
    try:
        store.discard_parts(upload_id=upload_id, backend_id=backend_id, key=key)
    except Exception:  # the store is unreachable: the parts stay until the store's own expiry
        log.exception("could not remove the parts of upload %s", upload_id)
