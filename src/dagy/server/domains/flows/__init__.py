"""Flows and their versions."""
