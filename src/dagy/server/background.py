"""The parts `dagy server` runs beside the API: the services loop and the embedded worker."""

from __future__ import annotations

from dagy.server.app import BackgroundPart
from dagy.server.settings import Settings


def background_parts(settings: Settings, *, worker: bool, services: bool) -> list[BackgroundPart]:
    parts: list[BackgroundPart] = []
    return parts
