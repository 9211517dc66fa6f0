"""The `dagy` command: one module per command group."""
