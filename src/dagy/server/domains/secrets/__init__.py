"""Secrets Management: values encrypted at rest under per-org data keys (envelope encryption)."""
