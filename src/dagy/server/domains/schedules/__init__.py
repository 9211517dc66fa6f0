"""Schedules: what starts a flow's runs by cron, by interval, once or by hand (docs/schedules.md)."""
