"""The installation's artifact store, built once from the settings: S3 when `DAGY_S3_BUCKET` is
set, else the local folder `DAGY_HOME/objects` with part uploads staged in `DAGY_HOME/uploads`.

The local store's part URLs are signed with a key of their own, derived with HKDF from the
server's secret key material: the raw `DAGY_SECRET_KEY` signs nothing.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dagy.server.domains.flows.service import OBJECTS_DIR
from dagy.server.settings import Settings
from dagy.storage import ArtifactStore, LocalStore, PartSigner, S3Store

UPLOADS_DIR = "uploads"
_HKDF_SALT = b"dagy.artifacts.v1"
_SIGNING_INFO = b"dagy artifact part url signing key v1"


def part_signing_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_SIGNING_INFO).derive(
        secret_key.encode()
    )


def artifact_store(settings: Settings) -> ArtifactStore:
    """The store of `settings` (after `ensure_home()`, which provides the secret key)."""
    if settings.s3_bucket:
        return S3Store(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    assert settings.secret_key is not None  # ensure_home() generated it into DAGY_HOME
    signer = PartSigner(part_signing_key(settings.secret_key.get_secret_value()))
    return LocalStore(settings.home / OBJECTS_DIR, settings.home / UPLOADS_DIR, signer)
