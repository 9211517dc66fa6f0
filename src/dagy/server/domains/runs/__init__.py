"""Runs: triggering, reading, cancelling, logs and node runs."""
