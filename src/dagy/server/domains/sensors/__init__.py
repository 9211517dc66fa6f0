"""Sensors: runs started by events — a webhook's POST, a new object under an S3 prefix, a URL whose
answer changed (DESIGN.md §4, docs/sensors.md)."""
