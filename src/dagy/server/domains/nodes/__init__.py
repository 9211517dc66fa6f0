"""The node registry API: built-in node types and each org's custom ones."""
