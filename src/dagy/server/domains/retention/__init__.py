"""Retention (docs/operations.md, "Retention"): each org's settings (`/retention`) and the batched
purge the background services run (services/retention.py)."""
