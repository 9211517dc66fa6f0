"""Dagy's object store for flow artifacts: one interface (`ArtifactStore`), two implementations —
a local folder under `DAGY_HOME` (`LocalStore`, the default) and S3-compatible storage through
boto3 (`S3Store`). Both take an artifact in parts (multipart uploads: the client sends each part
straight to a part URL) and assemble them under a key the server chose."""

from dagy.storage.base import (
    ArtifactStore,
    ObjectExists,
    PartProblem,
    PartSpec,
    StorageError,
    StoredObject,
)
from dagy.storage.local import LocalStore, PartSigner, PartSink
from dagy.storage.s3 import S3Store

__all__ = [
    "ArtifactStore",
    "LocalStore",
    "ObjectExists",
    "PartProblem",
    "PartSigner",
    "PartSink",
    "PartSpec",
    "S3Store",
    "StorageError",
    "StoredObject",
]
