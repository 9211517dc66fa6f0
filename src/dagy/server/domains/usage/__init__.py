"""Metering, roll-ups, costs and quotas (`/usage`, docs/usage-and-billing.md)."""
