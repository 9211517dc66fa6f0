"""API keys: minted by users for scripts, CI and workers; stored hashed, scoped to the org."""
