"""Typed HTTP client (httpx) for the CLI, the worker and SDK users. Never imports the server; the
worker protocol's bodies are `dagy.protocol`'s."""

from dagy.client.api import AsyncClient, Client
from dagy.client.errors import ApiError, LeaseLost
from dagy.client.workers import WorkerApi, api_base_url

__all__ = ["ApiError", "AsyncClient", "Client", "LeaseLost", "WorkerApi", "api_base_url"]
