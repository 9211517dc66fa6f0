"""Deployments: a flow version placed under a name (and an environment), with its runtime settings."""
