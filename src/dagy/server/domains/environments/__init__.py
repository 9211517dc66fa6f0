"""Environments: named stages (develop, staging, production) that deployments live in and move between."""
