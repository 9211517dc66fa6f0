"""`GET /metrics`: the server's Prometheus metrics (docs/metrics.md, docs/adr/0019-metrics.md)."""
