"""`/health` and `/health/detailed`: is this server, and what it depends on, working."""
