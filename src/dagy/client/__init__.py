"""Typed HTTP client (httpx) for the CLI, the worker and SDK users. Never imports the server."""

from dagy.client.errors import ApiError, LeaseLost
from dagy.client.workers import Claim, ClaimedRun, WorkerApi, api_base_url

__all__ = ["ApiError", "Claim", "ClaimedRun", "LeaseLost", "WorkerApi", "api_base_url"]
