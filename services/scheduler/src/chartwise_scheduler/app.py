"""Composition root of the scheduler service: builds its clients and wires its handlers."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from chartwise_runtime.service import ServiceRuntime
from chartwise_scheduler.settings import Settings


def build_app(settings: Settings) -> AsgiFastStream:
    runtime = ServiceRuntime.create(settings)
    return runtime.app(description="Owns job records and time: delayed, recurring and retained jobs.")
