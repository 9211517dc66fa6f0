"""Notification channels, alert rules, and the delivery of alerts (docs/alerts.md)."""
