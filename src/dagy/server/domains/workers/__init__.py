"""The worker protocol (`/workers/...`): claims, heartbeats, logs, node runs, results."""
