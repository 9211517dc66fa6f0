"""The visual builder's DAG drafts: canvases saved as they are drawn, not yet flows."""
