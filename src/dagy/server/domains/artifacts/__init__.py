"""`/artifacts`: multipart uploads of flow artifacts into the object store (docs/artifacts.md)."""
