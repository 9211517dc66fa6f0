"""Executors the background services drive themselves: run containers (containers.py) on Kubernetes
(kubernetes.py) or a Docker/Podman host (docker.py)."""
