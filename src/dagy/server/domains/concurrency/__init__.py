"""Concurrency limits per flow, per deployment and named pools (docs/concurrency.md)."""
